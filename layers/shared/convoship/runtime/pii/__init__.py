"""PII redaction for chat transcripts and tool data, applied before they are stored.

`redact_text` replaces each entity found with a placeholder naming its kind (`[EMAIL]`,
`[PHONE]`, `[CREDIT_CARD]`, `[US_SSN]`, `[IBAN]`, `[IP_ADDRESS]`, `[CREDENTIAL]`) and returns
the number of replacements; `redact_value` does the same inside JSON-like data, dict keys and
numbers included; `find_pii` returns the spans. Only the entities asked for are replaced; an
unknown entity name is a ValueError. National phone numbers are recognised for the REDACT
guardrail's `phone_regions` (default `DEFAULT_PHONE_REGIONS`).

Text is read decoded (urlcoded.py, escapes.py: `%40`, `&#64;`, `\\u0040` as `@`) and
normalised (normalize.py: NFKC, every script's digits as ASCII), and each placeholder covers
the whole original entity. Detectors run in the order CREDENTIAL, EMAIL,
IBAN, CREDIT_CARD, US_SSN, IP_ADDRESS, PHONE; each sees the text with earlier findings masked,
wanted or not, so secrets and checksummed entities win and a card is never taken for a phone.
Each module states its entity's rules. Patterns are built from possessive quantifiers and
bounded lookarounds, so hostile input costs linear time. A pattern is matched only where it can
start rather than at every position of the text (spans.py): number patterns where a run of
digits starts, emails from each `@`, labelled credentials near their hint words. `phonenumbers`
and `stdnum` are imported only when a text holds a candidate for them. A text that provably
holds no entity (quiet.py: ASCII with no digit, `@`, escape, key-like run or hint word, as most
chat messages are) skips the views and the detectors altogether.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from convoship.runtime.pii.detect import ENTITIES, Finding, Request, find, replace
from convoship.runtime.pii.values import redact_data

__all__ = ["ENTITIES", "Finding", "find_pii", "redact_text", "redact_value"]


def find_pii(
    text: str, entities: Iterable[str], phone_regions: Iterable[str] | None = None
) -> list[Finding]:
    """The entities of the given kinds in `text`, as sorted, non-overlapping spans."""
    return find(text, Request.of(entities, phone_regions))


def redact_text(
    text: str, entities: Iterable[str], phone_regions: Iterable[str] | None = None
) -> tuple[str, int]:
    """`text` with each entity of the given kinds replaced, and the replacement count."""
    findings = find(text, Request.of(entities, phone_regions))
    return (replace(text, findings) if findings else text), len(findings)


def redact_value(
    value: Any, entities: Iterable[str], phone_regions: Iterable[str] | None = None
) -> tuple[Any, int]:
    """A copy of JSON-like `value` with every entity replaced, and the total count."""
    return redact_data(value, Request.of(entities, phone_regions))

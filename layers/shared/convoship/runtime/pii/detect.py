"""Finding PII in one text: decode URL escapes, normalise, run the detectors in order, map
spans back through both views onto the original."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from convoship.runtime.pii.cards import find_cards
from convoship.runtime.pii.credentials import find_credentials
from convoship.runtime.pii.emails import find_emails
from convoship.runtime.pii.ibans import find_broken_ibans, find_ibans
from convoship.runtime.pii.network import find_ips
from convoship.runtime.pii.normalize import normalize
from convoship.runtime.pii.phones import find_phones
from convoship.runtime.pii.quiet import is_quiet
from convoship.runtime.pii.spans import Span, Work
from convoship.runtime.pii.ssns import find_ssns
from convoship.runtime.pii.urlcoded import url_decoded
from convoship.studio.guardrail_configs import DEFAULT_PHONE_REGIONS, REDACT_ENTITIES

ENTITIES = REDACT_ENTITIES
_REGION_RE = re.compile(r"[A-Z]{2}")

Finder = Callable[[Work, tuple[str, ...]], list[Span]]
# Earlier detectors win: secrets and checksummed entities before the looser phone numbers.
_DETECTORS: tuple[tuple[str, Finder], ...] = (
    ("CREDENTIAL", lambda work, _: find_credentials(work.text)),
    ("EMAIL", lambda work, _: find_emails(work.text)),
    ("IBAN", lambda work, _: find_ibans(work)),
    ("", lambda work, _: find_broken_ibans(work)),  # masked, never reported
    ("CREDIT_CARD", lambda work, _: find_cards(work)),
    ("US_SSN", lambda work, _: find_ssns(work)),
    ("IP_ADDRESS", lambda work, _: find_ips(work)),
    ("PHONE", find_phones),
)


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    entity: str


@dataclass(frozen=True)
class Request:
    """What to look for: the entities wanted and the regions national phone numbers are from."""

    wanted: frozenset[str]
    regions: tuple[str, ...]
    # The detectors to run: up to the last one wanted (later ones could not change a finding).
    detectors: tuple[tuple[str, Finder], ...]

    @classmethod
    def of(cls, entities: Iterable[str], phone_regions: Iterable[str] | None) -> Request:
        if phone_regions is not None and not isinstance(phone_regions, str):
            phone_regions = tuple(phone_regions)
        return _request(tuple(entities), phone_regions)


@lru_cache(maxsize=64)  # each guardrail asks for the same entities and regions every time
def _request(entities: tuple[str, ...], phone_regions: tuple[str, ...] | str | None) -> Request:
    wanted = frozenset(entities)
    unknown = wanted.difference(ENTITIES)
    if unknown:
        raise ValueError(f"unknown PII entities: {sorted(unknown)}")
    regions = DEFAULT_PHONE_REGIONS if phone_regions is None else tuple(phone_regions)
    if isinstance(phone_regions, str) or not all(map(_REGION_RE.fullmatch, regions)):
        raise ValueError(f"phone regions must be ISO 3166 codes such as 'US': {regions!r}")
    last = max((i for i, (name, _) in enumerate(_DETECTORS) if name in wanted), default=-1)
    return Request(wanted, tuple(dict.fromkeys(regions)), _DETECTORS[: last + 1])


def find(text: str, request: Request, context: str = "") -> list[Finding]:
    """The entities in `text`, sorted and not overlapping. `context` (a dict key, say) is read
    as if it stood just before the text, and is never part of a finding."""
    if not request.wanted or not text:
        return []
    whole = context + text
    if is_quiet(whole):  # provably nothing to find (quiet.py): most chat messages
        return []
    return scan(whole, len(context), request)


def scan(whole: str, shift: int, request: Request) -> list[Finding]:
    """The findings in whole[shift:], whole[:shift] being context: the full path, with no
    shortcut for quiet text."""
    decoded = url_decoded(whole)
    normalized = normalize(decoded.text)
    work = Work(normalized.text)
    found: list[Finding] = []
    for name, finder in request.detectors:
        spans = finder(work, request.regions)
        if not spans:
            continue
        work = work.masked(spans)  # unwanted entities still hide their digits from later ones
        if name not in request.wanted:
            continue
        for start, end in spans:
            start, end = decoded.original_span(*normalized.original_span(start, end))
            if end > shift:
                found.append(Finding(max(start, shift) - shift, end - shift, name))
    return _without_overlaps(sorted(found))


def replace(text: str, findings: list[Finding]) -> str:
    parts: list[str] = []
    last = 0
    for finding in findings:
        parts.append(text[last : finding.start])
        parts.append(f"[{finding.entity}]")
        last = finding.end
    parts.append(text[last:])
    return "".join(parts)


def _without_overlaps(findings: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in findings:
        if kept and finding.start < kept[-1].end:  # two spans met inside one original character
            kept[-1] = Finding(kept[-1].start, max(kept[-1].end, finding.end), kept[-1].entity)
        else:
            kept.append(finding)
    return kept

"""Texts that provably hold no entity: most chat messages ("Hi! Do you ship to Canada?") are
told apart in a few microseconds and skip the decoded and normalised views and every detector.

A text is quiet when it is ASCII, holds no ASCII digit, none of `@ % & \\ +`, at most one `:`,
no run of 16 or more of `[A-Za-z0-9_.-]`, and, lowercased, none of credentials.py's hint
words. Then `detect.find` finds nothing, for any entities and regions, because:

- The detectors read the text itself. The decoded view (urlcoded.py) changes a text only at a
  `%` escape, a `+` in a query string, or an escape of escapes.py, which starts with `&` or
  `\\`; the normalised view (normalize.py) is the text itself when it is ASCII.
- CREDENTIAL (credentials.py): a PEM block's BEGIN line holds `KEY` (a hint, `key`); a key with
  a provider's prefix lies inside a `TOKEN_RE` run of 16 or more of `[A-Za-z0-9_.-]`; the
  token after an auth scheme and the value after a label are matched only near one of
  `AUTH_SCHEMES` or `LABEL_HINTS` in the lowercased text (`found_near`: ASCII text
  lowercases to as many characters, so it never falls back to a whole-text scan); a URL's
  password is followed by an `@`. A `:` matters to no other rule of credentials.py, except
  after a label or a BEGIN line.
- EMAIL (emails.py) is matched only from an `@`.
- IBAN and the broken IBANs (ibans.py), CREDIT_CARD (cards.py), US_SSN (ssns.py), IPv4
  (network.py) and PHONE (phones.py) are matched only where a run of ASCII digits starts
  (`Work.digits`, spans.py): without a digit there is no candidate. An IPv6 address holds at
  least two `:` (`_IPV6_RE` opens with two to seven groups that each end in one); one `:` is
  common in chat ("Note: ...", "echo: ...").

No detector finds anything, so none masks anything for the next one either. A new detector, or
a detector that starts matching elsewhere, must keep this list true: tests/unit/
test_pii_quiet.py checks that every text called quiet gets no finding from the full path.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.credentials import AUTH_SCHEMES, LABEL_HINTS, TOKEN_RE

_HINTS = tuple(dict.fromkeys(LABEL_HINTS + AUTH_SCHEMES))
_LOUD_CHAR_RE = re.compile(r"[0-9@%&\\+]")  # starts an escape or a candidate


def is_quiet(text: str) -> bool:
    """Whether `text` provably holds no entity of any kind (see the module's docstring)."""
    if not text.isascii() or _LOUD_CHAR_RE.search(text) or text.count(":") > 1:
        return False
    if TOKEN_RE.search(text):  # a run that may hold a prefixed key
        return False
    lowered = text.lower()
    return not any(hint in lowered for hint in _HINTS)

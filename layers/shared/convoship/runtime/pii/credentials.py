"""CREDENTIAL: API keys and tokens people paste.

- keys with a provider's prefix: OpenAI and Anthropic (`sk-...`), Stripe, GitHub, GitLab,
  Slack, Google, Hugging Face, npm, PyPI, SendGrid, Groq, xAI, DigitalOcean, Shopify, Linear,
  Notion, Atlassian, Databricks; AWS access key ids (`AKIA...`, `ASIA...`);
- JWTs (`eyJ....eyJ....sig`), PEM private key blocks (with or without their END line);
- the token after `Bearer`, `Basic` or `Token`;
- the password of a URL (`postgres://app:[CREDENTIAL]@db/...`);
- the value after a key naming a secret: `password=...`, `"api_key": "..."`, `client_secret: ...`,
  `my password is ...`, `pwd: ...`, and after a password word also a bare space (`passwd
  hunter2`); `pass` alone names one only in code (`pass=...`, `"pass": "..."`: a boarding pass
  or `compass: 12` is no secret). After `:`, `is` or a space, the value must hold a digit, a
  symbol or an inner capital, so "password: required", "the password is wrong" and "password
  reset" stay.

Only the secret is replaced: `Authorization: Bearer [CREDENTIAL]`, `password=[CREDENTIAL]`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from convoship.runtime.pii.spans import Span, mask

_A = re.ASCII
_PEM_BEGIN_RE = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----", _A)
_PEM_END_RE = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----", _A)
_PEM_BODY_RE = re.compile(r"(?:\s*+[A-Za-z0-9+/=:,-]{16,}+)*+", _A)
_PREFIXED = (
    r"sk-[A-Za-z0-9_-]{20,}+",  # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-...)
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}+|whsec_[A-Za-z0-9]{20,}+",  # Stripe
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",  # AWS access key ids
    r"gh[pousr]_[A-Za-z0-9]{36,}+|github_pat_[A-Za-z0-9_]{22,}+",  # GitHub
    r"glpat-[A-Za-z0-9_-]{20,}+",  # GitLab
    r"xox[abposre]-[A-Za-z0-9-]{10,}+|xapp-[0-9]-[A-Za-z0-9-]{10,}+",  # Slack
    r"AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,}+|GOCSPX-[A-Za-z0-9_-]{20,}+",  # Google
    r"hf_[A-Za-z0-9]{30,}+|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,}+",
    r"SG\.[A-Za-z0-9_-]{16,}+\.[A-Za-z0-9_-]{16,}+",  # SendGrid
    r"gsk_[A-Za-z0-9]{40,}+|xai-[A-Za-z0-9]{40,}+|dop_v1_[a-f0-9]{64}",  # Groq, xAI, DO
    r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|lin_api_[A-Za-z0-9]{40}|dapi[a-f0-9]{32}",
    r"(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,}+)|ATATT3[A-Za-z0-9_=-]{50,}+",
    r"eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+",  # JWT (JWS)
)
_PREFIXED_RE = re.compile(rf"(?<![\w-])(?:{'|'.join(_PREFIXED)})(?![\w-])", _A)
_AUTH_SCHEME_RE = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Token)\s++(?P<secret>[A-Za-z0-9._~+/=-]{16,}+)(?![\w-])",
    _A | re.IGNORECASE,
)
_URL_PASSWORD_RE = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@\x00]{0,128}:(?P<secret>[^\s/\x00]{1,256})@"
    r"(?=[^\s/@\x00]*+(?:[/?#\s]|\Z))",  # up to the last @ before the host
    _A,
)
_SPACED_LABELS = (  # password words: they may stand before the value with a space alone
    r"password|passwd|passphrase|passcode|pwd|passwort|kennwort|mot\s+de\s+passe"
    r"|contrase[ñn]a|senha|wachtwoord"
)
_LABELS = (  # what a key naming a secret contains
    rf"{_SPACED_LABELS}|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|(?:access|auth|refresh|api|bearer|session)[_-]?token|token|client[_-]?secret"
    r"|(?<![^\W\d_])pass(?![^\W\d_])"  # `pass` alone, in code only (_labelled_values)
)
_LABEL_RE = re.compile(_LABELS, re.IGNORECASE)
_SPACED_LABEL_RE = re.compile(_SPACED_LABELS, re.IGNORECASE)
# Each label holds one of these, at most _LABEL_REACH characters after its start (`refresh_token`).
LABEL_HINTS = (
    "pass", "pwd", "secret", "key", "token", "senha", "kennwort", "contrase", "mot", "wachtwoord",
)  # fmt: skip
_LABEL_REACH = 8
AUTH_SCHEMES = ("bearer", "basic", "token")
_VALUE_RE = re.compile(  # what follows a label: a separator, then a value of 6-512 characters
    r"(?P<quote>[\"']?)(?P<sep>\s*+[:=]\s*+|\s++is\s++|[ \t]++)[\"']?"
    r"(?P<secret>[^\s\"',;\x00]{6,512}+)(?![^\s\"',;\x00])",
    re.IGNORECASE,
)
TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{16,}+", _A
)  # only these can hold a prefixed key


def find_credentials(text: str) -> list[Span]:
    spans = _pem_blocks(text)
    text = mask(text, spans)
    for token in TOKEN_RE.finditer(text):
        key = _PREFIXED_RE.match(text, token.start())
        if key:
            spans.append(key.span())
    lowered = text.lower()
    for m in found_near(_AUTH_SCHEME_RE, text, lowered, AUTH_SCHEMES, 0):
        secret = m.group("secret")
        if m.group("scheme").lower() == "bearer" or any(ch.isdigit() for ch in secret):
            spans.append(m.span("secret"))
    if "://" in text:
        spans.extend(m.span("secret") for m in _URL_PASSWORD_RE.finditer(text))
    spans.extend(_labelled_values(text, lowered))
    return _merged(spans)


def found_near(
    pattern: re.Pattern[str], text: str, lowered: str, hints: tuple[str, ...], reach: int
) -> Iterator[re.Match[str]]:
    """What `pattern.finditer(text)` finds, for a case-insensitive pattern whose every match
    starts at most `reach` characters before one of `hints` (lowercase words): matched only
    there, instead of at every position of the text, each position tried at most once."""
    if len(lowered) != len(text):  # a character lowercased to two: the indexes differ
        yield from pattern.finditer(text)
        return
    at: list[int] = []
    for hint in hints:
        index = lowered.find(hint)
        while index >= 0:
            at.append(index)
            index = lowered.find(hint, index + 1)
    end = tried = 0
    for hint_at in sorted(at):
        for start in range(max(end, tried, hint_at - reach), hint_at + 1):
            tried = start + 1
            m = pattern.match(text, start)
            if m is not None:
                yield m
                end = m.end()
                break


def _labelled_values(text: str, lowered: str) -> list[Span]:
    spans: list[Span] = []
    for label in found_near(_LABEL_RE, text, lowered, LABEL_HINTS, _LABEL_REACH):
        m = _VALUE_RE.match(text, label.end())
        if m is None:
            continue
        code_like = "=" in m.group("sep") or m.group("quote")
        if label.group().lower() == "pass" and not code_like:
            continue
        if not m.group("sep").strip() and not _SPACED_LABEL_RE.fullmatch(label.group()):
            continue  # only a password word takes its value after a bare space
        if code_like or _looks_random(m.group("secret")):
            spans.append(m.span("secret"))
    return spans


def _pem_blocks(text: str) -> list[Span]:
    if "-----BEGIN" not in text:
        return []
    ends = [m.end() for m in _PEM_END_RE.finditer(text)]
    spans: list[Span] = []
    covered = 0
    for begin in _PEM_BEGIN_RE.finditer(text):
        if begin.start() < covered:
            continue
        index = bisect.bisect_right(ends, begin.end())
        if index < len(ends):
            covered = ends[index]
        else:  # no END line: the key's body as far as it goes
            body = _PEM_BODY_RE.match(text, begin.end())
            covered = body.end() if body else begin.end()
        spans.append((begin.start(), covered))
    return spans


def _looks_random(value: str) -> bool:
    return any(not ch.isalpha() for ch in value) or any(ch.isupper() for ch in value[1:])


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged

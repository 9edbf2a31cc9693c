"""Public suffixes (`co.uk`, `github.io`, `s3.amazonaws.com` ...): names under which anyone may
register their own, from the Public Suffix List, ICANN and private sections alike.

An allowed host must not reach past the admin's own names: `*.co.uk` or `*.github.io` would let
a secret go to any registrant under them, and so would `*.amazonaws.com`, whose names include
`<anyone's bucket>.s3.amazonaws.com`. The list is the copy the `publicsuffixlist` wheel ships
(no network); it is read on first use (~40 ms, ~2 MB), which only saving allowed hosts pays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class _Suffixes:
    psl: Any  # publicsuffixlist.PublicSuffixList
    above_public: frozenset[str]  # names that are not public but have public suffixes below


def public_suffix_in_reach(base: str) -> str | None:
    """A public suffix at or below `base` (a normalised host name): `base` itself when it is
    one, else one of the suffixes under it; None when every name under base is its owner's."""
    suffixes = _suffixes()
    if suffixes.psl.is_public(base, accept_unknown=False):
        return base
    if base in suffixes.above_public:
        public = (
            name for name in _below(base) if suffixes.psl.is_public(name, accept_unknown=False)
        )
        return next(public, base)
    return None


def is_public_suffix(host: str) -> bool:
    """Whether `host` (a normalised host name) is itself a public suffix."""
    return bool(_suffixes().psl.is_public(host, accept_unknown=False))


def _below(base: str) -> list[str]:
    """The rules of the list that end in `.base`, as names (`*.x` read as `any.x`), shortest
    first."""
    names = [name.replace("*", "any") for name in _rules() if name.endswith("." + base)]
    return sorted((name for name in names if not name.startswith("!")), key=lambda n: (len(n), n))


@cache
def _rules() -> tuple[str, ...]:
    from publicsuffixlist import PSLFILE, encode_idn

    with open(PSLFILE, encoding="utf-8") as source:
        lines = [line.split(" ")[0].strip().lower() for line in source]
    rules = [line for line in lines if line and not line.startswith("//")]
    return tuple(rule if rule.isascii() else _encoded(rule, encode_idn) for rule in rules)


def _encoded(rule: str, encode_idn: Any) -> str:
    prefix = "!" if rule.startswith("!") else "*." if rule.startswith("*.") else ""
    return prefix + str(encode_idn(rule[len(prefix) :]))


@cache
def _suffixes() -> _Suffixes:
    from publicsuffixlist import PublicSuffixList  # lazy: only saving allowed hosts needs it

    rules = _rules()
    psl = PublicSuffixList(source="\n".join(rules))
    above: set[str] = set()
    for rule in rules:
        if rule.startswith("!"):
            continue
        labels = rule.removeprefix("*.").split(".")
        first = 0 if rule.startswith("*.") else 1  # `*.x`: every name under x is public
        above.update(".".join(labels[i:]) for i in range(first, len(labels)))
    above_public = frozenset(
        name for name in above if not psl.is_public(name, accept_unknown=False)
    )
    return _Suffixes(psl, above_public)

"""IP_ADDRESS: IPv4 dotted quads and IPv6 addresses, as `ipaddress` parses them.

- IPv4: octets 0-255, not part of a longer dotted number (`1.2.3.4.5`), and not a version
  (`version 1.2.3.4`, `firmware 10.2.0.1`, `upgrade to 2.0.0.1`).
- IPv6 (with an optional zone): `2001:db8::1`, `::1`, `fe80::1%eth0`, `dead:beef::cafe`. A short
  compressed form must look like an address, not like code: `a::1`, `dead::beef`, `Foo::Bar`
  and `std::vector` stay.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span, Work, context_before, context_words, run_matches

_A = re.ASCII
_IPV4_RE = re.compile(
    r"(?<![\w.])[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![\w]|\.[0-9])", _A
)
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?"
    r"(?:%[0-9A-Za-z_-]++)?"
    r"(?![\w:]|\.[0-9A-Za-z])",
    _A,
)
_VERSION_CONTEXT = context_words(
    r"versions?", r"ver", r"v", r"release", r"build", r"firmware", r"fw", r"rev(?:ision)?",
    r"patch", r"update", r"upgrade", r"downgrade", r"sdk",
)  # fmt: skip


def find_ips(work: Work) -> list[Span]:
    text = work.text
    spans = (
        [m.span() for m in _IPV6_RE.finditer(text) if _ipv6_ok(m.group())] if ":" in text else []
    )
    work = work.masked(spans)
    spans.extend(
        m.span()
        for m in run_matches(_IPV4_RE, work)  # no digit before the first octet: it starts a run
        if all(int(octet) <= 255 for octet in m.group().split("."))
        and not context_before(work.text, m.start(), _VERSION_CONTEXT)
    )
    return spans


def _ipv6_ok(candidate: str) -> bool:
    address = candidate.partition("%")[0]
    head, _, tail = address.rpartition(":")
    groups = [g for g in head.split(":") if g]
    if "." in tail:  # an embedded IPv4 address counts as two groups
        groups += ["0000", "0000"]
    elif tail:
        groups.append(tail)
    if not groups:
        return False  # "::" alone
    if not any(ch.isdigit() for ch in address):  # hex words only: dead:beef::cafe, not dead::beef
        if len(groups) < 3 or any(len(g) < 3 for g in groups):
            return False
    elif len(groups) < 3 and not address.startswith("::") and len(groups[0]) < 4:
        return False  # a::1, ab::12
    import ipaddress  # only once a candidate turns up; most text never needs it

    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True

"""Where a secret may go: host names as admins allow them and as URLs name them.

Both sides are brought to one spelling before they are compared: lower case, IDNA
(A-labels, with the codec the socket and TLS layers use to connect), no trailing dot, IP
addresses in their canonical form. A target spelled in a way that could mean something else
(userinfo, a percent sign, `127.1` for 127.0.0.1, an IPv4-mapped IPv6 address, two trailing
dots) is refused rather than interpreted. `*.example.com` allows every name below
example.com, not example.com itself. An admin's entry may not reach names others register
(public_suffixes.py): no wildcard over a public suffix (`*.co.uk`, `*.github.io`) or over names
that hold one (`*.amazonaws.com`), and no public suffix as a host (`co.uk`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from convoship.secrets.public_suffixes import is_public_suffix, public_suffix_in_reach
from convoship.security.netguard import literal_address

MAX_ALLOWED_HOSTS = 50
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_PLACEHOLDER_START = "{{"


class HostNotAllowed(ValueError):
    """The host is malformed, or not one a secret may be sent to."""


def _address(host: str) -> str | None:
    """The canonical text of an IP literal; HostNotAllowed for other spellings of one."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        if literal_address(bare) is not None:  # 127.1, 2130706433, 0x7f.0.0.1 ...
            raise HostNotAllowed(f"{host}: write IP addresses in dotted decimal") from None
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            raise HostNotAllowed(f"{host}: write the IPv4 address itself")
        if address.scope_id:
            raise HostNotAllowed(f"{host}: no zone identifiers")
    if str(address) != bare.lower():
        raise HostNotAllowed(f"{host}: write the address as {address}")
    return str(address)


def normalize_host(host: str) -> str:
    """One spelling of a host name or address; HostNotAllowed when it is not one."""
    if not host or len(host) > 255:
        raise HostNotAllowed("a host name must have 1 to 253 characters")
    address = _address(host)
    if address is not None:
        return address
    name = host[:-1] if host.endswith(".") else host
    try:
        ascii_name = name.lower() if name.isascii() else name.encode("idna").decode("ascii")
    except UnicodeError:
        raise HostNotAllowed(f"{host!r} is not a valid host name") from None
    ascii_name = ascii_name.lower()
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise HostNotAllowed(f"{host!r} is not a valid host name")
    if _address(ascii_name) is not None:  # a name that turns into an address once encoded
        raise HostNotAllowed(f"{host!r}: write IP addresses in dotted decimal")
    return ascii_name


def normalize_allowed_host(entry: str) -> str:
    """An admin's entry (`api.example.com`, `*.example.org`, `203.0.113.7`) in its stored
    spelling; HostNotAllowed with the reason otherwise."""
    entry = entry.strip()
    if any(c in entry for c in "/@?#\\ ") or entry.count(":") == 1:
        raise HostNotAllowed(f"{entry!r}: a host name only, without scheme, port or path")
    if entry.startswith("*."):
        suffix = normalize_host(entry[2:])
        if literal_address(suffix) is not None or "." not in suffix:
            raise HostNotAllowed(f"{entry!r}: a wildcard needs a domain of two labels or more")
        _refuse_public_wildcard(entry, suffix)
        return "*." + suffix
    if "*" in entry:
        raise HostNotAllowed(f"{entry!r}: only a leading `*.` wildcard is allowed")
    host = normalize_host(entry)
    if _address(host) is None and is_public_suffix(host):
        raise HostNotAllowed(
            f"{entry!r} is a public suffix, under which anyone can register a name:"
            " allow the host names under it themselves (api.example.co.uk)"
        )
    return host


def _refuse_public_wildcard(entry: str, base: str) -> None:
    public = public_suffix_in_reach(base)
    if public == base:
        raise HostNotAllowed(
            f"{entry!r}: {base} is a public suffix, under which anyone can register a name,"
            " so the wildcard would let the secret go to any of them: allow the host names"
            " themselves, or a wildcard under a domain of your own (*.example.co.uk)"
        )
    if public is not None:
        raise HostNotAllowed(
            f"{entry!r}: names under {base} are registered by others ({public} is a public"
            " suffix), so the wildcard would let the secret go to any of them: allow the host"
            " names themselves"
        )


def normalize_allowed_hosts(entries: Iterable[str]) -> list[str]:
    """Each entry normalised, duplicates dropped, in the order given."""
    hosts: list[str] = []
    for entry in entries:
        host = normalize_allowed_host(entry)
        if host not in hosts:
            hosts.append(host)
    if len(hosts) > MAX_ALLOWED_HOSTS:
        raise HostNotAllowed(f"at most {MAX_ALLOWED_HOSTS} allowed hosts")
    return hosts


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether the normalised host matches one of the (normalised) allowed entries."""
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and _address(host) is None:
                return True
        elif host == entry:
            return True
    return False


def url_host(url: str) -> str:
    """The normalised host a URL targets; HostNotAllowed when it names none clearly."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise HostNotAllowed(f"not a valid URL: {exc}") from None
    if parts.username is not None or parts.password is not None:
        raise HostNotAllowed("the URL must not embed credentials")
    if not parts.hostname:
        raise HostNotAllowed("the URL names no host")
    return normalize_host(parts.hostname)


def fixed_url_host(url_template: str) -> str:
    """The host of a tool's URL template whose scheme, host and port hold no placeholder
    (nothing a model argument or a secret could move); HostNotAllowed otherwise."""
    text = url_template.strip()
    scheme_end = text.find("://")
    authority_end = len(text)
    if scheme_end >= 0:
        found = [i for i in (text.find(c, scheme_end + 3) for c in "/?#") if i >= 0]
        authority_end = min(found, default=len(text))
    if _PLACEHOLDER_START in text[:authority_end]:
        raise HostNotAllowed(
            "the url's scheme, host and port must be written out, without {{...}} placeholders,"
            " when the tool uses a secret"
        )
    return url_host(text)

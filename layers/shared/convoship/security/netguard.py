"""Outbound URL guard (SSRF): BYOK base URLs and tool URLs must target public hosts.

Saving checks what the URL says literally (private, loopback, link-local and reserved
addresses, `localhost`); calling checks again what the host resolves to, since DNS can
point anywhere. Deployments that mean to reach private networks set
CONVOSHIP_ALLOW_PRIVATE_NETWORK=1.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL is malformed or targets a host this deployment may not reach."""


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def literal_address(host: str) -> IPAddress | None:
    """The address a host name literally denotes, including legacy IPv4 forms (`127.1`)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _is_local_name(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host == "localhost" or host.endswith(".localhost")


def check_outbound_url(url: str, *, allow_private: bool) -> SplitResult:
    """Parse and vet a URL as saved: scheme, no credentials, and a public literal host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("must use https" if not allow_private else "must use http or https")
    if not parts.hostname:
        raise UnsafeUrl("must name a host")
    try:
        parts.hostname.encode("idna")  # what resolving it will do (empty or long labels fail)
    except UnicodeError:
        raise UnsafeUrl(f"{parts.hostname!r} is not a valid host name") from None
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not embed credentials; store them as a secret instead")
    if port == 0:
        raise UnsafeUrl("port 0 is not valid")
    if allow_private:
        return parts
    if _is_local_name(parts.hostname):
        raise UnsafeUrl("must not target localhost")
    address = literal_address(parts.hostname)
    if address is not None and not is_public_address(address):
        raise UnsafeUrl("must not target a private, loopback or link-local address")
    return parts


def resolve_public_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve host at call time; every address must be public unless private is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: not a valid host name
        raise UnsafeUrl(f"cannot resolve {host}") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    if not allow_private:
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeUrl(f"{host} resolves to a non-public address")
    return addresses

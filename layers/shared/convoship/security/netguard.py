"""Outbound URL guard (SSRF): BYOK base URLs and tool URLs must target public hosts.

Saving checks what the URL says literally (private, loopback, link-local and reserved
addresses, `localhost`); calling checks again what the host resolves to, since DNS can
point anywhere. Deployments that mean to reach private networks set
CONVOSHIP_ALLOW_PRIVATE_NETWORK=1.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes that carry an IPv4 address a relay or translator delivers to: whatever
# Python's tables say of the prefix (they changed between 3.12 releases), the IPv4 inside
# must be public too.
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TEREDO = ipaddress.IPv6Network("2001::/32")
# Never public: deprecated site-local, and the local-use NAT64 prefix (RFC 8215), whose
# embedded IPv4 may sit at any of RFC 6052's offsets.
_NEVER_PUBLIC = (ipaddress.IPv6Network("fec0::/10"), ipaddress.IPv6Network("64:ff9b:1::/48"))
UNREACHABLE = "does not resolve to a public address"


class UnsafeUrl(ValueError):
    """The URL is malformed or targets a host this deployment may not reach; `private`:
    refused only because private networks are not allowed here."""

    def __init__(self, message: str, *, private: bool = False) -> None:
        super().__init__(message)
        self.private = private


def explain(exc: UnsafeUrl) -> str:
    """The refusal, and in development how to reach a model or tool on this machine."""
    from convoship.core import constants as env
    from convoship.core.settings import get_settings

    if exc.private and get_settings().stage == "development":
        return (
            f"{exc} (development: a local model or tool needs {env.ALLOW_PRIVATE_NETWORK}=1"
            " where the API runs)"
        )
    return str(exc)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if address in _SIX_TO_FOUR:
        return [address.sixtofour] if address.sixtofour else []
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in _TEREDO and address.teredo:
        return list(address.teredo)  # server and (de-obfuscated) client
    return []


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return _is_public(address.ipv4_mapped)
        if any(address in network for network in _NEVER_PUBLIC):
            return False
        if not all(_is_public(inner) for inner in _embedded_ipv4(address)):
            return False
    return _is_public(address)


def _is_public(address: IPAddress) -> bool:
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
        if allow_private:
            raise UnsafeUrl("must use http or https")
        raise UnsafeUrl("must use https", private=parts.scheme == "http")
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
        raise UnsafeUrl("must not target localhost", private=True)
    address = literal_address(parts.hostname)
    if address is not None and not is_public_address(address):
        raise UnsafeUrl("must not target a private, loopback or link-local address", private=True)
    return parts


def resolve_public_addresses(
    host: str, port: int, *, allow_private: bool, timeout_s: float | None = None
) -> list[str]:
    """Resolve host at call time; every address must be public unless private is allowed.
    timeout_s: TimeoutError when resolving takes longer (a slow resolver cannot stretch a
    call past its deadline).

    A name that does not resolve and one that resolves somewhere private fail with the same
    text: telling them apart would map the deployment's internal DNS for a caller."""
    try:
        infos = _lookup(host, port, timeout_s)
    except (socket.gaierror, UnicodeError):  # UnicodeError: not a valid host name
        raise UnsafeUrl(f"{host} {UNREACHABLE}") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not allow_private:
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeUrl(f"{host} {UNREACHABLE}")
    return addresses


# Lookups that may run at once in their threads: one the caller stopped waiting for runs on
# until the resolver answers, so a resolver that never answers would otherwise leave a
# thread behind per call. When all are busy, a lookup waits for one within its own timeout
# (concurrent calls, such as the publish gate's evals, queue for a moment), and past it
# fails as one that timed out: it never starts another thread.
MAX_RESOLVER_THREADS = 16
_resolver_threads = threading.BoundedSemaphore(MAX_RESOLVER_THREADS)
_NOT_RESOLVED = "the host was not resolved before the deadline"


def _lookup(host: str, port: int, timeout_s: float | None) -> Any:
    """socket.getaddrinfo, waited for at most timeout_s: it cannot be interrupted, so it runs
    in a daemon thread left to finish on its own (its answer then goes nowhere); at most
    MAX_RESOLVER_THREADS of them live at once."""
    if timeout_s is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if timeout_s <= 0:
        raise TimeoutError("the deadline passed before the host was resolved")
    ends_at = time.monotonic() + timeout_s
    if not _resolver_threads.acquire(timeout=timeout_s):
        raise TimeoutError(_NOT_RESOLVED)
    timeout_s = max(0.0, ends_at - time.monotonic())
    outcome: list[Any] = []
    done = threading.Event()

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller, raised there
            outcome.append(exc)
        finally:
            done.set()
            _resolver_threads.release()

    try:
        threading.Thread(target=resolve, name="resolve-host", daemon=True).start()
    except BaseException:  # no thread: nothing will give the slot back
        _resolver_threads.release()
        raise
    if not done.wait(timeout_s):
        raise TimeoutError(_NOT_RESOLVED)
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]

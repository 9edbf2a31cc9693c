"""Outbound URL guard: literal private targets refused at save time."""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any

import pytest

from convoship.security import netguard
from convoship.security.netguard import (
    UNREACHABLE,
    UnsafeUrl,
    check_outbound_url,
    is_public_address,
    resolve_public_addresses,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "https://llm.example.com:8443/v1",
        "https://8.8.8.8/v1",
        "https://[2606:4700:4700::1111]/",
    ],
)
def test_public_https_urls_pass(url: str) -> None:
    check_outbound_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.openai.com/v1",  # plain http
        "ftp://example.com",
        "https://localhost/v1",
        "https://foo.localhost/v1",
        "https://127.0.0.1/v1",
        "https://127.1/",  # legacy IPv4 forms
        "https://2130706433/",
        "https://0x7f000001/",
        "https://10.0.0.5/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",
        "https://user:pass@example.com/",
        "https:///nohost",
        "not a url",
        "https://example.com:99999/",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_outbound_url(url, allow_private=False)


def test_private_networks_allowed_when_the_deployment_says_so() -> None:
    check_outbound_url("http://10.0.0.5:8000/v1", allow_private=True)
    check_outbound_url("http://localhost:8000/v1", allow_private=True)
    with pytest.raises(UnsafeUrl):
        check_outbound_url("https://user:pw@10.0.0.5/", allow_private=True)


def test_resolution_is_checked_again_at_call_time() -> None:
    with pytest.raises(UnsafeUrl):
        resolve_public_addresses("localhost", 443, allow_private=False)
    assert resolve_public_addresses("localhost", 443, allow_private=True)


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".example.com", ".."])
def test_host_names_that_cannot_be_resolved_are_refused_not_raised(host: str) -> None:
    # idna refuses empty and over-long labels with UnicodeError (issue 11: a 500 at call time)
    for allow_private in (False, True):
        with pytest.raises(UnsafeUrl, match="not a valid host name"):
            check_outbound_url(f"https://{host}/v1", allow_private=allow_private)
        with pytest.raises(UnsafeUrl, match=UNREACHABLE):
            resolve_public_addresses(host, 443, allow_private=allow_private)


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254 (cloud metadata)
        "64:ff9b::7f00:1",  # NAT64 (well-known prefix) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:5",  # local-use NAT64 prefix: any layout, never public
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (obfuscated)
        "2001:0:4136:e378:8000:63bf:f5ff:fffa",  # Teredo, client 10.0.0.5
        "fec0::1",  # deprecated site-local
        "fec0:1:2:3::5",
        "feff::1",  # still inside fec0::/10
        "::ffff:10.0.0.5",  # IPv4-mapped
    ],
)
def test_ipv6_forms_of_private_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    with pytest.raises(UnsafeUrl):
        check_outbound_url(f"https://[{address}]/", allow_private=False)


@pytest.mark.parametrize("address", ["2002:808:808::1", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_one_failure_text_for_unresolvable_and_private_names() -> None:
    """Telling 'does not resolve' from 'resolves somewhere private' would be an oracle on the
    deployment's internal DNS."""
    texts = []
    for host in ("localhost", "no-such-host.invalid"):
        with pytest.raises(UnsafeUrl) as caught:
            resolve_public_addresses(host, 443, allow_private=False)
        texts.append(str(caught.value).replace(host, "HOST"))
    assert texts[0] == texts[1]


@pytest.mark.parametrize(
    ("url", "hinted"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("https://localhost/v1", True),
        ("https://10.0.0.5/v1", True),
        ("http://api.example.com/v1", True),  # http is for private networks
        ("ftp://api.example.com/", False),  # no setting makes that one work
        ("https://user:pw@api.example.com/", False),
    ],
)
@pytest.mark.parametrize("stage", ["development", "test", "production"])
def test_development_says_how_to_reach_a_local_model_or_tool(
    url: str, hinted: bool, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convoship.core.errors import ValidationFailed
    from convoship.core.settings import reset_settings
    from convoship.studio.tool_spec import check_tool_url

    monkeypatch.setenv("CONVOSHIP_STAGE", stage)
    reset_settings()
    with pytest.raises(ValidationFailed) as refused:
        check_tool_url(url, allow_private=False)
    message = refused.value.errors[0]["msg"]
    assert ("CONVOSHIP_ALLOW_PRIVATE_NETWORK=1" in message) is (hinted and stage == "development")
    reset_settings()


def _resolver_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "resolve-host"]


def test_lookups_that_never_answer_leave_a_bounded_number_of_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """getaddrinfo cannot be interrupted: a lookup past its timeout runs on in its thread.
    A resolver that never answers leaves at most MAX_RESOLVER_THREADS of them; further
    lookups wait for one within their timeout, then fail with the same TimeoutError without
    starting a thread, and work again once they end."""
    answer = threading.Event()
    started = threading.Semaphore(0)

    def stuck(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        started.release()
        answer.wait(60)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    before = len(_resolver_threads())
    try:
        for i in range(200):
            with pytest.raises(TimeoutError, match="not resolved before the deadline"):
                resolve_public_addresses(f"h{i}.example", 80, allow_private=True, timeout_s=0.01)
        for _ in range(netguard.MAX_RESOLVER_THREADS):
            assert started.acquire(timeout=30)  # each started thread is in getaddrinfo
        assert not started.acquire(blocking=False)  # and no other lookup began
        assert len(_resolver_threads()) - before == netguard.MAX_RESOLVER_THREADS
    finally:
        answer.set()
    for thread in _resolver_threads():
        thread.join(30)
    addresses = resolve_public_addresses("h.example", 80, allow_private=True, timeout_s=30)
    assert addresses == ["127.0.0.1"]


def test_concurrent_lookups_past_the_bound_wait_for_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More lookups at once than resolver threads (the publish gate's evals): those past the
    bound wait for a thread within their timeout, and every one resolves."""
    bound = netguard.MAX_RESOLVER_THREADS
    lock = threading.Lock()
    in_flight, most = [0], [0]
    full = threading.Event()  # every thread is busy: from now on the resolver answers

    def busy(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            if in_flight[0] == bound:
                full.set()
        full.wait(30)
        with lock:
            in_flight[0] -= 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", busy)
    results: list[Any] = []

    def lookup(i: int) -> None:
        try:
            results.append(
                resolve_public_addresses(f"h{i}.example", 80, allow_private=True, timeout_s=60)
            )
        except BaseException as exc:  # collected, asserted below
            results.append(exc)

    callers = [threading.Thread(target=lookup, args=(i,)) for i in range(bound * 3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(90)
    assert results == [["127.0.0.1"]] * len(callers)
    assert most[0] == bound


def test_a_host_name_ending_in_a_newline_is_not_a_host_name() -> None:
    # `$` in a Python pattern also matches before a final newline; the label is held whole
    from convoship.secrets.hosts import HostNotAllowed, normalize_host

    with pytest.raises(HostNotAllowed, match="not a valid host name"):
        normalize_host("api.example.com\n")
    assert normalize_host("api.example.com") == "api.example.com"

"""Outbound URL guard: literal private targets refused at save time."""

from __future__ import annotations

import pytest

from convoship.security.netguard import UnsafeUrl, check_outbound_url, resolve_public_addresses


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
        with pytest.raises(UnsafeUrl, match="cannot resolve"):
            resolve_public_addresses(host, 443, allow_private=allow_private)

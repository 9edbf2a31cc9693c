"""Where a secret may go: allowed-host entries, URL hosts, and how they match."""

from __future__ import annotations

import pytest

from convoship.secrets.hosts import (
    HostNotAllowed,
    fixed_url_host,
    host_allowed,
    normalize_allowed_host,
    normalize_allowed_hosts,
    url_host,
)


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        ("api.example.com", "api.example.com"),
        ("API.Example.COM", "api.example.com"),
        ("api.example.com.", "api.example.com"),
        ("*.Example.org", "*.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("203.0.113.7", "203.0.113.7"),
        ("2001:DB8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("  api.example.com ", "api.example.com"),
    ],
)
def test_allowed_host_entries_are_stored_in_one_spelling(entry: str, stored: str) -> None:
    assert normalize_allowed_host(entry) == stored


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "*",
        "*.com",  # a whole top-level domain
        "api.*.example.com",
        "*example.com",
        "https://api.example.com",
        "api.example.com:443",
        "api.example.com/v1",
        "user@api.example.com",
        "api example.com",
        "api..example.com",
        "api.example.com..",
        "-api.example.com",
        "a" * 64 + ".example.com",
        "127.1",  # another spelling of 127.0.0.1
        "2130706433",
        "0x7f.0.0.1",
        "::ffff:127.0.0.1",
        "2001:0db8:0:0:0:0:0:1",
        "*.10.0.0.1",
        "api.exa%6dple.com",
    ],
)
def test_bad_entries_are_refused(entry: str) -> None:
    with pytest.raises(HostNotAllowed):
        normalize_allowed_host(entry)


def test_entry_lists_drop_duplicates_and_are_capped() -> None:
    assert normalize_allowed_hosts(["A.example.com", "a.example.com.", "b.example.com"]) == [
        "a.example.com",
        "b.example.com",
    ]
    with pytest.raises(HostNotAllowed):
        normalize_allowed_hosts([f"h{i}.example.com" for i in range(51)])


ALLOWED = ["api.example.com", "*.example.org", "203.0.113.7", "2001:db8::1"]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/v1",
        "https://API.EXAMPLE.COM:8443/v1",
        "https://api.example.com./v1",  # the same name, fully qualified
        "https://eu.example.org/x",
        "https://a.b.example.org/x",
        "https://203.0.113.7/x",
        "https://[2001:db8::1]/x",
        "https://api\u3002example\u3002com/v1",  # ideographic full stops: IDNA dots
    ],
)
def test_urls_to_allowed_hosts_match(url: str) -> None:
    assert host_allowed(url_host(url), ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/x",  # the wildcard covers names below it only
        "https://evil-example.org/x",
        "https://example.org.evil.test/x",
        "https://api.example.com.evil.test/x",
        "https://apiexample.com/x",
        "https://203.0.113.8/x",
        "https://7.113.0.203.example.org.evil.test/x",
    ],
)
def test_urls_to_other_hosts_do_not_match(url: str) -> None:
    assert not host_allowed(url_host(url), ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com@evil.test/x",  # userinfo
        "https://user:pw@api.example.com/x",
        "https://203.0.113.007/x",  # another spelling of an allowed address
        "https://3405803783/x",  # 203.0.113.7 as one number
        "https://0xcb.0.113.7/x",
        "https://[::ffff:203.0.113.7]/x",
        "https://[2001:db8:0:0:0:0:0:1]/x",
        "https://api.example.com../x",
        "https://api.exa%6dple.com/x",
        "https://[fe80::1%25eth0]/x",
        "https:///x",
        "https://api.example.com:99999/x",
        "https://\uff11\uff12\uff17.0.0.1/x",  # fullwidth digits: an address once encoded
    ],
)
def test_ambiguous_url_hosts_are_refused(url: str) -> None:
    with pytest.raises(HostNotAllowed):
        url_host(url)


@pytest.mark.parametrize(
    "template",
    [
        "http://{{region}}:3299/echo",
        "https://{{region}}.example.org/x",
        "https://api.example.com{{suffix}}/x",  # .evil.test appended to the host
        "https://api.example.com:{{port}}/x",
        "{{scheme}}://api.example.com/x",
        "https://{{ secret:HOST }}/x",
        "https://api.example.com\\{{x}}/y",
        "https://{{user}}@api.example.com/x",
    ],
)
def test_templates_with_a_movable_host_have_no_fixed_host(template: str) -> None:
    with pytest.raises(HostNotAllowed):
        fixed_url_host(template)


@pytest.mark.parametrize(
    ("template", "host"),
    [
        ("https://api.example.com/orders/{{id}}?key={{secret:K}}", "api.example.com"),
        ("https://API.example.com?q={{q}}", "api.example.com"),
        ("https://api.example.com#{{frag}}", "api.example.com"),
    ],
)
def test_templates_with_written_out_hosts(template: str, host: str) -> None:
    assert fixed_url_host(template) == host

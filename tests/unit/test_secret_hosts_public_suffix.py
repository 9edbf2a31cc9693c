"""Allowed hosts may not reach names that others register: no wildcard over a public suffix
of the Public Suffix List (ICANN and private sections) or over names that hold one, and no
public suffix as a host. The list is the copy the `publicsuffixlist` wheel ships, read only
when an entry is saved."""

from __future__ import annotations

import subprocess
import sys

import pytest

from convoship.secrets.hosts import HostNotAllowed, normalize_allowed_host, normalize_allowed_hosts


@pytest.mark.parametrize(
    "entry",
    [
        "*.co.uk",
        "*.com.au",
        "*.co.jp",
        "*.kawasaki.jp",  # a wildcard rule of the list (*.kawasaki.jp)
        "*.github.io",  # private section
        "*.herokuapp.com",
        "*.blogspot.com",
        "*.appspot.com",
        "*.s3.amazonaws.com",
        "*.CO.UK.",  # spelled otherwise, normalised first
        "*.公司.cn",  # IDN suffixes, read as A-labels
        "*.xn--55qx5d.cn",
    ],
)
def test_a_wildcard_over_a_public_suffix_is_refused(entry: str) -> None:
    with pytest.raises(HostNotAllowed, match="is a public suffix, under which anyone can"):
        normalize_allowed_host(entry)


@pytest.mark.parametrize(
    ("entry", "public"),
    [("*.amazonaws.com", "s3.amazonaws.com"), ("*.windows.net", "core.windows.net")],
)
def test_a_wildcard_over_names_that_hold_a_public_suffix_is_refused(
    entry: str, public: str
) -> None:
    """`*.amazonaws.com` would cover `anyones-bucket.s3.amazonaws.com`."""
    with pytest.raises(HostNotAllowed, match="are registered by others") as refused:
        normalize_allowed_host(entry)
    assert public.split(".", 1)[1] in str(refused.value)


@pytest.mark.parametrize("entry", ["co.uk", "com.au", "github.io", "herokuapp.com", "com", "uk"])
def test_a_public_suffix_is_refused_as_a_host(entry: str) -> None:
    with pytest.raises(HostNotAllowed, match="is a public suffix"):
        normalize_allowed_host(entry)


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        ("*.example.co.uk", "*.example.co.uk"),
        ("*.example.com", "*.example.com"),
        ("*.myname.github.io", "*.myname.github.io"),  # one registrant's names
        ("*.city.kawasaki.jp", "*.city.kawasaki.jp"),  # an exception rule (!city.kawasaki.jp)
        ("*.my.salesforce.com", "*.my.salesforce.com"),
        ("myname.github.io", "myname.github.io"),
        ("api.example.co.uk", "api.example.co.uk"),
        ("www.googleapis.com", "www.googleapis.com"),
        ("localhost", "localhost"),  # not a known suffix: a name of its own
        ("*.internal.example", "*.internal.example"),
        ("203.0.113.7", "203.0.113.7"),
    ],
)
def test_names_of_one_owner_stay_allowed(entry: str, stored: str) -> None:
    assert normalize_allowed_hosts([entry]) == [stored]


def test_the_list_is_read_only_when_an_entry_is_saved() -> None:
    """Matching a URL against stored entries (every tool call) never loads it."""
    code = (
        "import sys; from convoship.secrets.hosts import host_allowed, url_host; "
        "assert host_allowed(url_host('https://a.example.org/x'), ['*.example.org']); "
        "print('publicsuffixlist' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

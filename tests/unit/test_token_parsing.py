"""Both HS256 verifiers (studio authorizer, embed visitor tokens) take any bytes without
raising: a bad token is a deny / InvalidVisitorToken, never an exception (issue 11, #1 #2)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convoship.security import visitor_tokens
from tests.support.tokens import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "functions" / "authorizer"))
import authorizer  # noqa: E402

WS = "6f1c3f1e-7d0e-4e55-9d55-0c2f1f4b9a01"
VISITOR_SECRET = "visitor-secret-0123456789abcdef0123456789"


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(header: bytes | str, claims: bytes | str, secret: str) -> str:
    head, body = b64(header), b64(claims)
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


HS256 = json.dumps({"alg": "HS256", "typ": "JWT"})
LATER = int(time.time()) + 600
GOOD_STUDIO_CLAIMS = json.dumps({"sub": "u", "wid": WS, "role": "owner", "exp": LATER})

# Segments a hostile caller controls: deep nesting (RecursionError in json), huge numbers,
# bytes that are not UTF-8, NUL, lone surrogates, non-objects.
HOSTILE_SEGMENTS = [
    "[" * 1500,
    "[" * 5000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    "1" + "0" * 5000,  # past Python's int digits limit
    "\xff\xfe\x00",
    '{"alg": "\\ud800", "sub": "\\udfff"}',
    "[]",
    "null",
]


@pytest.mark.parametrize("segment", HOSTILE_SEGMENTS, ids=lambda s: repr(s[:12]))
def test_the_authorizer_denies_hostile_header_and_claims(segment: str) -> None:
    secrets = (JWT_SECRET.encode(),)
    for token in (
        f"{b64(segment)}.{b64(GOOD_STUDIO_CLAIMS)}.AAAA",
        f"{b64(HS256)}.{b64(segment)}.AAAA",
        signed(HS256, segment, JWT_SECRET),  # correctly signed, hostile claims
        signed(segment, GOOD_STUDIO_CLAIMS, JWT_SECRET),
    ):
        assert authorizer.verify_token(token, secrets) is None
        event = {"headers": {"authorization": f"Bearer {token}"}}
        assert authorizer.handler(event, None) == {"isAuthorized": False}


def test_the_authorizer_bounds_the_token_size() -> None:
    claims = json.dumps({"sub": "u", "wid": WS, "role": "owner", "exp": LATER, "pad": "x" * 9000})
    token = signed(HS256, claims, JWT_SECRET)
    assert authorizer.verify_token(token, (JWT_SECRET.encode(),)) is None


@pytest.mark.parametrize("exp", ["1" + "0" * 400, "1e400", "-1" + "0" * 400])
def test_the_authorizer_survives_huge_exp_in_a_signed_token(exp: str) -> None:
    claims = f'{{"sub": "u", "wid": "{WS}", "role": "owner", "exp": {exp}}}'
    token = signed(HS256, claims, JWT_SECRET)
    result = authorizer.verify_token(token, (JWT_SECRET.encode(),))
    # 10**400 is far in the future: a valid (if silly) expiry; the rest are refused.
    assert result is None or result["user_id"] == "u"


@pytest.mark.parametrize("segment", HOSTILE_SEGMENTS, ids=lambda s: repr(s[:12]))
def test_visitor_tokens_refuse_hostile_header_and_claims(segment: str) -> None:
    for token in (
        f"{b64(segment)}.{b64(json.dumps({'exp': LATER}))}.AAAA",
        f"{b64(HS256)}.{b64(segment)}.AAAA",
        signed(HS256, segment, VISITOR_SECRET),
        signed(segment, json.dumps({"exp": LATER}), VISITOR_SECRET),
    ):
        with pytest.raises(visitor_tokens.InvalidVisitorToken):
            visitor_tokens.verify(token, VISITOR_SECRET)


@pytest.mark.parametrize("exp", ["1" + "0" * 400, "-1" + "0" * 400, "1e400"])
def test_visitor_tokens_survive_huge_exp(exp: str) -> None:
    token = signed(HS256, f'{{"sub": "v", "exp": {exp}}}', VISITOR_SECRET)
    try:
        claims = visitor_tokens.verify(token, VISITOR_SECRET)
    except visitor_tokens.InvalidVisitorToken:
        return
    assert claims["sub"] == "v"


token_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.text("ABCDEFabcdef0123456789-_=+/.", max_size=80), max_size=4).map(".".join),
    st.tuples(st.binary(max_size=200), st.binary(max_size=200), st.binary(max_size=40)).map(
        lambda parts: ".".join(b64(p) for p in parts)
    ),
    st.builds(
        signed,
        st.one_of(st.just(HS256), st.text(max_size=60)),
        st.one_of(st.just(GOOD_STUDIO_CLAIMS), st.text(max_size=200)),
        st.sampled_from([JWT_SECRET, VISITOR_SECRET]),
    ),
)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(token_text)
def test_any_text_is_a_verdict_never_an_exception(token: str) -> None:
    verdict = authorizer.verify_token(token, (JWT_SECRET.encode(),))
    assert verdict is None or set(verdict) == {"workspace_id", "user_id", "role"}
    with contextlib.suppress(visitor_tokens.InvalidVisitorToken):
        visitor_tokens.verify(token, VISITOR_SECRET)


@pytest.mark.parametrize("sub", ["\ud800", "a\x00b", "line\nbreak"])
def test_the_authorizer_refuses_a_user_id_no_database_can_store(sub: str) -> None:
    claims = json.dumps({"sub": sub, "wid": WS, "role": "owner", "exp": LATER})
    token = signed(HS256, claims, JWT_SECRET)
    assert authorizer.verify_token(token, (JWT_SECRET.encode(),)) is None


@pytest.mark.parametrize("weak", ["", "s3cret", "x" * 31, "é" * 15])
def test_a_visitor_token_signing_secret_shorter_than_32_bytes_verifies_nothing(
    weak: str,
) -> None:
    token = visitor_tokens.sign({"sub": "v", "exp": time.time() + 60}, weak)
    with pytest.raises(visitor_tokens.WeakSigningSecret):
        visitor_tokens.verify(token, weak)
    strong = "x" * 32
    assert visitor_tokens.verify(visitor_tokens.sign({"exp": 4102444800}, strong), strong)

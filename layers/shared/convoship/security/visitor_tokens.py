"""Visitor tokens for embeds whose AUTH guardrail names a `visitor_token_secret`.

The customer's backend signs a short-lived HS256 JWT for its signed-in visitor with that
workspace secret (claims: `exp` required, `sub` the visitor id); the widget sends it as
`X-Visitor-Token`. Standard library only: three base64 segments and one HMAC.

A signing secret shorter than MIN_SECRET_BYTES (the HMAC-SHA256 output, RFC 7518 3.2) could be
guessed offline from any one token: no token is verified with it (WeakSigningSecret, a
misconfiguration the caller cannot fix, so never a verdict on the token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from typing import Any, TypeGuard

MAX_TOKEN_CHARS = 4096
MIN_SECRET_BYTES = 32


class InvalidVisitorToken(ValueError):
    pass


class WeakSigningSecret(Exception):
    """The signing secret is shorter than MIN_SECRET_BYTES: nothing is verified with it."""


def check_signing_secret(secret: str) -> None:
    """WeakSigningSecret unless secret has MIN_SECRET_BYTES bytes (UTF-8) or more."""
    if len(secret.encode("utf-8", "surrogatepass")) < MIN_SECRET_BYTES:
        raise WeakSigningSecret(f"the signing secret is shorter than {MIN_SECRET_BYTES} bytes")


def _segment(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise InvalidVisitorToken("malformed token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidVisitorToken("malformed token") from None


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _json_object(text: str) -> dict[str, Any]:
    """The JSON object a segment holds. Whatever the bytes, the only exception is
    InvalidVisitorToken (deep nesting is a RecursionError in json, a huge number a
    ValueError, bytes that are not UTF-8 a UnicodeDecodeError)."""
    try:
        value = json.loads(_segment(text))
    except (ValueError, RecursionError):
        raise InvalidVisitorToken("malformed token") from None
    if not isinstance(value, dict):
        raise InvalidVisitorToken("malformed token")
    return value


def _finite_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # exact: any size compares with a float, math.isfinite would overflow
    return isinstance(value, float) and math.isfinite(value)


def verify(token: str, secret: str, *, now: float | None = None) -> dict[str, Any]:
    """The claims of a valid, unexpired token signed with secret; InvalidVisitorToken else,
    and WeakSigningSecret (whatever the token) when secret is too short to trust."""
    check_signing_secret(secret)
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise InvalidVisitorToken("malformed token")
    header_b64, claims_b64, signature_b64 = token.split(".")
    header, claims = _json_object(header_b64), _json_object(claims_b64)
    if header.get("alg") != "HS256":
        raise InvalidVisitorToken("the token must be signed with HS256")
    expected = hmac.new(
        secret.encode(), f"{header_b64}.{claims_b64}".encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, _segment(signature_b64)):
        raise InvalidVisitorToken("bad signature")
    exp = claims.get("exp")
    if not _finite_number(exp):
        raise InvalidVisitorToken("the token needs a numeric exp claim")
    if exp <= (time.time() if now is None else now):
        raise InvalidVisitorToken("the token has expired")
    return claims


def sign(claims: dict[str, Any], secret: str) -> str:
    """An HS256 token (what a customer's backend does; used by tests and the dev tools)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"

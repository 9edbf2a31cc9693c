"""Lambda REQUEST authorizer for studio routes (HTTP API, payload 2.0, simple responses).

Verifies an HS256 JWT from `Authorization: Bearer <token>` with claims sub, wid (workspace
UUID), role and exp, and passes workspace_id, user_id and role on as the context.
Standard library only (no layer, no VPC): it imports in about a millisecond. The secret
comes from CONVOSHIP_JWT_SECRET, or from Secrets Manager (CONVOSHIP_JWT_SECRET_ARN, a plain
string or a JSON object with CONVOSHIP_JWT_SECRET). Several comma-separated secrets verify
side by side, so the signing secret can rotate without downtime.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
import time
from typing import Any, TypeGuard

ROLES = frozenset({"viewer", "editor", "admin", "owner"})  # as convoship.core.roles (tested)
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096  # studio tokens are a few hundred characters
CLOCK_SKEW_S = 30  # tolerated for nbf only: an expired token is refused at once
SECRET_TTL_S = 300
_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_DENY = {"isAuthorized": False}

_secrets_cache: tuple[float, tuple[bytes, ...]] | None = None


def _b64decode(segment: str) -> bytes:
    """Strict unpadded base64url: one spelling per value (no ignored junk characters)."""
    if not _B64URL.fullmatch(segment):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise ValueError("non-canonical base64url")
    return raw


def _json_object(segment: str) -> dict[str, Any] | None:
    """The JSON object a base64url segment holds, or None: never raises, whatever the bytes
    (deep nesting is a RecursionError in json, huge numbers a ValueError)."""
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _finite_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # exact: any size compares with a float, math.isfinite would overflow
    return isinstance(value, float) and math.isfinite(value)


def _fetch_secret_value(arn: str) -> str:
    import boto3  # only on a cold start of a deployed authorizer

    value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    try:
        parsed = json.loads(value)
    except ValueError:
        return str(value)
    return str(parsed["CONVOSHIP_JWT_SECRET"]) if isinstance(parsed, dict) else str(value)


def _secrets() -> tuple[bytes, ...]:
    global _secrets_cache
    now = time.monotonic()
    if _secrets_cache is not None and now - _secrets_cache[0] < SECRET_TTL_S:
        return _secrets_cache[1]
    raw = os.environ.get("CONVOSHIP_JWT_SECRET", "")
    arn = os.environ.get("CONVOSHIP_JWT_SECRET_ARN", "")
    if not raw and arn:
        raw = _fetch_secret_value(arn)
    secrets = tuple(s.strip().encode() for s in raw.split(",") if s.strip())
    # A short secret can be brute-forced offline from any token: refuse to trust it.
    secrets = tuple(s for s in secrets if len(s) >= MIN_SECRET_BYTES)
    _secrets_cache = (now, secrets)
    return secrets


def verify_token(
    token: str, secrets: tuple[bytes, ...], now: float | None = None
) -> dict[str, str] | None:
    """The caller's context when token is a valid, unexpired HS256 JWT; otherwise None."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2 or not secrets:
        return None
    parts = token.split(".")
    header, claims = _json_object(parts[0]), _json_object(parts[1])
    try:
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error):
        return None
    if header is None or header.get("alg") != "HS256" or claims is None:
        return None
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    if not any(
        hmac.compare_digest(hmac.new(s, signing_input, hashlib.sha256).digest(), signature)
        for s in secrets
    ):
        return None
    now = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not _finite_number(exp) or exp <= now:
        return None
    if nbf is not None and (not _finite_number(nbf) or nbf > now + CLOCK_SKEW_S):
        return None
    sub, wid, role = claims.get("sub"), claims.get("wid"), claims.get("role")
    if not isinstance(sub, str) or not 0 < len(sub) <= 256 or not sub.isprintable():
        return None
    if not isinstance(wid, str) or not _UUID.fullmatch(wid):
        return None
    if not isinstance(role, str) or role not in ROLES:
        return None
    return {"workspace_id": wid.lower(), "user_id": sub, "role": str(role)}


def _bearer(event: dict[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    value = headers.get("authorization")
    if value is None:
        sources = event.get("identitySource") or []
        value = sources[0] if sources else None
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = _bearer(event)
    if token is None:
        return _DENY
    claims = verify_token(token, _secrets())
    if claims is None:
        return _DENY
    return {"isAuthorized": True, "context": claims}

"""The REQUEST authorizer: HS256 only, expiry honoured, claims checked, context passed on."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from tests.support.tokens import JWT_SECRET, make_token

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "functions" / "authorizer"))
import authorizer  # noqa: E402

WS = "6f1c3f1e-7d0e-4e55-9d55-0c2f1f4b9a01"


@pytest.fixture(autouse=True)
def fresh_secret_cache() -> None:
    authorizer._secrets_cache = None


def event(authorization: str | None) -> dict[str, object]:
    headers = {} if authorization is None else {"authorization": authorization}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "headers": headers,
        "identitySource": [authorization] if authorization else [],
    }


def test_valid_token_passes_its_claims_as_context() -> None:
    result = authorizer.handler(event(f"Bearer {make_token(WS, 'editor', 'u-7')}"), None)
    assert result == {
        "isAuthorized": True,
        "context": {"workspace_id": WS, "user_id": "u-7", "role": "editor"},
    }


def sign(claims: dict[str, object], secret: str = JWT_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": "u",
        "wid": WS,
        "role": "viewer",
        "exp": int(time.time()) + 60,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def none_alg_token() -> str:
    def b64(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not.a.jwt",
        f"Bearer {sign(claims(exp=int(time.time()) - 1))}",  # expired
        f"Bearer {sign(claims(), secret='another-secret-that-is-long-enough-0123456789')}",
        f"Bearer {sign(claims(), alg='HS512')}",
        f"Bearer {none_alg_token()}",
        f"Bearer {sign(claims(exp=None))}",  # no exp
        f"Bearer {sign(claims(wid='not-a-uuid'))}",
        f"Bearer {sign(claims(role='superuser'))}",
        f"Bearer {sign(claims(sub=''))}",
        f"Bearer {sign(claims(nbf=int(time.time()) + 3600))}",  # not yet valid
        f"Bearer {sign(claims(exp=True))}",
        f"Bearer {sign(claims(exp=float('nan')))}",  # would never expire
        f"Bearer {sign(claims(exp=float('inf')))}",
        f"Bearer {sign(claims(nbf=float('nan')))}",
        f"Bearer {sign(claims(role=['owner']))}",  # unhashable: must deny, not crash
        f"Bearer {sign(claims(wid=WS + chr(10)))}",  # trailing newline
        f"Bearer {sign(claims())}AAAA!",  # junk after the signature
        f"Bearer {sign(claims())}=",
    ],
)
def test_bad_tokens_are_denied(authorization: str | None) -> None:
    assert authorizer.handler(event(authorization), None) == {"isAuthorized": False}


def test_rotation_accepts_every_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    new = "new-signing-secret-" + "n" * 32
    monkeypatch.setenv("CONVOSHIP_JWT_SECRET", f"{new},{JWT_SECRET}")
    for secret in (new, JWT_SECRET):
        token = sign(claims(), secret=secret)
        assert authorizer.handler(event(f"Bearer {token}"), None)["isAuthorized"] is True


def test_short_secrets_are_never_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOSHIP_JWT_SECRET", "short")
    token = sign(claims(), secret="short")
    assert authorizer.handler(event(f"Bearer {token}"), None) == {"isAuthorized": False}


def test_imports_without_the_layer_or_fastapi() -> None:
    code = (
        "import sys; sys.path.insert(0, 'functions/authorizer'); import authorizer; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('convoship', 'fastapi', 'pydantic', 'boto3', 'psycopg')]; print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_authorizer_knows_exactly_the_layers_roles() -> None:
    # The authorizer ships without the layer, so it keeps its own copy of the role list.
    from convoship.core.roles import ROLES

    assert frozenset(ROLES) == authorizer.ROLES

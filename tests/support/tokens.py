"""This test session's keys, and studio tokens signed with its JWT secret."""

from __future__ import annotations

import secrets

from cryptography.fernet import Fernet

JWT_SECRET = "test-" + secrets.token_urlsafe(40)
SECRETS_KEY = Fernet.generate_key().decode()
AUDIT_DEV_SIGNING_KEY = "test-" + secrets.token_urlsafe(32)


def make_token(
    workspace_id: object,
    role: str = "owner",
    sub: str = "user-1",
    ttl_s: int = 600,
    secret: str = JWT_SECRET,
) -> str:
    from convoship_dev.local_stack import make_token as sign

    return sign(str(workspace_id), role, sub, ttl_s, secret)

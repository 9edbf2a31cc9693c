"""CREDENTIAL: keys and tokens people paste are replaced, the words around them stay."""

from __future__ import annotations

import pytest

from convoship.runtime.pii import ENTITIES, redact_text

# Shapes of real keys, made up here (none is a live secret).
OPENAI = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
ANTHROPIC = "sk-ant-api03-" + "a1B2c3D4e5F6g7H8i9J0" * 5
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0\n"
    "u1v2w3x4y5z6A7B8C9D0E1F2G3H4I5J6K7L8M9N0O1P2Q3R4S5T6U7V8\n-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"my key is {OPENAI}", "my key is [CREDENTIAL]"),
        (f"ANTHROPIC_API_KEY={ANTHROPIC}", "ANTHROPIC_API_KEY=[CREDENTIAL]"),
        ("aws AKIAIOSFODNN7EXAMPLE ok", "aws [CREDENTIAL] ok"),
        ("ASIAY34FZKBOKMUTVV7A", "[CREDENTIAL]"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe [CREDENTIAL]"),
        ("ghp_" + "a1B2c3D4e5" * 4, "[CREDENTIAL]"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[CREDENTIAL]"),
        ("glpat-xYz12345abcDEF678901", "[CREDENTIAL]"),
        ("slack xoxb-1234567890-0987654321-AbCdEfGhIjKl", "slack [CREDENTIAL]"),
        ("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "[CREDENTIAL]"),
        ("hf_" + "AbCdEfGhIj" * 3 + "KlMn", "[CREDENTIAL]"),
        (f"token: {JWT}", "token: [CREDENTIAL]"),
        (f"the JWT {JWT}.", "the JWT [CREDENTIAL]."),
        ("Authorization: Bearer abc123DEF456ghi789JKL", "Authorization: Bearer [CREDENTIAL]"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==", "Authorization: Basic [CREDENTIAL]"),
        (
            "postgres://app:s3cr3t-P4ss@db.example.com:5432/prod",
            "postgres://app:[CREDENTIAL]@db.example.com:5432/prod",
        ),
        ("https://user:hunter2@example.com/x", "https://user:[CREDENTIAL]@example.com/x"),
        ("password=correcthorsebattery", "password=[CREDENTIAL]"),
        ('{"api_key": "abcdef123456"}', '{"api_key": "[CREDENTIAL]"}'),
        ("client_secret: Zq8#kL2!mN", "client_secret: [CREDENTIAL]"),
        ("my password is Hunter2!", "my password is [CREDENTIAL]"),
        (f"here:\n{PEM}\nthanks", "here:\n[CREDENTIAL]\nthanks"),
        (PEM.rsplit("\n", 1)[0], "[CREDENTIAL]"),  # pasted without its END line
    ],
)
def test_credentials_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text, ["CREDENTIAL"])[0] == expected
    assert redact_text(text, ENTITIES)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "I use sk-learn and scikit-learn",
        "the password is required",
        "password: incorrect",
        "Forgot your password? Reset it here.",
        "Bearer of bad news",
        "a token of appreciation",
        "the secret: practice every day",
        "commit 3f2c1a9b8e7d6c5b4a3928171605f4e3d2c1b0a9",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "https://example.com/path?page=2",
        "-----BEGIN PUBLIC KEY-----",
        "AKIA is a prefix",
    ],
)
def test_credential_lookalikes_are_left_alone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


def test_a_url_password_is_not_read_as_an_email() -> None:
    text = "https://bob:pa55word@example.com"
    assert redact_text(text, ["EMAIL"]) == (text, 0)
    assert redact_text(text, ENTITIES) == ("https://bob:[CREDENTIAL]@example.com", 1)

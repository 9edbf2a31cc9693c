"""encrypt_at_rest / decrypt_at_rest: Fernet with rotation, KMS envelopes under moto."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from cryptography.fernet import Fernet
from moto import mock_aws

from convoship.core.errors import DecryptionFailed
from convoship.core.settings import reset_settings
from convoship.security import crypto
from convoship.security.crypto import EncryptionContext, decrypt_at_rest, encrypt_at_rest

WS_A = "6f1c3f1e-7d0e-4e55-9d55-0c2f1f4b9a01"
WS_B = "0a8d2b6c-1e4f-4c3a-8b2d-5e6f7a8b9c0d"
CTX = EncryptionContext(WS_A, "secret:API_KEY")


def use_keys(monkeypatch: pytest.MonkeyPatch, *keys: str) -> None:
    monkeypatch.setenv("CONVOSHIP_SECRETS_KEY", ",".join(keys))
    reset_settings()
    crypto.clear_caches()


def test_fernet_round_trip_hides_the_plaintext() -> None:
    ciphertext = encrypt_at_rest("sk-live-1234567890", CTX)
    assert "sk-live" not in ciphertext
    assert decrypt_at_rest(ciphertext, CTX) == "sk-live-1234567890"
    assert encrypt_at_rest("same", CTX) != encrypt_at_rest("same", CTX)  # random IV


@pytest.mark.parametrize(
    "other",
    [
        EncryptionContext(WS_B, "secret:API_KEY"),  # another workspace
        EncryptionContext(WS_A, "secret:OTHER"),  # another secret of the same workspace
        EncryptionContext(WS_A, "byok:llm_api_key"),  # another purpose
    ],
)
def test_fernet_ciphertext_moved_to_another_context_fails(other: EncryptionContext) -> None:
    ciphertext = encrypt_at_rest("value", CTX)
    with pytest.raises(DecryptionFailed):
        decrypt_at_rest(ciphertext, other)


def test_multifernet_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(monkeypatch, old)
    made_with_old = encrypt_at_rest("rotate me", CTX)
    use_keys(monkeypatch, new, old)  # new key first: it encrypts, both decrypt
    assert decrypt_at_rest(made_with_old, CTX) == "rotate me"
    made_with_new = encrypt_at_rest("fresh", CTX)
    use_keys(monkeypatch, new)  # old key retired
    assert decrypt_at_rest(made_with_new, CTX) == "fresh"
    with pytest.raises(DecryptionFailed):
        decrypt_at_rest(made_with_old, CTX)


def test_garbage_ciphertext_fails_cleanly() -> None:
    for garbage in ("not-a-token", "aws:!!!", "aws:" + "QUJD", ""):
        with pytest.raises(DecryptionFailed):
            decrypt_at_rest(garbage, CTX)


@pytest.fixture
def kms_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("kms", region_name="us-east-1")
        key_id = client.create_key(Description="test")["KeyMetadata"]["KeyId"]
        monkeypatch.setenv("CONVOSHIP_KMS_KEY_ID", key_id)
        reset_settings()
        crypto.clear_caches()
        crypto.set_kms_client(client)
        yield key_id


def test_kms_round_trip_and_context_binding(kms_key: str) -> None:
    ciphertext = encrypt_at_rest("x" * 8192, CTX)  # above KMS's 4 KiB direct limit
    assert ciphertext.startswith("aws:")
    assert decrypt_at_rest(ciphertext, CTX) == "x" * 8192
    for other in (EncryptionContext(WS_B, CTX.purpose), EncryptionContext(WS_A, "byok:x")):
        with pytest.raises(DecryptionFailed):
            decrypt_at_rest(ciphertext, other)


def test_kms_data_keys_are_cached_per_container(kms_key: str) -> None:
    ciphertext = encrypt_at_rest("cached", CTX)
    calls: list[str] = []
    client = crypto._kms()
    original = client.decrypt

    def counting_decrypt(**kwargs: object) -> object:
        calls.append("decrypt")
        return original(**kwargs)

    client.decrypt = counting_decrypt
    for _ in range(5):
        assert decrypt_at_rest(ciphertext, CTX) == "cached"
    assert calls == ["decrypt"]


def test_fernet_and_kms_ciphertexts_decrypt_side_by_side(
    kms_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kms_ciphertext = encrypt_at_rest("from kms", CTX)
    monkeypatch.delenv("CONVOSHIP_KMS_KEY_ID")
    reset_settings()
    fernet_ciphertext = encrypt_at_rest("from fernet", CTX)
    monkeypatch.setenv("CONVOSHIP_KMS_KEY_ID", kms_key)
    reset_settings()
    assert decrypt_at_rest(kms_ciphertext, CTX) == "from kms"
    assert decrypt_at_rest(fernet_ciphertext, CTX) == "from fernet"

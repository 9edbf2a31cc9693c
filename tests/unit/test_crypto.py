"""encrypt_at_rest / decrypt_at_rest: values sealed with per-workspace data keys (wrapped by
Fernet master keys or KMS under moto), the formats from before data keys, the caches."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import boto3
import pytest
from cryptography.fernet import Fernet
from moto import mock_aws

from convoship.core.errors import ConfigurationError, DecryptionFailed
from convoship.core.settings import reset_settings
from convoship.security import crypto, data_keys, kms
from convoship.security.crypto import (
    EncryptionContext,
    WrappedDataKey,
    decrypt_at_rest,
    encrypt_at_rest,
    key_version_of,
)
from convoship.security.data_keys import fernet_master_id, new_data_key, unwrap, wrap
from tests.support.legacy_ciphertexts import legacy_fernet, legacy_kms

WS_A = "6f1c3f1e-7d0e-4e55-9d55-0c2f1f4b9a01"
WS_B = "0a8d2b6c-1e4f-4c3a-8b2d-5e6f7a8b9c0d"
CTX = EncryptionContext(WS_A, "secret:API_KEY")
# Made by the code of the previous release (Fernet per value), with this key and CTX.
GOLDEN_KEY = "q0m3Zp6Yb6Yl1Xn0g7cYx6m7oJ8Qz0bYf3kN9dV2sEw="
GOLDEN = (
    "gAAAAABrDtI8KmWOjMUCZgfIkCBwTmj94rcQvsfh5RCifN9uieM0tmNR8BV0bNNuaABSBBhEc3-ELIrkpCfKOtB6"
    "ayg3LazEGg=="
)


def use_keys(monkeypatch: pytest.MonkeyPatch, *keys: str) -> None:
    monkeypatch.setenv("CONVOSHIP_SECRETS_KEY", ",".join(keys))
    reset_settings()
    crypto.clear_caches()


def test_data_key_round_trip_hides_the_plaintext() -> None:
    key = new_data_key(WS_A, 1)
    ciphertext = encrypt_at_rest("sk-live-1234567890", CTX, key)
    assert ciphertext.startswith("dk1:1:") and "sk-live" not in ciphertext
    assert key_version_of(ciphertext) == 1
    assert decrypt_at_rest(ciphertext, CTX, key) == "sk-live-1234567890"
    assert encrypt_at_rest("same", CTX, key) != encrypt_at_rest("same", CTX, key)  # random nonce


@pytest.mark.parametrize(
    "other",
    [
        EncryptionContext(WS_B, "secret:API_KEY"),  # another workspace
        EncryptionContext(WS_A, "secret:OTHER"),  # another secret of the same workspace
        EncryptionContext(WS_A, "byok:llm_api_key"),  # another purpose
    ],
)
def test_ciphertext_moved_to_another_context_fails(other: EncryptionContext) -> None:
    key = new_data_key(WS_A, 1)
    ciphertext = encrypt_at_rest("value", CTX, key)
    with pytest.raises(DecryptionFailed):
        decrypt_at_rest(ciphertext, other, key)


def test_only_the_version_a_ciphertext_names_opens_it() -> None:
    v1, v2 = new_data_key(WS_A, 1), new_data_key(WS_A, 2)
    ciphertext = encrypt_at_rest("value", CTX, v1)
    for wrong in (None, v2, WrappedDataKey(WS_A, 1, v2.wrapped_key, v2.master_key_id)):
        with pytest.raises(DecryptionFailed):
            decrypt_at_rest(ciphertext, CTX, wrong)
    with pytest.raises(ValueError):
        encrypt_at_rest("value", CTX, new_data_key(WS_B, 1))  # B's key never seals A's values


def test_wrapped_key_copied_to_another_workspace_does_not_unwrap() -> None:
    key = new_data_key(WS_A, 1)
    crypto.clear_caches()
    with pytest.raises(DecryptionFailed):
        unwrap(WrappedDataKey(WS_B, 1, key.wrapped_key, key.master_key_id))


def test_fernet_master_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(monkeypatch, old)
    under_old = new_data_key(WS_A, 1)
    ciphertext = encrypt_at_rest("rotate me", CTX, under_old)
    assert under_old.master_key_id == fernet_master_id(old)
    use_keys(monkeypatch, new, old)  # new first: it wraps, both unwrap
    assert decrypt_at_rest(ciphertext, CTX, under_old) == "rotate me"
    rewrapped = wrap(unwrap(under_old), WS_A, 1)
    assert rewrapped.master_key_id == fernet_master_id(new) != under_old.master_key_id
    use_keys(monkeypatch, new)  # old master removed: what was re-wrapped still opens
    assert decrypt_at_rest(ciphertext, CTX, rewrapped) == "rotate me"
    with pytest.raises(ConfigurationError, match="not in CONVOSHIP_SECRETS_KEY"):
        decrypt_at_rest(ciphertext, CTX, under_old)


def test_values_from_before_data_keys_still_decrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    use_keys(monkeypatch, GOLDEN_KEY)
    assert key_version_of(GOLDEN) is None
    assert decrypt_at_rest(GOLDEN, CTX) == "sk-golden-0001"
    assert decrypt_at_rest(legacy_fernet("again", CTX, GOLDEN_KEY), CTX) == "again"
    with pytest.raises(DecryptionFailed):
        decrypt_at_rest(GOLDEN, EncryptionContext(WS_B, CTX.purpose))


def test_garbage_ciphertext_fails_cleanly() -> None:
    key = new_data_key(WS_A, 1)
    for garbage in (
        "not-a-token",
        "aws:!!!",
        "aws:" + "QUJD",
        "",
        "dk1:1:",
        "dk1:1:@@",
        "dk1:x:AA",
    ):
        with pytest.raises(DecryptionFailed):
            decrypt_at_rest(garbage, CTX, key)


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


def count_kms(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    client = kms.kms_client()
    for name in ("decrypt", "encrypt", "generate_data_key"):
        original = getattr(client, name)

        def counting(*args: object, _name: str = name, _orig: object = original, **kw: object):  # type: ignore[no-untyped-def]
            calls.append(_name)
            return _orig(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(client, name, counting)
    return calls


def test_kms_data_key_round_trip_and_context_binding(kms_key: str) -> None:
    key = new_data_key(WS_A, 1)
    assert key.master_key_id.startswith("kms:arn:aws:kms:") and kms_key in key.master_key_id
    ciphertext = encrypt_at_rest("x" * 8192, CTX, key)  # above KMS's 4 KiB direct limit
    crypto.clear_caches()
    crypto.set_kms_client(boto3.client("kms", region_name="us-east-1"))
    assert decrypt_at_rest(ciphertext, CTX, key) == "x" * 8192
    with pytest.raises(DecryptionFailed):  # the KMS context binds the wrapped key to WS_A
        unwrap(WrappedDataKey(WS_B, 1, key.wrapped_key, key.master_key_id))


def test_warm_decrypts_make_no_kms_call(kms_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_data_key(WS_A, 1)
    ciphertexts = [encrypt_at_rest(f"v{i}", CTX, key) for i in range(3)]
    data_keys.clear_data_key_cache()  # a cold container
    calls = count_kms(monkeypatch)
    for _ in range(5):
        assert [decrypt_at_rest(c, CTX, key) for c in ciphertexts] == ["v0", "v1", "v2"]
    assert calls == ["decrypt"]  # one unwrap, then the container cache


def test_no_cache_when_the_ttl_is_zero(kms_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOSHIP_KMS_CACHE_TTL_S", "0")
    reset_settings()
    key = new_data_key(WS_A, 1)
    ciphertext = encrypt_at_rest("v", CTX, key)
    calls = count_kms(monkeypatch)
    decrypt_at_rest(ciphertext, CTX, key)
    decrypt_at_rest(ciphertext, CTX, key)
    assert calls == ["decrypt", "decrypt"]


def test_kms_envelopes_from_before_data_keys_decrypt_beside_fernet(
    kms_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = legacy_kms("from kms", CTX, kms.kms_client(), kms_key)
    assert decrypt_at_rest(envelope, CTX) == "from kms"
    monkeypatch.setenv("CONVOSHIP_SECRETS_KEY", GOLDEN_KEY)
    reset_settings()
    assert decrypt_at_rest(GOLDEN, CTX) == "sk-golden-0001"  # KMS set: Fernet still opens
    with pytest.raises(DecryptionFailed):
        decrypt_at_rest(envelope, EncryptionContext(WS_B, CTX.purpose))


def test_kms_without_boto3_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOSHIP_KMS_KEY_ID", "alias/convoship")
    reset_settings()
    crypto.clear_caches()
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 raises ImportError
    with pytest.raises(ConfigurationError, match=r"\.\[kms\]"):
        new_data_key(WS_A, 1)


def test_the_kms_extra_installs_what_local_kms_use_needs() -> None:
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("boto3") for requirement in extras["kms"])

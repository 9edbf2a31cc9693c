"""Encryption at rest for workspace secrets and BYOK keys.

Two formats, decrypted side by side:
- Fernet tokens (default): each `CONVOSHIP_SECRETS_KEY` key is stretched with HKDF into a
  per-context key, so a token copied to another workspace or purpose does not decrypt.
  The first key encrypts, all decrypt (MultiFernet): keys rotate without downtime.
- `aws:<base64>` (with `CONVOSHIP_KMS_KEY_ID`): envelope encryption. KMS makes a data key
  under the encryption context {workspace_id, purpose}; AES-256-GCM seals the value with the
  same context as associated data. Decrypted data keys are cached briefly per container, so
  a chat turn does not pay a KMS call per secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from convoship.core.errors import ConfigurationError, DecryptionFailed, ServiceUnavailable
from convoship.core.settings import get_settings
from convoship.core.snapstart import after_restore

KMS_PREFIX = "aws:"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class EncryptionContext:
    """What a ciphertext belongs to. Purpose names the use, e.g. `secret:API_KEY`."""

    workspace_id: str
    purpose: str

    def as_dict(self) -> dict[str, str]:
        return {"workspace_id": str(self.workspace_id), "purpose": self.purpose}

    def aad(self) -> bytes:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":")).encode()


def secret_context(workspace_id: object, name: str) -> EncryptionContext:
    return EncryptionContext(str(workspace_id), f"secret:{name}")


def byok_context(workspace_id: object) -> EncryptionContext:
    return EncryptionContext(str(workspace_id), "byok:llm_api_key")


# --- Fernet ---------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _fernet(keys: tuple[str, ...], aad: bytes) -> MultiFernet:
    derived = []
    for key in keys:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"convoship:v1:" + aad)
        derived.append(Fernet(base64.urlsafe_b64encode(hkdf.derive(base64.urlsafe_b64decode(key)))))
    return MultiFernet(derived)


def _fernet_for(context: EncryptionContext) -> MultiFernet:
    keys = get_settings().secrets_keys
    if not keys:
        raise ConfigurationError("no CONVOSHIP_SECRETS_KEY: cannot use Fernet ciphertext")
    return _fernet(keys, context.aad())


# --- KMS ------------------------------------------------------------------------------

_kms_client: Any = None
_data_keys: dict[tuple[bytes, bytes], tuple[float, bytes]] = {}
_data_keys_lock = threading.Lock()
_DATA_KEY_CACHE_MAX = 1024


def set_kms_client(client: Any) -> None:
    """Use this boto3 KMS client (tests pass one made inside moto's mock_aws)."""
    global _kms_client
    _kms_client = client


def _kms() -> Any:
    global _kms_client
    if _kms_client is None:
        import boto3  # lazy: only deployments with KMS pay for boto3

        _kms_client = boto3.client("kms")
    return _kms_client


def _kms_call(operation: str, **kwargs: Any) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result: dict[str, Any] = getattr(_kms(), operation)(**kwargs)
        return result
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException"):
            raise DecryptionFailed("ciphertext does not match this workspace or purpose") from exc
        raise ServiceUnavailable("the key service is unavailable") from exc
    except BotoCoreError as exc:
        raise ServiceUnavailable("the key service is unavailable") from exc


def _kms_encrypt(plaintext: bytes, context: EncryptionContext, key_id: str) -> str:
    result = _kms_call(
        "generate_data_key",
        KeyId=key_id,
        KeySpec="AES_256",
        EncryptionContext=context.as_dict(),
    )
    blob: bytes = result["CiphertextBlob"]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(result["Plaintext"]).encrypt(nonce, plaintext, context.aad())
    packed = struct.pack(">H", len(blob)) + blob + nonce + sealed
    return KMS_PREFIX + base64.b64encode(packed).decode()


def _data_key(blob: bytes, context: EncryptionContext) -> bytes:
    cache_key = (blob, context.aad())
    ttl = get_settings().kms_cache_ttl_s
    now = time.monotonic()
    with _data_keys_lock:
        cached = _data_keys.get(cache_key)
    if cached and now - cached[0] < ttl:
        return cached[1]
    result = _kms_call("decrypt", CiphertextBlob=blob, EncryptionContext=context.as_dict())
    key: bytes = result["Plaintext"]
    if ttl:
        with _data_keys_lock:
            if len(_data_keys) >= _DATA_KEY_CACHE_MAX:
                _data_keys.clear()
            _data_keys[cache_key] = (now, key)
    return key


def _kms_decrypt(ciphertext: str, context: EncryptionContext) -> bytes:
    try:
        packed = base64.b64decode(ciphertext[len(KMS_PREFIX) :], validate=True)
        (blob_len,) = struct.unpack(">H", packed[:2])
        blob = packed[2 : 2 + blob_len]
        nonce = packed[2 + blob_len : 2 + blob_len + _NONCE_BYTES]
        sealed = packed[2 + blob_len + _NONCE_BYTES :]
        if len(blob) != blob_len or len(nonce) != _NONCE_BYTES or not sealed:
            raise ValueError("truncated")
    except (binascii.Error, ValueError, struct.error) as exc:
        raise DecryptionFailed("malformed ciphertext") from exc
    try:
        return AESGCM(_data_key(blob, context)).decrypt(nonce, sealed, context.aad())
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not match this workspace or purpose") from exc


def clear_caches() -> None:
    """Forget cached data keys, derived Fernet keys and the KMS client."""
    with _data_keys_lock:
        _data_keys.clear()
    _fernet.cache_clear()
    set_kms_client(None)


after_restore(clear_caches)  # data keys cached before a snapshot must not live on in clones


# --- API ------------------------------------------------------------------------------


def encrypt_at_rest(plaintext: str, context: EncryptionContext) -> str:
    """Ciphertext of plaintext bound to context: KMS when configured, else Fernet."""
    key_id = get_settings().kms_key_id
    if key_id:
        return _kms_encrypt(plaintext.encode(), context, key_id)
    return _fernet_for(context).encrypt(plaintext.encode()).decode()


def decrypt_at_rest(ciphertext: str, context: EncryptionContext) -> str:
    """Plaintext of a ciphertext made for exactly this context, in either format."""
    if ciphertext.startswith(KMS_PREFIX):
        return _kms_decrypt(ciphertext, context).decode()
    try:
        return _fernet_for(context).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("ciphertext does not match this workspace or purpose") from exc

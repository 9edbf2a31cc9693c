"""The two formats values were sealed in before workspace data keys. Decrypt only: new
values are sealed with the workspace's data key, and `rotate-keys` converts these.

- Fernet tokens: each `CONVOSHIP_SECRETS_KEY` key stretched with HKDF into a key per
  (workspace, purpose); every configured key is tried (MultiFernet).
- `aws:<base64>`: a KMS data key per value, made under the encryption context
  {workspace_id, purpose}; AES-256-GCM with the same context as associated data. Decrypted
  KMS data keys are cached briefly per container.
"""

from __future__ import annotations

import base64
import binascii
import struct
import threading
import time
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from convoship.core.errors import ConfigurationError, DecryptionFailed
from convoship.core.settings import get_settings
from convoship.security.context import EncryptionContext
from convoship.security.kms import kms_call

KMS_PREFIX = "aws:"
_NONCE_BYTES = 12
_CACHE_MAX = 1024
_kms_keys: dict[tuple[bytes, bytes], tuple[float, bytes]] = {}
_kms_keys_lock = threading.Lock()


@lru_cache(maxsize=512)
def _fernet(keys: tuple[str, ...], aad: bytes) -> MultiFernet:
    derived = []
    for key in keys:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"convoship:v1:" + aad)
        derived.append(Fernet(base64.urlsafe_b64encode(hkdf.derive(base64.urlsafe_b64decode(key)))))
    return MultiFernet(derived)


def decrypt_fernet(ciphertext: str, context: EncryptionContext) -> bytes:
    keys = get_settings().secrets_keys
    if not keys:
        raise ConfigurationError("no CONVOSHIP_SECRETS_KEY: cannot open a Fernet ciphertext")
    try:
        return _fernet(keys, context.aad()).decrypt(ciphertext.encode())
    except InvalidToken as exc:
        raise DecryptionFailed("ciphertext does not match this workspace or purpose") from exc


def _kms_data_key(blob: bytes, context: EncryptionContext) -> bytes:
    cache_key = (blob, context.aad())
    ttl = get_settings().kms_cache_ttl_s
    now = time.monotonic()
    with _kms_keys_lock:
        cached = _kms_keys.get(cache_key)
    if cached and now - cached[0] < ttl:
        return cached[1]
    key: bytes = kms_call("decrypt", CiphertextBlob=blob, EncryptionContext=context.as_dict())[
        "Plaintext"
    ]
    if ttl:
        with _kms_keys_lock:
            if len(_kms_keys) >= _CACHE_MAX:
                _kms_keys.clear()
            _kms_keys[cache_key] = (now, key)
    return key


def decrypt_kms_envelope(ciphertext: str, context: EncryptionContext) -> bytes:
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
        return AESGCM(_kms_data_key(blob, context)).decrypt(nonce, sealed, context.aad())
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not match this workspace or purpose") from exc


def clear_legacy_caches() -> None:
    with _kms_keys_lock:
        _kms_keys.clear()
    _fernet.cache_clear()

"""Encryption at rest for workspace secrets and BYOK keys.

New values are sealed with the workspace's data key (security/data_keys.py):
`dk1:<key version>:<base64url(nonce | AES-256-GCM ciphertext)>`, with the workspace id and
purpose (`secret:NAME`, `byok:llm_api_key`) as associated data, so a ciphertext moved to
another workspace, secret or purpose does not decrypt. The version says which data key
opens it; readers fetch that wrapped key in the same query as the ciphertext.

Values sealed before data keys existed (a Fernet token per value, or an `aws:` KMS
envelope per value) still decrypt (security/legacy.py); `convoship rotate-keys` converts
them.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from convoship.core.errors import DecryptionFailed
from convoship.core.snapstart import after_restore
from convoship.security import data_keys, kms, legacy
from convoship.security.context import (
    EncryptionContext,
    WrappedDataKey,
    byok_context,
    secret_context,
)
from convoship.security.kms import set_kms_client

__all__ = [
    "EncryptionContext",
    "WrappedDataKey",
    "byok_context",
    "clear_caches",
    "decrypt_at_rest",
    "encrypt_at_rest",
    "key_version_of",
    "secret_context",
    "set_kms_client",
]

DATA_KEY_PREFIX = "dk1:"
# The migration's generated column `data_key_version` parses the same pattern.
_DATA_KEY_FORMAT = re.compile(r"dk1:([0-9]{1,9}):([A-Za-z0-9_=-]+)")
_NONCE_BYTES = 12


def key_version_of(ciphertext: str) -> int | None:
    """The data key version a ciphertext names; None for the formats before data keys."""
    match = _DATA_KEY_FORMAT.fullmatch(ciphertext)
    return int(match.group(1)) if match else None


def encrypt_at_rest(plaintext: str, context: EncryptionContext, data_key: WrappedDataKey) -> str:
    """plaintext sealed with data_key (a version of context's workspace key)."""
    if data_key.workspace_id != str(context.workspace_id):
        raise ValueError("a data key seals values of its own workspace only")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(data_keys.unwrap(data_key)).encrypt(nonce, plaintext.encode(), context.aad())
    packed = base64.urlsafe_b64encode(nonce + sealed).decode()
    return f"{DATA_KEY_PREFIX}{data_key.version}:{packed}"


def decrypt_at_rest(
    ciphertext: str, context: EncryptionContext, data_key: WrappedDataKey | None = None
) -> str:
    """Plaintext of a ciphertext made for exactly this context, in any format. A data-key
    ciphertext needs the version it names (read with it); the older formats need none."""
    if ciphertext.startswith(DATA_KEY_PREFIX):
        return _open_with_data_key(ciphertext, context, data_key).decode()
    if ciphertext.startswith(legacy.KMS_PREFIX):
        return legacy.decrypt_kms_envelope(ciphertext, context).decode()
    return legacy.decrypt_fernet(ciphertext, context).decode()


def _open_with_data_key(
    ciphertext: str, context: EncryptionContext, data_key: WrappedDataKey | None
) -> bytes:
    match = _DATA_KEY_FORMAT.fullmatch(ciphertext)
    if match is None:
        raise DecryptionFailed("malformed ciphertext")
    version = int(match.group(1))
    if (
        data_key is None
        or data_key.version != version
        or data_key.workspace_id != str(context.workspace_id)
    ):
        raise DecryptionFailed(f"data key version {version} of this workspace is not available")
    try:
        packed = base64.urlsafe_b64decode(match.group(2))
    except (binascii.Error, ValueError) as exc:
        raise DecryptionFailed("malformed ciphertext") from exc
    nonce, sealed = packed[:_NONCE_BYTES], packed[_NONCE_BYTES:]
    if len(nonce) != _NONCE_BYTES or not sealed:
        raise DecryptionFailed("malformed ciphertext")
    try:
        return AESGCM(data_keys.unwrap(data_key)).decrypt(nonce, sealed, context.aad())
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not match this workspace or purpose") from exc


def clear_caches() -> None:
    """Forget unwrapped data keys, derived Fernet keys, cached KMS data keys and the client."""
    data_keys.clear_data_key_cache()
    legacy.clear_legacy_caches()
    kms.set_kms_client(None)


after_restore(clear_caches)  # data keys cached before a snapshot must not live on in clones

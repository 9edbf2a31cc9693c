"""Workspace data keys: made, wrapped and unwrapped under the master key.

The master is the KMS key when CONVOSHIP_KMS_KEY_ID is set, else the first
CONVOSHIP_SECRETS_KEY key; every configured Fernet key still unwraps what it wrapped, and
KMS unwraps under whichever key a blob names. A wrapped key is bound to its workspace (KMS
encryption context; the Fernet wrapping key is derived per workspace), so a wrapped key
copied to another workspace does not unwrap. Unwrapped keys are cached per container for
CONVOSHIP_KMS_CACHE_TTL_S, so a warm chat turn makes no KMS call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
import time
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from convoship.core.errors import ConfigurationError, DecryptionFailed
from convoship.core.settings import get_settings
from convoship.security.context import WrappedDataKey
from convoship.security.kms import kms_call

KEY_BYTES = 32
FERNET_MASTER = "fernet:"
KMS_MASTER = "kms:"
_PURPOSE = "workspace-data-key"
_CACHE_MAX = 4096
_unwrapped: dict[tuple[str, int, str], tuple[float, bytes]] = {}
_unwrapped_lock = threading.Lock()


def fernet_master_id(key: str) -> str:
    """A public fingerprint of a Fernet master key (it reveals nothing of the key)."""
    raw = base64.urlsafe_b64decode(key)
    return FERNET_MASTER + hashlib.sha256(b"convoship:master-key-id:" + raw).hexdigest()[:16]


@lru_cache(maxsize=1024)
def _fernet_wrapper(key: str, workspace_id: str) -> Fernet:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"convoship:data-key:v1:" + workspace_id.encode(),
    )
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(base64.urlsafe_b64decode(key))))


def _kms_context(workspace_id: str) -> dict[str, str]:
    return {"workspace_id": workspace_id, "purpose": _PURPOSE}


def _remember(wrapped: WrappedDataKey, key: bytes) -> None:
    if not get_settings().kms_cache_ttl_s:
        return
    with _unwrapped_lock:
        if len(_unwrapped) >= _CACHE_MAX:
            _unwrapped.clear()
        _unwrapped[(wrapped.workspace_id, wrapped.version, wrapped.wrapped_key)] = (
            time.monotonic(),
            key,
        )


def wrap(key: bytes, workspace_id: str, version: int) -> WrappedDataKey:
    """key wrapped under the current master."""
    settings = get_settings()
    if settings.kms_key_id:
        result = kms_call(
            "encrypt",
            KeyId=settings.kms_key_id,
            Plaintext=key,
            EncryptionContext=_kms_context(workspace_id),
        )
        blob = base64.b64encode(result["CiphertextBlob"]).decode()
        wrapped = WrappedDataKey(workspace_id, version, blob, KMS_MASTER + result["KeyId"])
    else:
        primary = _fernet_keys()[0]
        token = _fernet_wrapper(primary, workspace_id).encrypt(key).decode()
        wrapped = WrappedDataKey(workspace_id, version, token, fernet_master_id(primary))
    _remember(wrapped, key)
    return wrapped


def new_data_key(workspace_id: object, version: int) -> WrappedDataKey:
    """A fresh random data key, wrapped under the current master (and cached unwrapped)."""
    ws = str(workspace_id)
    settings = get_settings()
    if not settings.kms_key_id:
        return wrap(os.urandom(KEY_BYTES), ws, version)
    result = kms_call(
        "generate_data_key",
        KeyId=settings.kms_key_id,
        KeySpec="AES_256",
        EncryptionContext=_kms_context(ws),
    )
    blob = base64.b64encode(result["CiphertextBlob"]).decode()
    wrapped = WrappedDataKey(ws, version, blob, KMS_MASTER + result["KeyId"])
    _remember(wrapped, result["Plaintext"])
    return wrapped


def _fernet_keys() -> tuple[str, ...]:
    keys = get_settings().secrets_keys
    if not keys:
        raise ConfigurationError("no CONVOSHIP_SECRETS_KEY: cannot use a Fernet master key")
    return keys


def _unwrap_now(wrapped: WrappedDataKey) -> bytes:
    if wrapped.master_key_id.startswith(KMS_MASTER):
        try:
            blob = base64.b64decode(wrapped.wrapped_key, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptionFailed("malformed wrapped data key") from exc
        result = kms_call(
            "decrypt",
            CiphertextBlob=blob,
            KeyId=wrapped.master_key_id.removeprefix(KMS_MASTER),
            EncryptionContext=_kms_context(wrapped.workspace_id),
        )
        key: bytes = result["Plaintext"]
        return key
    master = next((k for k in _fernet_keys() if fernet_master_id(k) == wrapped.master_key_id), None)
    if master is None:
        raise ConfigurationError(
            f"the master key {wrapped.master_key_id} that wrapped a data key is not in"
            " CONVOSHIP_SECRETS_KEY: put it back until `convoship rotate-keys --master` ran"
        )
    try:
        return _fernet_wrapper(master, wrapped.workspace_id).decrypt(wrapped.wrapped_key.encode())
    except InvalidToken as exc:
        raise DecryptionFailed("the data key does not belong to this workspace") from exc


def unwrap(wrapped: WrappedDataKey) -> bytes:
    """The plaintext data key: from the container cache while fresh, else unwrapped."""
    cache_key = (wrapped.workspace_id, wrapped.version, wrapped.wrapped_key)
    ttl = get_settings().kms_cache_ttl_s
    with _unwrapped_lock:
        cached = _unwrapped.get(cache_key)
    if cached and time.monotonic() - cached[0] < ttl:
        return cached[1]
    key = _unwrap_now(wrapped)
    if len(key) != KEY_BYTES:
        raise DecryptionFailed("a data key has the wrong length")
    _remember(wrapped, key)
    return key


def current_master_id() -> str:
    """Which master wraps new data keys: `kms:<arn>` (asks KMS once) or `fernet:<id>`."""
    settings = get_settings()
    if settings.kms_key_id:
        arn = kms_call("describe_key", KeyId=settings.kms_key_id)["KeyMetadata"]["Arn"]
        return KMS_MASTER + str(arn)
    return fernet_master_id(_fernet_keys()[0])


def forget_workspace(workspace_id: object) -> None:
    """Drop a workspace's unwrapped keys from this container (after crypto-shredding)."""
    ws = str(workspace_id)
    with _unwrapped_lock:
        for cache_key in [k for k in _unwrapped if k[0] == ws]:
            del _unwrapped[cache_key]


def clear_data_key_cache() -> None:
    with _unwrapped_lock:
        _unwrapped.clear()
    _fernet_wrapper.cache_clear()

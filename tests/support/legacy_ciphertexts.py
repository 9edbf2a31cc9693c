"""Values sealed the way the project sealed them before workspace data keys (the code that
wrote them, kept here only to make such values): a Fernet token per value under a key
derived per (workspace, purpose), or an `aws:` KMS envelope per value."""

from __future__ import annotations

import base64
import os
import struct
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from convoship.security.context import EncryptionContext


def legacy_fernet(plaintext: str, context: EncryptionContext, master_key: str) -> str:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"convoship:v1:" + context.aad()
    )
    derived = base64.urlsafe_b64encode(hkdf.derive(base64.urlsafe_b64decode(master_key)))
    return Fernet(derived).encrypt(plaintext.encode()).decode()


def legacy_kms(plaintext: str, context: EncryptionContext, kms: Any, key_id: str) -> str:
    result = kms.generate_data_key(
        KeyId=key_id, KeySpec="AES_256", EncryptionContext=context.as_dict()
    )
    blob: bytes = result["CiphertextBlob"]
    nonce = os.urandom(12)
    sealed = AESGCM(result["Plaintext"]).encrypt(nonce, plaintext.encode(), context.aad())
    return "aws:" + base64.b64encode(struct.pack(">H", len(blob)) + blob + nonce + sealed).decode()

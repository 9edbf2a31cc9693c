"""Who signs audit checkpoints: an asymmetric KMS key, or (development only) an HMAC key.

In AWS the daily checkpoint signs with `CONVOSHIP_AUDIT_SIGNING_KEY_ID`, an ECC_NIST_P256
KMS key whose private half never leaves KMS: only the checkpoint function may kms:Sign, the
verifying function may kms:Verify. Where there is no KMS (a laptop, the tests) a checkpoint
is signed with HMAC-SHA256 under `CONVOSHIP_AUDIT_DEV_SIGNING_KEY` and says so
(`HMAC_SHA_256_DEV`); settings refuse that key in production, so production never accepts
such a checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from convoship.core import constants as env
from convoship.core.errors import ConfigurationError, ServiceUnavailable
from convoship.core.settings import Settings

KMS_ALGORITHM = "ECDSA_SHA_256"
DEV_ALGORITHM = "HMAC_SHA_256_DEV"


def checkpoint_message(
    workspace_id: object, seq: int, chain_hash: str, signed_at: datetime
) -> bytes:
    """The bytes a checkpoint signs: one field per line, after a version tag."""
    stamp = signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"convoship-audit-checkpoint-v1\n{workspace_id}\n{seq}\n{chain_hash}\n{stamp}".encode()


class Signer(Protocol):
    @property
    def algorithm(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True)
class DevHmacSigner:
    """Development only: HMAC-SHA256 under a local key (its id is a fingerprint of it)."""

    key: bytes = field(repr=False)
    algorithm: str = DEV_ALGORITHM

    @property
    def key_id(self) -> str:
        return "dev-hmac:" + hashlib.sha256(self.key).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self.key, message, hashlib.sha256).digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(message), signature)


@dataclass(frozen=True)
class KmsSigner:
    """ECDSA P-256 with SHA-256 by an asymmetric KMS key."""

    key_id: str
    client: Any = None  # a boto3 KMS client; made lazily when None
    algorithm: str = KMS_ALGORITHM

    def _kms(self) -> Any:
        return self.client if self.client is not None else _default_kms_client()

    def sign(self, message: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._kms().sign(
                KeyId=self.key_id,
                Message=message,
                MessageType="RAW",
                SigningAlgorithm=self.algorithm,
            )
        except (BotoCoreError, ClientError) as exc:
            raise ServiceUnavailable("KMS could not sign the audit checkpoint") from exc
        return bytes(answer["Signature"])

    def verify(self, message: bytes, signature: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        kms = self._kms()
        try:
            answer = kms.verify(
                KeyId=self.key_id,
                Message=message,
                MessageType="RAW",
                Signature=signature,
                SigningAlgorithm=self.algorithm,
            )
        except kms.exceptions.KMSInvalidSignatureException:
            return False
        except (BotoCoreError, ClientError) as exc:
            raise ServiceUnavailable("KMS could not verify the audit checkpoint") from exc
        return bool(answer.get("SignatureValid"))


@cache
def _default_kms_client() -> Any:
    """One KMS client per container (making one costs tens of milliseconds)."""
    import boto3  # lazy: only the checkpoint and verification paths need it

    return boto3.client("kms")


def configured_signer(settings: Settings) -> Signer | None:
    """The deployment's checkpoint signer: KMS when a key is set, else the dev HMAC key."""
    if settings.audit_signing_key_id:
        return KmsSigner(settings.audit_signing_key_id)
    if settings.audit_dev_signing_key:
        return DevHmacSigner(settings.audit_dev_signing_key.encode())
    return None


def require_signer(settings: Settings) -> Signer:
    signer = configured_signer(settings)
    if signer is None:
        raise ConfigurationError(
            f"{env.AUDIT_SIGNING_KEY_ID} is not set: audit checkpoints are signed with KMS"
        )
    return signer

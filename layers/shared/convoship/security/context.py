"""What a ciphertext is bound to, and the wrapped data key it names: plain values that cost
no cryptography import (the request path reads them before it knows it must decrypt)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


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


@dataclass(frozen=True)
class WrappedDataKey:
    """One version of a workspace's data key as stored: wrapped by a master key.

    master_key_id says which: `fernet:<fingerprint>` (a CONVOSHIP_SECRETS_KEY key) or
    `kms:<key arn>`.
    """

    workspace_id: str
    version: int
    wrapped_key: str = field(repr=False)
    master_key_id: str

    @classmethod
    def of(cls, row: dict[str, Any] | None) -> WrappedDataKey | None:
        """From a row (or JSON object) with these four fields; None for None."""
        if row is None:
            return None
        return cls(
            workspace_id=str(row["workspace_id"]),
            version=int(row["version"]),
            wrapped_key=str(row["wrapped_key"]),
            master_key_id=str(row["master_key_id"]),
        )

"""The secrets one agent run may use, read and decrypted only when a call needs them.

Every value used is remembered so it can be scrubbed, in its usual spellings, from whatever
the run returns, logs or writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote
from uuid import UUID

from convoship.db.read_batch import read_transaction
from convoship.secrets.store import ciphertexts
from convoship.security.context import WrappedDataKey

SCRUBBED = "[secret]"


class SecretMissing(LookupError):
    """A referenced secret is not (or no longer) set in the workspace."""


class SecretVault:
    """The secrets an agent run may use (its tools' and AUTH guardrail's references).

    Nothing is read until a value is needed: most chat turns call no tool, so they pay
    neither the query nor a decryption. The first need reads every referenced ciphertext,
    with the wrapped data key it names, in one round trip of the run's scope; values are
    decrypted one by one, on use (the unwrapped data key is cached per container).
    Thread-safe: the publish gate's evals share one vault.
    """

    def __init__(
        self, workspace_id: UUID, names: Iterable[str], scope: dict[str, Any] | None = None
    ) -> None:
        self._workspace_id = workspace_id
        self._names = sorted(set(names))
        self._scope = scope if scope is not None else {"workspace_id": workspace_id}
        self._ciphertexts: dict[str, tuple[str, WrappedDataKey | None]] | None = None
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def _ciphertext(self, name: str) -> tuple[str, WrappedDataKey | None] | None:
        with self._lock:
            if self._ciphertexts is None:
                self._ciphertexts = {}
                if self._names:
                    with read_transaction(**self._scope) as conn:
                        self._ciphertexts = ciphertexts(conn, self._workspace_id, self._names)
            return self._ciphertexts.get(name)

    def get(self, name: str) -> str:
        if name not in self._values:
            stored = self._ciphertext(name)
            if stored is None:
                raise SecretMissing(f"the workspace secret {name} is not set")
            from convoship.security.crypto import decrypt_at_rest, secret_context  # lazy

            ciphertext, data_key = stored
            self._values[name] = decrypt_at_rest(
                ciphertext, secret_context(self._workspace_id, name), data_key
            )
        return self._values[name]

    def scrub(self, text: str) -> str:
        """text with every spelling of every value used so far replaced."""
        for value in sorted(self._values.values(), key=len, reverse=True):
            if not value:
                continue
            for spelling in {value, json.dumps(value)[1:-1], quote(value, safe="")}:
                text = text.replace(spelling, SCRUBBED)
        return text

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_value(v) for v in value]
        return value

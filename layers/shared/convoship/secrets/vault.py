"""The secrets one agent run may use, read and decrypted only when a call needs them.

Every value used is remembered so it can be scrubbed, in every spelling (secrets.scrub),
from whatever the run returns, logs or writes; and a value goes only to the hosts its
secret allows (secrets.hosts).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from convoship.core.errors import DecryptionFailed
from convoship.db.read_batch import read_transaction
from convoship.secrets.hosts import host_allowed
from convoship.secrets.scrub import SCRUBBED, Scrubber
from convoship.secrets.store import SealedSecret, sealed_secrets

__all__ = ["SCRUBBED", "HostRefused", "SecretMissing", "SecretVault"]


class SecretMissing(LookupError):
    """A referenced secret is not (or no longer) set in the workspace."""


class HostRefused(LookupError):
    """A secret may not be sent to this host (its allowed_hosts do not name it)."""


class SecretVault:
    """The secrets an agent run may use (its tools' and AUTH guardrail's references).

    Nothing is read until a value is needed: most chat turns call no tool, so they pay
    neither the query nor a decryption. The first need reads every referenced ciphertext in
    one short transaction of the run's scope; values are decrypted on use, and all of them
    before a tool is called (know_every_value), so that whatever a tool answers is
    scrubbed of every value before the model reads it.
    Thread-safe: the publish gate's evals share one vault.
    """

    def __init__(
        self, workspace_id: UUID, names: Iterable[str], scope: dict[str, Any] | None = None
    ) -> None:
        self._workspace_id = workspace_id
        self._names = sorted(set(names))
        self._scope = scope if scope is not None else {"workspace_id": workspace_id}
        self._sealed: dict[str, SealedSecret] | None = None
        self._values: dict[str, str] = {}
        self._scrubber = Scrubber()
        self._lock = threading.Lock()

    def _secret(self, name: str) -> SealedSecret:
        with self._lock:
            if self._sealed is None:
                self._sealed = {}
                if self._names:
                    with read_transaction(**self._scope) as conn:
                        self._sealed = sealed_secrets(conn, self._workspace_id, self._names)
            sealed = self._sealed.get(name)
        if sealed is None:
            raise SecretMissing(f"the workspace secret {name} is not set")
        return sealed

    def check_host(self, names: Iterable[str], host: str) -> None:
        """HostRefused unless every one of names may be sent to host (normalised)."""
        for name in sorted(set(names)):
            if not host_allowed(host, self._secret(name).allowed_hosts):
                raise HostRefused(f"the workspace secret {name} may not be sent to {host}")

    def get(self, name: str) -> str:
        if name not in self._values:
            sealed = self._secret(name)
            from convoship.security.crypto import decrypt_at_rest, secret_context  # lazy

            value = decrypt_at_rest(
                sealed.ciphertext, secret_context(self._workspace_id, name), sealed.data_key
            )
            self._scrubber.add(value)  # before anyone can use it
            self._values[name] = value
        return self._values[name]

    def know_every_value(self) -> None:
        """Decrypt every value the run may use, so that scrubbing knows them all before
        anything that could echo one (a tool's response) reaches the model. Values that
        are missing or cannot be read are skipped: no call can use them either."""
        for name in self._names:
            try:
                self.get(name)
            except (SecretMissing, DecryptionFailed):
                continue

    @property
    def reach(self) -> int:
        """Bytes: the longest spelling of any value known (scrub's `keep` needs this much
        text past the cut)."""
        return self._scrubber.reach

    def scrub(self, text: str, *, keep: int | None = None) -> str:
        """text with every spelling of every value known replaced; keep: only what
        text[:keep] becomes, a value that starts before keep scrubbed whole."""
        return self._scrubber.text(text, keep=keep)

    def scrub_bytes(self, data: bytes) -> bytes:
        """data with every value known, in UTF-16 or UTF-32 at any alignment, replaced."""
        return self._scrubber.bytes(data)

    def scrub_value(self, value: Any) -> Any:
        """A JSON value with every string in it scrubbed, keys included."""
        return self._scrubber.json(value)

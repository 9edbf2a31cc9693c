"""Workspace LLM (BYOK) settings: read with defaults, written with audit; the stored key is
only ever sent to the provider and host it was entered for.

No row means defaults; a GET never writes. A write locks the current row (FOR UPDATE) so the
audited before-state is exactly what the update replaced, then upserts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from convoship.audit.record import Actor, record
from convoship.core.errors import ValidationFailed
from convoship.db.connection import Connection
from convoship.secrets.hosts import HostNotAllowed, url_host
from convoship.security.context import WrappedDataKey
from convoship.security.key_store import data_key_for_write, data_key_of, data_key_sql
from convoship.security.netguard import UnsafeUrl, check_outbound_url, explain
from convoship.studio.settings_row import upsert_settings_row


@dataclass(frozen=True)
class LlmSettings:
    provider: str | None
    model: str | None
    base_url: str | None
    api_key_ciphertext: str | None
    api_key_hint: str | None
    updated_at: datetime | None
    # The wrapped data key the api key's ciphertext names: read with it for runs only.
    api_key_data_key: WrappedDataKey | None = field(default=None, repr=False)

    def public_state(self) -> dict[str, Any]:
        """What may be shown and audited: never the key, only whether one is set."""
        return {
            "provider": self.provider,
            "model": self.model,
            "base_url": self.base_url,
            "api_key_set": self.api_key_ciphertext is not None,
            "api_key_hint": self.api_key_hint,
        }


_LLM_DEFAULT = LlmSettings(None, None, None, None, None, None)
LLM_COLUMNS = "provider, model, base_url, api_key_ciphertext, api_key_hint, updated_at"
# What a run reads: the settings and, in the same query, the data key that opens the api key.
LLM_RUN_COLUMNS = f"{LLM_COLUMNS}, {data_key_sql('workspace_llm_settings')} AS api_key_data_key"


def llm_settings_of(row: dict[str, Any] | None) -> LlmSettings:
    """Settings from a row selected with LLM_COLUMNS or LLM_RUN_COLUMNS (defaults when there
    is none)."""
    if not row:
        return _LLM_DEFAULT
    values = dict(row)
    values["api_key_data_key"] = data_key_of(values.get("api_key_data_key"))
    return LlmSettings(**values)


def _llm_row(conn: Connection, workspace_id: object, lock: bool) -> LlmSettings | None:
    query = f"SELECT {LLM_COLUMNS} FROM workspace_llm_settings WHERE workspace_id = %s" + (
        " FOR UPDATE" if lock else ""
    )
    row = conn.execute(query.encode(), (workspace_id,)).fetchone()
    return LlmSettings(**row) if row else None


def get_llm_settings(conn: Connection, workspace_id: object) -> LlmSettings:
    return _llm_row(conn, workspace_id, lock=False) or _LLM_DEFAULT


def key_hint(api_key: str) -> str | None:
    """`...abcd` for keys long enough that four characters give little away, else None."""
    return "..." + api_key[-4:] if len(api_key) >= 12 else None


def _validate_llm(merged: dict[str, Any], has_key: bool, allow_private: bool) -> None:
    provider, base_url = merged["provider"], merged["base_url"]
    if base_url is not None:
        try:
            check_outbound_url(base_url, allow_private=allow_private)
        except UnsafeUrl as exc:
            raise ValidationFailed.at(("body", "base_url"), f"base_url {explain(exc)}") from None
    if provider == "openai_compatible" and base_url is None:
        raise ValidationFailed.at(("body", "base_url"), "openai_compatible needs a base_url")
    if provider == "bedrock" and has_key:
        raise ValidationFailed.at(
            ("body", "api_key"), "bedrock authenticates with IAM; it takes no api_key"
        )


def _origin(base_url: str | None) -> tuple[str, str, int] | None:
    """Where a key sent to base_url goes: scheme, normalised host and port."""
    if base_url is None:
        return None
    parts = urlsplit(base_url.strip())
    try:
        host = url_host(base_url)
    except HostNotAllowed:
        host = parts.netloc.lower()
    return parts.scheme.lower(), host, parts.port or (443 if parts.scheme == "https" else 80)


def _check_key_stays(current: LlmSettings, merged: dict[str, Any], changes: dict[str, Any]) -> None:
    """A stored key is only ever sent to the provider and host it was entered for: moving
    either needs the key again (or null, clearing it)."""
    if current.api_key_ciphertext is None or "api_key" in changes:
        return
    moved = merged["provider"] != current.provider
    if _origin(merged["base_url"]) != _origin(current.base_url):
        moved = True
    if moved:
        raise ValidationFailed.at(
            ("body", "api_key"),
            "changing the provider or the host of base_url needs the api_key again (or null to"
            " clear it): the stored key is only sent where it was entered for",
        )


def update_llm_settings(
    conn: Connection, actor: Actor, changes: dict[str, Any], *, allow_private: bool
) -> LlmSettings:
    """Apply a partial update. `api_key`: a string sets it, None clears it, absent keeps it."""
    previous = _llm_row(conn, actor.workspace_id, lock=True)
    current = previous or _LLM_DEFAULT
    merged: dict[str, Any] = {
        "provider": current.provider,
        "model": current.model,
        "base_url": current.base_url,
        "api_key_ciphertext": current.api_key_ciphertext,
        "api_key_hint": current.api_key_hint,
    }
    merged.update({k: v for k, v in changes.items() if k != "api_key"})
    api_key = changes.get("api_key")
    has_key = (
        api_key is not None if "api_key" in changes else current.api_key_ciphertext is not None
    )
    _validate_llm(merged, has_key, allow_private)  # before encrypting: a 422 costs no KMS call
    _check_key_stays(current, merged, changes)
    if "api_key" in changes:
        from convoship.security.crypto import byok_context, encrypt_at_rest  # lazy: only key writes

        merged["api_key_ciphertext"] = (
            None
            if api_key is None
            else encrypt_at_rest(
                api_key,
                byok_context(actor.workspace_id),
                data_key_for_write(conn, actor.workspace_id),
            )
        )
        merged["api_key_hint"] = None if api_key is None else key_hint(api_key)
    row = upsert_settings_row(
        conn, "workspace_llm_settings", merged, actor.workspace_id, actor.actor_id
    )
    after = LlmSettings(**{k: row[k] for k in LlmSettings.__dataclass_fields__ if k in row})
    record(
        conn,
        actor,
        action="workspace.agent_llm.updated",
        resource_type="workspace_llm_settings",
        resource_id=actor.workspace_id,
        before=None if previous is None else previous.public_state(),
        after=after.public_state(),
    )
    return after

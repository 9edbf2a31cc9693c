"""Helpers for the key custody tests: a master under Fernet or KMS (moto) that can be
rotated and then dropped, workspaces holding secrets and a BYOK key, and reading back
every stored value the way a request does (ciphertext with the data key it names)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography.fernet import Fernet
from moto import mock_aws

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.security import crypto
from convoship.security.crypto import byok_context, decrypt_at_rest, secret_context
from convoship.security.key_store import data_key_of, data_key_sql
from tests.support.agents import Conn
from tests.support.api_client import ApiClient


class Master:
    """The deployment's master key: a Fernet key, or a KMS key in moto."""

    def __init__(self, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kind = kind
        self.monkeypatch = monkeypatch
        self.fernet = [Fernet.generate_key().decode()]
        self.kms: Any = None
        self.kms_keys: list[str] = []
        self.dropped: set[str] = set()

    def start(self) -> None:
        if self.kind == "kms":
            self.kms = _RefusingKms(boto3.client("kms", region_name="us-east-1"), self.dropped)
            self.kms_keys.append(self.kms.create_key()["KeyMetadata"]["Arn"])
        self.apply()

    def apply(self) -> None:
        """Configure the process (settings, caches) as a freshly deployed container."""
        if self.kind == "kms":
            self.monkeypatch.setenv(env.KMS_KEY_ID, self.kms_keys[-1])
            self.monkeypatch.delenv(env.SECRETS_KEY, raising=False)
        else:
            self.monkeypatch.setenv(env.SECRETS_KEY, ",".join(reversed(self.fernet)))
        reset_settings()
        crypto.clear_caches()
        if self.kms is not None:
            crypto.set_kms_client(self.kms)

    def rotate(self) -> None:
        """A new master first; the old one still decrypts (deploy before rotate-keys)."""
        if self.kind == "kms":
            self.kms_keys.append(self.kms.create_key()["KeyMetadata"]["Arn"])
        else:
            self.fernet.append(Fernet.generate_key().decode())
        self.apply()

    def drop_old(self) -> None:
        """Remove every master but the newest (KMS: the old keys refuse to decrypt)."""
        if self.kind == "kms":
            self.dropped.update(self.kms_keys[:-1])
        else:
            self.fernet = self.fernet[-1:]
        self.apply()


class _RefusingKms:
    """A moto KMS client on which dropped keys refuse to decrypt (moto keeps serving
    disabled or deleted keys)."""

    def __init__(self, client: Any, dropped: set[str]) -> None:
        self._client = client
        self._dropped = dropped

    def decrypt(self, **kwargs: Any) -> Any:
        result = self._client.decrypt(**kwargs)
        if result["KeyId"] in self._dropped:
            error = {"Error": {"Code": "DisabledException", "Message": "key disabled"}}
            raise ClientError(error, "Decrypt")  # type: ignore[arg-type]
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture(name="master", params=["fernet", "kms"])
def master_fixture(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Master]:
    if request.param == "kms":
        for name, value in (
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            monkeypatch.setenv(name, value)
        with mock_aws():
            master = Master("kms", monkeypatch)
            master.start()
            yield master
    else:
        master = Master("fernet", monkeypatch)
        master.start()
        yield master


@pytest.fixture(name="only_our_workspaces")
def only_our_workspaces_fixture(owner_sql: Conn) -> Iterator[list[Any]]:
    """Rotating every workspace needs a database holding only workspaces whose master the
    test knows: other tests' workspaces are removed first, the test's own afterwards (it
    appends their ids)."""
    owner_sql.execute("DELETE FROM workspaces")
    ours: list[Any] = []
    yield ours
    owner_sql.execute("DELETE FROM workspaces WHERE id = ANY(%s)", (ours,))


def fill_workspace(
    api: ApiClient,
    admin: str,
    values: dict[str, str],
    byok: str | None,
    allowed_hosts: list[str] | None = None,
) -> None:
    """Secrets (name -> value, each allowed to allowed_hosts) and, when given, a BYOK api
    key, through the API."""
    for name, value in values.items():
        body = {"name": name, "value": value, "allowed_hosts": allowed_hosts or []}
        response = api.post("/v1/secrets", token=admin, json=body)
        assert response.status in (200, 201), response.text
    if byok is not None:
        response = api.patch(
            "/v1/workspaces/agent-llm",
            token=admin,
            json={"provider": "openai", "model": "gpt-test", "api_key": byok},
        )
        assert response.status == 200, response.text


def stored(owner_sql: Conn, workspace: object) -> dict[str, tuple[str, Any]]:
    """Every sealed value of the workspace: key -> (ciphertext, its data key row as JSON).
    Secrets are keyed by name, the BYOK key by `byok`."""
    rows = owner_sql.execute(
        "SELECT name AS key, value_ciphertext AS c,"
        f" {data_key_sql('workspace_secrets')} AS k FROM workspace_secrets"
        " WHERE workspace_id = %(ws)s UNION ALL SELECT 'byok', api_key_ciphertext,"
        f" {data_key_sql('workspace_llm_settings')} FROM workspace_llm_settings"
        " WHERE workspace_id = %(ws)s AND api_key_ciphertext IS NOT NULL",
        {"ws": workspace},
    ).fetchall()
    return {r["key"]: (r["c"], r["k"]) for r in rows}


def opened(owner_sql: Conn, workspace: object) -> dict[str, str]:
    """Every value of the workspace decrypted as a request would."""
    values = {}
    for key, (ciphertext, data_key) in stored(owner_sql, workspace).items():
        context = byok_context(workspace) if key == "byok" else secret_context(workspace, key)
        values[key] = decrypt_at_rest(ciphertext, context, data_key_of(data_key))
    return values


def key_rows(owner_sql: Conn, workspace: object) -> list[dict[str, Any]]:
    return owner_sql.execute(
        "SELECT version, master_key_id, rotation_run, wrapped_key FROM workspace_data_keys"
        " WHERE workspace_id = %s ORDER BY version",
        (workspace,),
    ).fetchall()


def audit_actions(owner_sql: Conn, workspace: object, action: str) -> list[dict[str, Any]]:
    return owner_sql.execute(
        "SELECT actor_type, actor_id, after_state FROM audit_log"
        " WHERE workspace_id = %s AND action = %s ORDER BY occurred_at",
        (workspace, action),
    ).fetchall()

"""The daily checkpoint as deployed: the scheduled handler signs chain heads with an
asymmetric KMS key (moto), and verification checks them with kms:Verify."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from convoship.audit import signing
from convoship.audit.record import Actor, record
from convoship.audit.signing import KMS_ALGORITHM
from convoship.audit.verify import verify_workspace_chain
from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.db.transactions import rls_transaction
from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.template import load_template
from tests.support.agents import Conn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def signing_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        key = boto3.client("kms").create_key(
            KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256", Description="audit checkpoints"
        )["KeyMetadata"]["Arn"]
        monkeypatch.setenv(env.AUDIT_SIGNING_KEY_ID, key)
        monkeypatch.delenv(env.AUDIT_DEV_SIGNING_KEY)
        reset_settings()
        signing._default_kms_client.cache_clear()  # a client made inside mock_aws
        yield key
        signing._default_kms_client.cache_clear()


def test_scheduled_checkpoint_signs_with_kms_and_verification_checks_it(
    signing_key: str, workspace: uuid.UUID, owner_sql: Conn
) -> None:
    for n in range(3):
        with rls_transaction(workspace_id=workspace) as tx:
            record(tx, Actor(workspace, "u"), action=f"a.{n}", resource_type="r")
    function = load_template(ROOT / "template.yaml").find_function("audit_checkpoint")
    event = json.loads((ROOT / "events/audit_checkpoint/scheduled.json").read_text())
    result: dict[str, Any] = load_handler(function)(event, LambdaContext(function))
    assert result["signed"] >= 1
    stored = owner_sql.execute(
        "SELECT seq, algorithm, key_id FROM audit_checkpoints WHERE workspace_id = %s",
        (workspace,),
    ).fetchall()
    assert stored == [{"seq": 3, "algorithm": KMS_ALGORITHM, "key_id": signing_key}]
    verified = verify_workspace_chain(workspace)
    assert verified["ok"] and verified["checkpoint"]["seq"] == 3

    # A signature KMS did not make (here: one byte flipped) is not trusted.
    owner_sql.execute(
        "UPDATE audit_checkpoints SET signature = translate(signature, 'ABC', 'BCA')"
        " WHERE workspace_id = %s",
        (workspace,),
    )
    forged = verify_workspace_chain(workspace)
    assert forged["ok"] is False and "no valid signature" in forged["detail"]

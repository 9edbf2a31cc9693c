"""The migrate custom resource, as CloudFormation drives it: Create, Update, Delete and a
failed migration, against a fresh database on the embedded PostgreSQL, its answers read
from a loopback ResponseURL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from convoship.core import constants as env
from convoship.db import migrate as migrate_module
from convoship.db.migrate import APP_ROLE, PURGE_ROLE, migration_files
from convoship_dev import services
from convoship_dev.custom_resources import ResponseCatcher, invoke_custom_resource
from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = load_template(ROOT / "template.yaml").find_function("migrate")
VERSIONS = [version for version, _ in migration_files()]
UNREACHABLE = "host=127.0.0.1 port=9 user=convoship_admin password=hunter2-never-shown dbname=x"


def event(kind: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((ROOT / "events" / "migrate" / f"{kind}.json").read_text())
    payload.update(overrides)
    return payload


def invoke(payload: dict[str, Any]) -> dict[str, Any]:
    return invoke_custom_resource(load_handler(FUNCTION), payload, LambdaContext(FUNCTION))


@pytest.fixture
def fresh(database: services.Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new, empty database on the test server; the migrate function's admin URL."""
    dbname = f"convoship_deploy_{uuid.uuid4().hex[:8]}"
    services.create_database(database.admin_url, dbname, exist_ok=False)
    url = services.Database(admin_url=database.admin_url, dbname=dbname).owner_admin_url
    monkeypatch.setenv(env.DATABASE_ADMIN_URL, url)
    yield url
    services.drop_database(database.admin_url, dbname)


def applied_versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]


def test_create_applies_every_migration_and_answers_success(fresh: str) -> None:
    answer = invoke(event("create"))
    sample = event("create")
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"] == {"SchemaVersion": VERSIONS[-1], "Applied": ",".join(VERSIONS)}
    assert answer["PhysicalResourceId"] == "convoship-database-schema"
    for echoed in ("StackId", "RequestId", "LogicalResourceId"):
        assert answer[echoed] == sample[echoed]
    assert applied_versions(fresh) == VERSIONS


def test_update_and_a_repeated_create_change_nothing(fresh: str) -> None:
    assert invoke(event("create"))["Status"] == "SUCCESS"
    for kind in ("update", "create"):
        answer = invoke(event(kind))
        assert answer["Status"] == "SUCCESS", answer
        assert answer["Reason"] == "up to date"
        assert answer["Data"] == {"SchemaVersion": VERSIONS[-1], "Applied": ""}
    assert applied_versions(fresh) == VERSIONS


def test_delete_keeps_the_schema_and_touches_no_database(
    fresh: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke(event("create"))["Status"] == "SUCCESS"
    monkeypatch.setenv(env.DATABASE_ADMIN_URL, UNREACHABLE)
    answer = invoke(event("delete"))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == event("delete")["PhysicalResourceId"]
    assert applied_versions(fresh) == VERSIONS


def test_a_failed_migration_fails_the_deploy_and_leaves_nothing_behind(
    fresh: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a release whose newest migration breaks halfway through
    broken = ("9999_broken", "CREATE TABLE half_done (id int); SELECT 1 / 0;")
    monkeypatch.setattr(migrate_module, "migration_files", lambda: [*migration_files(), broken])

    # When CloudFormation creates the resource
    answer = invoke(event("create"))

    # Then the deploy fails with the reason, and the broken migration left no trace
    assert answer["Status"] == "FAILED"
    assert "DivisionByZero" in answer["Reason"]
    assert answer["Data"] == {}
    assert applied_versions(fresh) == VERSIONS  # the good ones, each in its own transaction
    with psycopg.connect(fresh) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)


def test_the_rollback_after_a_failed_update_succeeds_without_touching_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The function already runs the new release when CloudFormation rolls back and sends an
    # Update naming the previous one: migrations only move forward, so there is nothing to do.
    sample = event("update")
    monkeypatch.setenv(env.RELEASE, sample["ResourceProperties"]["Release"])
    monkeypatch.setenv(env.DATABASE_ADMIN_URL, UNREACHABLE)
    rollback = event(
        "update",
        ResourceProperties=sample["OldResourceProperties"],
        OldResourceProperties=sample["ResourceProperties"],
    )
    answer = invoke(rollback)
    assert answer["Status"] == "SUCCESS", answer
    assert "rollback" in answer["Reason"]
    # while an Update naming the running release does migrate (and here cannot)
    assert invoke(event("update"))["Status"] == "FAILED"


def test_an_unreachable_database_fails_the_deploy_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(env.DATABASE_ADMIN_URL, UNREACHABLE)
    answer = invoke(event("create"))
    assert answer["Status"] == "FAILED"
    assert "OperationalError" in answer["Reason"]
    assert "hunter2" not in json.dumps(answer)


def test_no_admin_credentials_fail_the_deploy_with_what_to_set() -> None:
    answer = invoke(event("create"))
    assert answer["Status"] == "FAILED"
    assert env.DATABASE_ADMIN_SECRET_ARN in answer["Reason"]


def _scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from password."""
    method, salt_part, keys = verifier.split("$")
    iterations, salt = salt_part.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    computed = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    return method == "SCRAM-SHA-256" and hmac.compare_digest(computed, stored_key)


@pytest.fixture
def role_passwords_restored(owner_sql: Any) -> Iterator[None]:
    """Roles belong to the whole server: put their password verifiers back afterwards."""
    rows = owner_sql.execute(
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
        ([APP_ROLE, PURGE_ROLE],),
    ).fetchall()
    yield
    for row in rows:
        owner_sql.execute(
            psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(row["rolname"]), psycopg.sql.Literal(row["rolpassword"])
            )
        )


def test_on_lambda_it_reads_the_owner_secret_and_gives_each_role_its_secrets_password(
    fresh: str,
    owner_sql: Any,
    role_passwords_restored: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws
    from psycopg.conninfo import conninfo_to_dict

    admin = conninfo_to_dict(fresh)
    monkeypatch.delenv(env.DATABASE_ADMIN_URL)
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        monkeypatch.setenv(name, value)
    app_password, purge_password = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    with mock_aws():
        sm = boto3.client("secretsmanager")
        # The cluster's master secret holds no host (AWS manages it): DATABASE_HOST says where.
        master = sm.create_secret(
            Name="master",
            SecretString=json.dumps(
                {
                    "username": admin["user"],
                    "password": "unused-here",
                    "dbname": admin["dbname"],
                    **({"port": admin["port"]} if admin.get("port") else {}),
                }
            ),
        )
        app = sm.create_secret(
            Name="app", SecretString=json.dumps({"username": APP_ROLE, "password": app_password})
        )
        purge = sm.create_secret(
            Name="purge",
            SecretString=json.dumps({"username": PURGE_ROLE, "password": purge_password}),
        )
        monkeypatch.setenv(env.DATABASE_ADMIN_SECRET_ARN, master["ARN"])
        monkeypatch.setenv(env.DATABASE_HOST, admin["host"])  # the cluster endpoint (a socket here)
        monkeypatch.setenv(env.DATABASE_SECRET_ARN, app["ARN"])
        monkeypatch.setenv(env.PURGE_DATABASE_SECRET_ARN, purge["ARN"])
        parameters.clear_caches()
        answer = invoke(event("create"))
        parameters.clear_caches()
    assert answer["Status"] == "SUCCESS", answer
    assert applied_versions(fresh) == VERSIONS
    verifiers = {
        row["rolname"]: row["rolpassword"]
        for row in owner_sql.execute(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
            ([APP_ROLE, PURGE_ROLE],),
        ).fetchall()
    }
    assert _scram_matches(verifiers[APP_ROLE], app_password)
    assert _scram_matches(verifiers[PURGE_ROLE], purge_password)
    assert not _scram_matches(verifiers[APP_ROLE], purge_password)
    assert app_password not in json.dumps(answer) and purge_password not in json.dumps(answer)


def test_the_answer_is_one_put_with_the_empty_content_type_the_url_was_signed_with(
    fresh: str,
) -> None:
    with ResponseCatcher() as catcher:
        load_handler(FUNCTION)(event("create", ResponseURL=catcher.url), LambdaContext(FUNCTION))
    assert len(catcher.received) == 1
    assert catcher.headers[0].get("content-type", "") == ""
    assert catcher.received[0]["Status"] == "SUCCESS"


def test_a_refused_answer_is_retried_then_raised_for_lambda_to_retry(
    fresh: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("migrate_fn.cloudformation.time.sleep", lambda _s: None)
    with ResponseCatcher() as catcher:
        catcher.status = 500
        with pytest.raises(OSError):
            load_handler(FUNCTION)(
                event("create", ResponseURL=catcher.url), LambdaContext(FUNCTION)
            )
    assert len(catcher.received) == 3


@pytest.mark.parametrize(
    ("stage", "url"),
    [
        ("test", "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x"),
        ("development", "http://10.0.0.5/x"),
        ("production", "http://127.0.0.1:9/x"),
    ],
)
def test_answers_go_to_loopback_off_production_and_https_in_it(
    stage: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.STAGE, stage)
    monkeypatch.setenv(env.DATABASE_ADMIN_URL, UNREACHABLE)
    with pytest.raises(ValueError, match=r"loopback|refusing"):
        load_handler(FUNCTION)(event("delete", ResponseURL=url), LambdaContext(FUNCTION))


def test_statements_are_cancelled_in_time_to_answer_cloudformation(fresh: str) -> None:
    from convoship.db.deploy import MigrationTarget, apply_migrations

    # Given another migrator holding the lock (a deploy still running, a stuck session)
    with psycopg.connect(fresh, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(7412118301)")
        # When this one has 21 s left (a 20 s margin to answer): it gives up after ~1 s
        with pytest.raises(psycopg.errors.QueryCanceled):
            apply_migrations(MigrationTarget(admin_url=fresh), time_left_s=21)
    with psycopg.connect(fresh) as conn:  # nothing was applied, not even the bookkeeping
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)

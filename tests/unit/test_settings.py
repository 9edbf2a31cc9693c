"""Settings fail fast with messages that name the variable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from convoship.core.errors import ConfigurationError
from convoship.core.settings import load_settings

KEY = Fernet.generate_key().decode()


def test_defaults() -> None:
    settings = load_settings({"CONVOSHIP_SECRETS_KEY": KEY})
    assert settings.stage == "production"
    assert settings.secrets_keys == (KEY,)
    assert settings.draft_retention_days == 30
    assert settings.allow_private_network is False


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, "CONVOSHIP_SECRETS_KEY"),
        ({"CONVOSHIP_SECRETS_KEY": "not-a-key"}, "CONVOSHIP_SECRETS_KEY"),
        ({"CONVOSHIP_SECRETS_KEY": KEY, "CONVOSHIP_STAGE": "staging"}, "CONVOSHIP_STAGE"),
        (
            {"CONVOSHIP_SECRETS_KEY": KEY, "CONVOSHIP_DRAFT_RETENTION_DAYS": "0"},
            "CONVOSHIP_DRAFT_RETENTION_DAYS",
        ),
        (
            {"CONVOSHIP_SECRETS_KEY": KEY, "CONVOSHIP_DRAFT_RETENTION_DAYS": "ten"},
            "CONVOSHIP_DRAFT_RETENTION_DAYS",
        ),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        load_settings(environ)


def test_rotation_keys_are_split_and_kms_alone_is_enough() -> None:
    other = Fernet.generate_key().decode()
    assert load_settings({"CONVOSHIP_SECRETS_KEY": f"{KEY}, {other}"}).secrets_keys == (KEY, other)
    assert load_settings({"CONVOSHIP_KMS_KEY_ID": "alias/x"}).kms_key_id == "alias/x"


def test_missing_database_url_is_a_clear_error() -> None:
    settings = load_settings({"CONVOSHIP_SECRETS_KEY": KEY})
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        settings.require_database_url()


def test_lambda_reads_keys_and_db_credentials_from_secrets_manager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        app = sm.create_secret(Name="app", SecretString=json.dumps({"CONVOSHIP_SECRETS_KEY": KEY}))
        dbs = sm.create_secret(
            Name="db",
            SecretString=json.dumps(
                {
                    "host": "db.internal",
                    "port": 5432,
                    "username": "convoship_app",
                    "password": "s3cr3t!",
                    "dbname": "convoship",
                }
            ),
        )
        parameters.clear_caches()
        settings = load_settings(
            {
                "CONVOSHIP_APP_SECRET_ARN": app["ARN"],
                "CONVOSHIP_DATABASE_SECRET_ARN": dbs["ARN"],
            }
        )
        parameters.clear_caches()
    assert settings.secrets_keys == (KEY,)
    assert settings.database_url is not None
    assert "host=db.internal" in settings.database_url
    assert "user=convoship_app" in settings.database_url
    assert "sslmode=require" in settings.database_url


def test_secrets_without_a_host_connect_to_the_proxy_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Template-made role secrets hold a username and password only: the functions reach
    the database through CONVOSHIP_DATABASE_HOST (the RDS Proxy endpoint), TLS required."""
    import json

    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        app = sm.create_secret(
            Name="app-role", SecretString=json.dumps({"username": "convoship_app", "password": "p"})
        )
        purge = sm.create_secret(
            Name="purge-role",
            SecretString=json.dumps({"username": "convoship_purge", "password": "q"}),
        )
        parameters.clear_caches()
        environ = {
            "CONVOSHIP_SECRETS_KEY": KEY,
            "CONVOSHIP_DATABASE_SECRET_ARN": app["ARN"],
            "CONVOSHIP_PURGE_DATABASE_SECRET_ARN": purge["ARN"],
        }
        with pytest.raises(ConfigurationError, match="CONVOSHIP_DATABASE_HOST"):
            load_settings(environ)
        settings = load_settings({**environ, "CONVOSHIP_DATABASE_HOST": "proxy.internal"})
        parameters.clear_caches()
    for url, user in (
        (settings.database_url, "convoship_app"),
        (settings.purge_database_url, "convoship_purge"),
    ):
        assert url is not None
        assert "host=proxy.internal" in url
        assert f"user={user}" in url
        assert "dbname=convoship" in url
        assert "sslmode=require" in url


def test_the_turn_deadline_stays_under_the_chat_function_timeout() -> None:
    """A turn must stop, charge or write and answer before Lambda kills the function."""
    from convoship.core.settings import MAX_CHAT_TURN_DEADLINE_S, TURN_WRAP_UP_S

    assert load_settings({"CONVOSHIP_SECRETS_KEY": KEY}).chat_turn_deadline_s == 25
    most = {"CONVOSHIP_SECRETS_KEY": KEY, "CONVOSHIP_CHAT_TURN_DEADLINE_S": "26"}
    assert load_settings(most).chat_turn_deadline_s == MAX_CHAT_TURN_DEADLINE_S == 26
    assert TURN_WRAP_UP_S >= 3  # the write and settle, and a Bedrock call's last second
    for too_long in ("27", "30", "600"):
        environ = {"CONVOSHIP_SECRETS_KEY": KEY, "CONVOSHIP_CHAT_TURN_DEADLINE_S": too_long}
        with pytest.raises(ConfigurationError, match="CONVOSHIP_CHAT_TURN_DEADLINE_S"):
            load_settings(environ)

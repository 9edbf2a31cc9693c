"""Migrations on deploy: the schema, the roles and the passwords their secrets hold.

The migrate function connects as the administrative (owner) role: on Lambda from its
Secrets Manager secret (the cluster's master secret, whose host comes from
CONVOSHIP_DATABASE_HOST), locally from DATABASE_ADMIN_URL. It then gives each login role
(app, purge, keys, checkpoint) the password of its own secret (the one the
functions and RDS Proxy log in with), so a deploy needs no role or password made by hand.
Everything it does is idempotent: running it twice changes nothing the second time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from psycopg.conninfo import make_conninfo

from convoship.core import constants as env
from convoship.core.errors import ConfigurationError
from convoship.core.settings import database_url_from_secret, secret_json
from convoship.db.migrate import (
    APP_ROLE,
    CHECKPOINT_ROLE,
    KEYS_ROLE,
    PURGE_ROLE,
    migrate,
    migration_files,
)

# Each login role's secret (its password is set on every deploy), by env variable name.
ROLE_SECRETS = {
    APP_ROLE: env.DATABASE_SECRET_ARN,
    PURGE_ROLE: env.PURGE_DATABASE_SECRET_ARN,
    KEYS_ROLE: env.KEYS_DATABASE_SECRET_ARN,
    CHECKPOINT_ROLE: env.CHECKPOINT_DATABASE_SECRET_ARN,
}
# Left to answer CloudFormation before Lambda's own deadline, whatever a statement does.
_MARGIN_S = 20.0
_CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class MigrationTarget:
    """Where to migrate, and the role passwords to set there (none locally)."""

    admin_url: str = field(repr=False)
    passwords: dict[str, str] = field(default_factory=dict, repr=False)  # login role -> it

    def secret_values(self) -> list[str]:
        """What must never appear in a message about this target."""
        from psycopg.conninfo import conninfo_to_dict

        admin_password = conninfo_to_dict(self.admin_url).get("password")
        values = (admin_password, *self.passwords.values())
        return [str(value) for value in values if value]


def _role_password(values: Mapping[str, str], arn_name: str) -> str | None:
    arn = values.get(arn_name)
    if not arn:
        return None
    password = secret_json(arn).get("password")
    if not isinstance(password, str) or len(password) < 16:
        raise ConfigurationError(f"the secret in {arn_name} needs a password of 16+ characters")
    return password


def target_from_environment(environ: Mapping[str, str] | None = None) -> MigrationTarget:
    values = os.environ if environ is None else environ
    admin_url = values.get(env.DATABASE_ADMIN_URL)
    arn = values.get(env.DATABASE_ADMIN_SECRET_ARN)
    if not admin_url and arn:
        admin_url = database_url_from_secret(secret_json(arn), values.get(env.DATABASE_HOST))
    if not admin_url:
        raise ConfigurationError(
            f"set {env.DATABASE_ADMIN_SECRET_ARN} (or {env.DATABASE_ADMIN_URL} locally): "
            "migrations run as a role that may create roles"
        )
    passwords = {role: _role_password(values, arn) for role, arn in ROLE_SECRETS.items()}
    return MigrationTarget(
        admin_url=admin_url,
        passwords={role: password for role, password in passwords.items() if password},
    )


def schema_version() -> str:
    """The newest migration this code carries."""
    return migration_files()[-1][0]


def apply_migrations(target: MigrationTarget, *, time_left_s: float | None = None) -> list[str]:
    """Migrate target and set the role passwords; the versions applied now.

    With time_left_s, no statement (nor the wait for another migrator's lock) may outlive
    it: a migration that would is cancelled and rolled back, and the caller still has time
    to report the failure.
    """
    # A database the network cannot reach must fail the deploy, not hang it.
    url = make_conninfo(target.admin_url, connect_timeout=_CONNECT_TIMEOUT_S)
    if time_left_s is not None:
        budget_ms = max(1000, int((time_left_s - _MARGIN_S) * 1000))
        url = make_conninfo(url, options=f"-c statement_timeout={budget_ms}")
    return migrate(url, passwords=target.passwords)

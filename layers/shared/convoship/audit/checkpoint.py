"""The daily audit checkpoint: sign each changed workspace's chain head and store it.

It connects as `convoship_checkpoint`, a role that may read the chain heads, the seq and
hash columns of audit_log (no states, no actors) and the checkpoints of every workspace,
and insert checkpoints; nothing else. A head is signed only when the audit_log row at its
seq still carries its hash. Reading, signing and storing are three steps, so no transaction
stays open while KMS signs. Each checkpoint is also logged, a copy outside the database.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from convoship.audit.signing import Signer, checkpoint_message
from convoship.core import constants as env
from convoship.core.errors import ConfigurationError, ServiceUnavailable
from convoship.core.observability import logger
from convoship.core.settings import Settings

_CHANGED_HEADS = """
SELECT h.workspace_id, h.seq, h.hash, l.hash AS row_hash
  FROM audit_chain_heads h
  LEFT JOIN LATERAL (SELECT c.seq FROM audit_checkpoints c WHERE c.workspace_id = h.workspace_id
                      ORDER BY c.seq DESC LIMIT 1) last ON true
  LEFT JOIN audit_log l ON l.workspace_id = h.workspace_id AND l.seq = h.seq
 WHERE h.seq > COALESCE(last.seq, 0)
 ORDER BY h.workspace_id
"""
_INSERT = """
INSERT INTO audit_checkpoints (workspace_id, seq, hash, signed_at, algorithm, key_id, signature)
VALUES (%(workspace_id)s, %(seq)s, %(hash)s, %(signed_at)s, %(algorithm)s, %(key_id)s,
        %(signature)s)
ON CONFLICT (workspace_id, seq) DO NOTHING
"""


def _connect(settings: Settings) -> psycopg.Connection[dict[str, Any]]:
    url = settings.checkpoint_database_url
    if not url:
        raise ConfigurationError(
            f"{env.CHECKPOINT_DATABASE_URL} (or {env.CHECKPOINT_DATABASE_SECRET_ARN}) is not"
            " set: the checkpoint runs as the convoship_checkpoint role"
        )
    try:
        return psycopg.connect(
            url,
            connect_timeout=settings.db_connect_timeout_s,
            application_name="convoship-audit-checkpoint",
            prepare_threshold=None,
            row_factory=dict_row,
        )
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable("the database is unavailable") from exc


def checkpoint_chain_heads(settings: Settings, signer: Signer) -> dict[str, int]:
    """Sign and store every chain head past its workspace's latest checkpoint;
    {"signed": n, "broken": m} (m heads whose row no longer matches: left unsigned)."""
    with _connect(settings) as conn:
        try:
            with conn.transaction():
                heads = conn.execute(_CHANGED_HEADS).fetchall()
            signed_at = datetime.now(UTC)
            checkpoints, broken = [], 0
            for head in heads:
                if head["row_hash"] != head["hash"]:
                    broken += 1
                    logger.error(
                        "audit chain head does not match its row; not signed",
                        extra={"workspace_id": str(head["workspace_id"]), "seq": head["seq"]},
                    )
                    continue
                message = checkpoint_message(
                    head["workspace_id"], head["seq"], head["hash"], signed_at
                )
                checkpoints.append(
                    {
                        "workspace_id": head["workspace_id"],
                        "seq": head["seq"],
                        "hash": head["hash"],
                        "signed_at": signed_at,
                        "algorithm": signer.algorithm,
                        "key_id": signer.key_id,
                        "signature": base64.b64encode(signer.sign(message)).decode(),
                    }
                )
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(_INSERT, checkpoints)
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable("the database is unavailable") from exc
    for checkpoint in checkpoints:
        logger.info(
            "audit checkpoint",
            extra={**checkpoint, "workspace_id": str(checkpoint["workspace_id"])},
        )
    return {"signed": len(checkpoints), "broken": broken}

"""Walk a workspace's audit chain and say whether it is intact, and where it first breaks.

The rows are read in seq order, 10,000 at a time, each chunk in one round trip (a read
transaction); the first also reads the chain head and the latest checkpoint, so a chain of
up to 10,000 rows costs one round trip. Rows are append-only, so chunks read one after the
other see a consistent prefix of the chain. A row is bad when its seq is not the next one (a row
is missing or out of place), when its prev_hash is not the hash of the row before, or when
its hash is not the hash of its canonical encoding (it was edited). The chain must still
reach the head the writers left and the latest signed checkpoint, whose signature is
checked: deleting the newest rows is caught there. `first_bad_seq` is the first seq that is
missing or wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from convoship.audit.chain import CANONICAL_SQL, GENESIS
from convoship.audit.signing import Signer, checkpoint_message, configured_signer
from convoship.core.settings import get_settings
from convoship.db.read_batch import read_transaction

CHUNK = 10_000
_ROWS = (
    f"SELECT seq, prev_hash, hash, {CANONICAL_SQL} AS canonical FROM audit_log"
    " WHERE workspace_id = %s AND seq > %s ORDER BY seq LIMIT %s"
)
_HEAD = "SELECT seq, hash FROM audit_chain_heads WHERE workspace_id = %s"
_CHECKPOINT = (
    "SELECT seq, hash, signed_at, algorithm, key_id, signature FROM audit_checkpoints"
    " WHERE workspace_id = %s ORDER BY seq DESC LIMIT 1"
)


@dataclass
class ChainWalk:
    """The state of a walk over rows in seq order."""

    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    first_bad_seq: int | None = None
    detail: str | None = None
    hashes_at: dict[int, str] = field(default_factory=dict)  # the seqs asked for, when seen

    def bad(self, seq: int, detail: str) -> None:
        if self.first_bad_seq is None or seq < self.first_bad_seq:
            self.first_bad_seq, self.detail = seq, detail

    def walk(self, rows: Iterable[dict[str, Any]]) -> ChainWalk:
        for row in rows:
            seq = int(row["seq"])
            self.rows += 1
            if self.first_bad_seq is None:
                expected = self.head_seq + 1
                if seq != expected:
                    self.bad(expected, f"row {expected} is missing")
                elif row["prev_hash"] != self.head_hash:
                    self.bad(seq, f"row {seq} does not link to row {seq - 1}")
                elif hashlib.sha256(row["canonical"].encode()).hexdigest() != row["hash"]:
                    self.bad(seq, f"row {seq} was changed after it was written")
            if seq in self.hashes_at:
                self.hashes_at[seq] = row["hash"]
            self.head_seq, self.head_hash = seq, row["hash"]
        return self

    def must_reach(self, seq: int, chain_hash: str, what: str) -> None:
        """The chain must still hold `chain_hash` at `seq` (recorded by `what`)."""
        if seq > self.head_seq:
            self.bad(self.head_seq + 1, f"rows {self.head_seq + 1}..{seq} are missing ({what})")
        elif self.hashes_at.get(seq) != chain_hash:
            self.bad(seq, f"row {seq} is not the row {what} recorded")


def _signature_ok(checkpoint: dict[str, Any], workspace_id: object, signer: Signer | None) -> bool:
    if signer is None or (signer.algorithm, signer.key_id) != (
        checkpoint["algorithm"],
        checkpoint["key_id"],
    ):
        return False  # signed by a key this deployment does not trust
    try:
        signature = base64.b64decode(checkpoint["signature"], validate=True)
    except (binascii.Error, ValueError):
        return False
    message = checkpoint_message(
        workspace_id, checkpoint["seq"], checkpoint["hash"], checkpoint["signed_at"]
    )
    return signer.verify(message, signature)


def verify_workspace_chain(
    workspace_id: UUID | str, signer: Signer | None = None
) -> dict[str, Any]:
    """{"ok", "rows", "head": {"seq", "hash"}, "first_bad_seq", "checkpoint", "detail"}."""
    if signer is None:
        signer = configured_signer(get_settings())
    with read_transaction(workspace_id=workspace_id) as conn:
        head_query = conn.execute(_HEAD, (workspace_id,))
        checkpoint_query = conn.execute(_CHECKPOINT, (workspace_id,))
        rows = conn.execute(_ROWS, (workspace_id, 0, CHUNK)).fetchall()
        head, checkpoint = head_query.fetchone(), checkpoint_query.fetchone()
    walk = ChainWalk()
    for anchor in (head, checkpoint):
        if anchor is not None:
            walk.hashes_at[int(anchor["seq"])] = ""
    walk.walk(rows)
    while len(rows) == CHUNK:
        with read_transaction(workspace_id=workspace_id) as conn:
            rows = conn.execute(_ROWS, (workspace_id, rows[-1]["seq"], CHUNK)).fetchall()
        walk.walk(rows)
    if head is not None and head["seq"] > 0:
        walk.must_reach(int(head["seq"]), head["hash"], "the chain head")
    checkpoint_out = None
    if checkpoint is not None:
        checkpoint_out = {"seq": checkpoint["seq"], "signed_at": checkpoint["signed_at"]}
        if _signature_ok(checkpoint, workspace_id, signer):
            walk.must_reach(int(checkpoint["seq"]), checkpoint["hash"], "the signed checkpoint")
        elif walk.first_bad_seq is None:
            walk.detail = f"the checkpoint at row {checkpoint['seq']} has no valid signature"
    return {
        "ok": walk.detail is None,
        "rows": walk.rows,
        "head": {"seq": walk.head_seq, "hash": walk.head_hash},
        "first_bad_seq": walk.first_bad_seq,
        "checkpoint": checkpoint_out,
        "detail": walk.detail,
    }

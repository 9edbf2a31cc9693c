"""Encryption at rest: decrypting one secret warm and cold, under a Fernet master and a KMS
master (moto in this process, so KMS's network time is not in the cold figure), and
`rotate-keys --data` throughput on the bench database, as the convoship_keys role.

Warm: the workspace's unwrapped data key is in the container cache (a warm chat turn).
Cold: the cache is emptied before every decrypt (a new container: one unwrap, which under
KMS is one Decrypt call). The floor of both is AES-GCM opening the same bytes with the raw
key. Self-contained: one `measure(stack, quick=...)` the harness calls.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from convoship_bench.report import ERROR, Row
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary

SECTION = "encryption at rest (workspace data keys)"
_WS = "7e1d0000-0000-4000-8000-00000000be01"


def _per_op(fn: Callable[[], object], iterations: int) -> float:
    started = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - started) / iterations


def _use(values: dict[str, str], drop: tuple[str, ...] = ()) -> None:
    from convoship.core.settings import reset_settings
    from convoship.db.connection import close_all
    from convoship.security import crypto

    os.environ.update(values)
    for name in drop:
        os.environ.pop(name, None)
    reset_settings()
    crypto.clear_caches()
    close_all()


@contextmanager
def _kms_master() -> Iterator[None]:
    import boto3
    from moto import mock_aws

    from convoship.core import constants as env
    from convoship.security import crypto

    aws = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    saved = {k: os.environ.get(k) for k in aws}
    os.environ.update(aws)
    try:
        with mock_aws():
            client = boto3.client("kms", region_name="us-east-1")
            key_id = client.create_key(Description="bench")["KeyMetadata"]["Arn"]
            _use({env.KMS_KEY_ID: key_id})
            crypto.set_kms_client(client)
            yield
    finally:
        _use({}, drop=(env.KMS_KEY_ID,))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _decrypt_rows(label: str, rounds: int, iterations: int) -> list[Row]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from convoship.security import data_keys
    from convoship.security.crypto import decrypt_at_rest, encrypt_at_rest, secret_context

    context = secret_context(_WS, "API_KEY")
    key = data_keys.new_data_key(_WS, 1)
    ciphertext = encrypt_at_rest("sk-bench-" + "x" * 40, context, key)
    packed = base64.urlsafe_b64decode(ciphertext.split(":", 2)[2])
    raw = AESGCM(data_keys.unwrap(key))

    def floor() -> object:
        return raw.decrypt(packed[:12], packed[12:], context.aad())

    def warm() -> object:
        return decrypt_at_rest(ciphertext, context, key)

    def cold() -> object:
        data_keys.clear_data_key_cache()
        return decrypt_at_rest(ciphertext, context, key)

    figures: dict[str, list[float]] = {"floor": [], "warm": [], "cold": []}
    for _ in range(rounds):
        for name, fn in (("floor", floor), ("warm", warm), ("cold", cold)):
            figures[name].append(_per_op(fn, iterations))
    floor_summary = Summary.of(figures["floor"])
    note = "moto in-process: add KMS's network time (a few ms) to cold" if "KMS" in label else ""
    return [
        Row(SECTION, f"decrypt one secret, warm ({label})", "s", Summary.of(figures["warm"]),
            "AES-GCM open, raw key", floor_summary),
        Row(SECTION, f"decrypt one secret, cold ({label})", "s", Summary.of(figures["cold"]),
            "AES-GCM open, raw key", floor_summary, note=note),
    ]  # fmt: skip


def _rotation_row(stack: BenchStack, values: int, rounds: int) -> Row:
    from convoship.audit.record import Actor
    from convoship.core.settings import get_settings
    from convoship.db.transactions import rls_transaction
    from convoship.keys.rotation import rotate_data
    from convoship.secrets.store import put_secret
    from convoship_dev.local_stack import create_workspace

    workspace_id = create_workspace(stack.database.owner_admin_url, "Bench rotation")
    actor = Actor(workspace_id, "bench")
    with rls_transaction(workspace_id=workspace_id) as conn:
        for i in range(values):
            put_secret(conn, actor, f"S{i}", f"value-{i}-{uuid.uuid4()}")
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        report = rotate_data(get_settings(), workspace_id=workspace_id)
        elapsed = time.perf_counter() - started
        if not report.finished or report.values_resealed != values:
            raise RuntimeError(f"rotation did not move every value: {report.as_dict()}")
        rates.append(values / elapsed)
    return Row(
        SECTION,
        f"rotate-keys --data: values/s ({values} secrets, one workspace)",
        "per_s",
        Summary.of(rates),
        note="decrypt + re-seal + UPDATE in batches of 200, as convoship_keys",
    )


def measure(stack: BenchStack, *, quick: bool) -> list[Row]:
    rounds, iterations, values = (2, 20, 50) if quick else (5, 500, 1000)
    _use(stack.app_env())
    rows: list[Row] = []
    for label, master in (("Fernet master", None), ("KMS master, moto", _kms_master)):
        try:
            if master is None:
                rows += _decrypt_rows(label, rounds, iterations)
            else:
                with master():
                    rows += _decrypt_rows(label, rounds, iterations)
        except Exception as exc:  # report it, do not crash the run
            rows.append(Row(SECTION, f"decrypt one secret ({label})", "s", None, status=ERROR,
                            note=f"{type(exc).__name__}: {exc}"))  # fmt: skip
    try:
        rows.append(_rotation_row(stack, values, rounds))
    except Exception as exc:
        rows.append(Row(SECTION, "rotate-keys --data: values/s", "per_s", None, status=ERROR,
                        note=f"{type(exc).__name__}: {exc}"))  # fmt: skip
    return rows

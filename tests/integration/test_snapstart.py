"""SnapStart: a container restored from a snapshot drops what the snapshot froze.

The after-restore hooks are run the way the Lambda runtime runs them: through the registry
of `snapshot_restore_py` (the runtime's own library, installed from PyPI for the tests).
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest
import snapshot_restore_py

from convoship.core import snapstart
from convoship.core.settings import get_settings
from convoship.db import connection
from convoship.http.app import create_app, make_handler
from convoship.llm import bedrock
from convoship.runtime import ratelimit
from convoship.security import crypto, data_keys, legacy


def _restore_like_the_runtime() -> None:
    for func, args, kwargs in snapshot_restore_py.get_after_restore():
        func(*args, **kwargs)


def test_handler_factory_registers_the_hooks_with_the_runtime() -> None:
    make_handler(create_app("snapstart test", []))
    registered = [func for func, _, _ in snapshot_restore_py.get_after_restore()]
    assert registered.count(snapstart.run_after_restore) == 1
    make_handler(create_app("another function", []))  # one registration per container
    registered = [func for func, _, _ in snapshot_restore_py.get_after_restore()]
    assert registered.count(snapstart.run_after_restore) == 1


def test_a_restore_drops_connections_clients_cached_keys_and_random_state(
    workspace: Any,
) -> None:
    # Given a container that served a request before its snapshot was taken
    make_handler(create_app("snapstart test", []))
    conn = connection.acquire()
    conn.execute("SELECT 1")
    connection.release(conn)
    assert ratelimit.check_agent_rpm("agent-snap", "embed", 10) is not None
    assert ratelimit._client is not None
    context = crypto.secret_context(workspace, "API_KEY")
    data_key = data_keys.new_data_key(workspace, 1)
    sealed = crypto.encrypt_at_rest("value", context, data_key)
    assert crypto.decrypt_at_rest(sealed, context, data_key) == "value"
    assert data_keys._unwrapped
    with legacy._kms_keys_lock:
        legacy._kms_keys[(b"blob", b"context")] = (0.0, b"k" * 32)
    bedrock._clients[5.0] = object()
    frozen_random = random.getstate()
    snapshot_draw = random.random()

    # When the runtime restores a clone of it
    random.setstate(frozen_random)
    _restore_like_the_runtime()

    # Then nothing from before the snapshot is reused
    assert conn.closed
    assert connection._idle == []
    assert ratelimit._client is None
    assert data_keys._unwrapped == {}
    assert legacy._kms_keys == {}
    assert bedrock._clients == {}
    assert random.random() != snapshot_draw  # the clone does not replay the snapshot's draws
    # and the restored container still serves: a fresh connection, a fresh client
    fresh = connection.acquire()
    assert fresh is not conn and fresh.execute("SELECT 1").fetchone() is not None
    connection.release(fresh)
    assert ratelimit.check_agent_rpm("agent-snap", "embed", 10) is not None
    assert get_settings().redis_url and ratelimit._client is not None


def test_without_the_runtime_library_nothing_is_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapstart, "_installed", False)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as off Lambda
    assert snapstart.install() is False
    handler = make_handler(create_app("local", []))  # the factory still works
    assert callable(handler)

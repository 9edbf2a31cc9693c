"""Lambda SnapStart: what a container restored from a snapshot must forget.

A snapshot freezes the container after its handler module was imported; every container
restored from it starts with that memory. Sockets in it are dead (or, worse, shared by
clones), cached data keys and timestamps are from the past, and a pseudo-random generator
would replay the same sequence in every clone. Each module that holds such state registers
its reset here with `after_restore(...)`, at import and at no cost; the handler factory calls
`install()`, which hands `run_after_restore` to the runtime's hook library
(`snapshot_restore_py`, part of the Lambda Python runtime; absent elsewhere, where there
is no snapshot to restore).
"""

from __future__ import annotations

from collections.abc import Callable

Hook = Callable[[], None]

_hooks: list[Hook] = []
_installed = False


def after_restore(hook: Hook) -> Hook:
    """Run hook in every container restored from a snapshot (registration order)."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def _reseed_random() -> None:
    # `random` was seeded once, before the snapshot: every clone would draw the same numbers.
    # (`secrets`, `uuid4` and `os.urandom` read the kernel's generator and need nothing.)
    import random

    random.seed()


after_restore(_reseed_random)


def run_after_restore() -> None:
    """Every registered reset; the runtime calls this after a restore, tests call it too."""
    for hook in list(_hooks):
        hook()


def install() -> bool:
    """Register with the runtime's SnapStart hooks once; False where there are none."""
    global _installed
    if _installed:
        return True
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # not on Lambda's Python runtime: nothing is ever restored here
        return False
    register_after_restore(run_after_restore)
    _installed = True
    return True

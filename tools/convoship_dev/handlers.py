"""Loading a function's Lambda handler the way the runtime does: CodeUri first on sys.path,
then `module.attribute` from the template's Handler."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from convoship_dev.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]

_handlers: dict[tuple[str, Path, str], Handler] = {}
_paths_added: set[str] = set()
_import_lock = threading.RLock()


def load_handler(fn: FunctionSpec) -> Handler:
    """Import fn's handler module (CodeUri first on sys.path) and return the handler."""
    key = (fn.logical_id, fn.code_uri, fn.handler)
    with _import_lock:
        cached = _handlers.get(key)
        if cached is not None:
            return cached
        code_dir = str(fn.code_uri)
        if code_dir not in _paths_added:
            sys.path.insert(0, code_dir)
            _paths_added.add(code_dir)
        module_name, _, attr = fn.handler.rpartition(".")
        if not module_name:
            raise ValueError(f"{fn.logical_id}: Handler {fn.handler!r} is not module.function")
        module = importlib.import_module(module_name)
        handler: Handler = getattr(module, attr)
        if not callable(handler):
            raise TypeError(f"{fn.logical_id}: {fn.handler} is not callable")
        _handlers[key] = handler
        return handler

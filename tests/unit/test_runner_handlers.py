"""Handlers load the way the Lambda runtime loads them: CodeUri first on sys.path."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from convoship_dev.handlers import load_handler
from convoship_dev.template import FunctionSpec


def test_load_handler_imports_from_code_uri_once(tmp_path: Path) -> None:
    module = f"fx_handler_{uuid.uuid4().hex}"
    code = tmp_path / "code"
    (code / module).mkdir(parents=True)
    (code / module / "__init__.py").write_text("")
    (code / module / "app.py").write_text("def handler(event, context):\n    return event\n")
    fn = FunctionSpec("Fx", code.resolve(), f"{module}.app.handler")
    try:
        handler = load_handler(fn)
        assert handler({"x": 1}, None) == {"x": 1}
        assert load_handler(fn) is handler
        assert sys.path[0] == str(code.resolve())
        assert sys.path.count(str(code.resolve())) == 1
    finally:
        sys.path.remove(str(code.resolve()))
        for name in [m for m in sys.modules if m.startswith(module)]:
            del sys.modules[name]

"""FastAPI asks of every type a route declares (each path parameter, body and response)
whether it is a pydantic.v1 model, and imports pydantic.v1 to find out: the whole v1
library, about 94M instructions of every cold start (5% of the floor app's), to answer no.

A class can only be a v1 model if pydantic.v1 was imported already, so `install` gives
FastAPI the same answer without the import. Routes declared with a v1 model are still
refused as FastAPI refuses them.
"""

from __future__ import annotations

import sys
from typing import Any


def is_v1_model_class(cls: Any) -> bool:
    v1 = sys.modules.get("pydantic.v1")
    if v1 is None:
        return False
    from fastapi._compat.shared import lenient_issubclass

    return lenient_issubclass(cls, v1.BaseModel)


def install() -> None:
    """Answer FastAPI's question without the import (a FastAPI that no longer asks it, or
    asks it elsewhere, is left as it is: tests/unit/test_fastapi_v1.py says so)."""
    from fastapi._compat import shared

    if callable(getattr(shared, "is_pydantic_v1_model_class", None)):
        shared.is_pydantic_v1_model_class = is_v1_model_class

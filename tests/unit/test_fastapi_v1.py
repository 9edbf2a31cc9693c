"""FastAPI's pydantic.v1 check answers as before, without importing pydantic.v1."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from fastapi import APIRouter
from fastapi._compat import shared
from fastapi.exceptions import PydanticV1NotSupportedError
from pydantic import BaseModel

from convoship.http import fastapi_v1


class Body(BaseModel):
    x: int


def test_fastapi_asks_the_installed_check() -> None:
    assert shared.is_pydantic_v1_model_class is fastapi_v1.is_v1_model_class


def test_declaring_routes_imports_no_pydantic_v1() -> None:
    code = (
        "import sys\n"
        "from fastapi import APIRouter\n"
        "from pydantic import BaseModel\n"
        "import convoship.http\n"
        "class Body(BaseModel):\n"
        "    x: int\n"
        "router = APIRouter()\n"
        "@router.post('/things/{name}', response_model=Body)\n"
        "async def make(name: str, body: Body) -> Body:\n"
        "    return body\n"
        "print('pydantic.v1' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_v1_models_are_still_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydantic import v1

    class Old(v1.BaseModel):
        x: int

    assert fastapi_v1.is_v1_model_class(Old)
    with pytest.raises(PydanticV1NotSupportedError):

        @APIRouter().get("/old", response_model=Old)
        async def old() -> None: ...


@pytest.mark.parametrize("annotation", [Body, str, int, list[int], dict[str, Body], None])
def test_everything_else_is_not_a_v1_model(annotation: object) -> None:
    assert not fastapi_v1.is_v1_model_class(annotation)

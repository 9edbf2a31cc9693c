"""Building blocks shared by the request models of the agents routes."""

from typing import Annotated
from uuid import UUID

from fastapi import Path

from convoship.http.models import Given, Patch

__all__ = ["Given", "ItemId", "Patch"]

# The {id} of a sub-resource in a route path (the template's parameter name).
ItemId = Annotated[UUID, Path(alias="id")]

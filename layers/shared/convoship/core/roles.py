"""Studio roles, lowest first: each may do everything the ones before it may.

The authorizer (functions/authorizer, which ships without the layer) keeps its own copy;
a unit test holds the two equal.
"""

from __future__ import annotations

ROLES = ("viewer", "editor", "admin", "owner")
RANK = {role: rank for rank, role in enumerate(ROLES)}

"""HTTP glue shared by every API function: app factory, problems, request context."""

from convoship.http import fastapi_v1

fastapi_v1.install()  # before any route is declared

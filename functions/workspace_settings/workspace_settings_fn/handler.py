"""Lambda entry point of the workspace_settings function."""

from convoship.http.app import create_app, make_handler

from . import routes

app = create_app("ConvoShip workspace settings", [routes.router])
handler = make_handler(app)

"""Lambda entry point of the workspace_settings function."""

from convoship.http.app import create_app, make_handler
from workspace_settings_fn.routes import router

app = create_app("ConvoShip workspace settings", [router])
handler = make_handler(app)

"""Lambda entry point of the publish function."""

from convoship.http.app import create_app, make_handler

from . import routes

app = create_app("ConvoShip publish", [routes.router])
handler = make_handler(app)

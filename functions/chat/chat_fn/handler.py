"""Lambda entry point of the chat function."""

from convoship.http.app import create_app, make_handler

from . import routes

app = create_app("ConvoShip chat", [routes.router, routes.embed_router])
handler = make_handler(app)

"""Lambda entry point of the agents function."""

from convoship.http.app import create_app, make_handler

from . import (
    routes_agents,
    routes_drafts,
    routes_evals,
    routes_guardrails,
    routes_history,
    routes_tools,
)

app = create_app(
    "ConvoShip agents",
    [
        routes_agents.router,
        routes_guardrails.router,
        routes_tools.router,
        routes_evals.router,
        routes_history.router,
        routes_drafts.router,
    ],
)
handler = make_handler(app)

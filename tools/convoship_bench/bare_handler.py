"""The authorizer's floor: a handler module that imports nothing (not even typing)."""


def handler(event: dict[str, object], context: object) -> dict[str, bool]:
    return {"isAuthorized": False}

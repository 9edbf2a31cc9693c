"""Domain exceptions. They say what went wrong; http/problems.py alone maps them to HTTP."""

from __future__ import annotations

from typing import Any


class ConvoshipError(Exception):
    """Base of every expected failure. `extra` becomes extension members of the problem."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}  # sent with the problem (e.g. X-RateLimit-*)


class ConfigurationError(ConvoshipError):
    """The deployment is misconfigured (missing or unsafe setting)."""


class Unauthorized(ConvoshipError):
    pass


class Forbidden(ConvoshipError):
    pass


class NotFound(ConvoshipError):
    pass


class Conflict(ConvoshipError):
    pass


class ValidationFailed(ConvoshipError):
    """Input that is well-formed JSON but not acceptable; `errors` lists loc/msg pairs."""

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []

    @classmethod
    def at(cls, loc: tuple[str | int, ...], msg: str) -> ValidationFailed:
        return cls(msg, [{"loc": list(loc), "msg": msg}])


class PayloadTooLarge(ConvoshipError):
    pass


class RateLimited(ConvoshipError):
    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class BudgetExceeded(ConvoshipError):
    def __init__(self, detail: str, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class EvalGateFailed(ConvoshipError):
    pass


class OriginNotAllowed(ConvoshipError):
    pass


class LlmNotConfigured(ConvoshipError):
    pass


class UpstreamUnavailable(ConvoshipError):
    pass


class AnswerLost(UpstreamUnavailable):
    """A model call reached the provider and no usable answer came back (cut by a timeout
    or the deadline, the connection dropped, an answer that cannot be read): the provider
    may have billed it, so the turn's reservation is charged, never released as unused."""


class TurnTimedOut(UpstreamUnavailable):
    """A chat turn's model and tool calls did not end within its deadline."""


class ServiceUnavailable(ConvoshipError):
    """A dependency (database, KMS, ...) is down; the client should retry later."""

    def __init__(self, detail: str, retry_after: int = 2) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class DecryptionFailed(ConvoshipError):
    """A ciphertext does not decrypt under this context (wrong workspace, purpose or key)."""

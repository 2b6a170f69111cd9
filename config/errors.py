"""atende's error hierarchy. The HTTP layer maps each to a status in one middleware."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class AtendeError(Exception):
    """Base of every error atende raises on purpose; `status` is its HTTP status."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}  # added to the error response


class BadRequest(AtendeError):
    status = 400
    code = "bad_request"


class Unauthorized(AtendeError):
    status = 401
    code = "unauthorized"


class Forbidden(AtendeError):
    status = 403
    code = "forbidden"


class NotFound(AtendeError):
    status = 404
    code = "not_found"


class Conflict(AtendeError):
    status = 409
    code = "conflict"


class UnsupportedMediaType(AtendeError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(AtendeError):
    status = 422
    code = "validation_error"

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", details=[FieldProblem(field, message)])


class TooManyRequests(AtendeError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class BadGateway(AtendeError):
    """The platform behind a request (Telegram, WhatsApp) refused it or could not be reached."""

    status = 502
    code = "bad_gateway"


class ServiceUnavailable(AtendeError):
    status = 503
    code = "service_unavailable"


class ConfigurationError(AtendeError):
    """Settings or stored state that stop atende from starting; the message says what to do."""

    code = "configuration_error"

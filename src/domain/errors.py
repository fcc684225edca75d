"""The service's errors: every failure a caller can see is a `ServiceError`, which `edge.http` turns into
an RFC 9457 problem document. What AWS's failures mean in these terms is the adapters' to say
(`adapters.aws_errors`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

PROBLEM_TYPE_BASE = "https://shopfast.example/problems/"

RETRY_AFTER_SECONDS = 1


class ServiceError(Exception):
    """A failure with an HTTP status and a problem document. `detail` is shown to the caller: no secrets."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.code.replace("_", "-")


class InvalidRequest(ServiceError):
    status, code, title = 400, "invalid_request", "Invalid request"


class Unauthorized(ServiceError):
    status, code, title = 401, "unauthorized", "Missing or invalid token"

    def __init__(self, detail: str | None = None, *, description: str | None = None) -> None:
        # RFC 6750 §3: `error_description` only where it helps the client and names no secret.
        challenge = 'Bearer error="invalid_token"'
        if description:
            challenge += f', error_description="{description}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class AccessDenied(ServiceError):
    status, code, title = 403, "access_denied", "Access denied"


class Revoked(AccessDenied):
    """The user's access was revoked by an operator (`make revoke`): refused on every route but health."""

    code, title = "revoked", "Access revoked"


class NotFound(ServiceError):
    status, code, title = 404, "not_found", "Not found"


class RefusedAsNotFound(NotFound):
    """A refusal worded as "not found", so that it says nothing of what exists (an uploadId that is not
    the caller's): audited as a denial, answered as any 404."""


class PayloadTooLarge(ServiceError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(ServiceError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class UpstreamBudgetExhausted(ServiceError):
    """The request reached its cap of upstream calls (`domain.budget`): in a batch only the items past the
    cap are refused (each with this problem); a single request is refused whole."""

    status, code, title = 429, "upstream_budget_exhausted", "Too many distinct grants in one request"


class InternalError(ServiceError):
    """Anything unexpected: the caller learns nothing but the request id."""


class UpstreamError(ServiceError):
    status, code, title = 502, "upstream_error", "Upstream AWS error"


class ServiceUnavailable(ServiceError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class UpstreamTimeout(ServiceError):
    status, code, title = 504, "upstream_timeout", "Upstream AWS timeout"


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the environment variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable

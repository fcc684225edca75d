"""The service's errors and the one mapping from AWS SDK failures to them.

Every failure a caller can see is a `ServiceError`; `edge.http` turns it into an RFC 9457 problem
document. Nothing here imports boto3: botocore exceptions are recognised by their class names and
attributes so the domain core stays free of the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://shopfast.example/problems/"

# Error codes AWS services use for throttling (STS, SSO OIDC, S3 Control, S3).
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "Forbidden"})
# Identity Center refused the user's JWT as an assertion: from the caller's side the token is not usable.
_REJECTED_TOKEN_CODES = frozenset(
    {
        "InvalidGrantException",
        "ExpiredTokenException",
        "InvalidRequestException",
        "UnauthorizedClientException",
    }
)
# A page token the caller sent back was refused upstream: the caller's input is wrong, not AWS.
_INVALID_PAGE_TOKEN_CODES = frozenset(
    {"InvalidNextTokenException", "InvalidNextToken", "InvalidContinuationToken"}
)
# S3's answers to a multipart upload the caller described wrongly (S3 API reference, CompleteMultipartUpload
# and UploadPart "Errors"): the caller's input, so 4xx with S3's reason in the caller's terms.
_MULTIPART_INPUT_ERRORS = {
    "InvalidPart": "a part was not uploaded, or its etag does not match the uploaded part",
    "InvalidPartOrder": "parts must be listed in ascending partNumber order, each once",
    "EntityTooSmall": "every part but the last must be at least 5 MiB",
    "EntityTooLarge": "a part is larger than 5 GiB",
    "MalformedXML": "the list of parts is not one S3 accepts",
}
_TIMEOUT_EXCEPTIONS = frozenset({"ReadTimeoutError", "ConnectTimeoutError"})
_CONNECTION_EXCEPTIONS = frozenset(
    {"EndpointConnectionError", "ConnectionClosedError", "ProxyConnectionError", "HTTPClientError"}
)
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

    def problem(self, request_id: str | None) -> dict[str, Any]:
        return {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "requestId": request_id,
        }


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


class NotFound(ServiceError):
    status, code, title = 404, "not_found", "Not found"


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


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, or None for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


def _http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def from_aws_error(exc: BaseException, operation: str) -> ServiceError:
    """The one mapping from an AWS SDK failure (after botocore's standard retries) to a ServiceError.

    AccessDenied → 403; throttling → 503 with Retry-After (retries were already spent); a page token AWS
    did not issue, or a multipart upload described wrongly → 400; NoSuchUpload → 404; Identity Center
    refusing the JWT → 401; timeouts → 504; any other AWS error (4xx or 5xx), connection failures and
    unknown errors → 502. (A session AWS finds expired never reaches here: `adapters.aws.call` raises
    `StaleSession` for it.)
    """
    if isinstance(exc, ServiceError):
        return exc
    code = aws_error_code(exc)
    if code is not None:
        if code in _ACCESS_DENIED_CODES:
            if operation == "GetDataAccess":
                return AccessDenied("no grant covers this target with this permission")
            return AccessDenied(f"AWS denied {operation} for this caller")
        if code in _THROTTLING_CODES or _http_status(exc) == 429:
            return ServiceUnavailable(f"{operation} is throttled by AWS; retry later")
        if (
            code in _INVALID_PAGE_TOKEN_CODES
            or (operation == "ListObjectsV2" and code == "InvalidArgument")
            or (operation == "ListCallerAccessGrants" and code == "InvalidRequest")
        ):
            # S3 answers a forged or stale ListObjectsV2 continuation token with 400 InvalidArgument, S3
            # Access Grants a NextToken it did not issue with 400 InvalidRequest (the service checks every
            # other parameter of that call itself).
            return InvalidRequest(f"{operation} refused the page token of this request")
        if code == "NoSuchUpload":
            return NotFound("no such upload: it was completed or aborted, or never started")
        if code in _MULTIPART_INPUT_ERRORS:
            return InvalidRequest(f"{operation}: {_MULTIPART_INPUT_ERRORS[code]}")
        if code in _REJECTED_TOKEN_CODES and operation == "CreateTokenWithIAM":
            return Unauthorized("the identity provider token was not accepted by IAM Identity Center")
        status = _http_status(exc)
        if status >= 500:
            return UpstreamError(f"{operation} failed upstream ({code})")
        return UpstreamError(f"{operation} was rejected upstream ({code})")
    name = type(exc).__name__
    if name in _TIMEOUT_EXCEPTIONS or isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"{operation} timed out")
    if name in _CONNECTION_EXCEPTIONS:
        return UpstreamError(f"{operation} could not reach AWS")
    return UpstreamError(f"{operation} failed")

"""The one mapping from AWS SDK failures to the service's errors, in botocore's dialect (error codes,
HTTP statuses, exception class names), so that the domain never sees it.

Exceptions are recognised by their codes and class names rather than imported types: the signer and the
gateway raise botocore's, tests may raise look-alikes, and nothing here needs more than the shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.errors import (
    AccessDenied,
    InvalidRequest,
    NotFound,
    ServiceError,
    ServiceUnavailable,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)

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
# Error codes meaning "the session signing this call, or the identity context it is made from, is no
# longer valid" (a fresh session may succeed). STS answers an expired or foreign context assertion with
# InvalidContextAssertion (its current model); older answers said ExpiredTokenException.
STALE_SESSION_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "InvalidClientTokenId",
        "InvalidContextAssertion",
    }
)


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


def is_throttling(exc: BaseException) -> bool:
    """Whether AWS refused the call for its rate (after botocore's own retries)."""
    return aws_error_code(exc) in _THROTTLING_CODES or _http_status(exc) == 429


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
        if is_throttling(exc):
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

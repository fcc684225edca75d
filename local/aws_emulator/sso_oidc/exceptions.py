"""sso-oidc errors: the model's shapes carry the OAuth `error` and `error_description` (RFC 6749 §5.2)
beside the code in `x-amzn-ErrorType`; statuses as the model declares them (InvalidClientException 401)."""

from __future__ import annotations

from local.aws_emulator.core.exceptions import EmulatorError


def _oauth(code: str, oauth_error: str, description: str, status: int | None = None) -> EmulatorError:
    return EmulatorError(code, description, status=status, error=oauth_error, error_description=description)


def invalid_request(description: str) -> EmulatorError:
    return _oauth("InvalidRequestException", "invalid_request", description)


def invalid_client(description: str) -> EmulatorError:
    return _oauth("InvalidClientException", "invalid_client", description)


def invalid_grant(description: str) -> EmulatorError:
    return _oauth("InvalidGrantException", "invalid_grant", description)


def unauthorized_client(description: str) -> EmulatorError:
    return _oauth("UnauthorizedClientException", "unauthorized_client", description)


def unsupported_grant_type(description: str) -> EmulatorError:
    return _oauth("UnsupportedGrantTypeException", "unsupported_grant_type", description)


def invalid_scope(description: str) -> EmulatorError:
    return _oauth("InvalidScopeException", "invalid_scope", description)


def access_denied(description: str) -> EmulatorError:
    return _oauth("AccessDeniedException", "access_denied", description)


def expired_token(description: str) -> EmulatorError:
    return _oauth("ExpiredTokenException", "expired_token", description)


def signature_mismatch() -> EmulatorError:
    return EmulatorError(
        "InvalidSignatureException", "The request signature we calculated does not match.", status=403
    )


def unrecognized_client() -> EmulatorError:
    return EmulatorError(
        "UnrecognizedClientException", "The security token included in the request is invalid.", status=403
    )

"""S3 Access Grants errors: codes and statuses of the S3 error-code table ("List of error codes", Access
Grants section of the Amazon S3 API reference), in s3control's `<ErrorResponse><Error>` document."""

from __future__ import annotations

from local.aws_emulator.core.exceptions import EmulatorError


def instance_not_found() -> EmulatorError:
    return EmulatorError(
        "AccessGrantsInstanceNotExistsError", "Access Grants Instance does not exist", status=404
    )


def invalid_request(message: str) -> EmulatorError:
    return EmulatorError("InvalidRequest", message, status=400)


def validation(message: str) -> EmulatorError:
    return EmulatorError("ValidationException", message, status=400)


def invalid_grant(message: str = "The specified Access Grant is invalid") -> EmulatorError:
    return EmulatorError("InvalidAccessGrant", message, status=400)


def invalid_location(message: str = "The specified Access Grants Location is invalid") -> EmulatorError:
    return EmulatorError("InvalidAccessGrantsLocation", message, status=400)


def invalid_role() -> EmulatorError:
    return EmulatorError("InvalidIamRole", "The specified IAM Role is invalid", status=400)


def access_denied(message: str) -> EmulatorError:
    return EmulatorError("AccessDenied", message, status=403)


def expired_token() -> EmulatorError:
    return EmulatorError("ExpiredToken", "The provided token has expired.", status=400)


def invalid_token() -> EmulatorError:
    return EmulatorError("InvalidToken", "The provided token is malformed or otherwise invalid.", status=400)


def signature_mismatch() -> EmulatorError:
    return EmulatorError(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
        status=403,
    )


def conflict(code: str, message: str) -> EmulatorError:
    return EmulatorError(code, message, status=409)


def not_found(code: str, message: str) -> EmulatorError:
    return EmulatorError(code, message, status=404)


def bad(code: str, message: str) -> EmulatorError:
    return EmulatorError(code, message, status=400)

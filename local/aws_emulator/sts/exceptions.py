"""STS errors, with the codes and statuses the STS API reference and model give them."""

from __future__ import annotations

from local.aws_emulator.core.exceptions import EmulatorError


def access_denied(message: str) -> EmulatorError:
    return EmulatorError("AccessDenied", message, status=403)


def validation(message: str) -> EmulatorError:
    return EmulatorError("ValidationError", message, status=400)


def invalid_context(message: str) -> EmulatorError:
    # The STS model's InvalidContextAssertionException: "malformed, has expired, or was not issued".
    return EmulatorError("InvalidContextAssertion", message, status=400)


def invalid_parameter(message: str) -> EmulatorError:
    return EmulatorError("InvalidParameterValue", message, status=400)


def expired_token() -> EmulatorError:
    return EmulatorError("ExpiredToken", "The security token included in the request is expired", status=403)


def invalid_token() -> EmulatorError:
    return EmulatorError(
        "InvalidClientTokenId", "The security token included in the request is invalid.", status=403
    )


def signature_mismatch() -> EmulatorError:
    return EmulatorError(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
        status=403,
    )

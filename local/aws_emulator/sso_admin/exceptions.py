"""sso-admin errors (json 1.1: `__type` and the code header, as the IAM Identity Center API reference
lists them for each operation)."""

from __future__ import annotations

from local.aws_emulator.core.exceptions import EmulatorError


def not_found(what: str) -> EmulatorError:
    return EmulatorError("ResourceNotFoundException", f"{what} does not exist", status=400)


def invalid(message: str) -> EmulatorError:
    return EmulatorError("ValidationException", message, status=400)


def conflict(message: str) -> EmulatorError:
    return EmulatorError("ConflictException", message, status=400)


def idempotency_mismatch() -> EmulatorError:
    return EmulatorError(
        "IdempotentParameterMismatch", "the ClientToken was used with other parameters", status=400
    )


def access_denied(message: str) -> EmulatorError:
    return EmulatorError("AccessDeniedException", message, status=400)

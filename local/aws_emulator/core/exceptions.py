"""The emulator's one error type.

moto's `ServiceException` already serializes itself for every protocol (the error document, the
`x-amzn-ErrorType` header, model members such as sso-oidc's `error`/`error_description`). What it lacks
is the HTTP status of codes the botocore models do not declare (S3 Control's `AccessDenied` is 403, the
models leave it undeclared) and the extra elements some S3 errors carry (`Expires`, `ServerTime`).
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import ServiceException


class EmulatorError(ServiceException):
    """An AWS error: `code` and `message`, the `status` AWS answers with (None: the model's), and any
    further members of the error document as `details` (also set as attributes, which is where moto's
    serializers look for modelled members)."""

    def __init__(self, code: str, message: str, *, status: int | None = None, **details: Any) -> None:
        super().__init__(code, message)
        self.status = status
        self.details = details
        for name, value in details.items():
            setattr(self, name, value)

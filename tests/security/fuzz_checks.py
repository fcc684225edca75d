"""Schemathesis checks of the security suite, loaded by `st run` through SCHEMATHESIS_HOOKS.

Only the `st` child process imports this module: registering checks is global in schemathesis, and
the pytest process must not carry them into anyone else's schemathesis use.

A registered check runs only when `--checks` names it (or `all`), so each run picks its own.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import requests
import schemathesis

from tests.security.clients import FORGED_TOKEN_VARIABLE

PUBLIC_PATHS = {"/v1/health"}


def _alg_none_token() -> str:
    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "forged", "aud": "shopfast-vending", "iat": now, "exp": now + 600, "email": "x@y"}
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}."


@schemathesis.check
def no_bypass_without_a_valid_token(ctx: Any, response: Any, case: Any) -> bool | None:
    """Replays every generated request of a protected route without its token and with a forged one:
    the answer must be 401, whatever the path, query and body were."""
    if case.operation.path in PUBLIC_PATHS or case.method.upper() != case.operation.method.upper():
        return None
    forged = os.environ.get(FORGED_TOKEN_VARIABLE) or _alg_none_token()
    for authorization in (None, f"Bearer {forged}"):
        replay = response.request.copy()
        replay.headers.pop("Authorization", None)
        if authorization:
            replay.headers["Authorization"] = authorization
        with requests.Session() as session:
            answer = session.send(replay, timeout=30)
        if answer.status_code != 401:
            raise AssertionError(
                f"{case.operation.label} answered {answer.status_code} "
                f"{'with a forged token' if authorization else 'without a token'} (expected 401)"
            )
    return None


@schemathesis.check
class SomeRequestsSucceed:
    """For the authenticated run: fuzzing that never got past validation would prove little."""

    def __init__(self) -> None:
        self.succeeded: set[str] = set()

    def after_response(self, ctx: Any, response: Any, case: Any) -> None:
        if 200 <= response.status_code < 300:
            self.succeeded.add(case.operation.label)

    def after_run(self, ctx: Any) -> None:
        protected = {label for label in self.succeeded if not label.endswith(tuple(PUBLIC_PATHS))}
        if not protected:
            raise AssertionError("no authenticated request succeeded during fuzzing")

"""Calling the service's Lambda handlers in-process, as the local gateway and Lambda do.

The route table, the functions' environment and the invoke come from `local.functions` (template.yaml
resolved against parameter values from the emulator's `/_local/config`, as the local gateway resolves
it), so these tests and `make run` configure and call the service the same way. `service_configured`
installs it (with optional overrides) and gives the handlers a fresh execution environment (no
configuration, caches or sessions from a previous configuration).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from local.apigw_events import build_http_api_event
from local.functions import function_for, invoke, lambda_context, stack_environment
from local.gateway.runtime import FOREIGN_AWS_VARIABLES
from local.stack import LocalStack


def _fresh_execution_environment() -> None:
    from composition.root import reset

    reset()


@contextlib.contextmanager
def environment_installed(environment: dict[str, str]) -> Iterator[dict[str, str]]:
    """`environment` as the functions' only AWS settings, and a fresh execution environment, for the block."""
    with pytest.MonkeyPatch.context() as patch:
        for name in FOREIGN_AWS_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        _fresh_execution_environment()
        try:
            yield environment
        finally:
            _fresh_execution_environment()


@contextlib.contextmanager
def service_configured(
    stack: LocalStack, parameters: Mapping[str, str] | None = None, **overrides: str
) -> Iterator[dict[str, str]]:
    """The functions' environment (the template resolved with `parameters`, plus `overrides`) installed
    for the duration of the block, starting with nothing shared (as a new fleet of execution environments)."""
    stack.clear_shared_state()
    environment = stack_environment(stack.aws_endpoint, parameters=parameters, **overrides)
    with environment_installed(environment):
        yield environment


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-cased names
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


def call(
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout_seconds: float = 10.0,
) -> Answer:
    """Invoke the route's handler with an HTTP API v2 event; returns what API Gateway would answer."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    event = build_http_api_event(method, path, headers=all_headers, query=query, body=body)
    function = function_for(method, path)
    result = invoke(function, event, context=lambda_context(function, timeout_seconds=timeout_seconds))
    return Answer(
        status=result["statusCode"],
        headers={name.lower(): value for name, value in (result.get("headers") or {}).items()},
        text=result.get("body") or "",
    )


def problem_of(answer: Answer, status: int) -> dict[str, Any]:
    """The answer's problem document, after checking it is one with this status."""
    assert answer.status == status, answer.text
    assert answer.content_type == "application/problem+json", answer.headers
    assert answer.headers.get("cache-control") == "no-store"
    assert answer.headers.get("x-content-type-options") == "nosniff"
    problem = answer.body
    assert problem["status"] == status
    assert problem["type"] and problem["title"] and problem["code"]
    return problem

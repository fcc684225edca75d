"""The service's Lambda functions as template.yaml declares them, for everything that runs them in this
process: the local gateway's tools, the tests and the benchmarks.

One home for three facts, each derived from the template by `local.gateway.template`:
- the route table (`routes()`: route key → function, so its handler, timeout and memory size);
- the functions' environment (`service_environment()`: their `Environment` resolved against the local
  stack's parameter values, plus what Lambda's runtime provides: Region, endpoint, execution role);
- the in-process invoke (`invoke()`: the function's own handler with a Lambda context carrying its
  name, timeout and memory size).

The gateway serves the same `HttpApi` (`local.gateway.configuration.load_api`), so a route added to the
template reaches the gateway, the tests and the bench at once, and none of them can drift from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from local.gateway.cloudformation import load_template
from local.gateway.configuration import DEFAULT_TEMPLATE, local_environment, local_stack_config, read_api
from local.gateway.runtime import lambda_context, load_handler, merged_environment
from local.gateway.template import Function, HttpApi, read_http_api
from local.lambda_context import LambdaContext

# Reading routes needs every parameter without a default to have a value; none of them decides a route.
_PLACEHOLDER_ACCOUNT = "000000000000"
_PLACEHOLDER_REGION = "us-east-1"
_PLACEHOLDER_URL = "https://placeholder.invalid"
# No browser is involved in-process: the CORS origins the parameters would name are never used.
_IN_PROCESS_URL = "http://127.0.0.1:0"


@lru_cache(maxsize=4)
def offline_api(template: Path = DEFAULT_TEMPLATE) -> HttpApi:
    """The template's API read without a stack (placeholder values where a parameter has no default)."""
    declared = load_template(template).get("Parameters") or {}
    placeholders = {name: _PLACEHOLDER_URL for name, spec in declared.items() if "Default" not in spec}
    return read_http_api(template, placeholders, account_id=_PLACEHOLDER_ACCOUNT, region=_PLACEHOLDER_REGION)


def routes(template: Path = DEFAULT_TEMPLATE) -> dict[str, Function]:
    """Route key ("POST /v1/presign") → the function serving it."""
    return {route.route_key: route.function for route in offline_api(template).routes}


def function_for(method: str, path: str, template: Path = DEFAULT_TEMPLATE) -> Function:
    return routes(template)[f"{method.upper()} {path}"]


def handler_module(function: Function) -> str:
    """The handler's module: "handlers.presign" for "handlers.presign.lambda_handler"."""
    return function.handler.rpartition(".")[0]


def functions(template: Path = DEFAULT_TEMPLATE) -> dict[str, Function]:
    """Logical id → function, for every function that serves a route."""
    return {function.logical_id: function for function in routes(template).values()}


def service_environment(
    stack_config: Mapping[str, Any],
    template: Path = DEFAULT_TEMPLATE,
    parameters: Mapping[str, str] | None = None,
    **overrides: str,
) -> dict[str, str]:
    """The environment every function gets from the template (resolved against the stack's parameter
    values and `parameters`, as the local gateway and `make deploy` resolve it) and from Lambda's runtime,
    plus `overrides`."""
    api = read_api(template, stack_config, _IN_PROCESS_URL, parameters).api
    return {**merged_environment(api.functions.values(), local_environment(stack_config)), **overrides}


def stack_environment(
    aws_endpoint: str,
    template: Path = DEFAULT_TEMPLATE,
    parameters: Mapping[str, str] | None = None,
    **overrides: str,
) -> dict[str, str]:
    """`service_environment` for the stack whose emulator answers at `aws_endpoint`."""
    return service_environment(local_stack_config(aws_endpoint), template, parameters, **overrides)


def invoke(
    function: Function, event: dict[str, Any], *, context: LambdaContext | None = None
) -> dict[str, Any]:
    """One invocation of the function's handler in this process (imported on first use, as at init)."""
    result: dict[str, Any] = load_handler(function)(event, context or lambda_context(function))
    return result

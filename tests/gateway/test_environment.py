"""One process serves every function, so their environments must agree (checked at start-up)."""

from pathlib import Path

import pytest

from local.gateway.runtime import EnvironmentConflictError, merged_environment
from local.gateway.template import Function

pytestmark = pytest.mark.unit


def function(name: str, **environment: str) -> Function:
    return Function(name, "probe.echo", Path(), 3.0, 128, environment)


def test_functions_sharing_values_merge_with_the_local_stack_variables():
    merged = merged_environment(
        [function("A", JWT_ISSUER="http://idp", ONLY_A="a"), function("B", JWT_ISSUER="http://idp")],
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:4000"},
    )
    assert merged == {"AWS_ENDPOINT_URL": "http://127.0.0.1:4000", "JWT_ISSUER": "http://idp", "ONLY_A": "a"}


def test_two_functions_wanting_different_values_are_refused_by_name():
    with pytest.raises(EnvironmentConflictError, match=r"LOG_LEVEL is 'INFO' for A but 'DEBUG' for B"):
        merged_environment([function("A", LOG_LEVEL="INFO"), function("B", LOG_LEVEL="DEBUG")], {})


def test_a_function_may_not_override_what_the_local_stack_sets():
    with pytest.raises(EnvironmentConflictError, match=r"AWS_ENDPOINT_URL .* the local stack"):
        merged_environment(
            [function("A", AWS_ENDPOINT_URL="https://s3.amazonaws.com")],
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:4000"},
        )

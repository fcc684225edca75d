"""HTTP API route selection, as API Gateway does it: most specific path first, exact method over ANY."""

from pathlib import Path

import pytest

from local.gateway.app import RouteTable
from local.gateway.template import Function, Route

pytestmark = pytest.mark.unit

FUNCTION = Function("Fn", "probe.echo", Path(), 3.0, 128, {})


def table(*keys: str) -> RouteTable:
    routes = []
    for key in keys:
        method, _, path = key.partition(" ") if key != "$default" else ("ANY", "", "$default")
        routes.append(Route(method=method, path=path, function=FUNCTION, authorizer=None))
    return RouteTable(routes)


ROUTES = table(
    "GET /v1/items/special",
    "GET /v1/items/{itemId}",
    "ANY /v1/items/{itemId}",
    "GET /v1/{proxy+}",
    "POST /v1/items",
    "$default",
)


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/v1/items/special", "GET /v1/items/special", {}),
        ("GET", "/v1/items/42", "GET /v1/items/{itemId}", {"itemId": "42"}),
        ("DELETE", "/v1/items/42", "ANY /v1/items/{itemId}", {"itemId": "42"}),
        ("GET", "/v1/items/42/parts/7", "GET /v1/{proxy+}", {"proxy": "items/42/parts/7"}),
        ("POST", "/v1/items", "POST /v1/items", {}),
        ("GET", "/v1/items", "GET /v1/{proxy+}", {"proxy": "items"}),
        ("PUT", "/v1/items", "$default", {}),
        ("GET", "/", "$default", {}),
    ],
)
def test_the_most_specific_route_wins(method, path, route_key, parameters):
    matched = ROUTES.match(method, path)
    assert matched is not None
    route, found = matched
    assert route.route_key == route_key
    assert found == parameters


def test_no_route_and_no_default_is_no_match():
    routes = table("GET /v1/health", "GET /v1/items/{itemId}")
    assert routes.match("POST", "/v1/health") is None
    assert routes.match("GET", "/v1/items") is None
    assert routes.match("GET", "/v1/items/a/b") is None

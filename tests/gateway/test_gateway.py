"""API Gateway behaviour of the local gateway: routes from the template, CORS, payload limit, request
ids, the Lambda timeout and failures. Probe handlers record every invocation they receive."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from local.gateway import serve
from local.gateway.cloudformation import load_template
from local.gateway.configuration import DEFAULT_TEMPLATE, REPO_ROOT

from .conftest import FIXTURES, ProbeLog

pytestmark = pytest.mark.integration

ORIGIN = "https://app.shopfast.example"  # the probe gateway's CorsAllowedOrigins (see conftest.py)


def _bearer(local_stack, user="alice@shopfast.example"):
    return {"Authorization": f"Bearer {local_stack.token(user)}"}


# -- routes derived from the template --
def test_a_route_added_to_a_copy_of_template_yaml_is_served(local_stack, http, tmp_path, real_gateway):
    """Add a function with an HttpApi event to a copy of template.yaml: the gateway serves it, behind the
    template's default JWT authorizer, next to the template's own routes."""
    template = load_template(DEFAULT_TEMPLATE)
    template["Globals"]["Function"]["CodeUri"] = str(REPO_ROOT / "src")  # the copy lives elsewhere
    probe_log = ProbeLog(tmp_path / "invocations.jsonl")
    template["Resources"]["ProbeFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Handler": "probe.echo",
            "CodeUri": str(FIXTURES / "probe_code"),
            "Environment": {"Variables": {"PROBE_LOG": str(probe_log.path)}},
            "Events": {
                "Probe": {
                    "Type": "HttpApi",
                    "Properties": {
                        "ApiId": {"Ref": "VendingApi"},
                        "Path": "/v1/probe/{name}",
                        "Method": "GET",
                    },
                }
            },
        },
    }
    copy = tmp_path / "template.yaml"
    copy.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")

    # The unmodified template has no such route.
    unknown = http.get(f"{real_gateway.url}/v1/probe/hello", headers=_bearer(local_stack))
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Not Found"}

    with serve(
        aws_endpoint=local_stack.aws_endpoint, template=copy, log_file=tmp_path / "gateway.log"
    ) as gateway:
        refused = http.get(f"{gateway.url}/v1/probe/hello")
        assert refused.status_code == 401
        served = http.get(f"{gateway.url}/v1/probe/hello", headers=_bearer(local_stack))
        assert served.status_code == 200, served.text
        record = served.json()
        assert record["routeKey"] == "GET /v1/probe/{name}"
        assert record["pathParameters"] == {"name": "hello"}
        assert record["functionName"] == "ProbeFunction"
        assert record["memoryMb"] == 512  # from the template's Globals
        assert [r["requestId"] for r in probe_log.records()] == [served.headers["apigw-requestid"]]
        health = http.get(f"{gateway.url}/v1/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"


def test_path_parameters_and_route_keys(probe_gateway, local_stack, http):
    response = http.get(
        f"{probe_gateway.url}/v1/items/item-42", params={"a": ["1", "2"]}, headers=_bearer(local_stack)
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["routeKey"] == "GET /v1/items/{itemId}"
    assert record["pathParameters"] == {"itemId": "item-42"}
    assert record["rawQueryString"] == "a=1&a=2"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nowhere"),
        ("GET", "/v1/echo"),
        ("DELETE", "/v1/public"),
        ("GET", "/v1/items/a/b"),
        ("GET", "/"),
    ],
)
def test_unknown_routes_are_not_found(probe_gateway, probe_log, http, method, path):
    response = http.request(method, f"{probe_gateway.url}{path}")
    assert response.status_code == 404
    assert response.reason == "Not Found"
    assert response.json() == {"message": "Not Found"}
    assert response.headers["apigw-requestid"] not in probe_log.request_ids()
    assert not re.search(r"werkzeug|python", response.headers.get("server", ""), re.IGNORECASE)


def test_any_method_routes_take_every_method(probe_gateway, http):
    for method in ("GET", "POST", "PATCH"):
        assert http.request(method, f"{probe_gateway.url}/v1/crash").status_code == 500


def test_function_environment_comes_from_template_and_parameters(probe_gateway, http):
    record = http.get(f"{probe_gateway.url}/v1/public").json()
    assert record["probeSetting"] == "overridden-by-parameter"  # Globals → !If → !Sub of a parameter
    assert record["functionName"] == "EchoFunction"
    assert record["memoryMb"] == 512


def test_a_function_without_status_code_gets_api_gateways_inferred_response(probe_gateway, http):
    response = http.get(f"{probe_gateway.url}/v1/bare")  # exists only because of the Condition
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"answer": 42}


# -- request ids --
def test_every_response_carries_a_request_id_that_the_handler_sees(probe_gateway, local_stack, http):
    ids = set()
    for _ in range(5):
        response = http.post(f"{probe_gateway.url}/v1/echo", headers=_bearer(local_stack))
        request_id = response.headers["apigw-requestid"]
        assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", request_id)
        assert response.json()["requestId"] == request_id
        ids.add(request_id)
    for response in (http.get(f"{probe_gateway.url}/nowhere"), http.post(f"{probe_gateway.url}/v1/echo")):
        ids.add(response.headers["apigw-requestid"])
    assert len(ids) == 7


def test_the_service_reports_the_gateways_request_id(real_gateway, local_stack, http):
    response = http.post(
        f"{real_gateway.url}/v1/credentials",
        headers=_bearer(local_stack),
        json={"target": "s3://shopfast-data/../etc/*", "permission": "READ"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["requestId"] == response.headers["apigw-requestid"]


# -- CORS --
def test_preflight_is_answered_per_the_templates_cors_configuration(probe_gateway, probe_log, http):
    response = http.options(
        f"{probe_gateway.url}/v1/echo",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-methods"] == "GET,POST,PUT"
    assert response.headers["access-control-allow-headers"] == "authorization,content-type"
    assert response.headers["access-control-max-age"] == "600"
    assert response.headers["apigw-requestid"] not in probe_log.request_ids()  # no Lambda for preflight


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"},
        {
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-secret",
        },
    ],
)
def test_preflight_outside_the_configuration_gets_no_cors_headers(probe_gateway, http, headers):
    response = http.options(f"{probe_gateway.url}/v1/echo", headers=headers)
    assert response.status_code == 204
    assert "access-control-allow-origin" not in response.headers


def test_cors_headers_on_responses_for_allowed_origins_only(probe_gateway, local_stack, http):
    allowed = http.post(f"{probe_gateway.url}/v1/echo", headers={**_bearer(local_stack), "Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["access-control-expose-headers"] == "apigw-requestid"
    refused = http.post(f"{probe_gateway.url}/v1/echo", headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ORIGIN  # so a browser can read the 401
    other = http.post(
        f"{probe_gateway.url}/v1/echo", headers={**_bearer(local_stack), "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers  # the handler's own "*" is dropped


def test_the_real_templates_cors_allows_the_demo_origin(real_gateway, http):
    response = http.options(
        f"{real_gateway.url}/v1/presign",
        headers={
            "Origin": real_gateway.url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == real_gateway.url
    # CORS is configured only when origins are given: `!If [HasCorsOrigins, <config>, NoValue]`.
    template_cors = load_template(DEFAULT_TEMPLATE)["Resources"]["VendingApi"]["Properties"][
        "CorsConfiguration"
    ]["Fn::If"][1]
    assert response.headers["access-control-allow-methods"] == ",".join(template_cors["AllowMethods"])
    assert response.headers["access-control-max-age"] == str(template_cors["MaxAge"])


def test_the_real_template_allows_no_browser_origin_unless_one_is_configured(local_stack, tmp_path, http):
    with serve(
        aws_endpoint=local_stack.aws_endpoint,
        overrides={"CorsAllowedOrigins": ""},
        demo=False,
        log_file=tmp_path / "gateway.log",
    ) as gateway:
        preflight = http.options(
            f"{gateway.url}/v1/presign",
            headers={"Origin": gateway.url, "Access-Control-Request-Method": "POST"},
        )
        health = http.get(f"{gateway.url}/v1/health", headers={"Origin": gateway.url})
    assert "access-control-allow-origin" not in preflight.headers
    assert health.status_code == 200
    assert "access-control-allow-origin" not in health.headers


# -- payload limit --
def test_payloads_over_10_mb_are_refused_before_the_handler(probe_gateway, probe_log, local_stack, http):
    too_large = b"x" * (10 * 1024 * 1024 + 1)
    response = http.post(f"{probe_gateway.url}/v1/echo", data=too_large, headers=_bearer(local_stack))
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
    assert response.headers["apigw-requestid"] not in probe_log.request_ids()


def test_payloads_within_the_limit_reach_the_handler(probe_gateway, local_stack, http):
    body = b"y" * (1024 * 1024)
    response = http.post(f"{probe_gateway.url}/v1/echo", data=body, headers=_bearer(local_stack))
    assert response.status_code == 200, response.text
    assert response.json()["bodyLength"] == len(body)


# -- the Lambda: timeout, failure --
def test_context_counts_down_the_functions_timeout(probe_gateway, http):
    record = http.get(f"{probe_gateway.url}/v1/public").json()
    assert 5000 < record["remainingMs"] <= 10000  # Globals Timeout: 10 (slack for a loaded machine)


def test_a_handler_running_past_its_function_timeout_is_a_function_error(probe_gateway, probe_log, http):
    """Lambda ends the invocation ("Task timed out"), a function error: HTTP API answers 500."""
    response = http.get(f"{probe_gateway.url}/v1/slow", params={"seconds": "5"})  # SlowFunction Timeout: 1
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    record = next(r for r in probe_log.records() if r["requestId"] == response.headers["apigw-requestid"])
    assert 0 < record["remainingMs"] <= 1000
    # The next invocation does not queue behind the abandoned one.
    after = http.get(f"{probe_gateway.url}/v1/slow", params={"seconds": "0"})
    assert after.status_code == 200
    assert after.text == "finished"


def test_a_handler_running_past_the_integration_timeout_gets_service_unavailable(probe_gateway, http):
    """The route's TimeoutInMillis (500 ms) ends before the function's Timeout (1 s): HTTP API answers 503."""
    response = http.get(f"{probe_gateway.url}/v1/slow-integration", params={"seconds": "3"})
    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}


def test_a_crashing_handler_gets_internal_server_error_without_details(probe_gateway, http):
    response = http.get(f"{probe_gateway.url}/v1/crash")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "probe failed" not in response.text


def test_a_template_the_gateway_cannot_serve_stops_it_with_the_reason(local_stack, tmp_path):
    broken = tmp_path / "template.yaml"
    shutil.copy(FIXTURES / "template.yaml", broken)
    with (
        pytest.raises(RuntimeError, match="ProbeLog has no default"),
        serve(aws_endpoint=local_stack.aws_endpoint, template=broken, log_file=tmp_path / "gateway.log"),
    ):
        pass

"""Every error class maps to its status with an RFC 9457 problem document, through the real handlers."""

from __future__ import annotations

import importlib
import json

import pytest

from local.apigw_events import build_http_api_event
from local.lambda_context import LambdaContext
from local.stack import LocalStack
from tests.integration.handler_calls import call, problem_of

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
MALLORY = "mallory@shopfast.example"
GOOD = {"target": "s3://shopfast-data/users/*", "permission": "READ"}


@pytest.fixture
def alice(fresh_service: LocalStack) -> str:
    return fresh_service.token(ALICE)


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail"),
    [
        ('{"target": "s3://shopfast-data/users/*", ', None, 400, "not valid JSON"),
        ("", None, 400, "JSON object body is required"),
        ("[1, 2]", None, 400, "must be a JSON object"),
        (
            '{"target": "s3://shopfast-data/users/*", "target": "s3://x/y", "permission": "READ"}',
            None,
            400,
            "duplicate",
        ),
        (
            '{"target": "s3://shopfast-data/users/*", "permission": "READ", "n": NaN}',
            None,
            400,
            "not valid JSON",
        ),
        ({**GOOD, "unexpected": 1}, None, 400, "unknown field"),
        ({"permission": "READ"}, None, 400, "target is required"),
        ({"target": "s3://shopfast-data/users/../hr/*", "permission": "READ"}, None, 400, "'..'"),
        ({"target": "s3://shopfast-data/us*ers", "permission": "READ"}, None, 400, "'*'"),
        ({"target": "s3://not-served-bucket/x/*", "permission": "READ"}, None, 400, "not served"),
        ({"target": 7, "permission": "READ"}, None, 400, "must be a string"),
        (
            {"target": "s3://shopfast-data/users/*", "permission": "ALL"},
            None,
            400,
            "permission must be one of",
        ),
        ({**GOOD, "privilege": "Maximal"}, None, 400, "privilege must be one of"),
        ({**GOOD, "durationSeconds": 60}, None, 400, "between 900 and 43200"),
        ({**GOOD, "durationSeconds": 43201}, None, 400, "between 900 and 43200"),
        ({**GOOD, "durationSeconds": "3600"}, None, 400, "must be an integer"),
        ({**GOOD, "durationSeconds": True}, None, 400, "must be an integer"),
        ({**GOOD, "targetType": "Object"}, None, 400, "object target"),
        ({**GOOD, "role": "CustomerSupport"}, None, 400, "iam-role mode"),
        (json.dumps(GOOD), {"content-type": "text/plain"}, 415, "application/json"),
        (json.dumps({**GOOD, "pad": "x" * 300_000}), None, 413, "at most"),
    ],
)
def test_bad_requests(alice: str, body: object, headers: dict | None, status: int, detail: str) -> None:
    answer = call("POST", "/v1/credentials", token=alice, body=body, headers=headers)
    problem = problem_of(answer, status)
    assert detail in problem["detail"]
    assert problem["requestId"]
    assert "Traceback" not in answer.text


def test_bad_query_parameters_are_400(alice: str) -> None:
    problem = problem_of(
        call("POST", "/v1/credentials", token=alice, body=GOOD, query={"format": "xml"}), 400
    )
    assert "format" in problem["detail"]
    problem = problem_of(call("POST", "/v1/credentials", token=alice, body=GOOD, query={"debug": "1"}), 400)
    assert "unknown" in problem["detail"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic YWxpY2U6cHc=", "Bearer not-a-jwt", "Bearer a.b.c"],
)
def test_missing_or_invalid_tokens_are_401(fresh_service: LocalStack, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    answer = call("POST", "/v1/credentials", body=GOOD, headers=headers)
    problem_of(answer, 401)
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_expired_and_foreign_audience_tokens_are_401(fresh_service: LocalStack) -> None:
    for token in (fresh_service.token(ALICE, ttl=-120), fresh_service.token(ALICE, aud="another-app")):
        answer = call("POST", "/v1/credentials", token=token, body=GOOD)
        problem_of(answer, 401)


def test_authentication_comes_before_body_validation(fresh_service: LocalStack) -> None:
    problem_of(call("POST", "/v1/credentials", body="{not json"), 401)


def test_denied_is_403(alice: str) -> None:
    problem = problem_of(
        call(
            "POST",
            "/v1/credentials",
            token=alice,
            body={"target": "s3://shopfast-internal/leads/*", "permission": "READ"},
        ),
        403,
    )
    assert problem["code"] == "access_denied"


def test_a_user_unknown_to_identity_center_is_403(fresh_service: LocalStack) -> None:
    problem_of(call("POST", "/v1/credentials", token=fresh_service.token(MALLORY), body=GOOD), 403)


def test_unknown_route_is_a_404_problem(alice: str) -> None:
    module = importlib.import_module("handlers.credentials")
    event = build_http_api_event("GET", "/v1/nowhere", headers={"authorization": f"Bearer {alice}"})
    result = module.lambda_handler(event, LambdaContext("credentials"))
    assert result["statusCode"] == 404
    assert result["headers"]["Cache-Control"] == "no-store"
    assert result["headers"]["X-Content-Type-Options"] == "nosniff"
    assert json.loads(result["body"])["code"] == "not_found"


def test_throttling_is_retried(fresh_service: LocalStack, alice: str) -> None:
    fresh_service.set_fault("GetDataAccess", throttle=2)
    answer = call("POST", "/v1/credentials", token=alice, body=GOOD)
    assert answer.status == 200, answer.text
    assert fresh_service.stats()["calls"]["GetDataAccess"] >= 3


def test_throttling_beyond_the_retries_is_503_with_retry_after(fresh_service: LocalStack, alice: str) -> None:
    fresh_service.set_fault("GetDataAccess", throttle=10)
    answer = call("POST", "/v1/credentials", token=alice, body=GOOD)
    problem = problem_of(answer, 503)
    assert int(answer.headers["retry-after"]) >= 1
    assert problem["code"] == "service_unavailable"


def test_throttled_token_exchange_is_503(fresh_service: LocalStack, alice: str) -> None:
    fresh_service.set_fault("CreateTokenWithIAM", throttle=10)
    answer = call("POST", "/v1/credentials", token=alice, body=GOOD)
    problem_of(answer, 503)
    assert "retry-after" in answer.headers


def test_upstream_5xx_is_502(fresh_service: LocalStack, alice: str) -> None:
    fresh_service.set_fault("GetDataAccess", server_error=10)
    problem = problem_of(call("POST", "/v1/credentials", token=alice, body=GOOD), 502)
    assert problem["code"] == "upstream_error"


def test_latency_beyond_the_budget_is_504_before_the_lambda_times_out(
    fresh_service: LocalStack, alice: str
) -> None:
    fresh_service.set_fault("GetDataAccess", latency_ms=8000)
    module = importlib.import_module("handlers.credentials")
    event = build_http_api_event(
        "POST", "/v1/credentials", headers={"authorization": f"Bearer {alice}"}, body=GOOD
    )
    context = LambdaContext("credentials", timeout_seconds=6)
    result = module.lambda_handler(event, context)
    assert result["statusCode"] == 504, result["body"]
    assert json.loads(result["body"])["code"] == "upstream_timeout"
    assert context.get_remaining_time_in_millis() > 0  # answered before the Lambda's own timeout

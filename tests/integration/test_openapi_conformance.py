"""openapi.yaml says what the implementation answers: real responses of every route, on success and
error paths, are validated against the document (status documented, content type, body schema,
required headers), and requests the document calls valid or invalid are answered accordingly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from local.functions import offline_api
from local.stack import LocalStack
from tests.integration.handler_calls import Answer, call, service_configured

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPEC_URI = "urn:shopfast:openapi"
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
REGISTRY = Registry().with_resource(SPEC_URI, Resource(SPEC, specification=DRAFT202012))

ALICE = "alice@shopfast.example"
BOB = "bob@shopfast.example"
DAVE = "dave@shopfast.example"
USER_LIST = "s3://shopfast-data/users/user_list"
FEEDBACK_UPLOAD = "s3://shopfast-data/feedback/conformance.csv"
UNKNOWN_UPLOAD = "never-started." + "A" * 43
SIGN = "/v1/aws/s3/sign"
AWS_ENDPOINT = "{aws-endpoint}"  # the emulator's address, known once the stack runs


def sign_body(key: str, method: str = "GET") -> dict[str, Any]:
    """An Iceberg S3SignRequest for a path-style URI in shopfast-data."""
    return {
        "region": "us-east-1",
        "uri": f"{AWS_ENDPOINT}/shopfast-data/{key}",
        "method": method,
        "headers": {},
    }


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    user: str | None = ALICE
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    request_valid: bool | None = (
        None  # whether openapi.yaml's request schema accepts the body (None: no body)
    )
    timeout_seconds: float = 10.0
    fault: dict[str, Any] | None = None  # injected into the emulator for this case only

    def __str__(self) -> str:
        return self.name


CASES = [
    Case("health", "GET", "/v1/health", 200, user=None),
    Case("me", "GET", "/v1/me", 200),
    Case("me without token", "GET", "/v1/me", 401, user=None),
    Case("me with unknown parameter", "GET", "/v1/me", 400, query={"debug": "1"}),
    Case("grants", "GET", "/v1/grants", 200),
    Case(
        "grants in scope", "GET", "/v1/grants", 200, user=BOB, query={"scope": "s3://shopfast-data/users/*"}
    ),
    Case("grants bad scope", "GET", "/v1/grants", 400, query={"scope": "s3://shopfast-data/a/../*"}),
    Case("grants maxResults 0", "GET", "/v1/grants", 400, query={"maxResults": "0"}),
    Case(
        "credentials",
        "POST",
        "/v1/credentials",
        200,
        body={"target": "s3://shopfast-data/users/*", "permission": "READ"},
        request_valid=True,
    ),
    Case(
        "credentials credential_process",
        "POST",
        "/v1/credentials",
        200,
        query={"format": "credential_process"},
        body={"target": "s3://shopfast-data/feedback/*", "permission": "READWRITE", "durationSeconds": 900},
        request_valid=True,
    ),
    Case(
        "credentials denied",
        "POST",
        "/v1/credentials",
        403,
        body={"target": "s3://shopfast-data/users/*", "permission": "WRITE"},
        request_valid=True,
    ),
    Case(
        "credentials unknown field",
        "POST",
        "/v1/credentials",
        400,
        body={"target": "s3://shopfast-data/users/*", "permission": "READ", "policy": "*"},
        request_valid=False,
    ),
    Case(
        "credentials duration out of range",
        "POST",
        "/v1/credentials",
        400,
        body={"target": "s3://shopfast-data/users/*", "permission": "READ", "durationSeconds": 43201},
        request_valid=False,
    ),
    Case(
        "credentials wildcard inside",
        "POST",
        "/v1/credentials",
        400,
        body={"target": "s3://shopfast-data/us*rs/*", "permission": "READ"},
        request_valid=False,
    ),
    Case("credentials malformed JSON", "POST", "/v1/credentials", 400, body='{"target": '),
    Case(
        "credentials too large",
        "POST",
        "/v1/credentials",
        413,
        body={"target": "s3://shopfast-data/users/*", "permission": "READ", "pad": "x" * 300_000},
    ),
    Case(
        "credentials not JSON",
        "POST",
        "/v1/credentials",
        415,
        body="target=s3://shopfast-data/users/*",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "credentials without token",
        "POST",
        "/v1/credentials",
        401,
        user=None,
        body={"target": "s3://shopfast-data/users/*", "permission": "READ"},
        request_valid=True,
    ),
    Case(
        "credentials throttled upstream",
        "POST",
        "/v1/credentials",
        503,
        user=DAVE,
        body={"target": "s3://shopfast-data/products/*", "permission": "READ"},
        request_valid=True,
        fault={"operation": "GetDataAccess", "throttle": 10},
    ),
    Case(
        "credentials upstream 5xx",
        "POST",
        "/v1/credentials",
        502,
        user=DAVE,
        body={"target": "s3://shopfast-data/products/*", "permission": "WRITE"},
        request_valid=True,
        fault={"operation": "GetDataAccess", "server_error": 10},
    ),
    Case(
        "credentials out of time",
        "POST",
        "/v1/credentials",
        504,
        user=DAVE,
        body={"target": "s3://shopfast-internal/leads/*", "permission": "READ"},
        request_valid=True,
        timeout_seconds=2.0,  # less than one AWS call's budget is left: refuse before calling
    ),
    Case(
        "presign GET",
        "POST",
        "/v1/presign",
        200,
        body={"target": USER_LIST, "method": "GET", "expiresIn": 120, "filename": "users.csv"},
        request_valid=True,
    ),
    Case(
        "presign PUT",
        "POST",
        "/v1/presign",
        200,
        user=BOB,
        body={
            "target": "s3://shopfast-data/users/conformance.csv",
            "method": "PUT",
            "contentType": "text/csv",
        },
        request_valid=True,
    ),
    Case(
        "presign batch",
        "POST",
        "/v1/presign",
        200,
        body={
            "objects": [
                {"target": USER_LIST, "method": "GET"},
                {"target": "s3://shopfast-data/users/x", "method": "PUT"},
                {"target": "s3://shopfast-data/users/../x", "method": "GET"},
            ]
        },
        request_valid=True,
    ),
    Case(
        "presign denied",
        "POST",
        "/v1/presign",
        403,
        body={"target": "s3://shopfast-internal/leads/a.csv", "method": "GET"},
        request_valid=True,
    ),
    Case(
        "presign prefix target",
        "POST",
        "/v1/presign",
        400,
        body={"target": "s3://shopfast-data/users/*", "method": "GET"},
        request_valid=False,
    ),
    Case(
        "presign expiresIn too long",
        "POST",
        "/v1/presign",
        400,
        body={"target": USER_LIST, "method": "GET", "expiresIn": 3601},
        request_valid=False,
    ),
    Case(
        "presign batch too large",
        "POST",
        "/v1/presign",
        400,
        body={"objects": [{"target": USER_LIST, "method": "GET"}] * 101},
        request_valid=False,
    ),
    Case(
        "presign POST policy",
        "POST",
        "/v1/presign",
        200,
        body={"target": "s3://shopfast-data/feedback/*", "method": "POST", "maxBytes": 1024},
        request_valid=True,
    ),
    Case(
        "start upload",
        "POST",
        "/v1/uploads",
        201,
        body={"target": FEEDBACK_UPLOAD, "partCount": 3, "contentType": "text/csv"},
        request_valid=True,
    ),
    Case(
        "start upload denied",
        "POST",
        "/v1/uploads",
        403,
        user="carol@shopfast.example",
        body={"target": FEEDBACK_UPLOAD, "partCount": 1},
        request_valid=True,
    ),
    Case(
        "start upload 0 parts",
        "POST",
        "/v1/uploads",
        400,
        body={"target": FEEDBACK_UPLOAD, "partCount": 0},
        request_valid=False,
    ),
    Case(
        "part URLs for an unknown upload",
        "POST",
        "/v1/uploads/parts",
        404,
        body={"target": FEEDBACK_UPLOAD, "uploadId": UNKNOWN_UPLOAD, "partNumbers": [1]},
        request_valid=True,
    ),
    Case(
        "part URLs repeated",
        "POST",
        "/v1/uploads/parts",
        400,
        body={"target": FEEDBACK_UPLOAD, "uploadId": UNKNOWN_UPLOAD, "partNumbers": [1, 1]},
        request_valid=False,
    ),
    Case(
        "complete an unknown upload",
        "POST",
        "/v1/uploads/complete",
        404,
        body={
            "target": FEEDBACK_UPLOAD,
            "uploadId": UNKNOWN_UPLOAD,
            "parts": [{"partNumber": 1, "etag": "e"}],
        },
        request_valid=True,
    ),
    Case(
        "abort an unknown upload",
        "POST",
        "/v1/uploads/abort",
        404,
        body={"target": FEEDBACK_UPLOAD, "uploadId": UNKNOWN_UPLOAD},
        request_valid=True,
    ),
    Case("Iceberg sign GET", "POST", SIGN, 200, body=sign_body("users/user_list"), request_valid=True),
    Case(
        "Iceberg sign PUT", "POST", SIGN, 200, body=sign_body("feedback/t.parquet", "PUT"), request_valid=True
    ),
    Case("Iceberg sign denied", "POST", SIGN, 403, body=sign_body("transactions/t"), request_valid=True),
    Case("Iceberg sign bucket ACL", "POST", SIGN, 403, body=sign_body("?acl", "PUT"), request_valid=True),
    Case(
        "Iceberg sign unknown field",
        "POST",
        SIGN,
        400,
        body=sign_body("users/user_list") | {"policy": "*"},
        request_valid=False,
    ),
    Case("Iceberg sign without token", "POST", SIGN, 401, user=None, body=sign_body("users/user_list")),
    Case("objects", "GET", "/v1/objects", 200, query={"prefix": "s3://shopfast-data/users/"}),
    Case("objects denied", "GET", "/v1/objects", 403, query={"prefix": "s3://shopfast-internal/leads/"}),
    Case("objects not a folder", "GET", "/v1/objects", 400, query={"prefix": "s3://shopfast-data/users"}),
    Case(
        "objects without token", "GET", "/v1/objects", 401, user=None, query={"prefix": "s3://shopfast-data/"}
    ),
]


def validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"}, registry=REGISTRY, format_checker=FormatChecker()
    )


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (responses, headers, parameters) to its definition."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def pointer_of(node_path: list[str]) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in node_path)


@pytest.fixture(scope="module")
def service(local_stack: LocalStack) -> Iterator[LocalStack]:
    with service_configured(local_stack):
        yield local_stack


def test_the_document_is_valid_openapi_and_matches_the_template_routes() -> None:
    validate_openapi(SPEC)
    documented = {f"{method.upper()} {path}" for path, item in SPEC["paths"].items() for method in item}
    assert documented == {route.route_key for route in offline_api().routes}
    assert {case.path for case in CASES} == set(SPEC["paths"])


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_answer_conforms_to_the_document(service: LocalStack, case: Case) -> None:
    if case.request_valid is not None:
        schema_pointer = f"/paths/{pointer_of([case.path])[1:]}/{case.method.lower()}"
        request_schema = validator(f"{schema_pointer}/requestBody/content/application~1json/schema")
        assert request_schema.is_valid(case.body) is case.request_valid, (
            "openapi.yaml and the service disagree"
        )

    assert_conforms(case, invoke(service, case))


IAM_ROLE_CASES = [
    Case("me", "GET", "/v1/me", 200, user=BOB),
    Case("me without a mapped group", "GET", "/v1/me", 403, user="mallory@shopfast.example"),
    Case("grants", "GET", "/v1/grants", 200, user=BOB),
    Case(
        "credentials",
        "POST",
        "/v1/credentials",
        200,
        user=BOB,
        body={"target": USER_LIST, "permission": "WRITE"},
    ),
    Case("presign", "POST", "/v1/presign", 200, user=BOB, body={"target": USER_LIST, "method": "GET"}),
    Case(
        "objects", "GET", "/v1/objects", 200, user=BOB, query={"prefix": "s3://shopfast-data/transactions/"}
    ),
]


def test_answers_in_iam_role_mode_conform_too(local_stack: LocalStack) -> None:
    with service_configured(local_stack, IDENTITY_MODE="iam-role"):
        for case in IAM_ROLE_CASES:
            assert_conforms(case, invoke(local_stack, case))


def assert_conforms(case: Case, answer: Answer) -> None:
    assert answer.status == case.status, f"{case}: {answer.text}"
    responses = SPEC["paths"][case.path][case.method.lower()]["responses"]
    assert str(answer.status) in responses, (
        f"status {answer.status} is not documented for {case.method} {case.path}"
    )
    response = resolve(responses[str(answer.status)])
    if "content" not in response:  # 204
        assert answer.text == "", f"{case}: a body where none is documented"
    else:
        assert answer.content_type in response["content"], f"{answer.content_type} not documented"
        media_pointer = media_type_pointer(responses[str(answer.status)], case, answer)
        errors = [error.message for error in validator(media_pointer + "/schema").iter_errors(answer.body)]
        assert not errors, f"{case}: {errors}\n{answer.text[:2000]}"
    for name, header in (response.get("headers") or {}).items():
        header = resolve(header)
        value = answer.headers.get(name.lower())
        if header.get("required"):
            assert value is not None, f"required header {name} missing"
        if value is not None:
            assert Draft202012Validator(header["schema"]).is_valid(value), f"{name}: {value!r}"
    if case.path == SIGN and answer.status == 200:  # Iceberg's caching rule
        assert answer.headers.get("cache-control") == (
            "private" if case.body["method"] == "GET" else "no-cache"
        )
    else:
        assert answer.headers.get("cache-control") == "no-store"  # every response, documented or not
    assert answer.headers.get("x-content-type-options") == "nosniff"


def test_an_upload_started_then_aborted_conforms(service: LocalStack) -> None:
    started = Case("start", "POST", "/v1/uploads", 201, body={"target": FEEDBACK_UPLOAD, "partCount": 1})
    answer = invoke(service, started)
    assert_conforms(started, answer)
    upload = {"target": FEEDBACK_UPLOAD, "uploadId": answer.body["uploadId"]}
    for case in (
        Case("parts", "POST", "/v1/uploads/parts", 200, body=upload | {"partNumbers": [1]}),
        Case("abort", "POST", "/v1/uploads/abort", 204, body=upload),
    ):
        assert_conforms(case, invoke(service, case))


def media_type_pointer(response: dict[str, Any], case: Case, answer: Answer) -> str:
    media = answer.content_type.replace("/", "~1")
    if "$ref" in response:
        return f"{response['$ref'].removeprefix('#')}/content/{media}"
    path = pointer_of([case.path])[1:]
    return f"/paths/{path}/{case.method.lower()}/responses/{answer.status}/content/{media}"


def invoke(stack: LocalStack, case: Case) -> Answer:
    token = stack.token(case.user) if case.user else None
    if case.fault:
        fault = dict(case.fault)
        stack.set_fault(fault.pop("operation"), **fault)
    try:
        return call(
            case.method,
            case.path,
            token=token,
            body=json.loads(json.dumps(case.body).replace(AWS_ENDPOINT, stack.aws_endpoint)),
            query=case.query or None,
            headers=case.headers or None,
            timeout_seconds=case.timeout_seconds,
        )
    finally:
        if case.fault:
            stack.clear_faults()


def test_every_documented_error_has_a_problem_schema() -> None:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    content = resolve(response)["content"]
                    media, model = (
                        ("application/json", "IcebergError")
                        if path == SIGN
                        else ("application/problem+json", "Problem")
                    )
                    assert media in content, f"{method.upper()} {path} {status}"
                    assert json.dumps(content[media]["schema"]).count(model)

"""Hostile input: every malformed target, key, number, body or query is a 4xx problem document
(never a 5xx, never a stack trace), and nothing is created: no AWS call is made for it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.security.clients import ApiClient, DirectInvoker
from tests.security.conftest import Tokens, control_plane_calls

pytestmark = pytest.mark.security

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "requestId"}
OBJECT = "s3://shopfast-data/users/user_list"
VALID_CREDENTIALS = {"target": OBJECT, "permission": "READ"}
VALID_PRESIGN = {"target": OBJECT, "method": "GET"}
API_GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    json_body: Any = None
    raw_body: bytes | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    statuses: tuple[int, ...] = (400,)
    # An opaque upstream page token can only be judged by the service that issued it: a read-only
    # call may be made for it (and its refusal must still come back as 400).
    upstream_judges: bool = False


# Targets that are not valid grant targets, whatever the route.
BAD_TARGETS: dict[str, Any] = {
    "control-nul": "s3://shopfast-data/users/a\x00b",
    "control-soh": "s3://shopfast-data/users/a\x01b",
    "control-unit-separator": "s3://shopfast-data/users/a\x1fb",
    "control-del": "s3://shopfast-data/users/a\x7fb",
    "control-newline-at-end": "s3://shopfast-data/users/user_list\n",
    "control-crlf-header-injection": "s3://shopfast-data/users/a\r\nX-Amz-Evil: 1",
    "control-tab": "s3://shopfast-data/users/a\tb",
    "control-c1-next-line": "s3://shopfast-data/users/a\u0085b",
    "control-c1-csi": "s3://shopfast-data/users/a\u009bb",
    "dot-segment": "s3://shopfast-data/users/./user_list",
    "dotdot-segment": "s3://shopfast-data/users/../transactions/tx_0001",
    "dotdot-escaping-prefix": "s3://shopfast-data/users/../../*",
    "dotdot-final-segment": "s3://shopfast-data/users/..",
    "dot-final-segment": "s3://shopfast-data/users/.",
    "dot-segment-in-prefix": "s3://shopfast-data/./users/*",
    "empty-segment": "s3://shopfast-data/users//user_list",
    "empty-segment-in-prefix": "s3://shopfast-data/users//*",
    "leading-slash": "s3://shopfast-data//users/user_list",
    "empty-key": "s3://shopfast-data/",
    "no-key": "s3://shopfast-data",
    "wildcard-middle-segment": "s3://shopfast-data/users/*/user_list",
    "wildcard-inside-segment": "s3://shopfast-data/us*ers/user_list",
    "wildcard-first-segment": "s3://shopfast-data/*/user_list",
    "wildcard-doubled": "s3://shopfast-data/users/**",
    "wildcard-then-text": "s3://shopfast-data/users/*x",
    "key-1025-bytes": "s3://shopfast-data/users/" + "a" * (1025 - len("users/")),
    "key-over-1024-bytes-in-513-characters": "s3://shopfast-data/users/" + "é" * 510,
    "key-100k": "s3://shopfast-data/users/" + "a" * 100_000,
    "scheme-https": "https://shopfast-data.s3.amazonaws.com/users/user_list",
    "scheme-uppercase": "S3://shopfast-data/users/user_list",
    "scheme-single-slash": "s3:/shopfast-data/users/user_list",
    "scheme-arn": "arn:aws:s3:::shopfast-data/users/*",
    "scheme-s3a": "s3a://shopfast-data/users/user_list",
    "scheme-file": "file:///etc/passwd",
    "scheme-only": "s3://",
    "empty-string": "",
    "whitespace": "   ",
    "bucket-uppercase": "s3://ShopFast-Data/users/user_list",
    "bucket-underscore": "s3://shopfast_data/users/user_list",
    "bucket-too-short": "s3://ab/users/user_list",
    "bucket-ip-address": "s3://192.168.0.1/users/user_list",
    "bucket-userinfo": "s3://alice:secret@shopfast-data/users/user_list",
    "bucket-port": "s3://shopfast-data:443/users/user_list",
    "type-number": 42,
    "type-list": [OBJECT],
    "type-object": {"bucket": "shopfast-data"},
    "type-bool": True,
}
# A well-formed bucket that is not one of ours: refused as invalid (ALLOWED_BUCKETS) or denied, never more.
UNKNOWN_BUCKET = "s3://shopfast-secrets/users/user_list"


def _cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for label, target in BAD_TARGETS.items():
        cases[f"credentials-target-{label}"] = Case(
            "POST", "/v1/credentials", {**VALID_CREDENTIALS, "target": target}
        )
        cases[f"presign-target-{label}"] = Case("POST", "/v1/presign", {**VALID_PRESIGN, "target": target})
        # In queries, an empty key is the bucket root: a valid folder and scope.
        if isinstance(target, str) and "*" not in target and label != "empty-key":
            # A 100 KB query string is beyond the HTTP server's request-line limit: 414 before any Lambda.
            statuses = (400, 414) if label == "key-100k" else (400,)
            cases[f"objects-prefix-{label}"] = Case(
                "GET", "/v1/objects", query={"prefix": target}, statuses=statuses
            )
            cases[f"grants-scope-{label}"] = Case(
                "GET", "/v1/grants", query={"scope": target}, statuses=statuses
            )
    cases["credentials-target-unknown-bucket"] = Case(
        "POST", "/v1/credentials", {**VALID_CREDENTIALS, "target": UNKNOWN_BUCKET}, statuses=(400, 403)
    )
    cases["presign-target-unknown-bucket"] = Case(
        "POST", "/v1/presign", {**VALID_PRESIGN, "target": UNKNOWN_BUCKET}, statuses=(400, 403)
    )
    cases["credentials-target-missing"] = Case("POST", "/v1/credentials", {"permission": "READ"})
    cases["credentials-target-null"] = Case("POST", "/v1/credentials", {"target": None, "permission": "READ"})

    credential_fields: dict[str, dict[str, Any]] = {
        "permission-unknown": {"permission": "ADMIN"},
        "permission-lowercase": {"permission": "read"},
        "permission-padded": {"permission": "READ "},
        "permission-empty": {"permission": ""},
        "permission-number": {"permission": 1},
        "permission-list": {"permission": ["READ"]},
        "privilege-unknown": {"privilege": "Root"},
        "privilege-number": {"privilege": 0},
        "duration-below-minimum": {"durationSeconds": 899},
        "duration-above-maximum": {"durationSeconds": 43201},
        "duration-zero": {"durationSeconds": 0},
        "duration-negative": {"durationSeconds": -1},
        "duration-huge": {"durationSeconds": 10**30},
        "duration-string": {"durationSeconds": "3600"},
        "duration-float": {"durationSeconds": 3600.5},
        "duration-exponent-float": {"durationSeconds": 1e3},
        "duration-bool": {"durationSeconds": True},
        "duration-list": {"durationSeconds": [3600]},
        "target-type-unknown": {"targetType": "Bucket"},
        "target-type-object-for-prefix": {"target": "s3://shopfast-data/users/*", "targetType": "Object"},
        "target-type-number": {"targetType": 1},
        "unknown-field": {"admin": True},
        "unknown-field-case-variant": {"Target": OBJECT},
        "unknown-field-proto": {"__proto__": {"admin": True}},
    }
    for label, change in credential_fields.items():
        cases[f"credentials-{label}"] = Case("POST", "/v1/credentials", {**VALID_CREDENTIALS, **change})
    cases["credentials-format-unknown"] = Case(
        "POST", "/v1/credentials", VALID_CREDENTIALS, query={"format": "xml"}
    )
    cases["credentials-unknown-query-parameter"] = Case(
        "POST", "/v1/credentials", VALID_CREDENTIALS, query={"debug": "true"}
    )

    presign_fields: dict[str, dict[str, Any]] = {
        "method-delete": {"method": "DELETE"},
        "method-lowercase": {"method": "get"},
        "method-empty": {"method": ""},
        "method-missing": {"method": None},
        "expires-zero": {"expiresIn": 0},
        "expires-negative": {"expiresIn": -1},
        "expires-above-maximum": {"expiresIn": 3601},
        "expires-above-sigv4-limit": {"expiresIn": 604801},
        "expires-string": {"expiresIn": "60"},
        "expires-float": {"expiresIn": 1.5},
        "expires-bool": {"expiresIn": True},
        "target-prefix": {"target": "s3://shopfast-data/users/*"},
        "content-type-on-get": {"contentType": "text/plain"},
        "content-type-crlf-injection": {
            "method": "PUT",
            "contentType": "text/plain\r\nX-Amz-Acl: public-read",
        },
        "filename-on-put": {"method": "PUT", "filename": "a.txt"},
        "filename-path-traversal": {"filename": "../../etc/passwd"},
        "filename-crlf-injection": {"filename": "a.txt\r\nContent-Type: text/html"},
        "filename-nul": {"filename": "a\x00.txt"},
        "filename-too-long": {"filename": "a" * 300},
        "unknown-field": {"acl": "public-read"},
    }
    for label, change in presign_fields.items():
        body = {**VALID_PRESIGN, **change}
        cases[f"presign-{label}"] = Case(
            "POST", "/v1/presign", {k: v for k, v in body.items() if v is not None}
        )
    cases["presign-batch-over-100"] = Case("POST", "/v1/presign", {"objects": [VALID_PRESIGN] * 101})
    cases["presign-batch-not-a-list"] = Case("POST", "/v1/presign", {"objects": VALID_PRESIGN})
    cases["presign-batch-with-unknown-field"] = Case("POST", "/v1/presign", {"objects": [], "extra": 1})

    deep = "[" * 50_000 + "]" * 50_000
    for route, valid in (("/v1/credentials", VALID_CREDENTIALS), ("/v1/presign", VALID_PRESIGN)):
        name = route.rsplit("/", 1)[1]
        json_header = {"Content-Type": "application/json"}
        body_cases: dict[str, Case] = {
            "body-over-limit": Case(
                "POST", route, raw_body=json.dumps({**valid, "pad": "x" * 300_000}).encode(), statuses=(413,)
            ),
            "body-over-api-gateway-limit": Case(
                "POST",
                route,
                raw_body=b'{"pad":"' + b"x" * API_GATEWAY_PAYLOAD_LIMIT + b'"}',
                statuses=(413,),
            ),
            "content-type-text-plain": Case(
                "POST",
                route,
                raw_body=json.dumps(valid).encode(),
                headers={"Content-Type": "text/plain"},
                statuses=(400, 415),
            ),
            "content-type-form": Case(
                "POST",
                route,
                raw_body=b"target=s3%3A%2F%2Fshopfast-data%2Fusers%2Fuser_list&permission=READ",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                statuses=(400, 415),
            ),
            "content-type-xml": Case(
                "POST",
                route,
                raw_body=b"<target>s3://shopfast-data/users/user_list</target>",
                headers={"Content-Type": "application/xml"},
                statuses=(400, 415),
            ),
            "json-malformed": Case("POST", route, raw_body=b'{"target": ', headers=json_header),
            "json-array": Case("POST", route, raw_body=json.dumps([valid]).encode(), headers=json_header),
            "json-string": Case(
                "POST", route, raw_body=b'"s3://shopfast-data/users/user_list"', headers=json_header
            ),
            "json-null": Case("POST", route, raw_body=b"null", headers=json_header),
            "json-empty-body": Case("POST", route, raw_body=b"", headers=json_header),
            "json-deeply-nested": Case("POST", route, raw_body=deep.encode(), headers=json_header),
            "json-deeply-nested-object": Case(
                "POST", route, raw_body=('{"a":' * 20_000 + "1" + "}" * 20_000).encode(), headers=json_header
            ),
            "json-nan": Case(
                "POST",
                route,
                raw_body=b'{"target":"s3://shopfast-data/users/user_list","expiresIn":NaN}',
                headers=json_header,
            ),
            "json-duplicate-key": Case(
                "POST",
                route,
                raw_body=b'{"target":"s3://shopfast-data/users/user_list","target":"s3://shopfast-internal/benefits/x",'
                b'"permission":"READ","method":"GET"}',
                headers=json_header,
            ),
            "json-invalid-utf8": Case(
                "POST", route, raw_body=b'{"target":"s3://shopfast-data/users/\xff\xfe"}', headers=json_header
            ),
        }
        for label, case in body_cases.items():
            cases[f"{name}-{label}"] = case

    folder = "s3://shopfast-data/users/"
    wrapped_nesting = base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=")
    other_folder = base64.urlsafe_b64encode(b'{"p":"s3://shopfast-data/transactions/","t":"x"}').decode()
    forged_here = base64.urlsafe_b64encode(b'{"p":"s3://shopfast-data/users/","t":"forged!"}').decode()
    query_cases: dict[str, Case] = {
        "objects-prefix-missing": Case("GET", "/v1/objects"),
        "objects-prefix-without-trailing-slash": Case(
            "GET", "/v1/objects", query={"prefix": folder.rstrip("/")}
        ),
        "objects-prefix-wildcard": Case("GET", "/v1/objects", query={"prefix": "s3://shopfast-data/users/*"}),
        "objects-continuation-token-garbage": Case(
            "GET", "/v1/objects", query={"prefix": folder, "continuationToken": "!!not-a-token!!"}
        ),
        "objects-continuation-token-of-another-folder": Case(
            "GET", "/v1/objects", query={"prefix": folder, "continuationToken": other_folder.rstrip("=")}
        ),
        "objects-continuation-token-forged-for-this-folder": Case(
            "GET",
            "/v1/objects",
            query={"prefix": folder, "continuationToken": forged_here.rstrip("=")},
            upstream_judges=True,
        ),
        "objects-continuation-token-deeply-nested": Case(
            "GET", "/v1/objects", query={"prefix": folder, "continuationToken": wrapped_nesting}
        ),
        "objects-continuation-token-oversized": Case(
            "GET", "/v1/objects", query={"prefix": folder, "continuationToken": "A" * 5000}
        ),
        "objects-page-size-zero": Case("GET", "/v1/objects", query={"prefix": folder, "pageSize": "0"}),
        "objects-page-size-huge": Case("GET", "/v1/objects", query={"prefix": folder, "pageSize": "100000"}),
        "objects-page-size-text": Case("GET", "/v1/objects", query={"prefix": folder, "pageSize": "ten"}),
        "objects-page-size-unicode-digit": Case(
            "GET", "/v1/objects", query={"prefix": folder, "pageSize": "\u0661\u0660"}
        ),
        "objects-unknown-query-parameter": Case(
            "GET", "/v1/objects", query={"prefix": folder, "delimiter": ""}
        ),
        "grants-next-token-garbage": Case(
            "GET", "/v1/grants", query={"nextToken": "!!not-a-token!!"}, upstream_judges=True
        ),
        "grants-next-token-oversized": Case("GET", "/v1/grants", query={"nextToken": "A" * 5000}),
        "grants-max-results-zero": Case("GET", "/v1/grants", query={"maxResults": "0"}),
        "grants-max-results-huge": Case("GET", "/v1/grants", query={"maxResults": "1000"}),
        "grants-max-results-text": Case("GET", "/v1/grants", query={"maxResults": "ten"}),
        "grants-max-results-unicode-digit": Case("GET", "/v1/grants", query={"maxResults": "\u0661\u0660"}),
        "grants-scope-object-with-wildcard-middle": Case(
            "GET", "/v1/grants", query={"scope": "s3://shopfast-data/*/x"}
        ),
        "grants-unknown-query-parameter": Case("GET", "/v1/grants", query={"admin": "true"}),
        "me-unknown-query-parameter": Case("GET", "/v1/me", query={"admin": "true"}),
    }
    cases.update(query_cases)
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def alice_token(tokens: Tokens, api: ApiClient) -> str:
    token = tokens.issue("alice@shopfast.example")
    # Warm the identity session, so that any AWS call below can only be one the bad input caused.
    warm = api.request("POST", "/v1/credentials", token=token, json=VALID_CREDENTIALS)
    assert warm.status_code == 200, warm.text
    return token


def _send(api: ApiClient, case: Case, token: str) -> Any:
    if case.json_body is not None:
        return api.request(
            case.method, case.path, token=token, params=case.query, headers=case.headers, json=case.json_body
        )
    return api.request(
        case.method, case.path, token=token, params=case.query, headers=case.headers, data=case.raw_body
    )


def _assert_problem(status: int, headers: Any, body: str, case: Case, name: str) -> None:
    assert status in case.statuses, f"{name}: {status} {body[:300]}"
    assert "Traceback" not in body and 'File "' not in body, f"{name}: stack trace in the body"
    if status in (413, 414) and not headers.get("content-type", "").startswith("application/problem+json"):
        return  # the gateway's own limits (payload, request line) answer before any Lambda runs
    assert headers.get("content-type") == "application/problem+json", f"{name}: {headers.get('content-type')}"
    assert headers.get("cache-control") == "no-store"
    problem = json.loads(body)
    assert set(problem) == PROBLEM_FIELDS, problem
    assert problem["status"] == status and problem["detail"], problem


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_4xx_problem_and_nothing_is_created(
    name: str, api: ApiClient, alice_token: str, stack: Any
) -> None:
    case = CASES[name]
    calls_before = control_plane_calls(stack)
    response = _send(api, case, alice_token)
    _assert_problem(response.status_code, response.headers, response.text, case, name)
    if 403 not in case.statuses and not case.upstream_judges:
        assert control_plane_calls(stack) == calls_before, f"{name}: bad input reached AWS"


def test_a_batch_with_bad_items_answers_each_item_and_vends_nothing_for_them(
    api: ApiClient, alice_token: str, stack: Any
) -> None:
    bad_items = [{**VALID_PRESIGN, "target": target} for target in list(BAD_TARGETS.values())[:20]]
    response = api.request(
        "POST", "/v1/presign", token=alice_token, json={"objects": [VALID_PRESIGN, *bad_items]}
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 1 + len(bad_items)
    assert "url" in json.dumps(results[0])
    for item in results[1:]:
        problem = item.get("problem", item)
        assert problem.get("status") == 400, item


@pytest.mark.parametrize("name", ["credentials-body-over-limit", "credentials-json-deeply-nested"])
def test_the_lambda_itself_refuses_bad_bodies_without_the_gateway(
    name: str, direct: DirectInvoker, alice_token: str
) -> None:
    case = CASES[name]
    result = direct.invoke(
        case.method, case.path, token=alice_token, headers=case.headers, body=case.raw_body
    )
    _assert_problem(result.status, {k.lower(): v for k, v in result.headers.items()}, result.body, case, name)

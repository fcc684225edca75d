"""One audit record per decision, and no JWT, secret key or session token anywhere in the logs."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import pytest

from domain.audit import logger
from local.apigw_events import build_http_api_event
from local.functions import function_for, invoke
from local.stack import LocalStack

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
JWT_SHAPE = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}")
FORBIDDEN_AUDIT_FIELDS = {"token", "secretAccessKey", "sessionToken", "authorization", "url", "signature"}


class Invoker:
    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def __call__(self, method: str, path: str, token: str | None, **kwargs: Any) -> tuple[str, dict]:
        request_id = uuid.uuid4().hex
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if token:
            self.secrets.add(token)
        event = build_http_api_event(method, path, headers=headers, request_id=request_id, **kwargs)
        result = invoke(function_for(method, path), event)
        body = json.loads(result["body"]) if result.get("body") else {}
        credentials = body.get("credentials") or {}
        for name in ("secretAccessKey", "sessionToken"):
            if name in credentials:
                self.secrets.add(credentials[name])
        for name in ("SecretAccessKey", "SessionToken"):
            if name in body:
                self.secrets.add(body[name])
        return request_id, result


def audit_records(lines: list[str]) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [record for record in records if record.get("audit") is True]


def formatted_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every log record of the test, formatted exactly as the service's Powertools Logger writes it."""
    formatter = logger.registered_formatter
    return [formatter.format(record) for record in caplog.records]


def test_one_audit_record_per_decision_and_no_secret_in_any_log(
    fresh_service: LocalStack, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    invoke = Invoker()
    token = fresh_service.token(ALICE)
    read_users = {"target": "s3://shopfast-data/users/*", "permission": "READ"}
    decisions: dict[str, tuple[str, str]] = {}  # request id -> (action, outcome)

    request_id, result = invoke("POST", "/v1/credentials", token, body=read_users)
    assert result["statusCode"] == 200
    decisions[request_id] = ("vend", "granted")
    request_id, result = invoke(
        "POST", "/v1/credentials", token, body=read_users, query={"format": "credential_process"}
    )
    assert result["statusCode"] == 200
    decisions[request_id] = ("vend", "granted")
    for _ in range(2):
        request_id, result = invoke(
            "POST",
            "/v1/credentials",
            token,
            body={"target": "s3://shopfast-data/users/*", "permission": "WRITE"},
        )
        assert result["statusCode"] == 403
        decisions[request_id] = ("vend", "denied")
    fresh_service.set_fault("GetDataAccess", server_error=10)
    request_id, result = invoke(
        "POST",
        "/v1/credentials",
        token,
        body={"target": "s3://shopfast-data/feedback/*", "permission": "READ"},
    )
    assert result["statusCode"] == 502
    decisions[request_id] = ("vend", "error")
    fresh_service.clear_faults()
    request_id, result = invoke("GET", "/v1/grants", token)
    assert result["statusCode"] == 200
    decisions[request_id] = ("list-grants", "listed")
    request_id, result = invoke("GET", "/v1/me", token)
    assert result["statusCode"] == 200
    decisions[request_id] = ("describe", "described")
    # No decision: refused before any vending (bad input, bad token), or no authorization involved.
    invoke("POST", "/v1/credentials", token, body="{broken")
    invoke("POST", "/v1/credentials", token + "x", body=read_users)
    invoke("GET", "/v1/health", None)

    lines = formatted_logs(caplog)
    captured = capsys.readouterr()  # the metrics (EMF) Powertools prints
    logs = "\n".join([*lines, captured.out, captured.err])
    assert '"CloudWatchMetrics"' in captured.out
    for secret in invoke.secrets:
        assert secret not in logs
    assert not JWT_SHAPE.search(logs)

    records = audit_records(lines)
    by_request = {record["requestId"]: record for record in records}
    assert len(records) == len(by_request) == len(decisions)
    for request_id, (action, outcome) in decisions.items():
        record = by_request[request_id]
        assert (record["action"], record["outcome"]) == (action, outcome)
        assert record["subject"]
        assert not FORBIDDEN_AUDIT_FIELDS & set(record)
        if action == "vend":
            assert record["target"] and record["permission"] and record["privilege"] == "Default"
            assert isinstance(record["latencyMs"], int)
        if outcome == "granted":
            assert record["accessKeyId"].startswith("ASIA")
            assert record["matchedGrantTarget"] == "s3://shopfast-data/users/*"
            assert record["expiration"].endswith("Z")
            assert isinstance(record["cached"], bool)
    granted = [by_request[r] for r, d in decisions.items() if d == ("vend", "granted")]
    assert [record["cached"] for record in granted] == [False, True]

"""The metrics operators alarm on (docs/operations.md), as the functions write them: CloudWatch's embedded
metric format on stdout, read here line by line. A vend, a denial, AWS throttling (fault injection) and a
cold start each show up under the documented names, in the namespace and with the service the template's
parameters give, and with bounded dimensions only (never a user, a key or a target)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.handler_calls import call, service_configured

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALICE = "alice@shopfast.example"
DAVE = "dave@shopfast.example"
BOUNDED_DIMENSIONS = {"service", "operation", "code", "function_name"}


def emf_lines(text: str) -> list[dict[str, Any]]:
    documents = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metrics_of(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Each metric name, with the dimension values of every document that carries it."""
    found: dict[str, list[dict[str, str]]] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "ShopFastVending"
            names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
            assert names <= BOUNDED_DIMENSIONS, names
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).append({name: document[name] for name in names})
    return found


@pytest.fixture
def service(local_stack: LocalStack) -> Iterator[LocalStack]:
    local_stack.clear_faults()
    with service_configured(local_stack):
        yield local_stack
    local_stack.clear_faults()


def test_a_vend_a_denial_and_aws_throttling_are_counted(
    service: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    token = service.token(ALICE)
    assert (
        call(
            "POST",
            "/v1/credentials",
            token=token,
            body={"target": "s3://shopfast-data/users/*", "permission": "READ"},
        ).status
        == 200
    )
    assert (
        call(
            "POST",
            "/v1/credentials",
            token=token,
            body={"target": "s3://shopfast-data/users/*", "permission": "READ"},
        ).status
        == 200
    )
    denied = call(
        "POST",
        "/v1/credentials",
        token=token,
        body={"target": "s3://shopfast-data/users/*", "permission": "WRITE"},
    )
    assert denied.status == 403
    service.set_fault("GetDataAccess", throttle=10)
    throttled = call(
        "POST",
        "/v1/credentials",
        token=service.token(DAVE),
        body={"target": "s3://shopfast-data/products/*", "permission": "READ"},
    )
    assert throttled.status == 503

    found = metrics_of(emf_lines(capsys.readouterr().out))

    assert {
        "Vends",
        "CacheHits",
        "MemoryCacheHits",
        "Denials",
        "Responses2xx",
        "Responses4xx",
        "Responses5xx",
    } <= set(found)
    assert {"code": "access_denied", "service": "shopfast-vending"} in found["RefusalsByCode"]
    assert "UpstreamThrottles" in found
    assert {"operation": "GetDataAccess", "service": "shopfast-vending"} in found[
        "UpstreamThrottlesByOperation"
    ]
    assert "UpstreamErrors" not in found  # throttling is not counted as AWS failing
    assert all(dimensions == {"service": "shopfast-vending"} for dimensions in found["Vends"])


def test_aws_failing_is_counted_by_operation(service: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    service.set_fault("GetDataAccess", server_error=10)
    answer = call(
        "POST",
        "/v1/credentials",
        token=service.token(DAVE),
        body={"target": "s3://shopfast-data/products/*", "permission": "WRITE"},
    )
    assert answer.status == 502
    found = metrics_of(emf_lines(capsys.readouterr().out))
    assert "UpstreamErrors" in found
    assert {"operation": "GetDataAccess", "service": "shopfast-vending"} in found["UpstreamErrorsByOperation"]


def test_a_cold_start_is_counted_once_per_execution_environment(local_stack: LocalStack) -> None:
    """A fresh process, as a new execution environment: its first invocation writes ColdStart (Powertools,
    by function name), its second does not."""
    from local.functions import service_environment

    script = (
        "import json, sys\n"
        "from local.functions import function_for, invoke\n"
        "from local.apigw_events import build_http_api_event\n"
        "for _ in range(2):\n"
        "    invoke(function_for('GET', '/v1/health'), build_http_api_event('GET', '/v1/health'))\n"
    )
    environment = {
        **os.environ,
        **service_environment(local_stack.config()),
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    }
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = metrics_of(emf_lines(completed.stdout))
    # Locally the context's function name is the logical id (on Lambda, the function's physical name).
    assert found["ColdStart"] == [{"function_name": "HealthFunction", "service": "shopfast-vending"}]

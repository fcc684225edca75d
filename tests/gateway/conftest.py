"""Gateways for the gateway tests, each in its own process against the session's local stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from local.gateway import RunningGateway, serve
from local.gateway.environments import DEFAULT_CONCURRENCY
from local.stack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures"


class ProbeLog:
    """What the probe handlers recorded: one JSON line per invocation."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def request_ids(self) -> set[str]:
        return {record["requestId"] for record in self.records()}


@pytest.fixture(scope="module")
def probe_log(tmp_path_factory: pytest.TempPathFactory) -> ProbeLog:
    return ProbeLog(tmp_path_factory.mktemp("probe") / "invocations.jsonl")


@contextmanager
def probe_template_served(
    stack: LocalStack,
    logs: Path,
    *,
    probe_log: Path | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    extra_env: dict[str, str] | None = None,
    **overrides: str,
) -> Iterator[RunningGateway]:
    """tests/gateway/fixtures/template.yaml served: probe handlers behind the template's JWT authorizer,
    their calls recorded in `probe_log` (default: in `logs`)."""
    with serve(
        aws_endpoint=stack.aws_endpoint,
        template=FIXTURES / "template.yaml",
        overrides={
            "ProbeLog": str(probe_log or logs / "probe.jsonl"),
            "CorsAllowedOrigins": "https://app.example",
            **overrides,
        },
        demo=False,
        log_file=logs / "gateway.log",
        extra_env=extra_env,
        concurrency=concurrency,
    ) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def probe_gateway(
    local_stack: LocalStack, probe_log: ProbeLog, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    with probe_template_served(
        local_stack,
        tmp_path_factory.mktemp("probe-gateway"),
        probe_log=probe_log.path,
        ProbeSetting="overridden",
        CorsAllowedOrigins="https://app.shopfast.example,https://admin.shopfast.example",
    ) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def real_gateway(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """template.yaml served, exactly as `make run` serves it."""
    logs = tmp_path_factory.mktemp("real-gateway")
    with serve(aws_endpoint=local_stack.aws_endpoint, log_file=logs / "gateway.log") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only
        yield session

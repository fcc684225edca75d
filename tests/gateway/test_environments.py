"""Execution environments as Lambda runs them (`local.gateway.environments`): a process per environment,
one request at a time each, module state kept between requests, at most CONCURRENCY per function (then
requests wait, and past the integration timeout get API Gateway's 503), a crashed one replaced, and each
function's process holding only the function's own environment."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from local.gateway import RunningGateway
from local.stack import LocalStack
from tests.gateway.conftest import ProbeLog, probe_template_served

pytestmark = pytest.mark.integration


def whoami(
    http: requests.Session, gateway: RunningGateway, body: str = "", seconds: float = 0
) -> dict[str, Any]:
    answer = http.post(f"{gateway.url}/v1/whoami", params={"seconds": str(seconds)}, data=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return {**answer.json(), "requestId": answer.headers["apigw-requestid"], "sent": body}


def overlapping(answers: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of answers that one environment served at the same time (there must be none)."""
    found = []
    for first in answers:
        for second in answers:
            same_environment = first is not second and first["pid"] == second["pid"]
            if (
                same_environment
                and first["started"] < second["finished"]
                and second["started"] < first["finished"]
            ):
                found.append((first["requestId"], second["requestId"]))
    return found


@pytest.fixture(scope="module")
def narrow_gateway(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """Two environments per function at most, started from a shell that has the developer's own AWS
    profile (which no function may see)."""
    logs = tmp_path_factory.mktemp("narrow-gateway")
    developer = {"AWS_PROFILE": "the-developers-own"}
    with probe_template_served(local_stack, logs, concurrency=2, extra_env=developer) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def single_gateway(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    with probe_template_served(
        local_stack, tmp_path_factory.mktemp("single-gateway"), concurrency=1
    ) as gateway:
        yield gateway


def test_a_warm_environment_keeps_its_module_state_between_requests(
    probe_gateway: RunningGateway, http: requests.Session
) -> None:
    answers = [whoami(http, probe_gateway) for _ in range(3)]
    assert len({answer["pid"] for answer in answers}) == 1, "sequential requests take the idle environment"
    served = answers[-1]["served"]
    assert served[-3:] == [answer["requestId"] for answer in answers]


def test_concurrent_requests_each_get_an_environment_and_their_own_body(
    probe_gateway: RunningGateway, http: requests.Session
) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda n: whoami(http, probe_gateway, f"body-{n}", 0.6), range(4)))
    assert [answer["body"] for answer in answers] == [f"body-{n}" for n in range(4)]
    assert len({answer["pid"] for answer in answers}) == 4
    assert not overlapping(answers)


def test_past_the_concurrency_limit_requests_wait_for_an_idle_environment(
    narrow_gateway: RunningGateway, http: requests.Session
) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda n: whoami(http, narrow_gateway, f"b{n}", 0.5), range(6)))
    assert [answer["body"] for answer in answers] == [f"b{n}" for n in range(6)]
    assert len({answer["pid"] for answer in answers}) <= 2
    assert not overlapping(answers), "an environment served two requests at once"
    assert time.monotonic() - started >= 1.4  # six half-second requests through two environments


def test_a_function_sees_its_own_environment_and_not_the_developers_profile(
    narrow_gateway: RunningGateway, http: requests.Session
) -> None:
    assert whoami(http, narrow_gateway)["foreignProfile"] is None


def test_every_environment_busy_past_the_integration_timeout_is_api_gateways_503(
    single_gateway: RunningGateway, http: requests.Session
) -> None:
    """One environment: the first request holds it past its route's 500 ms integration timeout (503), and
    until the function's 1 s timeout ends it; a second request meanwhile finds none idle in time (503)."""
    url = f"{single_gateway.url}/v1/slow-integration"
    with ThreadPoolExecutor(max_workers=2) as pool:
        holding = pool.submit(http.get, url, params={"seconds": "3"}, timeout=30)
        time.sleep(0.1)
        waiting = pool.submit(http.get, url, params={"seconds": "0"}, timeout=30)
        assert holding.result().status_code == 503
        assert waiting.result().status_code == 503
        assert waiting.result().json() == {"message": "Service Unavailable"}
    time.sleep(1.2)  # the overrunning environment has been ended by its function timeout
    # The same function recovers: a new environment, started for this request. Asked on its route with the
    # default integration timeout, so that its Init (a fresh process) is not held to 500 ms.
    after = http.get(f"{single_gateway.url}/v1/slow", params={"seconds": "0"}, timeout=30)
    assert after.status_code == 200 and after.text == "finished"


def test_an_environment_whose_process_dies_is_replaced(
    probe_gateway: RunningGateway, probe_log: ProbeLog, http: requests.Session
) -> None:
    first = http.get(f"{probe_gateway.url}/v1/die", timeout=30)
    second = http.get(f"{probe_gateway.url}/v1/die", timeout=30)
    for answer in (first, second):
        assert answer.status_code == 500
        assert answer.json() == {"message": "Internal Server Error"}
    ran = [r["requestId"] for r in probe_log.records() if r["handler"] == "die"]
    assert first.headers["apigw-requestid"] in ran and second.headers["apigw-requestid"] in ran
    # The other functions' environments are untouched.
    assert whoami(http, probe_gateway)["pid"]


def test_the_gateway_stops_its_environments_when_it_stops(local_stack: LocalStack, tmp_path: Path) -> None:
    with probe_template_served(local_stack, tmp_path, concurrency=1) as gateway, requests.Session() as http:
        http.trust_env = False
        pid = whoami(http, gateway)["pid"]
        os.kill(pid, 0)  # alive while the gateway serves
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"execution environment {pid} outlived its gateway")

"""Several execution environments per function, as `make run` serves them: what one environment obtained
serves the others (no control-plane call), and a revocation reaches every environment within 10 s."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from domain.revocation import POLL_SECONDS
from local import revocation
from local.gateway import RunningGateway, serve
from local.stack import LocalStack

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
DAVE = "dave@shopfast.example"
USERS = "s3://shopfast-data/users/*"
PRODUCTS = "s3://shopfast-data/products/"
CONTROL_PLANE = ("CreateTokenWithIAM", "AssumeRole", "GetDataAccess", "ListCallerAccessGrants")
BURST = 24


@pytest.fixture(scope="module")
def fleet(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, Path]]:
    logs = tmp_path_factory.mktemp("shared-state-gateway")
    local_stack.clear_shared_state()
    with serve(
        aws_endpoint=local_stack.aws_endpoint,
        log_file=logs / "gateway.log",
        audit_log=logs / "audit.jsonl",
        concurrency=4,
    ) as gateway:
        yield gateway, logs / "audit.jsonl"


def post(gateway: RunningGateway, token: str, path: str, body: dict[str, Any]) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.post(
            f"{gateway.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )


def get(gateway: RunningGateway, token: str, path: str) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.get(f"{gateway.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60)


def burst(count: int, send: Any) -> list[requests.Response]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: send(), range(count)))


def test_after_one_vend_a_burst_served_by_several_environments_costs_no_control_plane_call(
    local_stack: LocalStack, fleet: tuple[RunningGateway, Path]
) -> None:
    gateway, audit_log = fleet
    token = local_stack.token(ALICE)
    body = {"target": USERS, "permission": "READ"}
    first = post(gateway, token, "/v1/credentials", body)
    assert first.status_code == 200, first.text
    local_stack.reset_stats()

    answers = burst(BURST, lambda: post(gateway, token, "/v1/credentials", body))

    assert [answer.status_code for answer in answers] == [200] * BURST, [
        a.text for a in answers if a.status_code != 200
    ]
    calls = local_stack.stats()["calls"]
    assert sum(int(calls.get(name, 0)) for name in CONTROL_PLANE) == 0, calls
    ids = {answer.headers["apigw-requestid"] for answer in answers}
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    tiers = [record.get("cacheTier") for record in records if record.get("requestId") in ids]
    assert len(tiers) == BURST
    # Environments started for the burst had nothing in memory: the shared tier answered them.
    assert "shared" in tiers, tiers


def test_make_revoke_reaches_every_environment_within_10_s_and_make_reinstate_too(
    local_stack: LocalStack, fleet: tuple[RunningGateway, Path], tmp_path: Path
) -> None:
    gateway, _ = fleet
    (tmp_path / "stack.json").write_text(json.dumps({"awsEndpoint": local_stack.aws_endpoint}))
    token = local_stack.token(DAVE)
    routes = {
        "credentials": lambda: post(
            gateway, token, "/v1/credentials", {"target": f"{PRODUCTS}*", "permission": "READ"}
        ),
        "presign": lambda: post(
            gateway, token, "/v1/presign", {"target": f"{PRODUCTS}catalog.csv", "method": "GET"}
        ),
        "grants": lambda: get(gateway, token, "/v1/grants"),
    }
    for send in routes.values():  # warm: several environments of each function know dave
        assert {answer.status_code for answer in burst(8, send)} == {200}

    assert revocation.main(["revoke", "--user", DAVE, "--state-dir", str(tmp_path)]) == 0
    revoked_at = time.monotonic()
    try:
        for name, send in routes.items():
            while True:
                statuses = {answer.status_code for answer in burst(8, send)}
                if statuses == {403}:
                    break
                assert time.monotonic() - revoked_at < 2 * POLL_SECONDS, (name, statuses)
                time.sleep(0.2)
        answer = routes["credentials"]()
        assert answer.json()["code"] == "revoked"
    finally:
        assert revocation.main(["reinstate", "--user", DAVE, "--state-dir", str(tmp_path)]) == 0
    reinstated_at = time.monotonic()
    for name, send in routes.items():
        while {answer.status_code for answer in burst(8, send)} != {200}:
            assert time.monotonic() - reinstated_at < 2 * POLL_SECONDS, name
            time.sleep(0.2)

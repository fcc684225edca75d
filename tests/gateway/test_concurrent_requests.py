"""Many users at once through the gateway as `make run` serves template.yaml: every answer is the
requester's own (their identity, their grant, their object), and every audit record carries the request
id and the subject of the request it belongs to. With all functions on threads of one process, requests
read each other's bodies and audit records took other requests' ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from local.gateway import RunningGateway, serve
from local.oidc_issuer import subject_for
from local.stack import LocalStack

pytestmark = pytest.mark.integration

# Per user: a prefix they may read (its grant is the matched grant) and an object under it.
READABLE = {
    "alice@shopfast.example": "s3://shopfast-data/users/",
    "bob@shopfast.example": "s3://shopfast-data/transactions/",
    "carol@shopfast.example": "s3://shopfast-data/products/",
    "dave@shopfast.example": "s3://shopfast-data/products/",
    "erin@shopfast.example": "s3://shopfast-internal/benefits/",
}


@dataclass(frozen=True)
class Sent:
    user: str
    kind: str
    answer: requests.Response

    @property
    def request_id(self) -> str:
        return self.answer.headers["apigw-requestid"]


@pytest.fixture(scope="module")
def audited_gateway(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, Path]]:
    logs = tmp_path_factory.mktemp("concurrent-gateway")
    with serve(
        aws_endpoint=local_stack.aws_endpoint,
        log_file=logs / "gateway.log",
        audit_log=logs / "audit.jsonl",
    ) as gateway:
        yield gateway, logs / "audit.jsonl"


def send(gateway: RunningGateway, token: str, user: str, kind: str, number: int) -> Sent:
    prefix = READABLE[user]
    headers = {"Authorization": f"Bearer {token}"}
    with requests.Session() as http:
        http.trust_env = False
        if kind == "me":
            answer = http.get(f"{gateway.url}/v1/me", headers=headers, timeout=60)
        elif kind == "grants":
            answer = http.get(f"{gateway.url}/v1/grants", headers=headers, timeout=60)
        elif kind == "credentials":
            body = {"target": f"{prefix}*", "permission": "READ"}
            answer = http.post(f"{gateway.url}/v1/credentials", json=body, headers=headers, timeout=60)
        else:
            body = {"target": f"{prefix}object-{number}.txt", "method": "GET", "filename": f"{user}-{number}"}
            answer = http.post(f"{gateway.url}/v1/presign", json=body, headers=headers, timeout=60)
    return Sent(user, kind if kind != "presign" else f"presign-{number}", answer)


def assert_own_answer(sent: Sent) -> None:
    assert sent.answer.status_code == 200, (sent.user, sent.kind, sent.answer.text)
    body: dict[str, Any] = sent.answer.json()
    prefix = READABLE[sent.user]
    if sent.kind == "me":
        assert body["email"] == sent.user and body["subject"] == subject_for(sent.user)
    elif sent.kind == "grants":
        assert f"{prefix}*" in {grant["grantScope"] for grant in body["grants"]}
    elif sent.kind == "credentials":
        assert body["matchedGrantTarget"] == f"{prefix}*"
    else:
        number = sent.kind.removeprefix("presign-")
        bucket, key = prefix.removeprefix("s3://").split("/", 1)
        assert f"/{bucket}/{key}object-{number}.txt?" in body["url"]
        assert f"{sent.user}-{number}" in requests.utils.unquote(body["url"])  # the asked file name


def test_forty_concurrent_requests_of_five_users_get_their_own_answers_and_audit_records(
    audited_gateway: tuple[RunningGateway, Path], local_stack: LocalStack
) -> None:
    gateway, audit_log = audited_gateway
    tokens = {user: local_stack.token(user) for user in READABLE}
    kinds = ("me", "grants", "credentials", "presign")
    plan = [(user, kind, n) for n in range(2) for user in READABLE for kind in kinds]  # 40 requests
    with ThreadPoolExecutor(max_workers=16) as pool:
        sent = list(pool.map(lambda p: send(gateway, tokens[p[0]], *p), plan))

    assert len(sent) == 40
    for each in sent:
        assert_own_answer(each)
    ids = [each.request_id for each in sent]
    assert len(set(ids)) == len(ids)

    records = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines() if line]
    by_request: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_request.setdefault(record["requestId"], []).append(record)
    for each in sent:
        own = by_request.get(each.request_id)
        assert own, f"no audit record for {each.kind} of {each.user}"
        assert {record["subject"] for record in own} == {subject_for(each.user)}, own
    assert set(by_request) <= set(ids), "an audit record names a request nobody sent"

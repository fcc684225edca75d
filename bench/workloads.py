"""The benchmark workloads, as sequences of API requests by demo users.

Targets are built from the access plan (terraform/access-plan.json) and the demo users
(local/demo-users.json), the same files the emulator is seeded from, so a workload cannot ask for a
grant the department table does not have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.service import Request

ROOT = Path(__file__).resolve().parent.parent
ACCESS_PLAN = ROOT / "terraform" / "access-plan.json"
DEMO_USERS = ROOT / "local" / "demo-users.json"
FRONTEND_USER = "alice@shopfast.example"


@dataclass(frozen=True)
class Grant:
    bucket: str
    prefix: str
    permission: str

    def object_target(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class Sizes:
    """How big each workload is; the documented sizes by default, tiny ones for the smoke test."""

    repeat_calls: int = 100
    frontend_presigns: int = 50
    six_users_calls: int = 600
    batch_objects: int = 100
    batch_rounds: int = 10
    upload_parts: int = 100
    multi_environment_calls: int = 600
    iceberg_signatures: int = 1000


def demo_users() -> list[str]:
    return [user["email"] for user in json.loads(DEMO_USERS.read_text())["users"]]


def grants_by_user() -> dict[str, list[Grant]]:
    """Each demo user's grants, through their directory groups."""
    plan = json.loads(ACCESS_PLAN.read_text())
    by_group: dict[str, list[Grant]] = {}
    for department in plan["departments"].values():
        by_group[department["directory_group"]] = [
            Grant(grant["bucket"], grant["prefix"], grant["permission"]) for grant in department["grants"]
        ]
    return {
        user["email"]: [grant for group in user["groups"] for grant in by_group.get(group, [])]
        for user in json.loads(DEMO_USERS.read_text())["users"]
    }


def repeat_one_user(sizes: Sizes) -> Workload:
    """(1) One user, N /v1/credentials calls for distinct objects under one grant."""
    grant = _grant_of(FRONTEND_USER, "users/")
    requests = tuple(
        Request(
            "POST /v1/credentials",
            FRONTEND_USER,
            body={"target": grant.object_target(f"bench/object-{index:05d}"), "permission": "READ"},
        )
        for index in range(sizes.repeat_calls)
    )
    return Workload("repeat_one_user", f"1 user, {sizes.repeat_calls} credentials under one grant", requests)


def frontend_session(sizes: Sizes) -> Workload:
    """(2) A page view: the user's grants, one listing, then presigned GETs for what was listed."""
    grant = _grant_of(FRONTEND_USER, "users/")
    requests = [
        Request("GET /v1/grants", FRONTEND_USER),
        Request("GET /v1/objects", FRONTEND_USER, query={"prefix": f"s3://{grant.bucket}/{grant.prefix}"}),
    ]
    requests += [
        Request(
            "POST /v1/presign",
            FRONTEND_USER,
            body={"target": grant.object_target(f"photos/img-{index:05d}.jpg"), "method": "GET"},
        )
        for index in range(sizes.frontend_presigns)
    ]
    return Workload(
        "frontend_session", f"grants, 1 listing, {sizes.frontend_presigns} presigned GETs", tuple(requests)
    )


def six_users(sizes: Sizes) -> Workload:
    """(3) The six demo users interleaved, each cycling over their grants (mallory, with none, is denied).

    READWRITE grants are asked for READ, WRITE and READWRITE in turn; each user revisits a handful of
    objects, as pages do.
    """
    users = demo_users()
    grants = grants_by_user()
    borrowed = grants[FRONTEND_USER]  # what a user without grants tries to read: denied
    requests = []
    for index in range(sizes.six_users_calls):
        user = users[index % len(users)]
        turn = index // len(users)
        own = grants[user]
        grant = (own or borrowed)[turn % len(own or borrowed)]
        permission = "READ"
        if own and grant.permission == "READWRITE":
            permission = ("READ", "WRITE", "READWRITE")[turn % 3]
        target = grant.object_target(f"bench/item-{turn % 10}")
        requests.append(
            Request("POST /v1/credentials", user, body={"target": target, "permission": permission})
        )
    return Workload("six_users", f"6 users interleaved, {sizes.six_users_calls} credentials", tuple(requests))


def batch_presign(sizes: Sizes) -> Workload:
    """(4) One batch presign of N objects across the user's two grants, repeated for a latency spread."""
    grants = grants_by_user()[FRONTEND_USER]
    objects = [
        {"target": grants[index % len(grants)].object_target(f"batch/obj-{index:05d}"), "method": "GET"}
        for index in range(sizes.batch_objects)
    ]
    requests = tuple(
        Request("POST /v1/presign", FRONTEND_USER, body={"objects": objects})
        for _ in range(sizes.batch_rounds)
    )
    return Workload(
        "batch_presign_100",
        f"{sizes.batch_rounds} x 1 batch presign of {sizes.batch_objects} objects",
        requests,
    )


def iceberg_scan(sizes: Sizes, s3_endpoint: str) -> Workload:
    """(5) An Iceberg table scan and commit through the S3 remote signer: one signature per S3 request
    (GETs and HEADs of data and metadata files, a listing, a few PUTs), as PyIceberg asks for them."""
    grant = _grant_of(FRONTEND_USER, "feedback/")
    table = f"{s3_endpoint}/{grant.bucket}/{grant.prefix}iceberg/bench.db/events"
    requests = []
    for index in range(sizes.iceberg_signatures):
        if index % 50 == 49:
            uri, method = f"{table}/metadata/{index:05d}-snap.metadata.json", "PUT"
        elif index % 50 == 48:
            uri, method = f"{s3_endpoint}/{grant.bucket}?list-type=2&prefix={grant.prefix}iceberg%2F", "GET"
        else:
            uri, method = f"{table}/data/part-{index:05d}.parquet", ("GET", "HEAD")[index % 5 == 0]
        body = {"region": "us-east-1", "uri": uri, "method": method, "headers": {"User-Agent": ["bench"]}}
        requests.append(Request("POST /v1/aws/s3/sign", FRONTEND_USER, body=body))
    return Workload(
        "iceberg_sign",
        f"{sizes.iceberg_signatures} Iceberg S3 signatures (GET/HEAD data files, listings, PUTs)",
        tuple(requests),
    )


def all_workloads(sizes: Sizes, s3_endpoint: str) -> list[Workload]:
    return [
        repeat_one_user(sizes),
        frontend_session(sizes),
        six_users(sizes),
        batch_presign(sizes),
        iceberg_scan(sizes, s3_endpoint),
    ]


def _grant_of(user: str, prefix: str) -> Grant:
    return next(grant for grant in grants_by_user()[user] if grant.prefix == prefix)

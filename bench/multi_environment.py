"""The `multi_environment` workload: the six demo users' requests spread at random over 1, 10 and 50
execution environments, with the shared cache tier off and on.

Each environment is the composition root's `ExecutionEnvironment`, built from the functions' environment
the way Lambda builds one per container: its own configuration, AWS clients, JWKS keys, revocation state
and in-memory caches (everything the service keeps between requests lives in it). The service's modules
are imported afresh once per row (`bench.service.ExecutionEnvironment`); the environments of a row share
that import and botocore's loaded models (50 copies of those would only cost memory), not their state.
What they share is the emulator's state table and KMS key, each call to them slowed by STORE_LATENCY_MS,
a realistic in-Region DynamoDB/KMS figure (the control plane keeps the run's `--latency-ms`).

Per row: control-plane calls (sso-oidc, STS, S3 Control) per request, DynamoDB and KMS calls per request,
handler time (upstream waits excluded) and wall time. Then, side by side in one environment: a request
answered from the shared tier (the environment's first for that user) and the same request answered from
memory right after. Then the revocation delay: a user revoked while 10 environments serve them, the time
until every environment refuses them, and until every one serves them again after reinstatement.
"""

from __future__ import annotations

import importlib
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import botocore.session

from adapters.shared_state import reinstate_user, revoke_user
from bench.measure import (
    KMS_OPERATIONS,
    STORE_OPERATIONS,
    Sample,
    UpstreamTimer,
    median,
    percentile,
    rounded,
    timed_call,
)
from bench.service import ExecutionEnvironment, Request, prepare, service_environment
from bench.workloads import Sizes, six_users
from domain.revocation import POLL_SECONDS, user_digest

ENVIRONMENTS = (1, 10, 50)
STORE_LATENCY_MS = 4
SEED = 20261204
SIDE_BY_SIDE_ROUNDS = 15
REVOCATION_ENVIRONMENTS = 10
REVOKED_USER = "dave@shopfast.example"
REVOKED_USERS_GRANT = "s3://shopfast-data/products/*"
GIVE_UP_SECONDS = 30.0


def measure_multi_environment(
    stack: Any,
    tokens: Mapping[str, str],
    progress: Callable[[str], None],
    *,
    requests: int,
) -> dict[str, Any]:
    workload = six_users(Sizes(six_users_calls=requests))
    timer = UpstreamTimer().install()
    for operation in STORE_OPERATIONS + KMS_OPERATIONS:
        stack.set_fault(operation, latency_ms=STORE_LATENCY_MS)
    try:
        rows = []
        for shared in (False, True):
            for environments in ENVIRONMENTS:
                progress(
                    f"  multi_environment   {environments:>2} environments, shared cache "
                    f"{'on ' if shared else 'off'} ({len(workload.requests)} requests)"
                )
                rows.append(_row(stack, workload.requests, tokens, timer, environments, shared))
        progress("  multi_environment   shared-tier hit beside memory hit; revocation delay")
        side_by_side = _shared_beside_memory(stack, tokens, timer)
        revocation = _revocation_delay(stack, tokens)
    finally:
        timer.uninstall()
        stack.clear_faults()
    return {
        "store_latency_ms": STORE_LATENCY_MS,
        "requests_per_row": len(workload.requests),
        "rows": rows,
        "shared_beside_memory": side_by_side,
        "revocation": revocation,
    }


def _fleet(stack: Any, shared: bool, count: int) -> tuple[ExecutionEnvironment, Any, list[Any]]:
    """A fresh import of the service configured for this row, and `count` environments built from it."""
    stack.clear_shared_state()
    process = ExecutionEnvironment(
        service_environment(
            stack.config(), cache_enabled=True, SHARED_CACHE="enabled" if shared else "disabled"
        )
    )
    root = importlib.import_module("composition.root")
    models = botocore.session.Session()  # loaded once per process, as in one Lambda environment
    return process, root, [root.ExecutionEnvironment.build(os.environ, models) for _ in range(count)]


def _calls(stats: Mapping[str, Any], names: tuple[str, ...]) -> int:
    return sum(int(stats["calls"].get(name, 0)) for name in names)


def _row(
    stack: Any,
    requests: tuple[Request, ...],
    tokens: Mapping[str, str],
    timer: UpstreamTimer,
    environments: int,
    shared: bool,
) -> dict[str, Any]:
    process, root, fleet = _fleet(stack, shared, environments)
    invocations = [process.bind(prepare(request, tokens)) for request in requests]
    chooser = random.Random(SEED)
    stack.reset_stats()
    samples: list[Sample] = []
    for invocation in invocations:
        root._environment = chooser.choice(fleet)
        sample, _ = timed_call(timer, invocation())
        samples.append(sample)
    stats = stack.stats()
    count = len(samples)
    handler = [sample.handler_ms for sample in samples]
    walls = [sample.wall_ms for sample in samples]
    return {
        "environments": environments,
        "shared_cache": shared,
        "requests": count,
        "control_plane_calls": int(stats["controlPlaneCalls"]),
        "control_plane_calls_per_request": round(int(stats["controlPlaneCalls"]) / count, 4),
        "dynamodb_calls_per_request": round(_calls(stats, STORE_OPERATIONS) / count, 4),
        "kms_calls_per_request": round(_calls(stats, KMS_OPERATIONS) / count, 4),
        "handler_p50_ms": rounded(percentile(handler, 50)),
        "handler_p95_ms": rounded(percentile(handler, 95)),
        "wall_p50_ms": rounded(percentile(walls, 50)),
        "wall_p95_ms": rounded(percentile(walls, 95)),
        "statuses": sorted({sample.status for sample in samples}),
    }


def _credentials_request(user: str, target: str = "s3://shopfast-data/users/*") -> Request:
    return Request("POST /v1/credentials", user, body={"target": target, "permission": "READ"})


def _shared_beside_memory(stack: Any, tokens: Mapping[str, str], timer: UpstreamTimer) -> dict[str, Any]:
    """The same request in a warm environment that has not served this user yet (answered from the shared
    tier), then again (answered from memory)."""
    process, root, (first,) = _fleet(stack, True, 1)
    alice = process.bind(prepare(_credentials_request("alice@shopfast.example"), tokens))
    warm_up = process.bind(prepare(Request("GET /v1/me", "bob@shopfast.example"), tokens))
    root._environment = first
    alice()()  # obtained from AWS once, and stored in the shared tier
    from_shared, from_memory = [], []
    for _ in range(SIDE_BY_SIDE_ROUNDS):
        root._environment = root.ExecutionEnvironment.build(os.environ, first.botocore_session)
        warm_up()()  # clients built, keys fetched, revocation list read: a warm environment
        from_shared.append(timed_call(timer, alice())[0])
        from_memory.append(timed_call(timer, alice())[0])
    return {
        "rounds": SIDE_BY_SIDE_ROUNDS,
        "shared_tier": _figures(from_shared),
        "memory": _figures(from_memory),
    }


def _figures(samples: list[Sample]) -> dict[str, Any]:
    return {
        "handler_p50_ms": rounded(median([sample.handler_ms for sample in samples])),
        "wall_p50_ms": rounded(median([sample.wall_ms for sample in samples])),
        "aws_sends_per_request": round(sum(sample.aws_sends for sample in samples) / len(samples), 2),
        "statuses": sorted({sample.status for sample in samples}),
    }


def _revocation_delay(stack: Any, tokens: Mapping[str, str]) -> dict[str, Any]:
    process, root, fleet = _fleet(stack, True, REVOCATION_ENVIRONMENTS)
    dave = process.bind(prepare(_credentials_request(REVOKED_USER, REVOKED_USERS_GRANT), tokens))

    def status_in(environment: Any) -> int:
        root._environment = environment
        return int(dave()()["statusCode"])

    statuses = [status_in(environment) for environment in fleet]
    dynamodb = stack.client("dynamodb")
    table = stack.config()["stateTable"]

    def until_every_environment(expected: int) -> float | None:
        """Seconds until every environment answers `expected`; None if one still does not after
        GIVE_UP_SECONDS (reported as a failure)."""
        started = time.monotonic()
        pending = list(fleet)
        while pending and time.monotonic() - started < GIVE_UP_SECONDS:
            pending = [environment for environment in pending if status_in(environment) != expected]
            if pending:
                time.sleep(0.05)
        return None if pending else time.monotonic() - started

    revoke_user(dynamodb, table, user_digest(REVOKED_USER), time.time())
    revoked = until_every_environment(403)
    reinstate_user(dynamodb, table, user_digest(REVOKED_USER))
    reinstated = until_every_environment(200)
    return {
        "environments": REVOCATION_ENVIRONMENTS,
        "poll_seconds": POLL_SECONDS,
        "statuses_before": sorted(set(statuses)),
        "revoked_everywhere_s": None if revoked is None else round(revoked, 2),
        "reinstated_everywhere_s": None if reinstated is None else round(reinstated, 2),
    }

"""Load: 5,000 requests from the six demo users at concurrency 16 against the gateway. No 5xx, not one
decision different from the department table (terraform/access-plan.json), memory bounded.

The expected decision of every request is computed from the access plan alone, never from the
service: a user may do `permission` on a target exactly when one grant of their department covers
the target (`prefix/*` scopes) with READWRITE or that very permission.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.gateway import RunningGateway
from tests.security.clients import ApiClient
from tests.security.conftest import ACCESS_PLAN, REPO, Tokens

pytestmark = pytest.mark.security

TOTAL_REQUESTS = 5_000
CONCURRENCY = 16
WARM_UP_REQUESTS = 500
# RSS growth allowed over the 4,500 requests after the warm-up. Caches are bounded, so a steady state
# is reached within the warm-up; what remains is allocator noise, far below this.
MAX_RSS_GROWTH_BYTES = 48 * 1024 * 1024
PERMISSIONS = ("READ", "WRITE", "READWRITE")
OUTSIDE_EVERY_GRANT = ("shopfast-data", "users-archive/")  # `prefix/*`, not `prefix*`: users/ must not match


@dataclass(frozen=True)
class Probe:
    email: str
    target: str
    permission: str
    allowed: bool
    scope: str | None  # the grant scope that must be matched when allowed


def _department_grants() -> dict[str, list[dict[str, str]]]:
    demo_users = json.loads((REPO / "local/demo-users.json").read_text())["users"]
    by_group = {dept["directory_group"]: dept["grants"] for dept in ACCESS_PLAN["departments"].values()}
    return {
        user["email"]: [g for group in user["groups"] for g in by_group.get(group, [])] for user in demo_users
    }


def _probes() -> list[Probe]:
    grants_of = _department_grants()
    prefixes = sorted({(g["bucket"], g["prefix"]) for grants in grants_of.values() for g in grants})
    prefixes.append(OUTSIDE_EVERY_GRANT)
    probes = []
    for email, grants in sorted(grants_of.items()):
        for (bucket, prefix), permission in itertools.product(prefixes, PERMISSIONS):
            for target in (f"s3://{bucket}/{prefix}load-probe.txt", f"s3://{bucket}/{prefix}*"):
                matching = [
                    g
                    for g in grants
                    if g["bucket"] == bucket
                    and f"{prefix}load-probe.txt".startswith(g["prefix"])
                    and g["permission"] in ("READWRITE", permission)
                ]
                scope = f"s3://{bucket}/{matching[0]['prefix']}*" if matching else None
                probes.append(Probe(email, target, permission, bool(matching), scope))
    return probes


PROBES = _probes()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_the_probe_set_covers_allowed_and_denied_decisions_for_every_user() -> None:
    users = {probe.email for probe in PROBES}
    assert len(users) == 6
    for email in users:
        decisions = {probe.allowed for probe in PROBES if probe.email == email}
        assert decisions == ({False} if email.startswith("mallory") else {True, False}), email


def test_five_thousand_requests_at_concurrency_16_match_the_department_table(
    api: ApiClient, gateway: RunningGateway, tokens: Tokens
) -> None:
    token_of = {email: tokens.issue(email, ttl=3600) for email in {probe.email for probe in PROBES}}
    schedule = list(itertools.islice(itertools.cycle(PROBES), TOTAL_REQUESTS))

    def send(probe: Probe) -> tuple[Probe, int, str | None]:
        response = api.request(
            "POST",
            "/v1/credentials",
            token=token_of[probe.email],
            json={"target": probe.target, "permission": probe.permission},
            timeout=60,
        )
        matched = response.json().get("matchedGrantTarget") if response.status_code == 200 else None
        return probe, response.status_code, matched

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        results = list(pool.map(send, schedule[:WARM_UP_REQUESTS]))
        rss_after_warm_up = _rss_bytes(gateway.pid)
        results += list(pool.map(send, schedule[WARM_UP_REQUESTS:]))
    rss_at_end = _rss_bytes(gateway.pid)

    assert len(results) == TOTAL_REQUESTS
    statuses = Counter(status for _, status, _ in results)
    assert not [s for s in statuses if s >= 500], f"5xx under load: {statuses}"
    wrong = [
        (probe, status, matched)
        for probe, status, matched in results
        if status != (200 if probe.allowed else 403) or (probe.allowed and matched != probe.scope)
    ]
    assert not wrong, f"{len(wrong)} decisions differ from the department table, e.g. {wrong[:5]}"
    assert statuses[200] > 0 and statuses[403] > 0, statuses
    growth = rss_at_end - rss_after_warm_up
    print(  # the figures, for whoever reads the run (pytest -rP shows them)
        f"load: {TOTAL_REQUESTS} requests, {dict(statuses)}; gateway RSS {rss_after_warm_up / 2**20:.1f} MiB "
        f"after warm-up, {rss_at_end / 2**20:.1f} MiB at the end"
    )
    assert growth < MAX_RSS_GROWTH_BYTES, f"gateway RSS grew {growth / 2**20:.1f} MiB over the run"

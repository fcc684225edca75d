"""Runs every workload twice (caches on, then the uncached reference flow) against one local stack."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.measure import Sample, UpstreamTimer, calls_by_operation, median, percentile, rounded, timed_call
from bench.service import ExecutionEnvironment, prepare, service_environment
from bench.workloads import Workload

MODES = (("cached", True), ("uncached", False))


@dataclass
class PassResult:
    """One workload in one mode: every request's sample plus the emulator's counters for the pass."""

    workload: str
    mode: str
    routes: list[str]
    samples: list[Sample]
    control_plane_calls: int
    calls_by_operation: dict[str, int]
    statuses: Counter[int] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        walls = [sample.wall_ms for sample in self.samples]
        handler = [sample.handler_ms for sample in self.samples]
        cpu = [sample.cpu_ms for sample in self.samples]
        return {
            "aws_calls": self.control_plane_calls,
            "p50_ms": rounded(percentile(walls, 50)),
            "p95_ms": rounded(percentile(walls, 95)),
            "handler_p50_ms": rounded(percentile(handler, 50)),
            "handler_p95_ms": rounded(percentile(handler, 95)),
            "handler_cpu_p50_ms": rounded(percentile(cpu, 50)),
            "requests": len(self.samples),
            "total_ms": rounded(sum(walls), 1),
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "calls_by_operation": dict(sorted(self.calls_by_operation.items())),
        }


def run_pass(
    stack: Any,
    workload: Workload,
    *,
    mode: str,
    cache_enabled: bool,
    tokens: Mapping[str, str],
    timer: UpstreamTimer,
    pace_seconds: float = 0.0,
    **environment_extra: str,
) -> PassResult:
    stack.clear_shared_state()  # one environment, as the first of a new fleet: nothing shared yet
    environment = ExecutionEnvironment(
        service_environment(stack.config(), cache_enabled=cache_enabled, **environment_extra)
    )
    invocations = [environment.bind(prepare(request, tokens)) for request in workload.requests]
    stack.reset_stats()
    samples: list[Sample] = []
    statuses: Counter[int] = Counter()
    for invocation in invocations:
        sample, _ = timed_call(timer, invocation())
        samples.append(sample)
        statuses[sample.status] += 1
        if pace_seconds:
            time.sleep(pace_seconds)
    stats = stack.stats()
    return PassResult(
        workload=workload.name,
        mode=mode,
        routes=[request.route for request in workload.requests],
        samples=samples,
        control_plane_calls=int(stats["controlPlaneCalls"]),
        calls_by_operation=calls_by_operation(stats),
        statuses=statuses,
    )


def run_workloads(
    stack: Any,
    workloads: list[Workload],
    tokens: Mapping[str, str],
    progress: Callable[[str], None],
) -> list[PassResult]:
    timer = UpstreamTimer().install()
    try:
        results = []
        for workload in workloads:
            for mode, cache_enabled in MODES:
                progress(f"  {workload.name:<20} {mode:<8} ({len(workload.requests)} requests)")
                results.append(
                    run_pass(
                        stack, workload, mode=mode, cache_enabled=cache_enabled, tokens=tokens, timer=timer
                    )
                )
        return results
    finally:
        timer.uninstall()


def workloads_section(results: list[PassResult]) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for result in results:
        entry = section.setdefault(result.workload, {})
        entry[result.mode] = result.summary()
    for entry in section.values():
        cached, uncached = entry.get("cached"), entry.get("uncached")
        if cached and uncached and cached["p50_ms"]:
            entry["speedup_p50"] = round(uncached["p50_ms"] / cached["p50_ms"], 2)
    return section


def warm_hits(results: list[PassResult]) -> dict[str, Any]:
    """Handler time of warm cache hits: cached-mode 200s during which no HTTP left the process."""

    def hits(workloads: set[str], route: str) -> list[Sample]:
        return [
            sample
            for result in results
            if result.mode == "cached" and result.workload in workloads
            for sample, sample_route in zip(result.samples, result.routes, strict=True)
            if sample_route == route and sample.status == 200 and sample.served_locally
        ]

    figures = {
        "credentials": hits({"repeat_one_user", "six_users"}, "POST /v1/credentials"),
        "presign_single": hits({"frontend_session"}, "POST /v1/presign"),
        "presign_batch_100": hits({"batch_presign_100"}, "POST /v1/presign"),
        "iceberg_sign": hits({"iceberg_sign"}, "POST /v1/aws/s3/sign"),
    }
    return {
        name: {
            "handler_p50_ms": rounded(median([sample.handler_ms for sample in samples])),
            "cpu_p50_ms": rounded(median([sample.cpu_ms for sample in samples])),
            "samples": len(samples),
        }
        for name, samples in figures.items()
    }


def warm_uncached_by_route(results: list[PassResult]) -> dict[str, float | None]:
    """Median wall time per route of the uncached passes' 200s: a warm environment without caches."""
    walls: dict[str, list[float]] = {}
    for result in results:
        if result.mode != "uncached":
            continue
        for sample, route in zip(result.samples, result.routes, strict=True):
            if sample.status == 200:
                walls.setdefault(route, []).append(sample.wall_ms)
    return {route: rounded(median(values)) for route, values in walls.items()}


def failures(results: list[PassResult]) -> list[str]:
    """Server errors make a benchmark meaningless: they are reported, and `make bench` fails."""
    return [
        f"{result.workload}/{result.mode}: {count} x HTTP {status}"
        for result in results
        for status, count in result.statuses.items()
        if status >= 500 or status == 0
    ]


# The reuse bound (CACHE_MAX_AGE_SECONDS) costs AWS calls only once an identity stays active
# longer than the bound, which no workload above does. Measured with a short bound over a few windows;
# projected to an hour of one active user at the default bound and at the credentials' own lifetime.
REUSE_BOUND_PROBE_SECONDS = 1
REUSE_BOUND_WINDOWS = 5
DEFAULT_MAX_AGE_SECONDS = 900
# Without the bound an identity session and its credentials (3600 s) are refreshed 300 s before expiry.
UNBOUNDED_REUSE_SECONDS = 3600 - 300


def measure_reuse_bound(
    stack: Any, workload: Workload, tokens: Mapping[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    requests = len(workload.requests)
    pace = REUSE_BOUND_PROBE_SECONDS * REUSE_BOUND_WINDOWS / requests
    progress(
        f"  reuse bound: {workload.name} with CACHE_MAX_AGE_SECONDS={REUSE_BOUND_PROBE_SECONDS}, "
        f"{requests} requests over {REUSE_BOUND_WINDOWS} s"
    )
    timer = UpstreamTimer().install()
    try:
        result = run_pass(
            stack,
            workload,
            mode="reuse_bound",
            cache_enabled=True,
            tokens=tokens,
            timer=timer,
            pace_seconds=pace,
            CACHE_MAX_AGE_SECONDS=str(REUSE_BOUND_PROBE_SECONDS),
        )
    finally:
        timer.uninstall()
    calls_per_window = result.control_plane_calls / REUSE_BOUND_WINDOWS
    return {
        "probe_max_age_seconds": REUSE_BOUND_PROBE_SECONDS,
        "windows": REUSE_BOUND_WINDOWS,
        "requests": requests,
        "aws_calls": result.control_plane_calls,
        "calls_by_operation": dict(sorted(result.calls_by_operation.items())),
        "aws_calls_per_window": round(calls_per_window, 2),
        "active_user_hour_aws_calls": {
            f"max_age_{DEFAULT_MAX_AGE_SECONDS}s": round(
                calls_per_window * 3600 / DEFAULT_MAX_AGE_SECONDS, 1
            ),
            "without_bound": round(calls_per_window * 3600 / UNBOUNDED_REUSE_SECONDS, 1),
        },
        "statuses": {str(status): count for status, count in sorted(result.statuses.items())},
    }


# One cold request per Region: a fresh execution environment asks for one object's credentials
# in each bucket's Region. With the bucket in BUCKET_REGIONS its Region is configuration; without it, the
# service asks S3 once (HeadBucket) before GetDataAccess.
REGION_PROBES = {
    "us-east-1": ("alice@shopfast.example", "s3://shopfast-data/users/user_list", "READ"),
    "ap-southeast-2": ("erin@shopfast.example", "s3://shopfast-internal/benefits/plans.txt", "READ"),
}


def measure_cold_request_per_region(
    stack: Any, tokens: Mapping[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    from bench.service import Request

    planned = stack.config()["bucketRegions"]
    timer = UpstreamTimer().install()
    try:
        figures: dict[str, Any] = {}
        for region, (user, target, permission) in REGION_PROBES.items():
            bucket = target.removeprefix("s3://").split("/", 1)[0]
            assert planned[bucket] == region, f"the seed put {bucket} in {planned[bucket]}, not {region}"
            workload = Workload(
                f"cold_{region}",
                f"one cold POST /v1/credentials in {region}",
                (Request("POST /v1/credentials", user, body={"target": target, "permission": permission}),),
            )
            progress(f"  one cold request in {region} (bucket planned, then not)")
            figures[region] = {}
            for case, bucket_regions in (
                ("planned", planned),
                ("unplanned", {b: r for b, r in planned.items() if b != bucket}),
            ):
                result = run_pass(
                    stack,
                    workload,
                    mode=case,
                    cache_enabled=True,
                    tokens=tokens,
                    timer=timer,
                    BUCKET_REGIONS=json.dumps(bucket_regions),
                )
                (sample,) = result.samples
                figures[region][case] = {
                    "status": sample.status,
                    "aws_calls": sum(result.calls_by_operation.values()),
                    "calls_by_operation": dict(sorted(result.calls_by_operation.items())),
                    "wall_ms": rounded(sample.wall_ms),
                }
        return figures
    finally:
        timer.uninstall()

"""The benchmark targets, checked against a result, and the table `make bench` prints."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TextIO

COLD_INIT_TARGET_MS = 300.0
PRIMED_RATIO_TARGET = 1.5
PEAK_RSS_TARGET_MB = 150.0
# RSS moves in allocator-sized steps; under one arena (1 MiB) of movement is not growth.
RSS_GROWTH_TOLERANCE_MB = 1.0


def _get(result: dict[str, Any], *path: str) -> Any:
    node: Any = result
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _target(name: str, limit: str, measured: Any, check: Callable[[Any], bool]) -> dict[str, Any]:
    met = (
        measured is not None
        and not (isinstance(measured, float) and math.isnan(measured))
        and check(measured)
    )
    return {"target": name, "limit": limit, "measured": measured, "met": bool(met)}


def evaluate_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    repeat = ("workloads", "repeat_one_user")
    regions = len(result.get("access_grants_regions") or ["one"])
    targets = [
        _target(
            "repeat_one_user cached AWS calls",
            "<= 3",
            _get(result, *repeat, "cached", "aws_calls"),
            lambda value: value <= 3,
        ),
        _target(
            "repeat_one_user uncached AWS calls",
            "= 3 per request (reference flow)",
            _get(result, *repeat, "uncached", "aws_calls"),
            lambda value: value == 3 * _get(result, *repeat, "uncached", "requests"),
        ),
        _target(
            "repeat_one_user p50 speedup",
            ">= 20x",
            _get(result, *repeat, "speedup_p50"),
            lambda value: value >= 20,
        ),
        # An unscoped grant listing asks every Access Grants Region once: the target of
        # 4 calls was set with one Region, so the limit is 3 plus one listing per Region.
        _target(
            "frontend_session cached AWS calls",
            f"<= 3 + {regions} Region listing(s)",
            _get(result, "workloads", "frontend_session", "cached", "aws_calls"),
            lambda value: value <= 3 + regions,
        ),
        _target(
            "warm hit /v1/credentials handler p50",
            "<= 1 ms",
            _get(result, "warm_hit_handler_ms", "credentials", "handler_p50_ms"),
            lambda value: value <= 1.0,
        ),
        _target(
            "warm hit single presign handler p50",
            "<= 2 ms",
            _get(result, "warm_hit_handler_ms", "presign_single", "handler_p50_ms"),
            lambda value: value <= 2.0,
        ),
        _target(
            "warm hit batch of 100 presigns handler p50",
            "<= 50 ms",
            _get(result, "warm_hit_handler_ms", "presign_batch_100", "handler_p50_ms"),
            lambda value: value <= 50.0,
        ),
        # The Iceberg signer is asked once per S3 request of a table scan: no slower than one presign.
        _target(
            "warm hit Iceberg signature handler p50",
            "<= single presign p50",
            _get(result, "warm_hit_handler_ms", "iceberg_sign", "handler_p50_ms"),
            lambda value: (
                value <= (_get(result, "warm_hit_handler_ms", "presign_single", "handler_p50_ms") or 0)
            ),
        ),
    ]
    targets += _multi_environment_targets(result)
    for module, init_ms in sorted((result.get("cold_init_ms") or {}).items()):
        targets.append(
            _target(f"cold init {module}", f"<= {COLD_INIT_TARGET_MS:.0f} ms", init_ms, lambda v: v <= 300.0)
        )
    snapstart = result.get("snapstart") or {}
    for module, ratio in sorted((snapstart.get("ratio_to_warm_uncached") or {}).items()):
        if ratio is not None:
            targets.append(
                _target(
                    f"primed 1st request {module} / warm uncached",
                    f"<= {PRIMED_RATIO_TARGET}x",
                    ratio,
                    lambda value: value <= PRIMED_RATIO_TARGET,
                )
            )
    targets.append(
        _target(
            "peak RSS after the memory workload",
            f"<= {PEAK_RSS_TARGET_MB:.0f} MB",
            result.get("peak_rss_mb"),
            lambda value: value <= PEAK_RSS_TARGET_MB,
        )
    )
    calls = _get(result, "memory", "calls") or 0
    targets.append(
        _target(
            f"RSS growth, call {calls // 2:,} -> {calls:,}",
            f"none (< {RSS_GROWTH_TOLERANCE_MB} MB)",
            result.get("rss_growth_mb"),
            lambda value: value < RSS_GROWTH_TOLERANCE_MB,
        )
    )
    return targets


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(float(numerator) / float(denominator), 3)


def _multi_environment_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {
        (row["environments"], row["shared_cache"]): row["control_plane_calls_per_request"]
        for row in _get(result, "multi_environment", "rows") or []
    }
    if not rows:
        return []
    return [
        _target(
            "control-plane calls/request, 50 environments / 1 (shared tier on)",
            "<= 1.5x",
            _ratio(rows.get((50, True)), rows.get((1, True))),
            lambda value: value <= 1.5,
        ),
        _target(
            "control-plane calls/request at 50 environments, shared tier on / off",
            "<= 0.1x",
            _ratio(rows.get((50, True)), rows.get((50, False))),
            lambda value: value <= 0.1,
        ),
    ]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_report(result: dict[str, Any], out: TextIO) -> None:
    write = out.write
    machine = result.get("machine") or {}
    write(
        f"\nMachine: {machine.get('cpu')} x {machine.get('cpus')}, Python {machine.get('python')},"
        f" load average {machine.get('loadavg_at_start')} at start, {machine.get('loadavg_at_end')} at end\n"
    )
    write(f"Upstream latency injected per AWS control-plane call: {result['upstream_latency_ms']} ms\n")
    write(
        "Times in ms; p50/p95 = wall time of the handler call; handler = wall minus upstream waits;"
        " cpu = CPU time of the invoking thread.\n\n"
    )
    header = (
        "workload",
        "mode",
        "reqs",
        "aws calls",
        "p50",
        "p95",
        "handler p50",
        "handler p95",
        "cpu p50",
        "speedup",
    )
    rows = []
    for name, entry in result["workloads"].items():
        for mode in ("cached", "uncached"):
            figures = entry.get(mode) or {}
            rows.append(
                (
                    name if mode == "cached" else "",
                    mode,
                    _fmt(figures.get("requests")),
                    _fmt(figures.get("aws_calls")),
                    _fmt(figures.get("p50_ms")),
                    _fmt(figures.get("p95_ms")),
                    _fmt(figures.get("handler_p50_ms"), 3),
                    _fmt(figures.get("handler_p95_ms"), 3),
                    _fmt(figures.get("handler_cpu_p50_ms"), 3),
                    f"{entry['speedup_p50']:.1f}x" if mode == "cached" and entry.get("speedup_p50") else "",
                )
            )
    _table(header, rows, write)

    write("\nWarm cache hits (cached passes, requests during which no HTTP left the process):\n")
    _table(
        ("request", "handler p50", "cpu p50", "samples"),
        [
            (
                name,
                _fmt(figures["handler_p50_ms"], 3),
                _fmt(figures.get("cpu_p50_ms"), 3),
                _fmt(figures["samples"]),
            )
            for name, figures in result["warm_hit_handler_ms"].items()
        ],
        write,
    )

    bound = result.get("reuse_bound")
    if bound:
        hourly = bound["active_user_hour_aws_calls"]
        write(
            f"\nReuse bound (CACHE_MAX_AGE_SECONDS): {bound['requests']} requests of one user over "
            f"{bound['windows']} windows of {bound['probe_max_age_seconds']} s cost "
            f"{bound['aws_calls']} AWS calls "
            f"({bound['aws_calls_per_window']} per window); one continuously active user per hour: "
            + ", ".join(f"{name} {calls}" for name, calls in hourly.items())
            + "\n"
        )

    regions = result.get("cold_request_per_region") or {}
    if regions:
        write(
            "\nOne cold POST /v1/credentials per Region (fresh environment; bucket in BUCKET_REGIONS or"
            " not):\n"
        )
        _table(
            ("region", "bucket", "AWS calls", "by operation", "wall ms"),
            [
                (
                    region,
                    case,
                    _fmt(figures["aws_calls"]),
                    ", ".join(f"{name} {count}" for name, count in figures["calls_by_operation"].items()),
                    _fmt(figures["wall_ms"], 1),
                )
                for region, cases in regions.items()
                for case, figures in cases.items()
            ],
            write,
        )

    uploads = result.get("uploads")
    if uploads:
        write(
            f"\nMultipart upload of {uploads['parts']} parts ({uploads['bytes'] / 2**20:.1f} MiB; start "
            f"answers {uploads['response_bytes_start'] / 1024:.0f} KiB of part URLs; the parts took "
            f"{uploads['parts_sent_seconds']} s to S3, {uploads['parts_sent_mib_per_s']} MiB/s):\n"
        )
        _table(
            ("step", "HTTP", "AWS calls", "by operation", "handler ms", "wall ms"),
            [
                (
                    step,
                    _fmt(uploads[key]["status"]),
                    _fmt(uploads[key]["aws_calls"]),
                    ", ".join(
                        f"{name} {count}" for name, count in uploads[key]["calls_by_operation"].items()
                    ),
                    _fmt(uploads[key]["handler_ms"], 2),
                    _fmt(uploads[key]["wall_ms"], 1),
                )
                for step, key in (
                    ("start, cold", "start_cold"),
                    ("start, warm", "start_warm"),
                    ("complete", "complete"),
                )
            ],
            write,
        )

    cold = result.get("cold_start") or {}
    if cold:
        write("\nCold start (fresh process per run, median):\n")
        _table(
            (
                "handler module",
                "import+init",
                "import+init cpu",
                "1st invoke",
                "1st invoke handler",
                "process",
            ),
            [
                (
                    module,
                    _fmt(figures["init_ms"], 1),
                    _fmt(figures.get("init_cpu_ms"), 1),
                    _fmt(figures["first_invoke_ms"], 1),
                    _fmt(figures["first_invoke_handler_ms"], 1),
                    _fmt(figures["process_ms"], 1),
                )
                for module, figures in cold.items()
            ],
            write,
        )

    snapstart = result.get("snapstart") or {}
    if snapstart.get("first_invoke_ms"):
        write("\nPrimed start (SnapStart: before-snapshot hooks, then the first request; median):\n")
        _table(
            ("handler module", "import+init", "priming", "1st invoke", "warm uncached", "ratio"),
            [
                (
                    module,
                    _fmt(snapstart["init_ms"][module], 1),
                    _fmt(snapstart["prime_ms"][module], 1),
                    _fmt(first, 1),
                    _fmt(snapstart["warm_uncached_ms"][module], 1),
                    _fmt(snapstart["ratio_to_warm_uncached"][module]),
                )
                for module, first in snapstart["first_invoke_ms"].items()
            ],
            write,
        )

    plugin = (result.get("peers") or {}).get("aws_access_grants_plugin") or {}
    if plugin:
        write(
            "\nPeer: AWS's aws-s3-access-grants-boto3-plugin, same emulator and latency (its time includes"
            " the S3 call it wraps; the service's is the vend alone; identity exchanges counted in both):\n"
        )
        _table(
            (
                "workload",
                "service AWS calls",
                "service p50 ms",
                "plugin AWS calls",
                "plugin p50 ms",
                "plugin p95 ms",
            ),
            [
                (
                    name,
                    _fmt(_get(result, "workloads", name, "cached", "aws_calls")),
                    _fmt(_get(result, "workloads", name, "cached", "p50_ms")),
                    _fmt(figures["aws_calls"]),
                    _fmt(figures["p50_ms"]),
                    _fmt(figures["p95_ms"]),
                )
                for name, figures in plugin.items()
            ],
            write,
        )

    model = result.get("scale_model") or {}
    if model.get("rows"):
        write(
            "\nScale model (900 s reuse bound; 1,000 active users; per-environment caches alone, then with"
            " the shared tier; see bench/scale_model.py for the assumptions):\n"
        )
        _table(
            (
                "environments",
                "requests/user/h",
                "AWS calls/h",
                "calls/request",
                "GetDataAccess/s peak",
                "cold starts/h",
                "shared: calls/req",
                "shared: GDA/s peak",
                "shared: DynamoDB/req",
                "shared: KMS/req <=",
            ),
            [
                (
                    _fmt(row["environments"]),
                    _fmt(row["requests_per_user_hour"]),
                    _fmt(row["aws_calls_per_hour"]),
                    _fmt(row["aws_calls_per_request"], 3),
                    _fmt(row["get_data_access_per_second_peak"], 1),
                    _fmt(row["cold_starts_per_hour"], 1),
                    _fmt(row["shared_tier"]["aws_calls_per_request"], 3),
                    _fmt(row["shared_tier"]["get_data_access_per_second_peak"], 1),
                    _fmt(row["shared_tier"]["dynamodb_calls_per_request"], 3),
                    _fmt(row["shared_tier"]["kms_calls_per_request_at_most"], 3),
                )
                for row in model["rows"]
                if row["active_users"] == 1_000
            ],
            write,
        )

    multi = result.get("multi_environment") or {}
    if multi:
        write(
            f"\nMany execution environments ({multi['requests_per_row']} requests of the six users spread at"
            f" random; DynamoDB and KMS calls +{multi['store_latency_ms']} ms each):\n"
        )
        _table(
            (
                "environments",
                "shared tier",
                "control plane/req",
                "DynamoDB/req",
                "KMS/req",
                "handler p50",
                "handler p95",
                "wall p50",
                "wall p95",
            ),
            [
                (
                    _fmt(row["environments"]),
                    "on" if row["shared_cache"] else "off",
                    _fmt(row["control_plane_calls_per_request"], 3),
                    _fmt(row["dynamodb_calls_per_request"], 3),
                    _fmt(row["kms_calls_per_request"], 3),
                    _fmt(row["handler_p50_ms"]),
                    _fmt(row["handler_p95_ms"]),
                    _fmt(row["wall_p50_ms"]),
                    _fmt(row["wall_p95_ms"]),
                )
                for row in multi["rows"]
            ],
            write,
        )
        shared, memory = multi["shared_beside_memory"]["shared_tier"], multi["shared_beside_memory"]["memory"]
        write(
            f"Answered from the shared tier: handler p50 {_fmt(shared['handler_p50_ms'])} ms, wall p50"
            f" {_fmt(shared['wall_p50_ms'])} ms; from memory right after: handler p50"
            f" {_fmt(memory['handler_p50_ms'])} ms, wall p50 {_fmt(memory['wall_p50_ms'])} ms\n"
        )
        revocation = multi["revocation"]
        write(
            f"Revocation: every one of {revocation['environments']} environments refused the user"
            f" {_fmt(revocation['revoked_everywhere_s'])} s after make revoke, and served them again"
            f" {_fmt(revocation['reinstated_everywhere_s'])} s after make reinstate (poll every"
            f" {_fmt(revocation['poll_seconds'], 0)} s)\n"
        )

    memory = result.get("memory") or {}
    if memory:
        peak = _fmt(result.get("peak_rss_mb"), 1)
        write(
            f"\nMemory after {memory.get('calls')} warm calls: peak RSS {peak} MB,"
            f" growth call {memory.get('calls', 0) // 2} -> {memory.get('calls')}:"
            f" {_fmt(result.get('rss_growth_mb'), 3)} MB\n"
        )

    write("\nTargets:\n")
    _table(
        ("target", "limit", "measured", ""),
        [
            (
                target["target"],
                target["limit"],
                _fmt(target["measured"], 3),
                "met" if target["met"] else "MISSED",
            )
            for target in result["targets"]
        ],
        write,
    )


def _table(header: tuple[str, ...], rows: Sequence[tuple[Any, ...]], write: Callable[[str], Any]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join("{:<%d}" % width for width in widths)  # noqa: UP031 - widths are computed
    write(line.format(*header) + "\n")
    write("  ".join("-" * width for width in widths) + "\n")
    for row in rows:
        write(line.format(*row) + "\n")


def markdown_summary(result: dict[str, Any]) -> str:
    """The figures as docs/benchmarks.md shows them (written next to latest.json)."""
    machine = result.get("machine") or {}
    lines = [
        f"Measured {result.get('generated_at')} on {machine.get('cpu')} x {machine.get('cpus')} "
        f"(Python {machine.get('python')}, load average {machine.get('loadavg_at_start')} at start), "
        f"{result['upstream_latency_ms']} ms injected per AWS control-plane call.",
        "",
        "| workload | AWS calls cached / uncached | p50 ms cached / uncached | p95 ms cached / uncached "
        "| handler p50 ms cached / uncached | speedup p50 |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in result["workloads"].items():
        cached, uncached = entry["cached"], entry["uncached"]
        lines.append(
            f"| {name} ({cached['requests']} requests) | {cached['aws_calls']} / {uncached['aws_calls']} "
            f"| {_fmt(cached['p50_ms'])} / {_fmt(uncached['p50_ms'])} "
            f"| {_fmt(cached['p95_ms'])} / {_fmt(uncached['p95_ms'])} "
            f"| {_fmt(cached['handler_p50_ms'], 3)} / {_fmt(uncached['handler_p50_ms'], 3)} "
            f"| {_fmt(entry.get('speedup_p50'), 1)}x |"
        )
    lines += ["", "| warm cache hit | handler p50 ms | CPU p50 ms | samples |", "|---|---|---|---|"]
    lines += [
        f"| {name} | {_fmt(figures['handler_p50_ms'], 3)} | {_fmt(figures.get('cpu_p50_ms'), 3)} "
        f"| {figures['samples']} |"
        for name, figures in result["warm_hit_handler_ms"].items()
    ]
    lines += [
        "",
        "| cold start (median) | import+init ms | import+init CPU ms | 1st invoke ms "
        "| 1st invoke handler ms |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {module} | {_fmt(figures['init_ms'], 1)} | {_fmt(figures.get('init_cpu_ms'), 1)} "
        f"| {_fmt(figures['first_invoke_ms'], 1)} | {_fmt(figures['first_invoke_handler_ms'], 1)} |"
        for module, figures in (result.get("cold_start") or {}).items()
    ]
    memory = result.get("memory") or {}
    series = ", ".join(f"{call}: {_fmt(mb, 1)}" for call, mb in (memory.get("rss_mb_at_call") or {}).items())
    lines += [
        "",
        f"Memory: peak RSS {_fmt(result.get('peak_rss_mb'), 1)} MB after {memory.get('calls')} warm calls;"
        f" RSS (MB) after call {series}.",
    ]
    lines += ["", "| target | limit | measured | |", "|---|---|---|---|"]
    lines += [
        f"| {target['target']} | {target['limit']} | {_fmt(target['measured'], 3)} "
        f"| {'met' if target['met'] else '**missed**'} |"
        for target in result["targets"]
    ]
    return "\n".join(lines) + "\n"

"""`make bench`: the vending path, cached vs uncached, cold start and memory, in one run.

    .venv/bin/python -m bench [--latency-ms 25] [--output bench/results/latest.json] [--quick]

Starts the local stack (emulated AWS with the injected latency per control-plane call, OIDC issuer)
on free ports, runs each workload with caches on and then with `CACHE_ENABLED=false` (the uncached
reference flow), measures cold starts and memory, prints a table and writes the JSON result. The
service's own log lines (audit records, metrics) go to `service.log` next to the result, not to the
terminal; writing them is part of the measured handler time, as in Lambda.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bench.cold_start import FIRST_REQUESTS, measure_cold_starts
from bench.memory import measure_memory
from bench.multi_environment import measure_multi_environment
from bench.peers import measure_plugin_peer
from bench.report import evaluate_targets, markdown_summary, print_report
from bench.runner import (
    failures,
    measure_cold_request_per_region,
    measure_reuse_bound,
    run_workloads,
    warm_hits,
    warm_uncached_by_route,
    workloads_section,
)
from bench.scale_model import scale_model
from bench.service import service_environment
from bench.uploads import measure_uploads
from bench.workloads import ROOT, Sizes, all_workloads, demo_users
from local.stack import LocalStack

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
QUICK_SIZES = Sizes(
    repeat_calls=6,
    frontend_presigns=3,
    six_users_calls=12,
    batch_objects=10,
    batch_rounds=2,
    upload_parts=3,
    multi_environment_calls=24,
    iceberg_signatures=20,
)
METHOD = {
    "aws_calls": "emulator counter controlPlaneCalls (sso-oidc, sts, s3control) over the pass; S3 object "
    "calls are listed per operation in calls_by_operation",
    "p50_ms/p95_ms": "nearest-rank percentiles of the in-process wall time of lambda_handler(event, context)",
    "handler_ms": "wall time minus time spent inside botocore Endpoint._send and urllib OpenerDirector.open "
    "(the upstream round trips, including the injected latency and the emulator's own work)",
    "passes": "each workload runs with caches on, then with CACHE_ENABLED=false, each pass in a fresh "
    "execution environment (service modules re-imported: empty config, clients, JWKS and caches)",
    "cold_init_ms": "median over fresh `python -c` processes of importing the handler module from the "
    "package as deployed (our modules' bytecode compiled ahead by local.package)",
    "memory": "fresh process, warm calls that never repeat a target; RSS from /proc/self/statm, peak = VmHWM "
    "of /proc/self/status; the memory pass runs against an emulator without injected latency",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=int(os.environ.get("BENCH_UPSTREAM_LATENCY_MS", "25")),
        help="latency injected per AWS control-plane call (default 25, env BENCH_UPSTREAM_LATENCY_MS)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON result goes")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per handler module (>= 5)")
    parser.add_argument("--memory-calls", type=int, default=10_000, help="warm calls of the memory pass")
    parser.add_argument(
        "--memory-tokens", type=int, default=20, help="distinct tokens per user (memory pass)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the harness works, figures mean nothing"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.cold_runs, args.memory_calls, args.memory_tokens = 1, 60, 2
    return args


@contextmanager
def service_output_to(log_path: Path) -> Iterator[TextIO]:
    """Send everything written to fd 1 (the service's log lines) to `log_path`; yield the terminal."""
    sys.stdout.flush()
    terminal_fd = os.dup(1)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
    terminal = os.fdopen(os.dup(terminal_fd), "w", buffering=1)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        os.dup2(terminal_fd, 1)
        os.close(terminal_fd)
        terminal.close()


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def run_memory(
    stack: LocalStack,
    users: list[str],
    args: argparse.Namespace,
    log_path: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The memory pass, against an emulator without injected latency (it makes thousands of AWS calls)."""
    progress(f"memory: {args.memory_calls} warm calls in a fresh process")
    tokens = {user: [stack.token(user) for _ in range(args.memory_tokens)] for user in users}
    return measure_memory(
        service_environment(stack.config(), cache_enabled=True),
        tokens,
        calls=args.memory_calls,
        log_path=log_path,
    )


def snapstart_section(primed: dict[str, Any], warm_uncached: dict[str, float | None]) -> dict[str, Any]:
    """Primed first request per handler, beside a warm uncached request of the same route (the
    target: at most 1.5x); routes no workload sends have no ratio."""
    ratios: dict[str, float | None] = {}
    for module, figures in primed.items():
        warm = warm_uncached.get(FIRST_REQUESTS[module].route)
        ratios[module] = round(figures["first_invoke_ms"] / warm, 2) if warm else None
    return {
        "first_invoke_ms": {module: figures["first_invoke_ms"] for module, figures in primed.items()},
        "first_invoke_handler_ms": {m: f["first_invoke_handler_ms"] for m, f in primed.items()},
        "prime_ms": {module: figures["prime_ms"] for module, figures in primed.items()},
        "init_ms": {module: figures["init_ms"] for module, figures in primed.items()},
        "warm_uncached_ms": {m: warm_uncached.get(FIRST_REQUESTS[m].route) for m in primed},
        "ratio_to_warm_uncached": ratios,
    }


def run(args: argparse.Namespace, terminal: TextIO, log_path: Path) -> dict[str, Any]:
    def progress(message: str) -> None:
        terminal.write(message + "\n")

    sizes = QUICK_SIZES if args.quick else Sizes()
    started = time.monotonic()
    machine_at_start = machine()
    users = demo_users()
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as state_dir:
        progress(f"starting the local stack (upstream latency {args.latency_ms} ms per AWS call)")
        with LocalStack(aws_port=0, idp_port=0, state_dir=state_dir, latency_ms=args.latency_ms) as stack:
            tokens = {user: stack.token(user) for user in users}
            progress("workloads, caches on then off:")
            workloads = all_workloads(sizes, stack.aws_endpoint)
            passes = run_workloads(stack, workloads, tokens, progress)
            reuse_bound = measure_reuse_bound(stack, workloads[0], tokens, progress)
            regions = measure_cold_request_per_region(stack, tokens, progress)
            uploads = measure_uploads(stack, tokens, progress, parts=sizes.upload_parts)
            peers = {"aws_access_grants_plugin": measure_plugin_peer(stack, workloads, tokens, progress)}
            progress("many execution environments:")
            multi = measure_multi_environment(stack, tokens, progress, requests=sizes.multi_environment_calls)
            progress("cold starts:")
            # One execution-role session serves every fresh process, plain and primed.
            cold_environment = service_environment(stack.config(), cache_enabled=True)
            cold = measure_cold_starts(
                cold_environment,
                tokens,
                runs=args.cold_runs,
                log_path=log_path,
                progress=progress,
            )
            progress("primed starts (SnapStart's hooks before the first request):")
            primed = measure_cold_starts(
                cold_environment,
                tokens,
                runs=args.cold_runs,
                log_path=log_path,
                progress=progress,
                primed=True,
            )
            if args.latency_ms == 0:
                memory = run_memory(stack, users, args, log_path, progress)
    if args.latency_ms != 0:
        with (
            tempfile.TemporaryDirectory(prefix="bench-stack-") as state_dir,
            LocalStack(aws_port=0, idp_port=0, state_dir=state_dir, latency_ms=0) as stack,
        ):
            memory = run_memory(stack, users, args, log_path, progress)
    result: dict[str, Any] = {
        "workloads": workloads_section(passes),
        "warm_hit_handler_ms": warm_hits(passes),
        "reuse_bound": reuse_bound,
        "cold_request_per_region": regions,
        "access_grants_regions": sorted(regions),
        "uploads": uploads,
        "multi_environment": multi,
        "cold_init_ms": {module: figures["init_ms"] for module, figures in cold.items()},
        "cold_start": cold,
        "snapstart": snapstart_section(primed, warm_uncached_by_route(passes)),
        "scale_model": None,  # below, from the figures above
        "peers": peers,
        "peak_rss_mb": round(memory["peak_rss_mb"], 3),
        "rss_growth_mb": memory["rss_growth_mb"],
        "memory": memory,
        "upstream_latency_ms": args.latency_ms,
        "machine": machine_at_start | {"loadavg_at_end": [round(load, 2) for load in os.getloadavg()]},
        "failures": failures(passes)
        + [
            f"{kind} start {module}: first request answered HTTP {status}"
            for kind, starts in (("cold", cold), ("primed", primed))
            for module, figures in starts.items()
            for status in figures["first_invoke_statuses"]
            if status >= 500
        ]
        + [
            f"cold request in {region} ({case}): HTTP {figures['status']}"
            for region, cases in regions.items()
            for case, figures in cases.items()
            if figures["status"] != 200
        ]
        + [
            f"uploads: {step} answered HTTP {uploads[step]['status']}"
            for step, expected in (("start_cold", 201), ("start_warm", 201), ("complete", 200))
            if uploads[step]["status"] != expected
        ]
        + (
            []
            if uploads["stored_bytes"] == uploads["bytes"]
            else [f"uploads: S3 holds {uploads['stored_bytes']} bytes, not the {uploads['bytes']} sent"]
        )
        + [
            f"multi_environment: {row['environments']} environments, shared cache {row['shared_cache']}: "
            f"HTTP {status}"
            for row in multi["rows"]
            for status in row["statuses"]
            if status >= 500
        ]
        + [
            f"multi_environment: revocation {step} did not reach every environment within 30 s"
            for step in ("revoked_everywhere_s", "reinstated_everywhere_s")
            if multi["revocation"][step] is None
        ]
        + [
            f"reuse bound: {count} x HTTP {status}"
            for status, count in reuse_bound["statuses"].items()
            if int(status) >= 500
        ]
        + [
            f"memory: {count} x HTTP {status}"
            for status, count in memory["statuses"].items()
            if not status.isdigit() or int(status) >= 500
        ],
        "method": METHOD,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
    }
    result["scale_model"] = scale_model(result)
    result["targets"] = evaluate_targets(result)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The Access Grants plugin (a peer) logs through logging.debug(), which installs a stderr handler on
    # the root logger the first time (logging.basicConfig); the service's audit records would then be
    # echoed to the terminal. A root handler of our own makes that a no-op.
    logging.root.addHandler(logging.NullHandler())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.output.parent / "service.log"
    log_path.write_bytes(b"")
    with service_output_to(log_path) as terminal:
        result = run(args, terminal, log_path)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        args.output.with_suffix(".md").write_text(markdown_summary(result))
        print_report(result, terminal)
        terminal.write(f"\nwrote {args.output} in {result['duration_s']} s (service log: {log_path})\n")
        for failure in result["failures"]:
            terminal.write(f"FAILED REQUESTS: {failure}\n")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())

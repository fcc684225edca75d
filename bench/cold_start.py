"""Cold start: a fresh `python -c` process imports and initialises one handler module, then serves one
request. Import + init is what Lambda bills as the Init phase for our code; the first invocation (JWKS
fetch, boto3 client creation, a cold cache) is measured separately, with and without upstream waits.

The handler is imported from the package as `make deploy` ships it: our modules compiled to bytecode
ahead (`local.package`; Lambda cannot write `__pycache__` in /var/task), the dependencies from the
virtual environment, which pip compiled when it installed them.

Primed (SnapStart): the same, but after the import the registered before-snapshot hooks run, then the
after-restore ones (as Lambda runs them around the snapshot), and only then is the first request timed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.measure import median, rounded
from bench.service import Request, prepare
from bench.workloads import ROOT
from local.functions import functions, handler_module
from local.package import compile_tree

# Runs in the fresh process. Nothing of the service, boto3 or bench is imported before the clock starts.
CHILD = """
import importlib, json, sys, time
cpu_started, started = time.process_time(), time.perf_counter()
module = importlib.import_module(sys.argv[1])
init_ms = (time.perf_counter() - started) * 1000.0
init_cpu_ms = (time.process_time() - cpu_started) * 1000.0
from bench.measure import UpstreamTimer, timed_call
from local.functions import functions, lambda_context
with open(sys.argv[2]) as event_file:
    event = json.load(event_file)
prime_ms = 0.0
if sys.argv[5] == "primed":
    import snapshot_restore_py
    primed = time.perf_counter()
    for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
        hook(*args, **kwargs)
    prime_ms = (time.perf_counter() - primed) * 1000.0
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():
        hook(*args, **kwargs)
context = lambda_context(functions()[sys.argv[4]])
timer = UpstreamTimer().install()
sample, _ = timed_call(timer, lambda: module.lambda_handler(event, context))
with open(sys.argv[3], "w") as out:
    json.dump({"init_ms": init_ms, "init_cpu_ms": init_cpu_ms, "prime_ms": prime_ms,
               "first_invoke_ms": sample.wall_ms, "first_invoke_handler_ms": sample.handler_ms,
               "status": sample.status}, out)
"""

FIRST_REQUESTS: dict[str, Request] = {
    "handlers.health": Request("GET /v1/health", "alice@shopfast.example"),
    "handlers.identity": Request("GET /v1/me", "alice@shopfast.example"),
    "handlers.credentials": Request(
        "POST /v1/credentials",
        "alice@shopfast.example",
        body={"target": "s3://shopfast-data/users/user_list", "permission": "READ"},
    ),
    "handlers.presign": Request(
        "POST /v1/presign",
        "alice@shopfast.example",
        body={"target": "s3://shopfast-data/users/user_list", "method": "GET"},
    ),
    "handlers.objects": Request(
        "GET /v1/objects", "alice@shopfast.example", query={"prefix": "s3://shopfast-data/users/"}
    ),
    # A first upload: the binding key (Secrets Manager), the identity, CreateMultipartUpload, 3 part URLs.
    "handlers.uploads": Request(
        "POST /v1/uploads",
        "alice@shopfast.example",
        body={"target": "s3://shopfast-data/feedback/cold-start.bin", "partCount": 3},
    ),
}


def measure_cold_starts(
    environment: Mapping[str, str],
    tokens: Mapping[str, str],
    *,
    runs: int,
    log_path: Path,
    progress: Callable[[str], None],
    primed: bool = False,
) -> dict[str, Any]:
    """Median over `runs` fresh processes per handler module (`primed`: SnapStart's hooks run first)."""
    function_of_module = {handler_module(function): function.logical_id for function in functions().values()}
    per_module: dict[str, list[dict[str, float]]] = {module: [] for module in function_of_module}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch, log_path.open("ab") as log:
        package = Path(scratch) / "package"
        shutil.copytree(ROOT / "src", package, ignore=shutil.ignore_patterns("__pycache__"))
        compile_tree(package)
        child_env = {**os.environ, **environment, "PYTHONPATH": f"{package}{os.pathsep}{ROOT}"}
        for module, function_name in function_of_module.items():
            progress(f"  {'primed' if primed else 'cold'} start {module} x {runs}")
            event_path = Path(scratch) / f"{module}.json"
            event_path.write_text(json.dumps(prepare(FIRST_REQUESTS[module], tokens).event))
            for run in range(runs):
                result_path = Path(scratch) / f"{module}-{run}.out.json"
                started = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CHILD,
                        module,
                        str(event_path),
                        str(result_path),
                        function_name,
                        "primed" if primed else "plain",
                    ],
                    env=child_env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=log,
                    check=True,
                    timeout=120,
                )
                figures = json.loads(result_path.read_text())
                figures["process_ms"] = (time.perf_counter() - started) * 1000.0
                per_module[module].append(figures)
    return {
        module: {
            name: rounded(median([run[name] for run in runs_of_module]))
            for name in (
                "init_ms",
                "init_cpu_ms",
                "prime_ms",
                "first_invoke_ms",
                "first_invoke_handler_ms",
                "process_ms",
            )
        }
        | {"first_invoke_statuses": sorted({int(run["status"]) for run in runs_of_module}), "runs": runs}
        for module, runs_of_module in per_module.items()
    }

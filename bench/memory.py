"""Memory: resident set size of one warm execution environment over N calls.

A child process (`python -m bench.memory spec.json out.json`) holds only the service and this loop.
Calls rotate over the six demo users (several tokens each) and never repeat a target, so the caches
keep receiving new keys and only their bounds keep memory flat (see `memory_request`). RSS is read
every 1,000 calls (`rss_growth_mb` = RSS at the last call - RSS at the middle one) and the peak
is the address space's high-water mark (VmHWM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.service import Request
from bench.workloads import ROOT, grants_by_user


def memory_request(index: int, users: list[str], grants: Mapping[str, list[Any]]) -> Request:
    """The index-th call of the memory workload.

    Users take turns. A user with grants spends one turn in six on a target never asked before under
    a grant (alternately credentials with Privilege Minimal, whose scope is the object itself, so each
    is a new entry of that user's credential cache; and a presign served from the cached Default grant)
    and the other five on a target never asked before outside their grants (a new denial-cache entry).
    Mallory, with no grants, is always denied. New denials arrive fast enough that the denial cache
    (the largest bound, 4,096 entries) is full before call 5,000, so growth after that is a leak.
    """
    user = users[index % len(users)]
    turn = index // len(users)
    own = grants[user]
    own_scopes = {(grant.bucket, grant.prefix) for grant in own}
    foreign = [
        grant for other in users for grant in grants[other] if (grant.bucket, grant.prefix) not in own_scopes
    ]
    if not own or turn % 6:
        denied = foreign[turn % len(foreign)].object_target(f"mem/denied-{index}")
        return Request("POST /v1/credentials", user, body={"target": denied, "permission": "READ"})
    target = own[(turn // 6) % len(own)].object_target(f"mem/obj-{index}")
    if (turn // 6) % 2:
        return Request("POST /v1/presign", user, body={"target": target, "method": "GET"})
    return Request(
        "POST /v1/credentials", user, body={"target": target, "permission": "READ", "privilege": "Minimal"}
    )


def child_main(spec_path: str, out_path: str) -> None:
    from bench.measure import current_rss_mb, peak_rss_mb
    from bench.service import ExecutionEnvironment, prepare

    spec = json.loads(Path(spec_path).read_text())
    environment = ExecutionEnvironment(os.environ)
    users = list(spec["tokens"])
    grants = grants_by_user()
    calls, middle = spec["calls"], spec["calls"] // 2
    statuses: dict[str, int] = {}
    rss: dict[str, float] = {}
    for index in range(calls):
        request = memory_request(index, users, grants)
        user_tokens = spec["tokens"][request.user]
        token = user_tokens[(index // len(users)) % len(user_tokens)]
        response = environment.bind(prepare(request, {request.user: token}))()()
        status = str(response.get("statusCode"))
        statuses[status] = statuses.get(status, 0) + 1
        if index + 1 in (1, middle, calls) or (index + 1) % 1000 == 0:
            rss[str(index + 1)] = round(current_rss_mb(), 3)
    Path(out_path).write_text(
        json.dumps(
            {"rss_mb_at_call": rss, "peak_rss_mb": peak_rss_mb(), "statuses": statuses, "calls": calls}
        )
    )


def measure_memory(
    environment: Mapping[str, str], tokens: Mapping[str, list[str]], *, calls: int, log_path: Path
) -> dict[str, Any]:
    child_env = {**os.environ, **environment, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch, log_path.open("ab") as log:
        spec_path, out_path = Path(scratch) / "spec.json", Path(scratch) / "out.json"
        spec_path.write_text(json.dumps({"tokens": tokens, "calls": calls}))
        subprocess.run(
            [sys.executable, "-m", "bench.memory", str(spec_path), str(out_path)],
            env=child_env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
            check=True,
            # ~11 minutes on the 2-core machine unloaded: each call also reads and writes the emulator's
            # DynamoDB (the shared tier), which moto serves at ~40 operations a second.
            timeout=2400,
        )
        result: dict[str, Any] = json.loads(out_path.read_text())
    at = result["rss_mb_at_call"]
    result["rss_growth_mb"] = round(at[str(calls)] - at[str(calls // 2)], 3)
    return result


if __name__ == "__main__":
    child_main(sys.argv[1], sys.argv[2])

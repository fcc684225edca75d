"""Emulator start-up time and GetDataAccess calls per second (one thread, one cached identity session).

    .venv/bin/python -m bench.emulator_throughput [--seconds 10] [--starts 3]

Start-up is process start → `READY` (both servers listening, everything seeded), measured by
`LocalStack`. Throughput is a plain boto3 s3control client (standard retries, no faults, no added
latency) calling GetDataAccess back to back with the identity-aware session of one demo user.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from local.stack import LocalStack  # noqa: E402
from tests.emulator.helpers import ACCOUNT_ID, identity_session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to call GetDataAccess")
    parser.add_argument("--starts", type=int, default=3, help="how many cold starts to time")
    args = parser.parse_args()

    startups = []
    for _ in range(args.starts - 1):
        with tempfile.TemporaryDirectory() as state_dir, LocalStack(state_dir=state_dir) as stack:
            startups.append(stack.startup_seconds)
    with tempfile.TemporaryDirectory() as state_dir, LocalStack(state_dir=state_dir) as stack:
        startups.append(stack.startup_seconds)
        keys = identity_session(stack, "alice@shopfast.example")
        s3control = stack.client(
            "s3control", credentials=keys, retries={"mode": "standard", "total_max_attempts": 3}
        )
        calls = 0
        latencies = []
        deadline = time.perf_counter() + args.seconds
        while (now := time.perf_counter()) < deadline:
            s3control.get_data_access(
                AccountId=ACCOUNT_ID,
                Target="s3://shopfast-data/users/user_list",
                Permission="READ",
                TargetType="Object",
            )
            latencies.append(time.perf_counter() - now)
            calls += 1
        served = stack.stats()["calls"].get("GetDataAccess", 0)

    print(f"emulator start-up (process start -> READY, seeded), {len(startups)} runs:")
    print(
        f"  median {statistics.median(startups):.2f} s, min {min(startups):.2f} s, max {max(startups):.2f} s"
    )
    print(f"GetDataAccess, 1 thread, {args.seconds:.0f} s: {calls} calls ({served} counted by the emulator)")
    print(
        f"  {calls / sum(latencies):.0f} calls/s; latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {statistics.quantiles(latencies, n=20)[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()

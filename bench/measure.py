"""Measurement utilities: upstream wait accounting, percentiles, resident memory (Linux /proc).

Handler time excludes upstream waits. The method: every HTTP round trip the service makes is timed
where it leaves the process (botocore's `Endpoint._send`, which sends the request and reads the whole
response body; and `urllib.request.OpenerDirector.open`, used for the issuer's JWKS) and summed per
request; handler time = wall time of `lambda_handler(event, context)` minus that sum. What remains is
our own work plus botocore's serialising, signing and parsing, which is real Lambda CPU time.
The invoking thread's CPU time is recorded too: on a shared, busy machine wall time also counts the
time this process waited for a core, CPU time does not.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The shared tier's calls (the state table and its key): reported apart from the AWS calls the caches
# spare (`bench.multi_environment` measures them).
STORE_OPERATIONS = ("GetItem", "Query", "PutItem", "DeleteItem")
KMS_OPERATIONS = ("GenerateDataKey", "Decrypt")


def calls_by_operation(stats: Mapping[str, Any]) -> dict[str, int]:
    """The emulator's call counts per operation, without the shared tier's (DynamoDB, KMS)."""
    shared_tier = STORE_OPERATIONS + KMS_OPERATIONS
    return {
        name: int(count)
        for name, count in sorted(stats["calls"].items())
        if count and name not in shared_tier
    }


@dataclass
class UpstreamAccount:
    """What one measured stretch of code spent waiting on upstream HTTP."""

    seconds: float = 0.0
    aws_sends: int = 0
    other_sends: int = 0


@dataclass
class UpstreamTimer:
    """Patches the two places the service's HTTP leaves the process; accounts per thread."""

    _local: threading.local = field(default_factory=threading.local)
    _restore: list[Callable[[], None]] = field(default_factory=list)

    def install(self) -> UpstreamTimer:
        import urllib.request

        import botocore.endpoint

        self._wrap(botocore.endpoint.Endpoint, "_send", aws=True)
        self._wrap(urllib.request.OpenerDirector, "open", aws=False)
        return self

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()

    def _wrap(self, owner: type, name: str, *, aws: bool) -> None:
        original = getattr(owner, name)
        local = self._local

        def timed(*args: Any, **kwargs: Any) -> Any:
            account: UpstreamAccount | None = getattr(local, "account", None)
            if account is None or getattr(local, "inside", False):
                return original(*args, **kwargs)
            local.inside = True  # a nested send (urllib inside urllib) is counted once
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                account.seconds += time.perf_counter() - started
                if aws:
                    account.aws_sends += 1
                else:
                    account.other_sends += 1
                local.inside = False

        setattr(owner, name, timed)
        self._restore.append(lambda: setattr(owner, name, original))

    @contextmanager
    def account(self) -> Iterator[UpstreamAccount]:
        account = UpstreamAccount()
        self._local.account = account
        try:
            yield account
        finally:
            self._local.account = None


@dataclass(frozen=True)
class Sample:
    """One measured handler invocation."""

    wall_ms: float
    cpu_ms: float  # CPU time of the invoking thread: immune to upstream waits and to other processes
    upstream_ms: float
    aws_sends: int
    other_sends: int
    status: int

    @property
    def handler_ms(self) -> float:
        return max(self.wall_ms - self.upstream_ms, 0.0)

    @property
    def served_locally(self) -> bool:
        """No HTTP left the process: a warm cache hit (or a request answered without upstream help)."""
        return self.aws_sends == 0 and self.other_sends == 0


def timed_call(timer: UpstreamTimer, call: Callable[[], dict[str, Any]]) -> tuple[Sample, dict[str, Any]]:
    with timer.account() as account:
        cpu_started = time.thread_time()
        started = time.perf_counter()
        response = call()
        wall = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started
    sample = Sample(
        wall_ms=wall * 1000.0,
        cpu_ms=cpu * 1000.0,
        upstream_ms=account.seconds * 1000.0,
        aws_sends=account.aws_sends,
        other_sends=account.other_sends,
        status=int(response.get("statusCode", 0)),
    )
    return sample, response


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a latency that really happened)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def current_rss_mb() -> float:
    """Resident set size now (/proc/self/statm), in MiB."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def peak_rss_mb() -> float:
    """Peak resident set size of this process's address space (VmHWM), in MiB.

    Not getrusage: Linux carries ru_maxrss across execve, so a child spawned by a big parent would
    report the parent's peak; VmHWM belongs to the address space the child built for itself.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmHWM missing from /proc/self/status")


def rounded(value: float, digits: int = 3) -> float | None:
    return None if math.isnan(value) else round(value, digits)

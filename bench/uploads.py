"""The upload workload: AWS calls and handler time for starting a multipart upload of N parts
(one presigned URL each) and for completing it.

One execution environment, two uploads by the same user: the first starts cold (identity session and
credentials fetched: the calls a new user pays) and is aborted; the second starts warm, its N parts go to S3
through the presigned URLs (5 MiB each, S3's minimum, the last one 1 KiB; their time is S3's, not the
service's, and is reported apart), then it is completed and the stored object checked.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import requests

from bench.measure import Sample, UpstreamTimer, calls_by_operation, rounded, timed_call
from bench.service import ExecutionEnvironment, Request, prepare, service_environment

USER = "alice@shopfast.example"
FOLDER = "s3://shopfast-data/feedback/bench-uploads/"
PART_BYTES = 5 * 1024 * 1024
LAST_PART_BYTES = 1024


def measure_uploads(
    stack: Any, tokens: Mapping[str, str], progress: Callable[[str], None], *, parts: int
) -> dict[str, Any]:
    progress(f"  uploads: start a {parts}-part upload cold, then warm, send the parts, complete")
    environment = ExecutionEnvironment(service_environment(stack.config(), cache_enabled=True))
    timer = UpstreamTimer().install()
    try:

        def invoke(route: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            invocation = environment.bind(prepare(Request(route, USER, body=body), tokens))()
            stack.reset_stats()
            sample, response = timed_call(timer, invocation)
            return _figures(sample, stack.stats()), json.loads(response.get("body") or "null")

        cold_target = f"{FOLDER}cold-{uuid.uuid4().hex[:8]}.bin"
        cold, started = invoke("POST /v1/uploads", {"target": cold_target, "partCount": parts})
        invoke("POST /v1/uploads/abort", {"target": cold_target, "uploadId": started["uploadId"]})

        target = f"{FOLDER}warm-{uuid.uuid4().hex[:8]}.bin"
        warm, started = invoke("POST /v1/uploads", {"target": target, "partCount": parts})
        sent_at = time.perf_counter()
        done = _send_parts(started["parts"], parts)
        send_seconds = time.perf_counter() - sent_at
        complete, completed = invoke(
            "POST /v1/uploads/complete",
            {"target": target, "uploadId": started["uploadId"], "parts": done},
        )
    finally:
        timer.uninstall()
    size = (parts - 1) * PART_BYTES + LAST_PART_BYTES
    stored = _stored_size(stack, target)
    return {
        "parts": parts,
        "bytes": size,
        "start_cold": cold,
        "start_warm": warm,
        "complete": complete,
        "response_bytes_start": len(json.dumps(started)),
        "parts_sent_seconds": round(send_seconds, 2),
        "parts_sent_mib_per_s": round(size / 2**20 / send_seconds, 1) if send_seconds else None,
        "stored_bytes": stored,
        "etag": (completed or {}).get("etag"),
    }


def _figures(sample: Sample, stats: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": sample.status,
        "handler_ms": rounded(sample.handler_ms),
        "wall_ms": rounded(sample.wall_ms),
        # S3's calls included (the emulator's control-plane counter leaves S3 out).
        "aws_calls": sum(calls_by_operation(stats).values()),
        "calls_by_operation": calls_by_operation(stats),
    }


def _send_parts(urls: list[dict[str, Any]], parts: int) -> list[dict[str, Any]]:
    chunk = os.urandom(PART_BYTES)
    done = []
    with requests.Session() as http:
        http.trust_env = False
        for part in urls:
            body = chunk if part["partNumber"] < parts else chunk[:LAST_PART_BYTES]
            answer = http.put(part["url"], data=body, timeout=60)
            answer.raise_for_status()
            done.append({"partNumber": part["partNumber"], "etag": answer.headers["ETag"]})
    return done


def _stored_size(stack: Any, target: str) -> int | None:
    bucket, key = target.removeprefix("s3://").split("/", 1)
    try:
        return int(stack.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"])
    except Exception:
        return None

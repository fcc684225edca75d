"""Observability: the Logger, Metrics and Tracer of the service, and the audit record.

One audit record per decision (vend, denial, listing, upload started, completed or aborted). It never
holds the JWT, a secret access key, a session token or a URL signature: only the access key id identifies
vended credentials.

Records name the user (the token's `sub`, the directory user id or the source identity, which is derived
from the user claim: an email address by default). A deployment that must not keep those in its logs sets
`AuditUserIdentifier: digest` (template.yaml): each of those fields is then written as a keyed digest
(HMAC-SHA-256 under the secret AUDIT_PSEUDONYM_SECRET names), which joins one user's records and which only
holders of the key can link back to a person (docs/operations.md, "Naming users by digest").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from domain.errors import AccessDenied, RefusedAsNotFound, ServiceError

if TYPE_CHECKING:
    import msgspec.json

# The deployment names both (template.yaml's ServiceName and MetricsNamespace parameters, through
# Powertools' own variables); these are the defaults of those parameters, for a run without them.
SERVICE_NAME = os.getenv("POWERTOOLS_SERVICE_NAME") or "shopfast-vending"
METRICS_NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE") or "ShopFastVending"


@cache
def _log_encoder() -> msgspec.json.Encoder:
    """Log lines are written by msgspec (Powertools' own json.dumps is 3-4 times slower, and every
    presigned URL writes an audit record), and a message is never parsed as JSON (Powertools tries, for
    messages that are JSON strings; none of ours is, and the failed attempt costs an exception per line).

    Imported at the first log line: the health function writes none unless it fails, and every other
    function has imported msgspec for its contract by then."""
    import msgspec.json

    return msgspec.json.Encoder(enc_hook=str)


def _log_line(record: dict[str, Any]) -> str:
    return _log_encoder().encode(record).decode()


def _message_as_is(message: Any) -> Any:
    return message


logger = Logger(service=SERVICE_NAME, json_serializer=_log_line, json_deserializer=_message_as_is)
audit_logger = Logger(service=SERVICE_NAME, child=True)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def _tracing_enabled() -> bool:
    # Powertools' own rule: traces only inside Lambda (not SAM local), unless POWERTOOLS_TRACE_DISABLED.
    # Outside it the X-Ray recorder would still be built at import (it creates boto3 clients: ~0.5 s).
    disabled = os.getenv("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in {"true", "1", "yes", "on"}
    return bool(os.getenv("LAMBDA_TASK_ROOT")) and not os.getenv("AWS_SAM_LOCAL") and not disabled


tracer: Tracer | None = Tracer(service=SERVICE_NAME) if _tracing_enabled() else None

AUDIT_FIELDS = frozenset(
    {
        "action",
        "outcome",
        "subject",
        "identity",
        "directoryUserId",
        "sourceIdentity",
        "purpose",
        "target",
        "permission",
        "requestedPermission",
        "privilege",
        "matchedGrantTarget",
        "expiration",
        "accessKeyId",
        "cached",
        "cacheTier",  # where a cached answer came from: memory, or the shared tier
        "sharedCache",  # "unavailable": the shared tier failed during this decision (vending went on)
        "uploadId",  # S3's UploadId: not a secret (the caller's uploadId adds the MAC binding it to them)
        "uploadIdDigest",  # the caller's uploadId by digest: never the MAC itself
        "partCount",
        "s3Operation",  # the S3 operation the Iceberg signer signed (GetObject, ListObjectsV2, ...)
        "targetCount",  # how many keys that operation touches (DeleteObjects: every key of its body)
        "maxBytes",
        "status",
        "code",
        "latencyMs",
    }
)


# The fields that name the user; `identity` is an unkeyed digest of the issuer, subject and user claim, which
# anyone can recompute from a guessed email address, so it is keyed too.
USER_FIELDS = ("subject", "identity", "directoryUserId", "sourceIdentity")
PSEUDONYM_PREFIX = "hmac-sha256:"

# The key of the user fields' digests, or None to write them as they are: one per process, as Lambda runs
# one execution environment per process (set by the composition root once it has read the key).
_pseudonym_key: bytes | None = None


def name_users_by_digest(key: bytes | None) -> None:
    """From now on, write the user fields as digests under `key` (None: as they are)."""
    global _pseudonym_key
    _pseudonym_key = key


def pseudonym(key: bytes, value: str) -> str:
    """The digest a record holds in place of `value`: 128 bits of HMAC-SHA-256, so an investigator holding
    the key finds a user's records by computing it from their email address (docs/operations.md)."""
    return PSEUDONYM_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def audit(action: str, outcome: str, **fields: Any) -> dict[str, Any]:
    """Write one audit record (`audit: true`, the request id as correlation id) and return it."""
    unknown = fields.keys() - AUDIT_FIELDS
    if unknown:
        # A programming error, caught by tests: an unexpected field could carry a secret.
        raise ValueError(f"not an audit field: {sorted(unknown)}")
    record: dict[str, Any] = {"audit": True, "action": action, "outcome": outcome}
    record.update({key: value for key, value in fields.items() if value is not None})
    key = _pseudonym_key
    if key is not None:
        for name in USER_FIELDS:
            if name in record:
                record[name] = pseudonym(key, str(record[name]))
    record["requestId"] = logger.get_correlation_id()
    audit_logger.info("audit", extra=record)
    return record


class Decision:
    """One audited decision: exactly one audit record, written when the `with` block ends.

    Fields known at the start are given here, more are added as they are learnt (`add`), and the block
    states its outcome with `record`. A `ServiceError` leaving the block is recorded as `denied` (403, or a
    refusal worded as 404: `RefusedAsNotFound`) or `error` with its status and code, then goes on; anything
    else is the unhandled-error log's to report. `metrics` names the metric each outcome counts
    (`granted`/`denied`/`error`...), if any."""

    def __init__(self, action: str, *, metrics: Mapping[str, str] | None = None, **fields: Any) -> None:
        self._action = action
        self._metrics = metrics or {}
        self._fields = fields
        self._outcome: str | None = None
        self._started = time.perf_counter()

    def add(self, **fields: Any) -> None:
        self._fields.update(fields)

    def record(self, outcome: str, **fields: Any) -> None:
        self._outcome = outcome
        self._fields.update(fields)

    def __enter__(self) -> Decision:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        latency_ms = round((time.perf_counter() - self._started) * 1000)
        if isinstance(error, ServiceError):
            outcome = "denied" if isinstance(error, (AccessDenied, RefusedAsNotFound)) else "error"
            self._fields.update(status=error.status, code=error.code)
        elif error is None:
            if self._outcome is None:
                raise RuntimeError(f"the {self._action} decision ended without an outcome")
            outcome = self._outcome
        else:
            return
        if outcome in self._metrics:
            count(self._metrics[outcome])
        if isinstance(error, ServiceError) and outcome == "denied":
            count("RefusalsByCode", code=error.code)
        audit(self._action, outcome, latencyMs=latency_ms, **self._fields)


def count(name: str, value: float = 1, **dimension: str) -> None:
    """One count. Without `dimension`: in the invocation's metric set (dimension `service`), flushed once
    at the end of the invocation. With one (an AWS operation, a refusal's code: bounded values only, never
    a user, a key or a target): a metric of its own with `service` and that dimension, written at once;
    kept for rare events (upstream failures, refusals), as each is a log line."""
    if not dimension:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": SERVICE_NAME},
    ) as metric:
        for key, dimension_value in dimension.items():
            metric.add_dimension(name=key, value=dimension_value)


def record_latency(operation: str, milliseconds: float) -> None:
    metrics.add_metric(name=f"Upstream{operation}Latency", unit=MetricUnit.Milliseconds, value=milliseconds)

"""Observability: the Logger, Metrics and Tracer of the service, and the audit record.

One audit record per decision (vend, denial, listing). It never holds the JWT, a secret access key, a
session token or a URL signature: only the access key id identifies vended credentials.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE_NAME = "shopfast-vending"
METRICS_NAMESPACE = "ShopFastVending"

logger = Logger(service=SERVICE_NAME)
audit_logger = Logger(service=SERVICE_NAME, child=True)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)

AUDIT_FIELDS = (
    "action",
    "outcome",
    "subject",
    "identity",
    "target",
    "permission",
    "privilege",
    "matchedGrantTarget",
    "expiration",
    "accessKeyId",
    "cached",
    "status",
    "code",
    "latencyMs",
)


def audit(action: str, outcome: str, **fields: Any) -> dict[str, Any]:
    """Write one audit record (`audit: true`, the request id as correlation id) and return it."""
    unknown = set(fields) - set(AUDIT_FIELDS)
    if unknown:
        # A programming error, caught by tests: an unexpected field could carry a secret.
        raise ValueError(f"not an audit field: {sorted(unknown)}")
    record: dict[str, Any] = {"audit": True, "action": action, "outcome": outcome}
    record.update({key: value for key, value in fields.items() if value is not None})
    record["requestId"] = logger.get_correlation_id()
    audit_logger.info("audit", extra=record)
    return record


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def record_latency(operation: str, milliseconds: float) -> None:
    metrics.add_metric(name=f"Upstream{operation}Latency", unit=MetricUnit.Milliseconds, value=milliseconds)

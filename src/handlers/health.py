"""GET /v1/health: no authentication, no AWS call."""

from __future__ import annotations

from edge.http import build_lambda_handler, create_resolver

SERVICE_VERSION = "0.1.0"

app = create_resolver()


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok", "version": SERVICE_VERSION}


lambda_handler = build_lambda_handler(app)

"""POST /v1/credentials: S3 credentials scoped by S3 Access Grants (JSON, or `?format=credential_process`)."""

from __future__ import annotations

from typing import Any

import lib.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from lib.auth import authenticate
from lib.config import GET_DATA_ACCESS_MIN_DURATION, load_config
from lib.http import Fields, build_lambda_handler, create_resolver, json_body, query_fields
from lib.targets import MAX_TARGET_CHARS, parse_target
from lib.vending import PERMISSIONS, PRIVILEGES, TARGET_TYPES, CredentialRequest, vend_credentials

app = create_resolver()
REQUEST_FIELDS = ("target", "permission", "privilege", "durationSeconds", "targetType", "role")


@app.post("/v1/credentials")
def credentials() -> dict[str, Any]:
    config = load_config()
    caller = authenticate(app.current_event.headers, config)
    query = query_fields(app, "format")
    output = query.string("format", choices=("json", "credential_process")) or "json"
    body = Fields(json_body(app), allowed=REQUEST_FIELDS)
    request = CredentialRequest(
        target=parse_target(
            body.string("target", required=True, max_length=MAX_TARGET_CHARS), config.allowed_buckets
        ),
        permission=str(body.string("permission", required=True, choices=PERMISSIONS)),
        privilege=body.string("privilege", choices=PRIVILEGES) or "Default",
        duration_seconds=body.integer(
            "durationSeconds", minimum=GET_DATA_ACCESS_MIN_DURATION, maximum=config.max_duration_seconds
        ),
        target_type=body.string("targetType", choices=TARGET_TYPES),
        role=body.string("role", max_length=2048),
    )
    result = vend_credentials(caller, request)
    return result.to_credential_process() if output == "credential_process" else result.to_json()


lambda_handler = build_lambda_handler(app)

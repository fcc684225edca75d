"""GET /v1/objects: a folder's objects and sub-folders, listed with READ credentials vended for it."""

from __future__ import annotations

from typing import Any

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from domain.objects import list_folder
from edge.http import build_lambda_handler, create_resolver
from edge.requests.objects import parse_list_request

app = create_resolver()


@app.get("/v1/objects")
def objects() -> dict[str, Any]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    request = parse_list_request(app.current_event.query_string_parameters or {}, env.config)
    return list_folder(caller, request, service=env.service)


lambda_handler = build_lambda_handler(app)

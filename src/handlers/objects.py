"""GET /v1/objects: a folder's objects and sub-folders, listed with READ credentials vended for it."""

from __future__ import annotations

from typing import Any

import lib.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from lib.auth import authenticate
from lib.config import load_config
from lib.http import build_lambda_handler, create_resolver
from lib.objects import list_folder, parse_list_request
from lib.vending import get_service

app = create_resolver()


@app.get("/v1/objects")
def objects() -> dict[str, Any]:
    config = load_config()
    caller = authenticate(app.current_event.headers, config)
    request = parse_list_request(app.current_event.query_string_parameters or {}, config)
    return list_folder(caller, request, service=get_service())


lambda_handler = build_lambda_handler(app)

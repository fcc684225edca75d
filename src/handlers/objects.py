"""GET /v1/objects: a folder's objects and sub-folders, listed with READ credentials vended for it."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from domain.objects import list_folder
from edge import responses
from edge.http import build_lambda_handler, create_resolver
from edge.requests.objects import parse_list_request

app = create_resolver()


@app.get("/v1/objects")
def objects() -> Response[str]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    request = parse_list_request(app.current_event.query_string_parameters or {}, env.config)
    return responses.json_answer(responses.folder(list_folder(caller, request, service=env.service)))


lambda_handler = build_lambda_handler(app)

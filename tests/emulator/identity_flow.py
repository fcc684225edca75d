"""Helpers of the Identity Center / STS tests: the real exchange through boto3, and a model contract check.

`capture_raw` records each raw response body before botocore parses it, so a test can assert that
every field the emulator sent is one botocore's service model knows (the parser would drop the rest
silently) and that the parsed response carries the fields the test needs.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from botocore.model import Shape

from local.stack import LocalStack
from tests.emulator.helpers import JWT_BEARER, client_app_keys


def exchange(
    stack: LocalStack, assertion: str, *, signer: dict[str, str] | None = None, **kwargs: Any
) -> dict:
    """CreateTokenWithIAM for the seeded application, signed by the client-application role by default."""
    oidc = stack.client("sso-oidc", credentials=signer or client_app_keys(stack))
    params = {"clientId": stack.config()["applicationArn"], "grantType": JWT_BEARER, "assertion": assertion}
    return oidc.create_token_with_iam(**{**params, **kwargs})


def capture_raw(client: Any) -> list[dict[str, Any]]:
    """Record `{"operation", "status", "body"}` for each response the client receives."""
    seen: list[dict[str, Any]] = []

    def record(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        seen.append(
            {
                "operation": operation_model,
                "status": response_dict["status_code"],
                "body": response_dict["body"],
            }
        )

    client.meta.events.register("before-parse", record)
    return seen


def _json_outside_model(value: Any, shape: Shape | None, path: str) -> list[str]:
    if shape is None:
        return [path]
    if shape.type_name == "structure" and not shape.metadata.get("document"):
        if not isinstance(value, dict):
            return [f"{path} (not an object)"]
        problems = []
        for key, member in value.items():
            problems += _json_outside_model(member, shape.members.get(key), f"{path}.{key}")
        return problems
    if shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{path} (not a list)"]
        return [
            p for i, item in enumerate(value) for p in _json_outside_model(item, shape.member, f"{path}[{i}]")
        ]
    return []  # scalars, documents and maps: botocore parses any value of them


def _xml_outside_model(element: ElementTree.Element, shape: Shape | None, path: str) -> list[str]:
    if shape is None:
        return [path]
    if shape.type_name != "structure":
        return []
    by_wire_name = {m.serialization.get("name", name): m for name, m in shape.members.items()}
    problems = []
    for child in element:
        name = child.tag.rsplit("}", 1)[-1]
        problems += _xml_outside_model(child, by_wire_name.get(name), f"{path}.{name}")
    return problems


def fields_outside_model(raw: dict[str, Any]) -> list[str]:
    """Fields of a raw successful response that the operation's output shape does not define."""
    operation = raw["operation"]
    protocol = operation.metadata["protocol"]
    if protocol in ("json", "rest-json"):
        body = json.loads(raw["body"] or b"{}")
        if operation.output_shape is None:  # operations without output answer an empty object
            return [] if body == {} else ["$"]
        return _json_outside_model(body, operation.output_shape, "$")
    root = ElementTree.fromstring(raw["body"])  # noqa: S314 - the emulator's reply in a test
    result = next(iter(root), None)  # <XResult> then <ResponseMetadata>
    return _xml_outside_model(result, operation.output_shape, "$") if result is not None else []

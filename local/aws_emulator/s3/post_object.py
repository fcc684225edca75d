"""POST Object (browser-based uploads): the form's policy evaluated the way S3 evaluates it.

moto stores a POST upload without reading its policy, and neither moto nor botocore evaluates POST
policies (botocore only writes them), so this module does, after `core.signing` has checked the signature
with botocore's `S3SigV4PostAuth`. Sources, S3 API reference:
- "POST Policy": `expiration` (ISO 8601; the upload is refused after it) and `conditions`: exact matches
  (`{"field": "value"}` or `["eq", "$field", "value"]`), `["starts-with", "$field", "prefix"]` (`""` matches
  anything; a `Content-Type` holding a comma-separated list must match in every element),
  `["content-length-range", min, max]`; "each form field that you specify in a form (except
  x-amz-signature, file, policy, and field names that have an x-ignore- prefix) must appear in the list of
  conditions";
- "Browser-Based Uploads Using POST" / "POST Object": the `key` field (`${filename}` becomes the file's
  name), `success_action_status` (200, 201 with a `PostResponse` document, otherwise 204) and
  `success_action_redirect` (303 to it, with `bucket`, `key` and `etag` added to its query);
- "Error responses": `EntityTooLarge`/`EntityTooSmall` (with `ProposedSize` and `MaxSizeAllowed`/
  `MinSizeAllowed`), `InvalidPolicyDocument`, `AccessDenied` "Invalid according to Policy: …".
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree as ET

from moto.core.request import Request
from moto.s3.models import s3_backends
from moto.s3.utils import metadata_from_headers
from werkzeug.wrappers import Response

from local.aws_emulator.core import moto_models
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.signing import post_fields
from local.aws_emulator.s3 import exceptions

# Fields the policy need not name (S3 API reference, "POST Policy", Conditions).
UNCONDITIONED = {"x-amz-signature", "file", "policy"}
UNCONDITIONED_PREFIX = "x-ignore-"


@dataclass(frozen=True)
class PostUpload:
    bucket: str
    fields: dict[str, str]  # by lower-cased name, the file excluded
    content: bytes
    filename: str

    @property
    def key(self) -> str:
        return self.fields["key"].replace("${filename}", self.filename)


def read(request: Request, bucket: str) -> PostUpload:
    """The upload a POST form carries, or S3's refusal of a form without a key or a file."""
    fields = post_fields(request)
    upload = request.files.get("file")
    if upload is not None:
        content, filename = upload.read(), upload.filename or ""
    elif "file" in fields:  # "the file or text content": a text field serves as the object's data
        content, filename = fields["file"].encode(), ""
    else:
        raise exceptions.invalid_argument("POST requires exactly one file upload per request.")
    fields.pop("file", None)
    if "key" not in fields:
        raise exceptions.invalid_argument(
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of "
            "the fields."
        )
    return PostUpload(bucket, fields, content, filename)


@dataclass(frozen=True)
class _Condition:
    operator: str  # "eq", "starts-with" or "content-length-range"
    field: str  # lower-cased, without "$"
    value: Any
    written: Any  # as the policy wrote it, for the refusal's message

    def holds(self, upload: PostUpload) -> bool:
        if self.operator == "content-length-range":
            return True  # judged on the file's size, after every other condition
        sent = upload.bucket if self.field == "bucket" else upload.fields.get(self.field)
        if self.operator == "eq":
            answer: bool = sent == self.value
            return answer
        values = (sent or "").split(",") if self.field == "content-type" else [sent or ""]
        return all(value.strip().startswith(self.value) for value in values)


def _invalid(detail: str) -> EmulatorError:
    return exceptions.invalid_policy_document(f"Invalid Policy: {detail}")


def _conditions(document: dict[str, Any]) -> list[_Condition]:
    conditions = document.get("conditions")
    if not isinstance(conditions, list):
        raise _invalid("Policy missing conditions.")
    parsed = []
    for written in conditions:
        if isinstance(written, dict) and len(written) == 1:
            ((name, value),) = written.items()
            if not isinstance(value, str):
                raise _invalid("Invalid Simple-Condition: value must be a string.")
            parsed.append(_Condition("eq", name.lower().lstrip("$"), value, written))
        elif isinstance(written, list) and len(written) == 3 and written[0] == "content-length-range":
            low, high = written[1], written[2]
            if not all(isinstance(limit, int) and limit >= 0 for limit in (low, high)):
                raise _invalid("Invalid content-length-range: limits must be non-negative integers.")
            parsed.append(_Condition("content-length-range", "", (low, high), written))
        elif (
            isinstance(written, list)
            and len(written) == 3
            and written[0] in ("eq", "starts-with")
            and isinstance(written[1], str)
            and written[1].startswith("$")
            and isinstance(written[2], str)
        ):
            parsed.append(_Condition(written[0], written[1][1:].lower(), written[2], written))
        else:
            raise _invalid(f"Invalid Condition: {json.dumps(written)}")
    return parsed


def _document(policy: str | None) -> dict[str, Any]:
    if policy is None:
        raise exceptions.invalid_argument("Bucket POST must contain a field named 'policy'.")
    try:
        document = json.loads(base64.b64decode(policy, validate=True))
    except (binascii.Error, ValueError) as error:
        raise _invalid("Invalid JSON.") from error
    if not isinstance(document, dict):
        raise _invalid("Invalid JSON.")
    return document


def _expiration(document: dict[str, Any]) -> datetime:
    written = document.get("expiration")
    if not isinstance(written, str):
        raise _invalid("Policy missing expiration.")
    try:
        moment = datetime.fromisoformat(written.replace("Z", "+00:00"))
    except ValueError as error:
        raise _invalid(f"Invalid 'expiration' value: '{written}'") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_policy(upload: PostUpload, now: datetime) -> None:
    """Refuse the upload as S3 would if its policy does not allow it; returns quietly when it does."""
    document = _document(upload.fields.get("policy"))
    expiration = _expiration(document)
    conditions = _conditions(document)
    if now > expiration:
        raise exceptions.access_denied("Invalid according to Policy: Policy expired.")
    for condition in conditions:
        if not condition.holds(upload):
            raise exceptions.access_denied(
                f"Invalid according to Policy: Policy Condition failed: {json.dumps(_as_list(condition))}"
            )
    named = {condition.field for condition in conditions}
    extra = sorted(
        name
        for name in upload.fields
        if name not in named and name not in UNCONDITIONED and not name.startswith(UNCONDITIONED_PREFIX)
    )
    if extra:
        raise exceptions.access_denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
    size = len(upload.content)
    for condition in conditions:
        if condition.operator != "content-length-range":
            continue
        low, high = condition.value
        if size > high:
            raise exceptions.entity_too_large(size, high)
        if size < low:
            raise exceptions.entity_too_small(size, low)


def _as_list(condition: _Condition) -> list[Any]:
    if isinstance(condition.written, dict):
        return ["eq", f"${condition.field}", condition.value]
    return list(condition.written)


def store(upload: PostUpload) -> Any:
    """Keep the object as moto's PutObject would, with the form's metadata fields (x-amz-meta-*,
    Content-Type, Cache-Control, …) as its metadata."""
    if moto_models.s3_bucket(upload.bucket) is None:
        raise exceptions.no_such_bucket(upload.bucket)
    partition, account_id = s3_backends.bucket_accounts[upload.bucket]
    backend = s3_backends[account_id][partition]
    stored = backend.put_object(
        upload.bucket, upload.key, upload.content, storage=upload.fields.get("x-amz-storage-class")
    )
    stored.set_metadata(metadata_from_headers(upload.fields))
    return stored


def answer(request: Request, upload: PostUpload, stored: Any) -> Response:
    """S3's answer to a stored upload: the redirect, the status the form asked for, or 204."""
    location = f"{request.host_url}{quote(upload.bucket)}/{quote(upload.key)}"
    headers = {"ETag": stored.etag, "Location": location}
    redirect = upload.fields.get("success_action_redirect")
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        parts = urlsplit(redirect)
        query = [
            *parse_qsl(parts.query, keep_blank_values=True),
            ("bucket", upload.bucket),
            ("key", upload.key),
            ("etag", stored.etag),
        ]
        headers["Location"] = urlunsplit(parts._replace(query=urlencode(query)))
        return Response(b"", status=303, headers=headers)
    status = upload.fields.get("success_action_status")
    if status == "201":  # no botocore model declares PostResponse (no SDK reads it), so no serializer can
        document = ET.Element("PostResponse")
        for name, value in (
            ("Location", location),
            ("Bucket", upload.bucket),
            ("Key", upload.key),
            ("ETag", stored.etag),
        ):
            ET.SubElement(document, name).text = value
        body = ET.tostring(document, encoding="utf-8", xml_declaration=True)
        return Response(body, status=201, headers=headers, content_type="application/xml")
    return Response(b"", status=200 if status == "200" else 204, headers=headers)

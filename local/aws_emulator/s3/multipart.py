"""Where moto answers S3's multipart requests and batch deletes otherwise than S3 documents: overridden
here, in one place, before moto sees the request or instead of it.

- A `partNumber` outside 1..10,000 (UploadPart, UploadPartCopy, GetObject, HeadObject) is InvalidArgument
  naming the argument (S3 API reference, UploadPart, "PartNumber"; `InvalidArgument` with `ArgumentName`
  and `ArgumentValue` in "Error responses"). moto answers part 0 with NoSuchUpload and a non-number with a
  500; it gets only parts above 10,000 right.
- CompleteMultipartUpload's part list must be in ascending order (InvalidPartOrder, 400, API reference,
  CompleteMultipartUpload "Errors"), checked before any part's size. moto checks the order lazily while it
  assembles the parts, so a small part listed first answers EntityTooSmall.
- GetObject and HeadObject with `partNumber` read that part as a ranged GET would: 206, `Content-Range`,
  `x-amz-mp-parts-count` (API reference, GetObject, "partNumber"; HeadObject likewise); a part the object
  does not have is InvalidPartNumber (416). moto answers a part read with a 500 (it looks the part up by
  the query string's text), so it is asked for the part's byte range instead. moto's completed object
  keeps every part uploaded, not the ones completed, so Complete records those on moto's upload.
- DeleteObjects decides each key on its own: a key the caller may not delete is an `Error` entry (Key, Code,
  Message) of a 200 answer, and the others are deleted (API reference, DeleteObjects: "the response
  includes the result of deleting each key"; in quiet mode only the errors). moto has no authorization;
  the request is read and answered with the botocore model (`wire.parse`/`wire.respond`), and moto's
  backend deletes the keys that are allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

from moto.core.model import OperationModel
from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator.core import moto_models, wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.s3 import exceptions

SERVICE = "s3"
MAX_PART_NUMBER = 10_000
PART_NUMBERED = {"UploadPart", "UploadPartCopy", "GetObject", "HeadObject"}
PART_READS = {"GetObject", "HeadObject"}


def check_before(operation: OperationModel, request: Request, params: dict[str, Any]) -> None:
    """Refuse, as S3 does, what moto would answer otherwise."""
    raw = request.args.get("partNumber")
    if operation.name in PART_NUMBERED and raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
            raise exceptions.invalid_part_number_argument(raw)
        stored = _stored(params["Bucket"], params["Key"]) if operation.name in PART_READS else None
        count = len(_part_sizes(stored)) if stored is not None else None  # no such key: moto's NoSuchKey
        if count is not None and int(raw) > count:
            raise exceptions.invalid_part_number(int(raw), count)
    if operation.name == "CompleteMultipartUpload":
        listed = wire.parse(SERVICE, operation, request, params).get("MultipartUpload") or {}
        numbers = [part.get("PartNumber", 0) for part in listed.get("Parts") or []]
        if any(later <= earlier for earlier, later in pairwise(numbers)):
            raise exceptions.invalid_part_order()
        upload = _upload(params["Bucket"], request.args.get("uploadId", ""))
        if upload is not None:
            # moto's completed object keeps every part uploaded; the parts it is made of are these.
            upload.completed_parts = numbers


def read_part(request: Request, params: dict[str, Any], forward: Callable[..., Response]) -> Response:
    """GetObject/HeadObject of one part, as the ranged GET S3 says it is: moto is asked for the part's
    byte range (it cannot read a part by number) and its answer gets the parts count."""
    stored = _stored(params["Bucket"], params["Key"])
    if stored is None:
        return forward(request)  # moto's NoSuchKey
    number = int(request.args["partNumber"])
    sizes = _part_sizes(stored)
    start = sum(sizes[: number - 1])
    query = urlencode(
        [(name, value) for name, value in request.args.items(multi=True) if name != "partNumber"]
    )
    response = forward(
        request, QUERY_STRING=query, HTTP_RANGE=f"bytes={start}-{start + sizes[number - 1] - 1}"
    )
    if stored.multipart and response.status_code == 206:
        response.headers["x-amz-mp-parts-count"] = str(len(sizes))
    return response


def delete_objects(
    operation: OperationModel,
    request: Request,
    params: dict[str, Any],
    authorize_key: Callable[[str], None],
) -> Response:
    """DeleteObjects, each key authorized on its own by `authorize_key` (raising the refusal)."""
    bucket = params["Bucket"]
    delete = wire.parse(SERVICE, operation, request, params).get("Delete") or {}
    allowed: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for entry in delete.get("Objects") or []:
        try:
            authorize_key(entry["Key"])
        except EmulatorError as refusal:
            errors.append({"Key": entry["Key"], "Code": refusal.code, "Message": refusal.message})
            if "VersionId" in entry:
                errors[-1]["VersionId"] = entry["VersionId"]
        else:
            allowed.append(entry)
    backend = moto_models.s3_backend_of(bucket)
    if backend is None:
        raise exceptions.no_such_bucket(bucket)
    deleted, locked = backend.delete_objects(bucket, allowed) if allowed else ([], [])
    for key in locked:
        errors.append({"Key": key, "Code": "AccessDenied", "Message": "Access Denied"})
    result: dict[str, Any] = {"Errors": errors}
    if not delete.get("Quiet"):
        result["Deleted"] = [
            {"Key": key, **({"VersionId": version} if version else {})} for key, version, _marker in deleted
        ]
    return wire.respond(SERVICE, operation, result)


def _stored(bucket: str, key: str) -> Any | None:
    found = moto_models.s3_bucket(bucket)
    return found.keys.get(key) if found is not None else None


def _upload(bucket: str, upload_id: str) -> Any | None:
    found = moto_models.s3_bucket(bucket)
    return found.multiparts.get(upload_id) if found is not None else None


def _part_sizes(stored: Any) -> list[int]:
    """The sizes of the parts a stored object was completed from, in order; an object not uploaded in
    parts is one part."""
    if not stored.multipart:
        return [stored.size]
    numbers = getattr(stored.multipart, "completed_parts", stored.multipart.partlist)
    return [stored.multipart.parts[number].size for number in numbers]

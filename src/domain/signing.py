"""What a presigned S3 request is, apart from how it is signed or vended for: the validated request, the
signed answer, and the rules of their fields. Its own module so that the ports, the signer adapter and the
request parsing need none of the vending machinery."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

import msgspec

from domain.errors import InvalidRequest
from domain.limits import CONTENT_TYPE
from domain.permissions import METHOD_PERMISSION, Permission, PresignMethod
from domain.targets import GrantTarget

_FILENAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")
# RFC 8187 attr-char: what may stay unescaped in `filename*=UTF-8''...`.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"


class PresignItem(msgspec.Struct, frozen=True):
    """One validated presign request (a single call, or one item of a batch)."""

    target: str  # s3://bucket/key, or for POST also s3://bucket/prefix/*
    grant_target: GrantTarget  # the same, validated
    method: PresignMethod
    expires_in: int
    content_type: str | None = None
    filename: str | None = None
    role: str | None = None
    content_length: int | None = None  # PUT: the exact size, signed
    max_bytes: int | None = None  # POST: the policy's content-length-range upper bound

    @property
    def permission(self) -> Permission:
        return METHOD_PERMISSION[self.method]


class PresignedRequest(msgspec.Struct, frozen=True):
    url: str  # carries the signature: never logged
    method: str
    headers: Mapping[str, str]
    expires_at: datetime
    # POST: the form fields (policy and signature included: never logged) and the size bound.
    fields: Mapping[str, str] | None = None
    max_bytes: int | None = None

    def __repr__(self) -> str:  # without the URL and the form fields: they carry the signature
        return f"PresignedRequest(method={self.method!r}, expires_at={self.expires_at.isoformat()})"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / RFC 8187)."""
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%;' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe=_ATTR_CHAR_SAFE)}"


def validate_filename(value: str) -> str:
    if (
        not 1 <= len(value) <= 255
        or _FILENAME_FORBIDDEN.search(value)
        or value.strip() in {"", ".", ".."}
        or not _is_utf8(value)
    ):
        raise InvalidRequest(
            "filename must be 1-255 characters without control characters or path separators"
        )
    return value


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. \ud800 escaped in the JSON body
        return False
    return True


def validate_content_type(value: str) -> str:
    if not 3 <= len(value) <= 255 or not CONTENT_TYPE.match(value):
        raise InvalidRequest("contentType must be a media type such as text/csv or text/plain; charset=utf-8")
    return value

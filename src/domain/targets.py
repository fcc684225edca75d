"""Grant targets: `s3://bucket/key` (an object), `s3://bucket/prefix/*` or `s3://bucket/prefix*` (a prefix).

Pure parsing, validation and scope coverage; no AWS.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

import msgspec

from domain.errors import InvalidRequest
from domain.permissions import TargetType

MAX_KEY_BYTES = 1024
MAX_TARGET_CHARS = 1100
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


class GrantTarget(msgspec.Struct, frozen=True):
    """A validated target. For a prefix target `key` is the prefix without the trailing `*` (may be '')."""

    bucket: str
    key: str
    is_prefix: bool

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}{'*' if self.is_prefix else ''}"

    @property
    def target_type(self) -> TargetType | None:
        """GetDataAccess TargetType: `Object` for an object target, none for a prefix."""
        return None if self.is_prefix else "Object"


def _invalid(text: str, why: str) -> InvalidRequest:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return InvalidRequest(f"invalid target {shown!r}: {why}")


def is_valid_bucket_name(bucket: str) -> bool:
    """S3's general purpose bucket naming rules."""
    return not (
        not _BUCKET.match(bucket)
        or ".." in bucket
        or ".-" in bucket
        or "-." in bucket
        or _IP_ADDRESS.match(bucket)
        or bucket.startswith(("xn--", "sthree-"))
        or bucket.endswith(("-s3alias", "--ol-s3", "--x-s3"))
    )


def validate_bucket(bucket: str, allowed_buckets: Collection[str] = ()) -> str:
    if not is_valid_bucket_name(bucket):
        raise InvalidRequest(f"{bucket[:80]!r} is not a valid bucket name")
    if allowed_buckets and bucket not in allowed_buckets:
        raise InvalidRequest(f"bucket {bucket!r} is not served by this service")
    return bucket


# Control and format characters (Unicode categories; in ASCII only the C0 controls and DEL are any).
_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp"})
_HAS_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _validate_key(text: str, key: str, *, is_prefix: bool) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise _invalid(text, f"keys are at most {MAX_KEY_BYTES} bytes")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(text, "the key is not valid UTF-8") from None
    if _HAS_CONTROL.search(key) if key.isascii() else any(unicodedata.category(c) in _CONTROL for c in key):
        raise _invalid(text, "control characters are not allowed")
    if key.startswith("/"):
        raise _invalid(text, "the key must not start with '/'")
    if "*" in key:
        raise _invalid(text, "'*' is only allowed at the end of a prefix target")
    segments = key.split("/")
    if is_prefix and segments and segments[-1] == "":
        segments = segments[:-1]  # `prefix/*`: the trailing '/' is not an empty segment
    for segment in segments:
        if segment == "":
            raise _invalid(text, "empty path segments ('//') are not allowed")
        if segment in {".", ".."}:
            raise _invalid(text, "'.' and '..' segments are not allowed")


def parse_target(text: object, allowed_buckets: Collection[str] = ()) -> GrantTarget:
    """Parse and validate a target string; raises InvalidRequest (400) with the reason."""
    if not isinstance(text, str) or not text:
        raise InvalidRequest("target must be a non-empty string like s3://bucket/prefix/*")
    if len(text) > MAX_TARGET_CHARS:
        raise _invalid(text, "too long")
    if not text.startswith("s3://"):
        raise _invalid(text, "must start with s3://")
    bucket, slash, key = text[len("s3://") :].partition("/")
    validate_bucket(bucket, allowed_buckets)
    if not slash:
        raise _invalid(text, "name an object (s3://bucket/key) or a prefix (s3://bucket/prefix/*)")
    is_prefix = key.endswith("*")
    if is_prefix:
        key = key[:-1]
    elif not key:
        raise _invalid(text, "the object key is empty")
    elif key.endswith("/"):
        raise _invalid(text, "an object key cannot end with '/'; for a prefix end the target with '/*'")
    _validate_key(text, key, is_prefix=is_prefix)
    return GrantTarget(bucket=bucket, key=key, is_prefix=is_prefix)


def parse_prefix(text: object, allowed_buckets: Collection[str] = ()) -> GrantTarget:
    """A listing prefix `s3://bucket/prefix/` (or with a trailing `*`) as a prefix GrantTarget."""
    if isinstance(text, str) and text and not text.endswith("*"):
        text = text + "*"
    return parse_target(text, allowed_buckets)


def covers(scope: str | GrantTarget, target: GrantTarget) -> bool:
    """Whether credentials scoped to `scope` (a grant target string or GrantTarget) are valid for `target`."""
    scope_target = scope if isinstance(scope, GrantTarget) else _scope(scope)
    if scope_target is None or scope_target.bucket != target.bucket:
        return False
    if not scope_target.is_prefix:
        return not target.is_prefix and target.key == scope_target.key
    return target.key.startswith(scope_target.key)


def _scope(scope: str) -> GrantTarget | None:
    if not scope.startswith("s3://"):
        return None
    bucket, _, key = scope[len("s3://") :].partition("/")
    if key.endswith("*"):
        return GrantTarget(bucket=bucket, key=key[:-1], is_prefix=True)
    return GrantTarget(bucket=bucket, key=key, is_prefix=False)

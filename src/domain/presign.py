"""Presigned S3 requests signed with credentials vended for the caller: GET and PUT URLs, POST policies
(browser form uploads) and the UploadPart URLs of multipart uploads (`domain.uploads`).

A presigned URL works exactly where the caller's grants allow, because it is signed with the
credentials GetDataAccess returned for that grant. Signing is local (SigV4, no AWS call). The URL's
lifetime is the requested `expiresIn`, shortened when needed so it never outlives the signing
credentials; when cached credentials have too little life left for the request, fresh ones are vended.
A batch vends once per distinct grant: an item whose target a previous item's matched grant already
covers (with enough permission and life left) reuses that item's credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import msgspec

from domain.audit import audit
from domain.cache import CREDENTIALS_REFRESH_MARGIN_SECONDS
from domain.caller import Caller
from domain.config import GET_DATA_ACCESS_MIN_DURATION, ServiceConfig
from domain.credentials import AwsCredentials, isoformat
from domain.errors import (
    AccessDenied,
    InvalidRequest,
    ServiceError,
    ServiceUnavailable,
    UpstreamBudgetExhausted,
)
from domain.grants import GrantList
from domain.limits import CONTENT_TYPE
from domain.permissions import METHOD_PERMISSION, Permission, PresignMethod, satisfies
from domain.ports import RequestSigner
from domain.targets import GrantTarget, covers
from domain.vending import CredentialRequest, VendingService, VendResult

DEFAULT_EXPIRES_SECONDS = 300
# A URL must stop working this long before its credentials do (clock skew between us and S3).
CREDENTIALS_MARGIN = timedelta(seconds=30)
_FILENAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")
# RFC 8187 attr-char: what may stay unescaped in `filename*=UTF-8''...`.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"


class PresignRequest(msgspec.Struct, frozen=True):
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

    def to_json(self) -> dict[str, Any]:
        if self.fields is not None:
            return {
                "url": self.url,
                "method": self.method,
                "fields": dict(self.fields),
                "expiresAt": isoformat(self.expires_at),
                "maxBytes": self.max_bytes,
            }
        return {
            "url": self.url,
            "method": self.method,
            "headers": dict(self.headers),
            "expiresAt": isoformat(self.expires_at),
        }


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


def usable_seconds(credentials: AwsCredentials, now: datetime) -> int:
    """How long a URL signed now with these credentials may live."""
    return int((credentials.expiration - CREDENTIALS_MARGIN - now).total_seconds())


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Presigner:
    """Presigns one request or a batch for one caller, vending once per distinct grant and permission."""

    def __init__(
        self,
        caller: Caller,
        *,
        service: VendingService,
        signer: RequestSigner,
        clock: Clock = utcnow,
    ) -> None:
        self._caller = caller
        self._service = service
        self._signer = signer
        self._clock = clock
        self._vended: list[tuple[str | None, VendResult]] = []  # (role, result), oldest first
        self._prefilter = False
        # By role and Region, fetched once per request.
        self._grant_lists: dict[tuple[str | None, str], GrantList | None] = {}

    def presign(self, request: PresignRequest) -> PresignedRequest:
        """One request; raises ServiceError (400/403 for this request, 401/5xx for the whole call)."""
        vended = self._credentials_for(request)
        expires_in = min(request.expires_in, usable_seconds(vended.credentials, self._clock()))
        if expires_in < 1:
            raise ServiceUnavailable("the vended credentials expire too soon to sign a URL; retry")
        region = self._service.regions.region_of(request.grant_target.bucket)
        presigned = self._signer.presign(request, vended.credentials, expires_in, region)
        audit(
            "presign",
            "signed",
            subject=self._caller.subject,
            target=request.target,
            permission=request.permission,
            matchedGrantTarget=vended.matched_grant_target,
            accessKeyId=vended.credentials.access_key_id,
            expiration=isoformat(presigned.expires_at),
            cached=vended.cached,
            **({"maxBytes": presigned.max_bytes} if presigned.max_bytes is not None else {}),
        )
        return presigned

    def presign_all(
        self, requests: list[PresignRequest | ServiceError]
    ) -> list[PresignedRequest | ServiceError]:
        """A batch: an invalid (400) or denied (403) item becomes that item's problem; anything else
        (the token, an upstream failure) fails the whole call."""
        results: list[PresignedRequest | ServiceError] = []
        # Many items may name prefixes the caller holds no grant for: refuse those from the grant list
        # rather than with a GetDataAccess each (and past the request's cap, refuse the rest per item).
        self._prefilter = True
        for request in requests:
            if isinstance(request, ServiceError):
                results.append(request)
                continue
            try:
                results.append(self.presign(request))
            except (InvalidRequest, AccessDenied, UpstreamBudgetExhausted) as error:
                results.append(error)
        return results

    def _credentials_for(self, request: PresignRequest) -> VendResult:
        now = self._clock()
        for role, vended in reversed(self._vended):
            if (
                role == request.role
                and satisfies(vended.permission, request.permission)
                and covers(vended.matched_grant_target, request.grant_target)
                and usable_seconds(vended.credentials, now) >= request.expires_in
            ):
                return vended
        vended = credentials_for_signing(
            self._service,
            self._caller,
            request.grant_target,
            request.permission,
            request.role,
            request.expires_in,
            prefilter=(lambda: self._grants(request.role, request.grant_target.bucket))
            if self._prefilter
            else None,
        )
        self._vended.append((request.role, vended))
        return vended

    def _grants(self, role: str | None, bucket: str) -> GrantList | None:
        key = (role, self._service.regions.region_of(bucket))
        if key not in self._grant_lists:
            self._grant_lists[key] = self._service.caller_grants(self._caller, *key)
        return self._grant_lists[key]


def credentials_for_signing(
    service: VendingService,
    caller: Caller,
    target: GrantTarget,
    permission: Permission,
    role: str | None,
    expires_in: int,
    *,
    prefilter: Callable[[], GrantList | None] | None = None,
) -> VendResult:
    """Credentials to sign requests that live `expires_in` seconds (or to make a call with, now).

    The signed request fixes method, key and expiry, so wider cached credentials (READWRITE for a GET, a
    whole grant for one key) may sign it: the service's signing rule, not the hand-out one."""
    needed = expires_in + int(CREDENTIALS_MARGIN.total_seconds())
    duration = _duration_for(service.config, needed)
    lifetime = duration or service.config.default_duration_seconds
    return service.signing_credentials(
        caller,
        CredentialRequest(target=target, permission=permission, role=role, duration_seconds=duration),
        # Never ask the cache for more life than fresh credentials would have (no refetch loop when the
        # deployment caps durations below the URL's lifetime: the URL is cut instead).
        min_remaining_seconds=min(needed, lifetime - CREDENTIALS_REFRESH_MARGIN_SECONDS),
        prefilter=prefilter,
    )


def _duration_for(config: ServiceConfig, needed: int) -> int | None:
    """None (the deployment's default) unless the URL needs longer-lived credentials; then enough for the
    URL plus the cache's refresh margin, so the next URLs like it reuse them."""
    if needed <= config.default_duration_seconds - CREDENTIALS_REFRESH_MARGIN_SECONDS:
        return None
    wanted = needed + CREDENTIALS_REFRESH_MARGIN_SECONDS
    return max(GET_DATA_ACCESS_MIN_DURATION, min(wanted, config.max_duration_seconds))

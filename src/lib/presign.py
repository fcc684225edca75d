"""Presigned S3 requests signed with credentials vended for the caller: GET and PUT URLs, POST policies
(browser form uploads) and the UploadPart URLs of multipart uploads (`lib.uploads`).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
from botocore import UNSIGNED
from botocore.auth import S3SigV4PostAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials

from lib import sigv4
from lib.audit import audit
from lib.auth import Caller
from lib.aws import AwsCredentials
from lib.cache import CREDENTIALS_REFRESH_MARGIN_SECONDS
from lib.config import GET_DATA_ACCESS_MIN_DURATION, ServiceConfig
from lib.errors import (
    AccessDenied,
    InvalidRequest,
    ServiceError,
    ServiceUnavailable,
    UpstreamBudgetExhausted,
)
from lib.grants import GrantList, satisfies
from lib.http import Fields
from lib.loopback import is_loopback_url
from lib.sigv4 import SigningKeys
from lib.targets import MAX_TARGET_CHARS, GrantTarget, covers, parse_target
from lib.vending import CredentialRequest, VendingService, VendResult

DEFAULT_EXPIRES_SECONDS = 300
MAX_BATCH_ITEMS = 100
# A URL must stop working this long before its credentials do (clock skew between us and S3).
CREDENTIALS_MARGIN = timedelta(seconds=30)
METHOD_PERMISSION = {"GET": "READ", "PUT": "WRITE", "POST": "WRITE"}
REQUEST_FIELDS = (
    "target",
    "method",
    "expiresIn",
    "contentType",
    "filename",
    "contentLength",
    "maxBytes",
    "role",
)
# S3's largest single PUT (S3 User Guide, "Uploading objects"): a larger one needs a multipart upload.
MAX_PUT_BYTES = 5 * 1024**3
_CONTENT_TYPE = re.compile(
    r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+"
    r"( *; *[A-Za-z0-9!#$&^_.+-]+=(\"[^\"\x00-\x1f\x7f]*\"|[A-Za-z0-9!#$&^_.+-]+))*$"
)
_FILENAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")
# RFC 8187 attr-char: what may stay unescaped in `filename*=UTF-8''...`.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"


@dataclass(frozen=True)
class PresignRequest:
    """One validated presign request (a single call, or one item of a batch)."""

    target: str  # s3://bucket/key, or for POST also s3://bucket/prefix/*
    grant_target: GrantTarget  # the same, validated
    method: str  # GET | PUT | POST
    expires_in: int
    content_type: str | None = None
    filename: str | None = None
    role: str | None = None
    content_length: int | None = None  # PUT: the exact size, signed
    max_bytes: int | None = None  # POST: the policy's content-length-range upper bound

    @property
    def permission(self) -> str:
        return METHOD_PERMISSION[self.method]


@dataclass(frozen=True)
class PresignedRequest:
    url: str = field(repr=False)  # carries the signature: never logged
    method: str
    headers: Mapping[str, str]
    expires_at: datetime
    # POST: the form fields (policy and signature included: never logged) and the size bound.
    fields: Mapping[str, str] | None = field(default=None, repr=False)
    max_bytes: int | None = None

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


def isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    if not 3 <= len(value) <= 255 or not _CONTENT_TYPE.match(value):
        raise InvalidRequest("contentType must be a media type such as text/csv or text/plain; charset=utf-8")
    return value


def usable_seconds(credentials: AwsCredentials, now: datetime) -> int:
    """How long a URL signed now with these credentials may live."""
    return int((credentials.expiration - CREDENTIALS_MARGIN - now).total_seconds())


class S3Presigner:
    """Adapter: signs S3 requests locally with given credentials (SigV4 query auth, no AWS call), for the
    bucket's Region (its host and its credential scope).

    botocore's `generate_presigned_url` resolves the endpoint ruleset, validates parameters and runs
    the event hooks for every URL (~0.4 ms each). Here each bucket's URL is resolved once, by an
    unsigned S3 client of its Region (path-style on a loopback endpoint, elsewhere botocore's
    addressing), and each URL is signed by `lib.sigv4` with a signing key derived once per credentials,
    day and Region: the same URL as botocore's, byte for byte (tests/unit/test_presign_parts.py and
    tests/unit/test_sigv4.py compare them), at a fraction of the cost.
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        clients: dict[str, Any] | None = None,
        max_buckets: int = 256,
    ) -> None:
        self._endpoint_url = endpoint_url
        # Only resolve bucket URLs (one per Region, created on first use); they never send anything.
        # One botocore session for all of them: each session loads S3's model again (~11 MB of JSON).
        self._session: botocore.session.Session | None = None
        self._clients: dict[str, Any] = dict(clients or {})
        self._bucket_parts: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._max_buckets = max_buckets
        self._signing_keys = SigningKeys()

    def prime_bucket(self, bucket: str, region: str) -> None:
        """Resolve the bucket's URL now (SnapStart priming; no AWS call)."""
        self._bucket_origin(bucket, region)

    def _bucket_origin(self, bucket: str, region: str) -> tuple[str, str, str]:
        """(scheme://netloc, Host header, path) of the bucket's URL; the URL itself is origin + path."""
        parts = self._bucket_parts.get((region, bucket))
        if parts is None:
            split = urlsplit(self._resolve_bucket_url(bucket, region))
            host = split.hostname or ""
            if split.port is not None and split.port != {"http": 80, "https": 443}.get(split.scheme):
                host = f"{host}:{split.port}"
            parts = (f"{split.scheme}://{split.netloc}", host, split.path)
            if len(self._bucket_parts) >= self._max_buckets:
                self._bucket_parts.clear()
            self._bucket_parts[(region, bucket)] = parts
        return parts

    def _resolve_bucket_url(self, bucket: str, region: str) -> str:
        client = self._clients.get(region)
        if client is None:
            self._session = self._session or botocore.session.Session()
            client = self._clients[region] = _unsigned_s3_client(self._session, region, self._endpoint_url)
        object_url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY})
        url = object_url.removesuffix(f"/{_PROBE_KEY}")
        if url == object_url:  # not the shape botocore builds today: refuse rather than guess
            raise RuntimeError(f"unexpected S3 object URL for bucket {bucket!r}")
        return url

    def presign(
        self, request: PresignRequest, credentials: AwsCredentials, expires_in: int, region: str
    ) -> PresignedRequest:
        target = request.grant_target
        if request.method == "POST":
            assert request.max_bytes is not None
            return self.post_policy(
                target, credentials, expires_in, region, request.max_bytes, request.content_type
            )
        params: dict[str, str] = {}
        headers: dict[str, str] = {}
        if request.method == "GET":
            if request.filename:
                params["response-content-disposition"] = content_disposition(request.filename)
        else:
            # Signed: S3 refuses another type, or another size.
            if request.content_type:
                headers["Content-Type"] = request.content_type
            if request.content_length is not None:
                headers["Content-Length"] = str(request.content_length)
        return self.sign(request.method, target, credentials, expires_in, region, params, headers)

    def sign(
        self,
        method: str,
        target: GrantTarget,
        credentials: AwsCredentials,
        expires_in: int,
        region: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PresignedRequest:
        """A presigned `method` request on the object `target` (query `params` and `headers` signed)."""
        origin, host, base_path = self._bucket_origin(target.bucket, region)
        signed_at = datetime.now(UTC).replace(microsecond=0)
        url = sigv4.presign(
            method=method,
            origin=origin,
            host=host,
            # The key as botocore puts it in the path (its `percent_encode(key, safe="/~")`).
            path=f"{base_path}/{quote(target.key, safe='/~')}",
            params=params or {},
            headers=headers or {},
            access_key=credentials.access_key_id,
            secret_key=credentials.secret_access_key,
            token=credentials.session_token,
            region=region,
            service="s3",
            expires=expires_in,
            now=signed_at,
            keys=self._signing_keys,
        )
        # S3 stops honouring the URL at X-Amz-Date + X-Amz-Expires.
        return PresignedRequest(
            url=url,
            method=method,
            headers=dict(headers or {}),
            expires_at=signed_at + timedelta(seconds=expires_in),
        )

    def post_policy(
        self,
        target: GrantTarget,
        credentials: AwsCredentials,
        expires_in: int,
        region: str,
        max_bytes: int,
        content_type: str | None,
    ) -> PresignedRequest:
        """A browser form upload (S3 "POST Object") to the object `target`, or to any key under the prefix
        `target`, of at most `max_bytes`: the policy document and its SigV4 signature, by botocore's
        `S3SigV4PostAuth` (what `generate_presigned_post` uses), with the conditions of boto3's own
        `generate_presigned_post` (bucket, key) plus size, type and the signing fields."""
        fields: dict[str, str] = {}
        conditions: list[Any] = [{"bucket": target.bucket}]
        if target.is_prefix:
            conditions.append(["starts-with", "$key", target.key])
        else:
            fields["key"] = target.key
            conditions.append({"key": target.key})
        conditions.append(["content-length-range", 0, max_bytes])
        if content_type:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in)
        policy = {"expiration": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "conditions": conditions}
        origin, _, path = self._bucket_origin(target.bucket, region)
        aws_request = AWSRequest(method="POST", url=f"{origin}{path}")
        aws_request.context["s3-presign-post-fields"] = fields
        aws_request.context["s3-presign-post-policy"] = policy
        S3SigV4PostAuth(_signing_keys(credentials), "s3", region).add_auth(aws_request)
        return PresignedRequest(
            url=aws_request.url,
            method="POST",
            headers={},
            expires_at=expires_at,
            fields=aws_request.context["s3-presign-post-fields"],
            max_bytes=max_bytes,
        )


def _signing_keys(credentials: AwsCredentials) -> ReadOnlyCredentials:
    return ReadOnlyCredentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )


_PROBE_KEY = "probe"


def _unsigned_s3_client(session: botocore.session.Session, region: str, endpoint_url: str | None) -> Any:
    # A loopback endpoint has no per-bucket host names; elsewhere botocore picks the addressing.
    addressing = {"addressing_style": "path"} if is_loopback_url(endpoint_url) else {}
    return session.create_client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(signature_version=UNSIGNED, s3=addressing),
    )


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_presign_request(
    body: Mapping[str, Any], config: ServiceConfig, *, where: str = ""
) -> PresignRequest:
    """Validate one presign request object; raises InvalidRequest naming the field."""
    fields = Fields(dict(body), allowed=REQUEST_FIELDS, where=where)
    target_text = fields.string("target", required=True, max_length=MAX_TARGET_CHARS)
    method = fields.string("method", required=True, choices=tuple(METHOD_PERMISSION))
    default_expires = min(DEFAULT_EXPIRES_SECONDS, config.max_presign_expires_seconds)
    expires_in = fields.integer("expiresIn", minimum=1, maximum=config.max_presign_expires_seconds)
    content_type = fields.string("contentType", max_length=255)
    filename = fields.string("filename", max_length=255)
    content_length = fields.integer("contentLength", minimum=0, maximum=MAX_PUT_BYTES)
    max_bytes = fields.integer("maxBytes", minimum=1, maximum=config.max_post_bytes)
    role = fields.string("role", max_length=2048)
    assert target_text is not None and method is not None
    try:
        target = parse_target(target_text, config.allowed_buckets)
    except InvalidRequest as error:
        raise InvalidRequest(f"{where}{error.detail}") from None
    if target.is_prefix and method != "POST":
        raise InvalidRequest(
            f"{where}target must name one object (s3://bucket/key), not a prefix (only POST takes a prefix)"
        )
    if content_type is not None:
        if method == "GET":
            raise InvalidRequest(f"{where}contentType applies to PUT and POST only")
        validate_content_type(content_type)
    if filename is not None and method != "GET":
        raise InvalidRequest(f"{where}filename applies to GET only")
    if filename is not None:
        validate_filename(filename)
    if content_length is not None and method != "PUT":
        raise InvalidRequest(f"{where}contentLength applies to PUT only")
    if max_bytes is not None and method != "POST":
        raise InvalidRequest(f"{where}maxBytes applies to POST only")
    return PresignRequest(
        target=str(target),
        grant_target=target,
        method=method,
        expires_in=expires_in or default_expires,
        content_type=content_type,
        filename=filename,
        role=role,
        content_length=content_length,
        max_bytes=(max_bytes or config.default_post_bytes) if method == "POST" else None,
    )


def parse_batch(body: Mapping[str, Any], config: ServiceConfig) -> list[PresignRequest | ServiceError]:
    """The items of `{"objects": [...]}`: each a valid request or the InvalidRequest it raised."""
    fields = Fields(dict(body), allowed=("objects",))
    items = fields.array("objects", required=True, max_items=MAX_BATCH_ITEMS)
    assert items is not None
    parsed: list[PresignRequest | ServiceError] = []
    for index, item in enumerate(items):
        where = f"objects[{index}]."
        if not isinstance(item, dict):
            parsed.append(InvalidRequest(f"objects[{index}] must be an object"))
            continue
        try:
            parsed.append(parse_presign_request(item, config, where=where))
        except InvalidRequest as error:
            parsed.append(error)
    return parsed


class Presigner:
    """Presigns one request or a batch for one caller, vending once per distinct grant and permission."""

    def __init__(
        self,
        caller: Caller,
        *,
        service: VendingService,
        signer: S3Presigner,
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
    permission: str,
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


@lru_cache(maxsize=4)
def signer_for(endpoint_url: str | None) -> S3Presigner:
    """The execution environment's signer for an endpoint (created once, no AWS call)."""
    return S3Presigner(endpoint_url=endpoint_url)

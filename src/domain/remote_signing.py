"""Apache Iceberg's S3 remote signing (`POST /v1/aws/s3/sign`; the `s3-signer-open-api.yaml` of
apache/iceberg's `aws` module): a client that holds no AWS keys (PyIceberg's `S3V4RestSigner`, Iceberg
Java's `S3V4RestSignerClient`, so Spark, Flink and Trino) sends each S3 request it is about to make, and
the service answers the SigV4 headers to send it with.

Each request is signed only if the caller's grants allow what it does. The request is read the way S3
will read it: the bucket from the host (virtual-hosted) or the first path segment (path-style), but only
for the deployment's S3 endpoint; the key from the decoded path; the operation from method and query
string. Each operation needs one permission on its key or prefix (`S3_OPERATIONS`); whatever else
(bucket configuration, ACLs, copies from another key, unknown subresources) is refused. The signature
covers host, method, path and query, so the signed request does nothing else; the body of DeleteObjects,
which names the keys, must carry a digest S3 checks (Content-MD5 or a checksum), and the service checks
that digest against the body it was shown.

Credentials come from `credentials_for_signing`, the presigner's path: the same caches, cap and audit,
and, as for presigned URLs, a covering grant may sign (the signature fixes method, key and query).
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

import msgspec

from domain.audit import audit
from domain.caller import Caller
from domain.credentials import isoformat
from domain.errors import AccessDenied, InvalidRequest
from domain.permissions import Permission, satisfies
from domain.ports import RequestSigner
from domain.presign import credentials_for_signing
from domain.targets import GrantTarget, covers, parse_prefix, parse_target
from domain.vending import VendingService, VendResult

# A signed request is sent at once; S3 accepts it for 15 minutes after X-Amz-Date, and the signing
# credentials must outlive that.
SIGNED_REQUEST_SECONDS = 900
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# aws-chunked bodies whose trailing checksum is not signed: as unsigned as UNSIGNED-PAYLOAD.
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_PAYLOAD_HASH = re.compile(r"^[0-9a-f]{64}$")

# What this service puts on the request (or takes off it): never the client's.
_REPLACED_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})
# Hop-by-hop headers (RFC 9110) and Host: the HTTP client sets them for the connection it opens.
_CONNECTION_HEADERS = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}
)
# Headers that make a request do more than its operation: grant access to others, lock objects, copy
# from another key. S3 would check some of them against the credentials; none is signed here.
_REFUSED_HEADER_PREFIXES = (
    "x-amz-acl",
    "x-amz-grant-",
    "x-amz-copy-source",
    "x-amz-object-lock-",
    "x-amz-bypass-governance-retention",
    "x-amz-website-redirect-location",
)
# Signed besides host and every x-amz-* header: the ones S3 reads to store or check the body.
_SIGNED_HEADERS = frozenset({"content-md5", "content-type", "content-encoding"})

_AWS_HOST = re.compile(
    r"^(?:(?P<bucket>[a-z0-9][a-z0-9.-]*[a-z0-9])\.)?"
    r"s3(?:[.-](?:dualstack\.)?(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+))?\.amazonaws\.com$"
)

_RESPONSE_OVERRIDES = {
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
}
_LIST_PARAMETERS = {
    "list-type",
    "prefix",
    "delimiter",
    "continuation-token",
    "start-after",
    "max-keys",
    "fetch-owner",
    "encoding-type",
}


class S3Operation(msgspec.Struct, frozen=True):
    """One S3 operation this service signs: its method, what its query string must and may hold, and the
    permission it needs on its key (or, for a listing, on its prefix)."""

    name: str
    method: str
    permission: Permission
    on_bucket: bool = False  # addressed to the bucket (a listing, DeleteObjects), not to one key
    required: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()


def _operation(
    name: str,
    method: str,
    permission: Permission,
    required: Sequence[str] = (),
    allowed: Sequence[str] = (),
    *,
    on_bucket: bool = False,
) -> S3Operation:
    return S3Operation(
        name, method, permission, on_bucket, frozenset(required), frozenset(required) | frozenset(allowed)
    )


# The S3 API reference's request syntax of each operation (method and query string).
S3_OPERATIONS = (
    _operation("GetObject", "GET", "READ", allowed=("versionId", "partNumber", *_RESPONSE_OVERRIDES)),
    _operation("HeadObject", "HEAD", "READ", allowed=("versionId", "partNumber")),
    # Access Grants' READ includes s3:ListMultipartUploadParts (S3 User Guide, "Access Grants permissions").
    _operation(
        "ListParts", "GET", "READ", ("uploadId",), ("max-parts", "part-number-marker", "encoding-type")
    ),
    _operation("PutObject", "PUT", "WRITE"),
    _operation("UploadPart", "PUT", "WRITE", ("partNumber", "uploadId")),
    _operation("CreateMultipartUpload", "POST", "WRITE", ("uploads",)),
    _operation("CompleteMultipartUpload", "POST", "WRITE", ("uploadId",)),
    _operation("DeleteObject", "DELETE", "WRITE", allowed=("versionId",)),
    _operation("AbortMultipartUpload", "DELETE", "WRITE", ("uploadId",)),
    _operation("ListObjectsV2", "GET", "READ", ("list-type",), tuple(_LIST_PARAMETERS), on_bucket=True),
    _operation("DeleteObjects", "POST", "WRITE", ("delete",), on_bucket=True),
)


class S3RequestToSign(msgspec.Struct, frozen=True):
    """What the client asks to have signed (the spec's `S3SignRequest`, validated by the edge)."""

    region: str
    uri: str
    method: str
    headers: Mapping[str, Sequence[str]]
    body: str | None = None


class SignedS3Request(msgspec.Struct, frozen=True):
    """The spec's answer: the URI to send the request to and every header to send it with."""

    uri: str
    headers: dict[str, list[str]]
    operation: str

    def __repr__(self) -> str:  # the headers carry the signature and the session token
        return f"SignedS3Request(operation={self.operation!r})"


class S3Call(msgspec.Struct, frozen=True):
    """A request as S3 will read it, and what it needs from the caller's grants."""

    operation: S3Operation
    bucket: str
    origin: str  # scheme://netloc, as given
    host: str  # the Host header S3 will see
    path: str  # canonically encoded
    query: tuple[tuple[str, str], ...]  # decoded, in the client's order
    needs: tuple[GrantTarget, ...]  # each needs operation.permission
    host_region: str | None  # the Region an AWS host names, if any

    @property
    def uri(self) -> str:
        encoded = "&".join(f"{_encode(name)}={_encode(value)}" for name, value in self.query)
        return f"{self.origin}{self.path}" + (f"?{encoded}" if encoded else "")


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def read_s3_call(
    request: S3RequestToSign, *, endpoint_url: str | None, allowed_buckets: Collection[str] = ()
) -> S3Call:
    """The S3 request `request` describes, or a refusal: 400 when it is not a well-formed S3 request to
    this deployment's S3 endpoint, 403 when it is an operation this service does not sign."""
    parts = urlsplit(request.uri)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment or parts.username:
        raise InvalidRequest("uri must be an absolute http(s) URL of an S3 request")
    address = _address(parts.scheme, parts.netloc.lower(), unquote(parts.path), endpoint_url)
    bucket, key = address.bucket, address.key
    query = tuple(
        (unquote(name), unquote(value))
        for name, _, value in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    names = {name for name, _ in query}
    if len(names) != len(query):
        raise InvalidRequest("the query string repeats a parameter")
    operation = _operation_of(request.method, names, on_bucket=key is None)
    needs = _needs(operation, bucket, key, dict(query), request, allowed_buckets)
    # The key as S3 decodes it, encoded again as SigV4 canonicalises it (and sent so).
    path = "/" + quote(f"{bucket}/{key or ''}" if address.path_style else key or "", safe="/~")
    return S3Call(
        operation=operation,
        bucket=bucket,
        origin=f"{parts.scheme}://{parts.netloc}",
        # As HTTP clients send it: without the scheme's default port.
        host=parts.netloc.lower().removesuffix({"https": ":443", "http": ":80"}[parts.scheme]),
        path=path,
        query=query,
        needs=needs,
        host_region=address.region,
    )


class _Address(msgspec.Struct, frozen=True):
    bucket: str
    key: str | None  # None: the bucket itself
    path_style: bool
    region: str | None  # the Region an AWS host names, if any


def _address(scheme: str, netloc: str, path: str, endpoint_url: str | None) -> _Address:
    virtual_bucket, region = _host(scheme, netloc, endpoint_url)
    if virtual_bucket is not None:
        return _Address(virtual_bucket, path.removeprefix("/") or None, False, region)
    bucket, _, key = path.removeprefix("/").partition("/")
    if not bucket:
        raise AccessDenied("requests without a bucket (ListBuckets) are not signed")
    return _Address(bucket, key or None, True, region)


@lru_cache(maxsize=256)
def _host(scheme: str, netloc: str, endpoint_url: str | None) -> tuple[str | None, str | None]:
    """(the bucket a virtual-hosted name holds, the Region an AWS host names) of an S3 host, or a refusal.
    Cached: a table scan sends thousands of requests to one or two hosts."""
    if endpoint_url:
        endpoint = urlsplit(endpoint_url)
        own = endpoint.netloc.lower()
        if scheme != endpoint.scheme or not (netloc == own or netloc.endswith("." + own)):
            raise InvalidRequest(f"uri must address this deployment's S3 endpoint ({endpoint_url})")
        return (netloc.removesuffix("." + own) if netloc != own else None), None
    host, _, port = netloc.partition(":")
    found = _AWS_HOST.match(host)
    if found is None or scheme != "https" or port not in ("", "443"):
        raise InvalidRequest("uri must address Amazon S3 over https (s3.<region>.amazonaws.com)")
    return found.group("bucket"), found.group("region")


def _operation_of(method: str, names: set[str], *, on_bucket: bool) -> S3Operation:
    for operation in _OPERATIONS_BY_SPECIFICITY.get((method, on_bucket), ()):
        if operation.required <= names <= operation.allowed:
            return operation
    what = "the bucket" if on_bucket else "an object"
    shown = ", ".join(sorted(names)) or "no query parameters"
    raise AccessDenied(f"{method} on {what} with {shown} is not an operation this service signs")


# By method and addressee, the most specific operation first (the one whose required parameters are
# present), so that `?uploadId` is ListParts and not a GetObject with an unknown parameter.
def _by_specificity() -> dict[tuple[str, bool], tuple[S3Operation, ...]]:
    grouped: dict[tuple[str, bool], tuple[S3Operation, ...]] = {}
    for operation in sorted(S3_OPERATIONS, key=lambda operation: -len(operation.required)):
        key = (operation.method, operation.on_bucket)
        grouped[key] = (*grouped.get(key, ()), operation)
    return grouped


_OPERATIONS_BY_SPECIFICITY = _by_specificity()


def _needs(
    operation: S3Operation,
    bucket: str,
    key: str | None,
    query: Mapping[str, str],
    request: S3RequestToSign,
    allowed_buckets: Collection[str],
) -> tuple[GrantTarget, ...]:
    if operation.name == "ListObjectsV2":
        if query["list-type"] != "2":
            raise AccessDenied("only ListObjectsV2 (list-type=2) listings are signed")
        return (parse_prefix(f"s3://{bucket}/{query.get('prefix', '')}", allowed_buckets),)
    if operation.name == "DeleteObjects":
        keys = _keys_to_delete(request)
        return tuple(parse_target(f"s3://{bucket}/{key}", allowed_buckets) for key in keys)
    assert key is not None
    return (parse_target(f"s3://{bucket}/{key}", allowed_buckets),)


def _keys_to_delete(request: S3RequestToSign) -> list[str]:
    """The keys a DeleteObjects body names, once its digest (which S3 checks) is shown to be this body's."""
    if request.body is None:
        raise InvalidRequest("DeleteObjects is signed only with its body (the keys it deletes)")
    body = request.body.encode("utf-8")
    if not _digest_matches(body, _single_values(request.headers)):
        raise InvalidRequest(
            "DeleteObjects must carry Content-MD5, x-amz-checksum-crc32, -sha1 or -sha256 of this body, "
            "so that the signed request deletes only the keys checked"
        )
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - Python's expat refuses entity expansion attacks
    except ElementTree.ParseError:
        raise InvalidRequest("the DeleteObjects body is not well-formed XML") from None
    keys = [node.text or "" for node in root.iter() if node.tag.rpartition("}")[2] == "Key"]
    if not keys:
        raise InvalidRequest("the DeleteObjects body names no key")
    return keys


_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "content-md5": lambda body: hashlib.md5(body, usedforsecurity=False).digest(),
    "x-amz-checksum-crc32": lambda body: zlib.crc32(body).to_bytes(4, "big"),
    "x-amz-checksum-sha1": lambda body: hashlib.sha1(body, usedforsecurity=False).digest(),
    "x-amz-checksum-sha256": lambda body: hashlib.sha256(body).digest(),
}


def _digest_matches(body: bytes, headers: Mapping[str, str]) -> bool:
    present = [name for name in _DIGESTS if name in headers]
    payload_hash = headers.get("x-amz-content-sha256", "")
    if _PAYLOAD_HASH.match(payload_hash):
        if payload_hash != hashlib.sha256(body).hexdigest():
            return False
        present.append("x-amz-content-sha256")
    return bool(present) and all(
        base64.b64encode(_DIGESTS[name](body)).decode() == headers[name]
        for name in present
        if name in _DIGESTS
    )


def _single_values(headers: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Header names lowercased, several values joined as HTTP joins them."""
    joined: dict[str, str] = {}
    for name, values in headers.items():
        lowered = name.lower()
        value = ",".join(str(value) for value in values)
        joined[lowered] = f"{joined[lowered]},{value}" if lowered in joined else value
    return joined


def headers_to_sign(call: S3Call, headers: Mapping[str, Sequence[str]]) -> tuple[dict[str, str], str]:
    """(the client's headers the answer keeps, the payload hash to sign with), or a refusal."""
    kept: dict[str, str] = {}
    given = _single_values(headers)
    for name, value in given.items():
        if name.startswith(_REFUSED_HEADER_PREFIXES):
            raise AccessDenied(f"requests with {name} are not signed")
        if name not in _REPLACED_HEADERS and name not in _CONNECTION_HEADERS:
            kept[name] = value
    payload_hash = given.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    if payload_hash not in (UNSIGNED_PAYLOAD, UNSIGNED_TRAILER) and not _PAYLOAD_HASH.match(payload_hash):
        raise InvalidRequest(
            f"x-amz-content-sha256 {payload_hash[:40]!r} cannot be signed here: send UNSIGNED-PAYLOAD, "
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER or the body's SHA-256"
        )
    return kept, payload_hash


def is_signed_header(name: str) -> bool:
    return name == "host" or name.startswith("x-amz-") or name in _SIGNED_HEADERS


class RemoteSigner:
    """Signs S3 requests for one caller (one per HTTP request)."""

    def __init__(
        self,
        caller: Caller,
        *,
        service: VendingService,
        signer: RequestSigner,
        endpoint_url: str | None,
    ) -> None:
        self._caller = caller
        self._service = service
        self._signer = signer
        self._endpoint_url = endpoint_url

    def sign(self, request: S3RequestToSign) -> SignedS3Request:
        call = read_s3_call(
            request, endpoint_url=self._endpoint_url, allowed_buckets=self._service.config.allowed_buckets
        )
        kept, payload_hash = headers_to_sign(call, request.headers)
        region = self._service.regions.region_of(call.bucket)
        if call.host_region is not None and call.host_region != region:
            raise InvalidRequest(f"bucket {call.bucket!r} is in {region}, not {call.host_region}")
        vended = self._credentials_for(call)
        signed = self._signer.sign_headers(
            method=call.operation.method,
            host=call.host,
            path=call.path,
            query=call.query,
            headers={name: value for name, value in kept.items() if is_signed_header(name)},
            payload_hash=payload_hash,
            credentials=vended.credentials,
            region=region,
        )
        audit(
            "sign",
            "signed",
            subject=self._caller.subject,
            s3Operation=call.operation.name,
            target=str(call.needs[0]),
            targetCount=len(call.needs),
            permission=call.operation.permission,
            matchedGrantTarget=vended.matched_grant_target,
            accessKeyId=vended.credentials.access_key_id,
            expiration=isoformat(vended.credentials.expiration),
            cached=vended.cached,
        )
        headers = {name: [value] for name, value in kept.items()}
        headers.update({name: [value] for name, value in signed.items()})
        return SignedS3Request(uri=call.uri, headers=headers, operation=call.operation.name)

    def _credentials_for(self, call: S3Call) -> VendResult:
        """One set of credentials allowed to do the whole call: the first target's, if its grant covers
        every other target; a call spanning several grants is refused (S3 would refuse part of it)."""
        permission = call.operation.permission
        first, *others = call.needs
        vended = self._vend(first, permission)
        for target in others:
            if covers(vended.matched_grant_target, target) and satisfies(vended.permission, permission):
                continue
            other = self._vend(target, permission)  # denied: 403 for the whole request
            raise InvalidRequest(
                f"the keys span several grants ({vended.matched_grant_target}, "
                f"{other.matched_grant_target}); delete them in one request per grant"
            )
        return vended

    def _vend(self, target: GrantTarget, permission: Permission) -> VendResult:
        return credentials_for_signing(
            self._service, self._caller, target, permission, None, SIGNED_REQUEST_SECONDS
        )

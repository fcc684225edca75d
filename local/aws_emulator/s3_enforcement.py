"""S3 as seen by vended credentials: signatures verified, scope, permission and expiry enforced, CORS applied.

A request signed with credentials that GetDataAccess vended (SigV4 `Authorization` header, SigV4
presigned query, or legacy SigV2 presigned query) is checked the way S3 checks it: the signature is
recomputed with the vended secret, the session token must match, the credentials and the URL must not
have expired, and the operation must stay inside the credentials' scope and permission. Allowed
requests go on to moto unchanged (moto does not verify signatures). Requests signed with any other
keys go to moto as before. Browser CORS follows the bucket's CORS configuration, evaluated here so
that our own 403s carry the same headers as moto's answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.etree import ElementTree as ET

from werkzeug.wrappers import Request, Response

from local.aws_emulator.access_grants import access_key_id_of, covers
from local.aws_emulator.state import EmulatorState, VendedCredential

READ_OPERATIONS = {"GetObject", "HeadObject", "GetObjectAcl", "GetObjectAttributes", "ListParts"}
WRITE_OPERATIONS = {
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "PutObjectAcl",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
}
LIST_OPERATIONS = {"ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"}
MAX_PRESIGN_EXPIRES = 604800


class S3Denied(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def s3_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """S3's error document (<Error> at the root, as botocore's S3 parser expects)."""
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = code
    ET.SubElement(root, "Message").text = message
    request_id = uuid.uuid4().hex[:16].upper()
    ET.SubElement(root, "RequestId").text = request_id
    host_id = base64.b64encode(secrets.token_bytes(32)).decode()
    ET.SubElement(root, "HostId").text = host_id
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)
    all_headers = {"x-amz-request-id": request_id, "x-amz-id-2": host_id, **(headers or {})}
    return Response(body, status=status, content_type="application/xml", headers=all_headers)


# --- naming --------------------------------------------------------------------------------------


def raw_path_and_query(request: Request) -> tuple[str, str]:
    """The request target exactly as sent (still percent-encoded), as signatures cover it.

    Through an HTTP proxy (how Terraform and plain boto3 reach s3control here) the request line carries
    an absolute URI; its scheme and authority are not part of the signed path.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return quote(request.path), request.query_string.decode()
    if "://" in raw.split("?", 1)[0]:
        parts = urlsplit(raw)
        return parts.path or "/", parts.query
    path, _, query = raw.partition("?")
    return path, query


def split_path(request: Request) -> tuple[str, str]:
    """(bucket, key) of a path-style S3 request; key is decoded, both may be empty."""
    bucket, _, key = raw_path_and_query(request)[0].lstrip("/").partition("/")
    return unquote(bucket), unquote(key)


def s3_operation_name(request: Request) -> str:
    bucket, key = split_path(request)
    method, args = request.method, request.args
    if not bucket:
        return "ListBuckets"
    if method == "OPTIONS":
        return "PreflightRequest"
    if not key:
        subresource = next((name for name in args if name not in ("prefix", "delimiter", "max-keys")), None)
        if method == "GET":
            if args.get("list-type") == "2":
                return "ListObjectsV2"
            named = {
                "uploads": "ListMultipartUploads",
                "versions": "ListObjectVersions",
                "location": "GetBucketLocation",
            }
            if subresource in named:
                return named[subresource]
            return (
                f"GetBucket{subresource.capitalize()}"
                if subresource and not _is_list_arg(subresource)
                else "ListObjects"
            )
        if method == "HEAD":
            return "HeadBucket"
        if method == "POST" and "delete" in args:
            return "DeleteObjects"
        if method == "PUT":
            return f"PutBucket{subresource.capitalize()}" if subresource else "CreateBucket"
        if method == "DELETE":
            return f"DeleteBucket{subresource.capitalize()}" if subresource else "DeleteBucket"
        return f"Bucket{method.capitalize()}"
    if method == "GET":
        if "uploadId" in args:
            return "ListParts"
        for sub, name in (
            ("tagging", "GetObjectTagging"),
            ("acl", "GetObjectAcl"),
            ("attributes", "GetObjectAttributes"),
        ):
            if sub in args:
                return name
        return "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        if "partNumber" in args and "uploadId" in args:
            return "UploadPartCopy" if "x-amz-copy-source" in request.headers else "UploadPart"
        if "acl" in args:
            return "PutObjectAcl"
        if "tagging" in args:
            return "PutObjectTagging"
        return "CopyObject" if "x-amz-copy-source" in request.headers else "PutObject"
    if method == "POST":
        if "uploads" in args:
            return "CreateMultipartUpload"
        if "uploadId" in args:
            return "CompleteMultipartUpload"
        return "PostObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in args else "DeleteObject"
    return f"Object{method.capitalize()}"


def _is_list_arg(name: str) -> bool:
    return name in (
        "list-type",
        "continuation-token",
        "start-after",
        "fetch-owner",
        "encoding-type",
        "marker",
    )


# --- signatures ----------------------------------------------------------------------------------


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def header_signatures(secret_access_key: str, request: Request, payload_hash: str) -> tuple[str, str]:
    """(signature sent, signature expected) of a request signed with a SigV4 `Authorization` header.
    Raises KeyError or ValueError when the header is malformed."""
    auth = request.headers.get("Authorization", "")
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256") :].split(","))
    expected = sigv4_signature(
        secret_access_key,
        request,
        signed_headers=fields["SignedHeaders"].split(";"),
        amz_date=request.headers.get("x-amz-date", ""),
        scope=fields["Credential"].split("/", 1)[1],
        payload_hash=payload_hash,
    )
    return fields.get("Signature", ""), expected


def sigv4_signature(
    secret: str, request: Request, *, signed_headers: list[str], amz_date: str, scope: str, payload_hash: str
) -> str:
    path, query = raw_path_and_query(request)
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "X-Amz-Signature"]
    canonical_query = "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(pairs))
    canonical_headers = "".join(
        f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed_headers
    )
    canonical_request = "\n".join(
        [
            request.method,
            path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    date, region, service, terminator = scope.split("/")
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, terminator):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


_SIGV2_SUBRESOURCES = {
    "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
    "requestPayment", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website", "response-content-type", "response-content-language", "response-expires",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
}  # fmt: skip


def sigv2_signature(secret: str, request: Request, expires: str) -> str:
    path, query = raw_path_and_query(request)
    pairs = parse_qsl(query, keep_blank_values=True)
    amz = {k.lower(): v.strip() for k, v in request.headers.items() if k.lower().startswith("x-amz-")}
    amz.update({k.lower(): v for k, v in pairs if k.lower().startswith("x-amz-")})
    resources = sorted((k, v) for k, v in pairs if k in _SIGV2_SUBRESOURCES)
    resource = path + ("?" + "&".join(f"{k}={v}" if v else k for k, v in resources) if resources else "")
    content_type = request.headers.get("Content-Type") or dict(pairs).get("content-type", "")
    string_to_sign = "\n".join(
        [request.method, request.headers.get("Content-MD5", ""), content_type, expires]
        + [f"{k}:{v}" for k, v in sorted(amz.items())]
        + [resource]
    )
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --- enforcement ---------------------------------------------------------------------------------


class S3Enforcement:
    def __init__(self, state: EmulatorState, forward: Callable[[Request], Response]) -> None:
        self.state = state
        self.forward = forward

    def handle(self, request: Request) -> Response:
        """Answer one S3 request (preflight, vended-credential check, then moto) with CORS applied."""
        bucket, _ = split_path(request)
        if request.method == "OPTIONS" and bucket:
            return self._preflight(request, bucket)
        operation = s3_operation_name(request)
        try:
            vended = self._verify(request)
            if vended is not None:
                self._authorize(request, operation, vended)
            forward = self._forward_listing if operation == "ListObjectsV2" else self.forward
            response = forward(request)
        except S3Denied as denial:
            headers = {"x-amz-bucket-region": self.state.region} if operation == "HeadBucket" else {}
            response = s3_error(denial.status, denial.code, denial.message, headers)
            if request.method == "HEAD":
                response.set_data(b"")
        if operation == "HeadBucket" and response.status_code in (200, 301, 403):
            response.headers.setdefault("x-amz-bucket-region", self.state.region)
        self._apply_cors(request, bucket, response)
        return response

    def _forward_listing(self, request: Request) -> Response:
        """moto fails on a continuation token it did not issue; S3 answers 400 InvalidArgument."""
        try:
            response = self.forward(request)
        except Exception:
            if not request.args.get("continuation-token"):
                raise
            response = None
        if response is None or (response.status_code >= 500 and request.args.get("continuation-token")):
            raise S3Denied(400, "InvalidArgument", "The continuation token provided is incorrect")
        return response

    # -- authentication --
    def _verify(self, request: Request) -> VendedCredential | None:
        access_key = access_key_id_of(request)
        vended = self.state.vended.get(access_key or "")
        if vended is None:
            return None
        now = self.state.now()
        auth = request.headers.get("Authorization", "")
        args = request.args
        if auth.startswith("AWS4-HMAC-SHA256"):
            payload_hash = request.headers.get("x-amz-content-sha256", "")
            signed_payload = payload_hash and not payload_hash.startswith(("UNSIGNED", "STREAMING"))
            if signed_payload and hashlib.sha256(request.get_data(cache=True)).hexdigest() != payload_hash:
                raise S3Denied(
                    400,
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
            self._check_signature(*header_signatures(vended.secret_access_key, request, payload_hash))
            token = request.headers.get("x-amz-security-token")
        elif "X-Amz-Credential" in args:
            expected = sigv4_signature(
                vended.secret_access_key,
                request,
                signed_headers=args.get("X-Amz-SignedHeaders", "host").split(";"),
                amz_date=args.get("X-Amz-Date", ""),
                scope=args["X-Amz-Credential"].split("/", 1)[1],
                payload_hash="UNSIGNED-PAYLOAD",
            )
            self._check_signature(args.get("X-Amz-Signature", ""), expected)
            try:
                signed_at = datetime.strptime(args.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=UTC
                )
                expires = int(args.get("X-Amz-Expires", ""))
            except ValueError as error:
                raise S3Denied(
                    400, "AuthorizationQueryParametersError", "Invalid X-Amz-Date or X-Amz-Expires"
                ) from error
            if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
                raise S3Denied(
                    400,
                    "AuthorizationQueryParametersError",
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                )
            if now > signed_at + timedelta(seconds=expires):
                raise S3Denied(403, "AccessDenied", "Request has expired")
            token = args.get("X-Amz-Security-Token")
        elif "AWSAccessKeyId" in args:
            expires = args.get("Expires", "")
            self._check_signature(
                args.get("Signature", ""), sigv2_signature(vended.secret_access_key, request, expires)
            )
            if not expires.isdigit() or now.timestamp() > int(expires):
                raise S3Denied(403, "AccessDenied", "Request has expired")
            token = args.get("x-amz-security-token")
        else:
            raise S3Denied(400, "InvalidRequest", "Unsupported signature form for temporary credentials")
        if token is None:
            raise S3Denied(
                403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
            )
        if not hmac.compare_digest(token, vended.session_token):
            raise S3Denied(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        if now >= vended.expiration:
            raise S3Denied(400, "ExpiredToken", "The provided token has expired.")
        return vended

    @staticmethod
    def _check_signature(given: str, expected: str) -> None:
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise S3Denied(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )

    # -- authorization --
    def _authorize(self, request: Request, operation: str, vended: VendedCredential) -> None:
        bucket, key = split_path(request)
        wants_write = operation in WRITE_OPERATIONS
        if operation in READ_OPERATIONS | WRITE_OPERATIONS:
            keys = [key]
            if operation == "DeleteObjects":
                keys = _keys_to_delete(request.get_data(cache=True))
            targets = [f"s3://{bucket}/{k}" for k in keys]
            if operation in ("CopyObject", "UploadPartCopy"):
                source = unquote(request.headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
                self._require(vended, f"s3://{source}", write=False)
            for target in targets:
                self._require(vended, target, write=wants_write)
            return
        if operation in LIST_OPERATIONS:
            self._require(vended, f"s3://{bucket}/{request.args.get('prefix', '')}*", write=False)
            return
        if operation in ("HeadBucket", "GetBucketLocation"):
            # Only credentials for the whole bucket may see the bucket itself (no prefix condition applies).
            self._require(vended, f"s3://{bucket}/*", write=False)
            return
        raise S3Denied(403, "AccessDenied", "Access Denied")

    @staticmethod
    def _require(vended: VendedCredential, target: str, *, write: bool) -> None:
        allowed = vended.permission in ("READWRITE", "WRITE" if write else "READ")
        if not (allowed and covers(vended.scope, target)):
            raise S3Denied(403, "AccessDenied", "Access Denied")

    # -- CORS --
    def _cors_rules(self, bucket: str) -> list[Any] | None:
        """The bucket's CORS rules from moto's S3 backend, or None when the bucket does not exist."""
        from moto.s3.models import s3_backends

        backend = s3_backends[self.state.account_id]["global"]
        found = backend.buckets.get(bucket)
        return None if found is None else list(found.cors or [])

    def _matching_rule(self, bucket: str, origin: str, method: str, request_headers: list[str]) -> Any | None:
        for rule in self._cors_rules(bucket) or []:
            if not any(fnmatchcase(origin, allowed) for allowed in rule.allowed_origins or []):
                continue
            if method not in (rule.allowed_methods or []):
                continue
            allowed_headers = [h.lower() for h in rule.allowed_headers or []]
            if all(any(fnmatchcase(h.lower(), a) for a in allowed_headers) for h in request_headers):
                return rule
        return None

    def _preflight(self, request: Request, bucket: str) -> Response:
        origin = request.headers.get("Origin", "")
        method = request.headers.get("Access-Control-Request-Method", "")
        requested = [
            h.strip()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        rule = self._matching_rule(bucket, origin, method, requested) if origin and method else None
        if rule is None:
            return s3_error(403, "AccessForbidden", "CORSResponse: This CORS request is not allowed.")
        response = Response(b"", status=200)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)
        if requested:
            response.headers["Access-Control-Allow-Headers"] = ", ".join(requested)
        if rule.exposed_headers:
            response.headers["Access-Control-Expose-Headers"] = ", ".join(rule.exposed_headers)
        if rule.max_age_seconds:
            response.headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
        response.headers["Vary"] = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
        return response

    def _apply_cors(self, request: Request, bucket: str, response: Response) -> None:
        for name in {k for k, _ in response.headers.items() if k.lower().startswith("access-control-")}:
            del response.headers[name]
        origin = request.headers.get("Origin")
        if not origin or not bucket:
            return
        rule = self._matching_rule(bucket, origin, request.method, [])
        if rule is None:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)
        if rule.exposed_headers:
            response.headers["Access-Control-Expose-Headers"] = ", ".join(rule.exposed_headers)
        response.headers["Vary"] = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def _keys_to_delete(body: bytes) -> list[str]:
    try:
        root = ET.fromstring(body)  # noqa: S314 - local emulator; input from local SDK clients
    except ET.ParseError as error:
        raise S3Denied(400, "MalformedXML", "The XML you provided was not well-formed.") from error
    return [node.text or "" for node in root.iter() if re.sub(r"^\{.*\}", "", node.tag) == "Key"]

"""S3 requests: authenticated and authorized as S3 does it, then answered by moto.

- Signatures of keys the emulator knows (STS sessions, vended credentials, IAM users' keys) are recomputed
  with botocore's signers; their session token must match and must not have expired. Presigned URLs also
  expire, may not exceed a week, and may not carry unsigned `x-amz-*` headers ("There were headers present
  in the request which were not signed", S3 API reference, "Authenticating Requests: Using Query
  Parameters").
- Vended credentials are held to their session policy; every caller to the bucket policy (an explicit Deny
  wins); anonymous requests need a bucket policy that allows everyone, so no web page can write into a
  running local stack.
- Browser-based uploads (POST Object) are held to their signed policy (`post_object`) and then to the
  same permissions as a PutObject of their key.
- A bucket answers only requests signed for its own Region (S3 API reference, "Error responses":
  `AuthorizationHeaderMalformed` "the region 'X' is wrong; expecting 'Y'" with a `Region` element, which
  botocore's redirector follows; `AuthorizationQueryParametersError` for a presigned URL); HeadBucket
  answers `x-amz-bucket-region` whatever the outcome. GetBucketLocation and CreateBucket are exempt.
- CORS follows the bucket's rules, for preflights and for every answer, our own refusals included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator.core import policy, wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.moto_models import role_inline_policies
from local.aws_emulator.core.policy import Decision, RequestContext
from local.aws_emulator.core.signing import Form, Problem, claim_of
from local.aws_emulator.s3 import exceptions, multipart, post_object
from local.aws_emulator.s3.models import (
    Need,
    bucket_policy,
    bucket_region,
    cors_rule,
    required,
    set_content_type,
    upload_exists,
)
from local.aws_emulator.sts.models import Caller, StsBackend

SERVICE = "s3"
# Operations S3 answers for any bucket whatever the signing Region (a bucket being created has none yet).
ANY_REGION = {"GetBucketLocation", "CreateBucket", "ListBuckets"}
# Operations on one multipart upload: S3 answers NoSuchUpload (404) once it is completed or aborted (S3 API
# reference, UploadPart, ListParts, AbortMultipartUpload and CompleteMultipartUpload, "Errors").
UPLOAD_OPERATIONS = {
    "UploadPart",
    "UploadPartCopy",
    "ListParts",
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
}
Forward = Callable[..., Response]
# The emulator stands in for S3's HTTPS endpoint: bucket policies see requests as sent over TLS.
TRANSPORT_KEYS = {"aws:SecureTransport": "true"}
FORM_SENSITIVE = {"PutObject", "UploadPart"}


def _is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    )


class S3Responses:
    def __init__(self, sts: StsBackend, forward: Forward, default_region: str) -> None:
        self.sts = sts
        self.forward = forward
        self.default_region = default_region

    def handle(self, request: Request) -> Response:
        routed = wire.route(SERVICE, request)
        operation, uri_params = routed if routed else (wire.operation_model(SERVICE, "ListBuckets"), {})
        bucket = uri_params.get("Bucket", "")
        if request.method == "OPTIONS" and bucket:
            return self._preflight(request, bucket)
        try:
            caller = self.sts.identify(request)
            self._authenticate(request, caller)
            if bucket and operation.name not in ANY_REGION:
                self._require_bucket_region(request, bucket)
            if operation.name == "PostObject":
                response = self._post_object(request, bucket, caller)
            elif operation.name == "DeleteObjects":
                response = multipart.delete_objects(
                    operation,
                    request,
                    uri_params,
                    lambda key: self._authorize(
                        caller, [Need("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{key}")]
                    ),
                )
            else:
                self._authorize(caller, required(operation.name, uri_params, request))
                if operation.name in UPLOAD_OPERATIONS and not upload_exists(
                    bucket, request.args["uploadId"]
                ):
                    # moto answers a part for an aborted or completed upload with a 500 (KeyError).
                    raise exceptions.no_such_upload(request.args["uploadId"])
                multipart.check_before(operation, request, uri_params)
                if operation.name in multipart.PART_READS and "partNumber" in request.args:
                    response = multipart.read_part(request, uri_params, self.forward)
                else:
                    response = self._forward(request, operation.name)
        except EmulatorError as error:
            response = wire.respond(SERVICE, operation, error)
            if request.method == "HEAD":
                response.set_data(b"")
        if operation.name == "HeadBucket" and response.status_code in (200, 301, 400, 403):
            response.headers.setdefault("x-amz-bucket-region", bucket_region(bucket) or self.default_region)
        self._apply_cors(request, bucket, response)
        return response

    # -- authentication --
    def _authenticate(self, request: Request, caller: Caller) -> None:
        claim = claim_of(request)
        if claim is not None and claim.form is Form.HEADER_V4:
            declared = request.headers.get("x-amz-content-sha256", "")
            if len(declared) == 64 and hashlib.sha256(request.get_data(cache=True)).hexdigest() != declared:
                raise exceptions.content_sha256_mismatch()
        problem = caller.problem
        if problem is Problem.SIGNATURE:
            raise exceptions.signature_mismatch()
        if problem is Problem.TOKEN_MISSING:
            raise exceptions.invalid_access_key()
        if problem is Problem.TOKEN:
            raise exceptions.invalid_token()
        if problem is Problem.UNSIGNED_HEADERS:
            unsigned = sorted(
                name.lower() for name, _ in request.headers.items() if name.lower().startswith("x-amz-")
            )
            raise exceptions.access_denied(
                "There were headers present in the request which were not signed",
                HeadersNotSigned=", ".join(unsigned),
            )
        if problem is Problem.EXPIRES_TOO_LONG:
            raise exceptions.query_parameters(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            )
        if problem is Problem.MALFORMED and claim is not None and claim.form is Form.POST_POLICY:
            raise exceptions.invalid_argument(
                "Invalid or missing x-amz-algorithm, x-amz-date or x-amz-credential"
            )
        if problem is Problem.MALFORMED:
            raise exceptions.query_parameters("Invalid or missing signature parameters")
        if problem is Problem.URL_EXPIRED:
            raise exceptions.access_denied("Request has expired", **self._expiry_details(request))
        if caller.expired:
            raise exceptions.expired_token()

    def _require_bucket_region(self, request: Request, bucket: str) -> None:
        claim = claim_of(request)
        if claim is None or claim.region is None:
            return  # anonymous or SigV2: no Region is signed
        expected = bucket_region(bucket)
        if expected is None or claim.region == expected:
            return  # a missing bucket is NoSuchBucket in any Region
        wrong = f"the region '{claim.region}' is wrong; expecting '{expected}'"
        if claim.form is Form.HEADER_V4:
            raise exceptions.header_malformed(
                f"The authorization header is malformed; {wrong}", Region=expected
            )
        raise exceptions.query_parameters(
            f"Error parsing the X-Amz-Credential parameter; {wrong}", Region=expected
        )

    def _expiry_details(self, request: Request) -> dict[str, str]:
        args = request.args
        if "X-Amz-Date" in args:
            signed_at = datetime.strptime(args["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = signed_at + timedelta(seconds=int(args["X-Amz-Expires"]))
            details = {"X-Amz-Expires": args["X-Amz-Expires"]}
        else:
            expires = datetime.fromtimestamp(int(args.get("Expires", "0")), UTC)
            details = {}
        return details | {"Expires": _iso(expires), "ServerTime": _iso(self.sts.clock.now())}

    # -- authorization --
    def _authorize(self, caller: Caller, needs: list[Need]) -> None:
        """Each need, or `AccessDenied` saying why as S3 does for a caller it knows (S3 User Guide,
        "Troubleshoot access denied (403 Forbidden) errors": "User: <arn> is not authorized to perform:
        <action> on resource: "<arn>" because no session policy allows the <action> action", "... with an
        explicit deny in a resource-based policy" / "identity-based policy"); plain "Access Denied" for an
        anonymous caller, whom S3 tells nothing."""
        session = caller.session
        session_policy = session.policy if session is not None else None
        session_keys = {"aws:TokenIssueTime": session.token_issue_time} if session is not None else {}
        role_denies = role_inline_policies(session.role_arn) if session else []
        for need in needs:
            context = RequestContext(
                need.action, need.resource, caller.principal, need.keys | TRANSPORT_KEYS | session_keys
            )
            if session_policy is not None and not policy.allows(session_policy, context):
                raise self._denied(caller, need, f"because no session policy allows the {need.action} action")
            # The role's own explicit Deny (IAM user guide, "Revoke IAM role temporary security credentials":
            # a DateLessThan aws:TokenIssueTime deny ends every session issued before it). Only its denies:
            # what the role allows, GetDataAccess's session policy narrows to the grant already.
            if any(policy.evaluate(document, context) is Decision.DENY for document in role_denies):
                raise self._denied(caller, need, "with an explicit deny in an identity-based policy")
            bucket = need.resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            document = bucket_policy(bucket) if need.resource != "*" else None
            verdict = policy.evaluate(document, context) if document else Decision.IMPLICIT_DENY
            if verdict is Decision.DENY:
                raise self._denied(caller, need, "with an explicit deny in a resource-based policy")
            if caller.principal.is_anonymous and verdict is not Decision.ALLOW:
                raise exceptions.access_denied()

    @staticmethod
    def _denied(caller: Caller, need: Need, why: str) -> EmulatorError:
        if caller.principal.is_anonymous:
            return exceptions.access_denied()
        return exceptions.access_denied(
            f"User: {caller.principal.arn} is not authorized to perform: {need.action} on resource: "
            f'"{need.resource}" {why}'
        )

    def _post_object(self, request: Request, bucket: str, caller: Caller) -> Response:
        """A browser-based upload: its policy (when signed), then the caller's permissions, then moto's
        store. Anonymous forms carry no policy and rely on the bucket policy alone, as on S3."""
        upload = post_object.read(request, bucket)
        if not caller.principal.is_anonymous:
            post_object.check_policy(upload, self.sts.clock.now())
        self._authorize(caller, [Need("s3:PutObject", f"arn:aws:s3:::{bucket}/{upload.key}")])
        return post_object.answer(request, upload, post_object.store(upload))

    def _forward(self, request: Request, operation: str) -> Response:
        if operation in FORM_SENSITIVE and _is_form(request.content_type):
            return self._forward_form_typed_body(request, operation)
        try:
            response = self.forward(request)
        except Exception:
            if not request.args.get("continuation-token"):
                raise
            response = None
        # moto fails on a continuation token it did not issue; S3 answers 400 InvalidArgument.
        if (
            operation == "ListObjectsV2"
            and request.args.get("continuation-token")
            and (response is None or response.status_code >= 500)
        ):
            raise exceptions.invalid_argument("The continuation token provided is incorrect")
        assert response is not None
        return response

    def _forward_form_typed_body(self, request: Request, operation: str) -> Response:
        """moto reads a form-typed body as a form and stores nothing. S3 stores the bytes whatever their
        type: hand moto the body as octet-stream, then give the object back the Content-Type it was sent."""
        sent_type = request.content_type
        response = self.forward(request, CONTENT_TYPE="application/octet-stream")
        if operation == "PutObject" and response.status_code == 200:
            params = wire.route(SERVICE, request)[1]  # type: ignore[index]
            set_content_type(params["Bucket"], params["Key"], sent_type)
        return response

    # -- CORS --
    def _preflight(self, request: Request, bucket: str) -> Response:
        origin = request.headers.get("Origin", "")
        method = request.headers.get("Access-Control-Request-Method", "")
        requested = [
            h.strip()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        rule = cors_rule(bucket, origin, method, requested) if origin and method else None
        if rule is None:
            return wire.respond(
                SERVICE, wire.operation_model(SERVICE, "GetObject"), exceptions.cors_forbidden()
            )
        response = Response(b"", status=200)
        self._cors_headers(response, origin, rule)
        if requested:
            response.headers["Access-Control-Allow-Headers"] = ", ".join(requested)
        if rule.max_age_seconds:
            response.headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
        return response

    def _apply_cors(self, request: Request, bucket: str, response: Response) -> None:
        for name in {k for k, _ in response.headers.items() if k.lower().startswith("access-control-")}:
            del response.headers[name]
        origin = request.headers.get("Origin")
        rule = cors_rule(bucket, origin, request.method, []) if origin and bucket else None
        if origin and rule is not None:
            self._cors_headers(response, origin, rule)

    @staticmethod
    def _cors_headers(response: Response, origin: str, rule: object) -> None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)  # type: ignore[attr-defined]
        if rule.exposed_headers:  # type: ignore[attr-defined]
            response.headers["Access-Control-Expose-Headers"] = ", ".join(rule.exposed_headers)  # type: ignore[attr-defined]
        response.headers["Vary"] = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

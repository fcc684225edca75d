"""Who signed a request, and whether the signature is right, recomputed with botocore's own signers.

Real AWS checks every signature; moto checks none. For credentials the emulator issued (and so knows the
secret of), the signature is recomputed the way the client computed it: `SigV4Auth` / `S3SigV4Auth` for the
`Authorization` header, `S3SigV4QueryAuth` for presigned URLs, `HmacV1Auth` for legacy SigV2 presigned
URLs, `S3SigV4PostAuth` for the policy of a browser-based upload (POST Object). Each returns a `Problem`
(or None) and the service answers it in its own words.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl, quote, urlsplit

from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4PostAuth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import ReadOnlyCredentials
from werkzeug.sansio.multipart import Data, Field, File, MultipartDecoder, Preamble
from werkzeug.wrappers import Request

from local.aws_emulator.core.exceptions import EmulatorError

MAX_PRESIGN_EXPIRES_SECONDS = 604800


class Form(enum.Enum):
    HEADER_V4 = "AWS4-HMAC-SHA256 header"
    QUERY_V4 = "SigV4 query"
    QUERY_V2 = "SigV2 query"
    HEADER_V2 = "SigV2 header"
    POST_POLICY = "POST policy"


class Problem(enum.Enum):
    SIGNATURE = "the signature does not match"
    TOKEN = "the session token does not match"
    TOKEN_MISSING = "the session token is missing"
    UNSIGNED_HEADERS = "headers present in the request were not signed"
    MALFORMED = "the signature parameters are malformed"
    URL_EXPIRED = "the presigned request has expired"
    EXPIRES_TOO_LONG = "X-Amz-Expires is longer than a week"


@dataclass(frozen=True)
class Claim:
    """What a request says about its signer, before anything is verified."""

    access_key_id: str
    form: Form
    region: str | None = None
    service: str | None = None


def raw_path_and_query(request: Request) -> tuple[str, str]:
    """The request target exactly as sent (still percent-encoded), as signatures cover it. Through an HTTP
    proxy (how Terraform reaches s3control here) the request line carries an absolute URI."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return quote(request.path), request.query_string.decode()
    if "://" in raw.split("?", 1)[0]:
        parts = urlsplit(raw)
        return parts.path or "/", parts.query
    path, _, query = raw.partition("?")
    return path, query


def _auth_fields(request: Request) -> dict[str, str]:
    auth = request.headers.get("Authorization", "")
    return dict(
        part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256") :].split(",") if "=" in part
    )


def claim_of(request: Request) -> Claim | None:
    """The access key a request is signed with (SigV4 header or query, SigV2 header or query);
    remembered on the request, which every service asks."""
    environ = request.environ
    if "local.emulator.claim" not in environ:
        environ["local.emulator.claim"] = _claim(request)
    answer: Claim | None = environ["local.emulator.claim"]
    return answer


def post_fields(request: Request) -> dict[str, str]:
    """The fields of a browser-based upload's form up to its file, by lower-cased name (S3 reads field
    names case-blind); empty for any other request.

    S3 reads the form only up to the file ("make sure that the file field is the last field in the form",
    API reference, POST Object; a key sent after it is "Bucket POST must contain a field named 'key'. If it
    is specified, please check the order of the fields."): fields after it are not read, so a field added
    after a signed form's file can neither change the key nor satisfy the policy. werkzeug's form parser
    keeps no order between fields and files, so the form is read again in order, with its multipart
    decoder (`werkzeug.sansio.multipart`), once per request."""
    if request.method != "POST" or request.mimetype != "multipart/form-data":
        return {}
    cached: dict[str, str] | None = request.environ.get("local.emulator.post_fields")
    if cached is None:
        cached = request.environ["local.emulator.post_fields"] = _fields_before_the_file(request)
    return cached


def _fields_before_the_file(request: Request) -> dict[str, str]:
    boundary = request.mimetype_params.get("boundary", "")
    decoder = MultipartDecoder(boundary.encode())
    decoder.receive_data(request.get_data(cache=True, parse_form_data=False))
    decoder.receive_data(None)
    fields: dict[str, str] = {}
    name, chunks = "", bytearray()
    while True:
        try:
            event = decoder.next_event()
        except ValueError as error:
            raise EmulatorError(
                "MalformedPOSTRequest",
                "The body of your POST request is not well-formed multipart/form-data.",
                status=400,
            ) from error
        if isinstance(event, (Field, File)):
            name, chunks = event.name.lower(), bytearray()
            if isinstance(event, File) and name == "file":
                return fields
        elif isinstance(event, Data):
            chunks += event.data
            if not event.more_data:
                fields.setdefault(name, chunks.decode("utf-8", "replace"))
                if name == "file":  # the file as a text field: the last field S3 reads, too
                    return fields
        elif not isinstance(event, Preamble):  # the epilogue, or a body that ends early
            return fields


def _claim(request: Request) -> Claim | None:
    auth = request.headers.get("Authorization", "")
    args = request.args
    fields = post_fields(request)
    if "x-amz-credential" in fields:
        scope = fields["x-amz-credential"].split("/")
        return Claim(scope[0], Form.POST_POLICY, *(scope[2:4] if len(scope) == 5 else (None, None)))
    if auth.startswith("AWS4-HMAC-SHA256"):
        scope = _auth_fields(request).get("Credential", "").split("/")
        return Claim(scope[0], Form.HEADER_V4, *(scope[2:4] if len(scope) == 5 else (None, None)))
    if auth.startswith("AWS "):
        return Claim(auth[4:].split(":", 1)[0], Form.HEADER_V2)
    if "X-Amz-Credential" in args:
        scope = args["X-Amz-Credential"].split("/")
        return Claim(scope[0], Form.QUERY_V4, *(scope[2:4] if len(scope) == 5 else (None, None)))
    if "AWSAccessKeyId" in args:
        return Claim(args["AWSAccessKeyId"], Form.QUERY_V2)
    return None


def _aws_request(request: Request, signed_headers: list[str], *, drop_param: str | None = None) -> AWSRequest:
    path, query = raw_path_and_query(request)
    # Pairs, not a dict: repeated keys (UntagResource's tagKeys) each count, sorted by botocore.
    params = [(key, value) for key, value in parse_qsl(query, keep_blank_values=True) if key != drop_param]
    headers = {name: request.headers.get(name, "") for name in signed_headers}
    aws_request = AWSRequest(method=request.method, url=f"http://{request.host}{path}", headers=headers)
    aws_request.params = params  # type: ignore[assignment]  # botocore accepts pairs; its stubs say dict
    aws_request.data = request.get_data(cache=True)
    return aws_request


def _signature(signer: SigV4Auth, aws_request: AWSRequest, timestamp: str) -> str:
    aws_request.context["timestamp"] = timestamp
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def check(request: Request, secret: str, session_token: str | None, *, now: datetime) -> Problem | None:
    """Why the request is not validly signed with `secret` (and `session_token`), or None."""
    claim = claim_of(request)
    if claim is None:
        return Problem.MALFORMED
    credentials = ReadOnlyCredentials(claim.access_key_id, secret, None)
    try:
        if claim.form is Form.HEADER_V4:
            problem = _check_header_v4(request, credentials, claim)
            sent_token = request.headers.get("X-Amz-Security-Token")
        elif claim.form is Form.QUERY_V4:
            problem = _check_query_v4(request, credentials, claim, now)
            sent_token = request.args.get("X-Amz-Security-Token")
        elif claim.form is Form.QUERY_V2:
            problem = _check_query_v2(request, credentials, now)
            sent_token = request.args.get("x-amz-security-token")
        elif claim.form is Form.POST_POLICY:
            problem = _check_post_policy(request, credentials, claim)
            sent_token = post_fields(request).get("x-amz-security-token")
        else:
            return Problem.MALFORMED
    except (KeyError, ValueError, IndexError):
        return Problem.MALFORMED
    if problem is not None:
        return problem
    if session_token is not None:
        if sent_token is None:
            return Problem.TOKEN_MISSING
        if not _same(sent_token, session_token):
            return Problem.TOKEN
    return None


def _scope(claim: Claim) -> tuple[str, str]:
    """(service, Region) of a SigV4 claim; a credential scope without them is malformed."""
    if claim.service is None or claim.region is None:
        raise ValueError("a SigV4 credential scope names its service and Region")
    return claim.service, claim.region


def _check_header_v4(request: Request, credentials: ReadOnlyCredentials, claim: Claim) -> Problem | None:
    fields = _auth_fields(request)
    service, region = _scope(claim)
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = signer_class(credentials, service, region)
    aws_request = _aws_request(request, fields["SignedHeaders"].split(";"))
    expected = _signature(signer, aws_request, request.headers.get("X-Amz-Date", ""))
    return None if _same(fields.get("Signature", ""), expected) else Problem.SIGNATURE


def _check_query_v4(
    request: Request, credentials: ReadOnlyCredentials, claim: Claim, now: datetime
) -> Problem | None:
    args = request.args
    signed_headers = args.get("X-Amz-SignedHeaders", "host").split(";")
    unsigned = [name for name, _ in request.headers.items() if name.lower().startswith("x-amz-")]
    if any(name.lower() not in signed_headers for name in unsigned):
        return Problem.UNSIGNED_HEADERS
    expires = int(args["X-Amz-Expires"])
    signer = S3SigV4QueryAuth(credentials, *_scope(claim), expires=expires)
    aws_request = _aws_request(request, signed_headers, drop_param="X-Amz-Signature")
    if not _same(args.get("X-Amz-Signature", ""), _signature(signer, aws_request, args["X-Amz-Date"])):
        return Problem.SIGNATURE
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES_SECONDS:
        return Problem.EXPIRES_TOO_LONG
    signed_at = datetime.strptime(args["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return Problem.URL_EXPIRED if now > signed_at + timedelta(seconds=expires) else None


def _check_post_policy(request: Request, credentials: ReadOnlyCredentials, claim: Claim) -> Problem | None:
    """S3 API reference, "Authenticating Requests: Browser-Based Uploads Using POST": the signature is over
    the base64 policy as sent, with the key of the form's credential scope. Whether the policy itself
    allows the upload is the S3 service's business (its expiry included)."""
    fields = post_fields(request)
    if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        return Problem.MALFORMED
    aws_request = AWSRequest(method="POST", url=f"http://{request.host}/")
    aws_request.context["timestamp"] = fields["x-amz-date"]
    expected = S3SigV4PostAuth(credentials, *_scope(claim)).signature(fields["policy"], aws_request)
    return None if _same(fields.get("x-amz-signature", ""), expected) else Problem.SIGNATURE


class _HmacV1Verifier(HmacV1Auth):
    """botocore's SigV2 string to sign, with the `Expires` the URL carries instead of now + expiry."""

    def __init__(self, credentials: ReadOnlyCredentials, expires: str) -> None:
        super().__init__(credentials)
        self._expires = expires

    def _get_date(self) -> str:
        return self._expires


def _check_query_v2(request: Request, credentials: ReadOnlyCredentials, now: datetime) -> Problem | None:
    path, query = raw_path_and_query(request)
    pairs = parse_qsl(query, keep_blank_values=True)
    expires = dict(pairs).get("Expires", "")
    # One value per name: a query parameter stands in for a header the request lacks; a header sent wins
    # (S3 signs the Content-Type the request carries, whatever the URL says).
    interesting = [*pairs, *request.headers.items()]
    signed = {
        name.lower(): value
        for name, value in interesting
        if name.lower().startswith("x-amz-") or name.lower() in ("content-type", "content-md5")
    }
    headers = HTTPHeaders()
    for name, value in signed.items():
        headers[name] = value
    verifier = _HmacV1Verifier(credentials, expires)
    expected = verifier.sign_string(
        # botocore reads the headers as its HTTPHeaders (a Message: get_all); its stubs say Mapping.
        verifier.canonical_string(request.method, urlsplit(f"{path}?{query}"), cast(Any, headers))
    )
    if not _same(dict(pairs).get("Signature", ""), expected):
        return Problem.SIGNATURE
    return Problem.URL_EXPIRED if not expires.isdigit() or now.timestamp() > int(expires) else None

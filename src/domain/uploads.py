"""Multipart uploads for browsers (`POST /v1/uploads`, `/parts`, `/complete`, `/abort`).

The service starts, completes and aborts an upload itself, with credentials vended for the caller (WRITE
on the object, checked like every vend), and presigns one UploadPart URL per part: the browser sends the
bytes straight to S3, in parallel, and a failed part is sent again on its own.

Who owns an upload, without state of our own: the `uploadId` handed out is S3's UploadId followed by a MAC
(HMAC-SHA256, keyed by a Secrets Manager secret read once per execution environment) over the caller's
identity, the target and S3's UploadId. Every later call recomputes it, so another caller, another target
or a made-up id is answered 404 before anything reaches S3. S3 itself cannot say who started an upload in
terms we could check (its Initiator is the vended session, not the end user), and its upload metadata is
not readable before completion. The standard library's `hmac` is all this needs.

Part sizes are S3's rules (5 MiB to 5 GiB, the last part smaller), which S3 enforces when the upload is
completed; a refusal is a 400 naming the rule, and the upload stays open for the caller to fix or abort.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from domain.audit import Decision
from domain.caller import Caller
from domain.credentials import AwsCredentials, retry_once_if_stale
from domain.errors import InternalError, RefusedAsNotFound, ServiceError, ServiceUnavailable
from domain.keys import canonical, digest_key
from domain.limits import MAX_PART_URLS_PER_ANSWER
from domain.permissions import Permission
from domain.ports import AwsOperations, RequestSigner
from domain.presign import credentials_for_signing, usable_seconds, utcnow
from domain.targets import GrantTarget
from domain.vending import VendingService, VendResult

UPLOAD_PERMISSION: Permission = "WRITE"
DEFAULT_PART_EXPIRES_SECONDS = 3600
# Credentials for a call made now (start, complete, abort): a minute of life left is enough.
CALL_SECONDS = 60
# Completing 10,000 parts takes ~600 KB of JSON with S3's ETags; the longest valid body (128-character
# ETags) is ~1.7 MB.
MAX_COMPLETE_BODY_BYTES = 2 * 1024 * 1024
_MAC_BYTES = 32
T = TypeVar("T")
_UPLOAD_ID = re.compile(r"^[\x21-\x7e]+\.[A-Za-z0-9_-]{43}$")


# --- the contract -------------------------------------------------------------------------------------


class StartUpload(msgspec.Struct, frozen=True):
    target: GrantTarget
    part_count: int
    content_type: str | None = None
    expires_in: int | None = None
    role: str | None = None


class RefreshPartUrls(msgspec.Struct, frozen=True):
    target: GrantTarget
    upload_id: str
    part_numbers: tuple[int, ...]
    expires_in: int | None = None
    role: str | None = None


class CompleteUpload(msgspec.Struct, frozen=True):
    target: GrantTarget
    upload_id: str
    parts: tuple[tuple[int, str], ...]  # (partNumber, etag), ascending
    role: str | None = None


class AbortUpload(msgspec.Struct, frozen=True):
    target: GrantTarget
    upload_id: str
    role: str | None = None


class SignedPart(msgspec.Struct, frozen=True):
    number: int
    url: str  # carries the signature: never logged


class SignedParts(msgspec.Struct, frozen=True):
    parts: tuple[SignedPart, ...]
    expires_at: datetime


class StartedUpload(msgspec.Struct, frozen=True):
    upload_id: str  # the caller's: S3's UploadId sealed to the caller and target
    target: GrantTarget
    signed: SignedParts  # the first MAX_PART_URLS_PER_ANSWER parts
    part_count: int

    @property
    def next_part_number(self) -> int | None:
        """Where POST /v1/uploads/parts takes over, when not every part got a URL here."""
        return MAX_PART_URLS_PER_ANSWER + 1 if self.part_count > MAX_PART_URLS_PER_ANSWER else None


class CompletedUpload(msgspec.Struct, frozen=True):
    target: GrantTarget
    etag: str


# A key read from the secret serves this long before it is read again: a rotation reaches every execution
# environment within it. A MAC that none of the known keys opens makes the environment read the current
# and the previous key again, at most this often (a forged id must not turn into a read per request).
KEY_MAX_AGE_SECONDS = 300.0
KEY_REREAD_ON_MISS_SECONDS = 10.0
# Reads the binding key: the current one, and with `previous` also the one it replaced (if any).
KeyReader = Callable[[bool], Sequence[bytes]]


class UploadBinding:
    """Seals S3's UploadId to the caller and target that started it; opens only for the same two.

    Sealed with the current key, opened with the current or the previous one, so that rotating the key
    (docs/operations.md) breaks no upload in flight: an upload sealed before a rotation keeps opening until
    the next rotation, which is to come later than the buckets' AbortIncompleteMultipartUpload rule."""

    def __init__(self, read_keys: KeyReader, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._read_keys = read_keys
        self._clock = clock
        self._keys: tuple[bytes, ...] = ()
        self._read_at = self._reread_at = -float("inf")

    @classmethod
    def with_keys(cls, *keys: bytes) -> UploadBinding:
        """Fixed keys, the first current (tests, tools)."""
        return cls(lambda previous: keys if previous else keys[:1])

    def _read(self, *, previous: bool) -> tuple[bytes, ...]:
        keys = tuple(self._read_keys(previous))
        if not keys or any(len(key) < 32 for key in keys):
            raise InternalError("the upload binding secret is too short")
        self._keys, self._read_at = keys, self._clock()
        return keys

    def _known(self) -> tuple[bytes, ...]:
        if self._clock() - self._read_at >= KEY_MAX_AGE_SECONDS:
            return self._read(previous=False)
        return self._keys

    def _mac(self, key: bytes, caller: Caller, target: GrantTarget, s3_upload_id: str) -> str:
        message = canonical("upload/v2", caller.identity_key, str(target), s3_upload_id)
        digest = hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def seal(self, caller: Caller, target: GrantTarget, s3_upload_id: str) -> str:
        return f"{s3_upload_id}.{self._mac(self._known()[0], caller, target, s3_upload_id)}"

    def open(self, caller: Caller, target: GrantTarget, upload_id: str) -> str:
        """S3's UploadId, if this caller started `upload_id` on `target`; else 404 (the same answer for a
        foreign, a forged and a malformed id: none of them says whether the upload exists)."""
        if _UPLOAD_ID.match(upload_id):
            s3_upload_id, mac = upload_id.rsplit(".", 1)
            keys = self._known()
            if self._opens(keys, mac, caller, target, s3_upload_id):
                return s3_upload_id
            # Sealed by an environment that read a newer key, or before the key this one knows replaced
            # it: read both again (at most every KEY_REREAD_ON_MISS_SECONDS), then decide.
            if self._clock() - self._reread_at >= KEY_REREAD_ON_MISS_SECONDS:
                self._reread_at = self._clock()
                fresh = self._read(previous=True)
                if fresh != keys and self._opens(fresh, mac, caller, target, s3_upload_id):
                    return s3_upload_id
        raise RefusedAsNotFound("no upload with this uploadId for this caller and target")

    def _opens(
        self, keys: Sequence[bytes], mac: str, caller: Caller, target: GrantTarget, upload_id: str
    ) -> bool:
        return any(hmac.compare_digest(mac, self._mac(key, caller, target, upload_id)) for key in keys)


# --- the operations -----------------------------------------------------------------------------------


class Uploads:
    """One caller's multipart uploads."""

    def __init__(
        self,
        caller: Caller,
        *,
        service: VendingService,
        signer: RequestSigner,
        binding: UploadBinding,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._caller = caller
        self._service = service
        self._signer = signer
        self._binding = binding
        self._clock = clock

    def start(self, request: StartUpload) -> StartedUpload:
        """CreateMultipartUpload with the caller's WRITE credentials, then one presigned URL per part (the
        first MAX_PART_URLS_PER_ANSWER of them)."""
        with self._decision(request.target, partCount=request.part_count) as decision:
            wanted = min(request.expires_in or DEFAULT_PART_EXPIRES_SECONDS, self._max_expires())
            s3_upload_id, vended = self._call(
                request.target,
                request.role,
                wanted,
                lambda credentials, region: self._gateway.start_multipart_upload(
                    credentials, region, request.target, request.content_type
                ),
            )
            numbers = range(1, min(request.part_count, MAX_PART_URLS_PER_ANSWER) + 1)
            try:
                signed = self._sign_parts(request.target, s3_upload_id, numbers, vended, wanted)
            except ServiceError:
                # Nothing half done: an upload the caller got no URLs for is aborted (best effort: the
                # caller sees the signing failure either way).
                with contextlib.suppress(ServiceError):
                    self._abort(request.target, request.role, s3_upload_id)
                raise
            upload_id = self._binding.seal(self._caller, request.target, s3_upload_id)
            decision.record("started", **_vended_fields(vended, upload_id, s3_upload_id))
        return StartedUpload(upload_id, request.target, signed, request.part_count)

    def part_urls(self, request: RefreshPartUrls) -> SignedParts:
        """Fresh URLs for parts of the caller's upload (to resume, or to replace expired ones)."""
        with self._decision(request.target, partCount=len(request.part_numbers)) as decision:
            s3_upload_id = self._open(request.target, request.upload_id, decision)
            wanted = min(request.expires_in or DEFAULT_PART_EXPIRES_SECONDS, self._max_expires())
            vended = self._credentials(request.target, request.role, wanted)
            signed = self._sign_parts(request.target, s3_upload_id, request.part_numbers, vended, wanted)
            decision.record("parts-signed", **_vended_fields(vended, request.upload_id, s3_upload_id))
        return signed

    def complete(self, request: CompleteUpload) -> CompletedUpload:
        with self._decision(request.target, partCount=len(request.parts)) as decision:
            s3_upload_id = self._open(request.target, request.upload_id, decision)
            etag, vended = self._call(
                request.target,
                request.role,
                CALL_SECONDS,
                lambda credentials, region: self._gateway.complete_multipart_upload(
                    credentials, region, request.target, s3_upload_id, request.parts
                ),
            )
            decision.record("completed", **_vended_fields(vended, request.upload_id, s3_upload_id))
        return CompletedUpload(request.target, etag)

    def abort(self, request: AbortUpload) -> None:
        with self._decision(request.target) as decision:
            s3_upload_id = self._open(request.target, request.upload_id, decision)
            vended = self._abort(request.target, request.role, s3_upload_id)
            decision.record("aborted", **_vended_fields(vended, request.upload_id, s3_upload_id))

    # --- helpers ---

    def _max_expires(self) -> int:
        return self._service.config.max_presign_expires_seconds

    @property
    def _gateway(self) -> AwsOperations:
        return self._service.gateway

    def _credentials(self, target: GrantTarget, role: str | None, seconds: int) -> VendResult:
        # The service makes the call, and a URL fixes method, key, part and expiry: a cached wider entry
        # may serve (the signing rule).
        return credentials_for_signing(self._service, self._caller, target, UPLOAD_PERMISSION, role, seconds)

    def _call(
        self,
        target: GrantTarget,
        role: str | None,
        seconds: int,
        operation: Callable[[AwsCredentials, str], T],
    ) -> tuple[T, VendResult]:
        """One S3 call with WRITE credentials that live `seconds` more, in the bucket's Region."""
        region = self._service.regions.region_of(target.bucket)

        def attempt() -> tuple[T, VendResult]:
            vended = self._credentials(target, role, seconds)
            return operation(vended.credentials, region), vended

        # S3 refusing cached credentials as expired (a revoked or skewed session): fresh ones, once.
        return retry_once_if_stale(
            attempt, forget=lambda: self._service.forget_credentials(self._caller, role)
        )

    def _abort(self, target: GrantTarget, role: str | None, s3_upload_id: str) -> VendResult:
        _, vended = self._call(
            target,
            role,
            CALL_SECONDS,
            lambda credentials, region: self._gateway.abort_multipart_upload(
                credentials, region, target, s3_upload_id
            ),
        )
        return vended

    def _sign_parts(
        self,
        target: GrantTarget,
        s3_upload_id: str,
        numbers: range | tuple[int, ...],
        vended: VendResult,
        wanted: int,
    ) -> SignedParts:
        expires_in = min(wanted, usable_seconds(vended.credentials, self._clock()))
        if expires_in < 1:
            raise ServiceUnavailable("the vended credentials expire too soon to sign a URL; retry")
        region = self._service.regions.region_of(target.bucket)
        parts: list[SignedPart] = []
        expires_at: datetime | None = None
        for number in numbers:
            signed = self._signer.sign(
                "PUT",
                target,
                vended.credentials,
                expires_in,
                region,
                params={"uploadId": s3_upload_id, "partNumber": str(number)},  # botocore's order
            )
            expires_at = signed.expires_at if expires_at is None else min(expires_at, signed.expires_at)
            parts.append(SignedPart(number, signed.url))
        assert expires_at is not None
        return SignedParts(tuple(parts), expires_at)

    def _decision(self, target: GrantTarget, **fields: Any) -> Decision:
        """One audited decision per upload call: granted, or refused with its status and code (an
        ownership refusal as `denied`, 404)."""
        return Decision(
            "upload",
            subject=self._caller.subject,
            identity=self._caller.identity_key,
            target=str(target),
            permission=UPLOAD_PERMISSION,
            **fields,
        )

    def _open(self, target: GrantTarget, upload_id: str, decision: Decision) -> str:
        # The refusal's record names the id by its digest: the MAC is the caller's proof of ownership,
        # and an attempt on someone else's upload must be visible without handing the proof to readers.
        decision.add(uploadIdDigest=upload_id_digest(upload_id))
        return self._binding.open(self._caller, target, upload_id)


def upload_id_digest(upload_id: str) -> str:
    """What audit records call an uploadId by: a digest that joins the start of an upload to every later
    call (or attempt) on it, and cannot be used as the id."""
    return digest_key("upload-id/v1", upload_id)[:32]


def _vended_fields(vended: VendResult, upload_id: str, s3_upload_id: str) -> dict[str, Any]:
    return {
        "matchedGrantTarget": vended.matched_grant_target,
        "accessKeyId": vended.credentials.access_key_id,
        "uploadId": s3_upload_id,
        "uploadIdDigest": upload_id_digest(upload_id),
    }

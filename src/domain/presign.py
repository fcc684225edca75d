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

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from domain.audit import audit
from domain.cache import CREDENTIALS_REFRESH_MARGIN_SECONDS
from domain.caller import Caller
from domain.config import ServiceConfig
from domain.credentials import AwsCredentials, isoformat
from domain.errors import (
    AccessDenied,
    InvalidRequest,
    ServiceError,
    ServiceUnavailable,
    UpstreamBudgetExhausted,
)
from domain.grants import HeldGrants
from domain.limits import GET_DATA_ACCESS_MIN_DURATION
from domain.permissions import Permission, satisfies
from domain.ports import RequestSigner
from domain.signing import PresignedRequest, PresignItem
from domain.targets import GrantTarget, covers
from domain.vending import CredentialRequest, VendingService, VendResult

DEFAULT_EXPIRES_SECONDS = 300
# A URL must stop working this long before its credentials do (clock skew between us and S3).
CREDENTIALS_MARGIN = timedelta(seconds=30)


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
        self._grant_lists: dict[tuple[str | None, str], HeldGrants | None] = {}

    def presign(self, request: PresignItem) -> PresignedRequest:
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
        self, requests: list[PresignItem | ServiceError]
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

    def _credentials_for(self, request: PresignItem) -> VendResult:
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

    def _grants(self, role: str | None, bucket: str) -> HeldGrants | None:
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
    prefilter: Callable[[], HeldGrants | None] | None = None,
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

"""Vending: the one place that turns (caller, target, permission) into S3 Access Grants credentials.

Two uses, two cache rules:
- `vend` hands credentials to the caller (POST /v1/credentials): never wider than asked, so a cached
  entry answers only the very request it would have answered upstream (`CredentialCache.find_exact`);
- `signing_credentials` gives the service credentials to sign with itself (presigned URLs, listings):
  the URL or the call fixes the method, the key and the expiry, so any cached entry covering the target
  with enough permission and life serves (`CredentialCache.find_covering`).

Order: recent denial? → cached credentials (memory, then the shared tier)? → (batches) the caller's grant
list as a pre-filter → identity session → GetDataAccess. Every decision writes exactly one audit record.
The caller's grants, asked as the caller (`caller_grants`, `grants_page`), serve the pre-filter, denial
explanations and the grant listing (`domain.grant_listing`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from domain.audit import Decision, count
from domain.cache import DENIAL_TTL_SECONDS, CachedGrant, CredentialCache, Denial, DenialCache, TtlCache
from domain.caller import Caller
from domain.config import ServiceConfig
from domain.credentials import AwsCredentials, isoformat, retry_once_if_stale
from domain.errors import AccessDenied, InvalidRequest, Revoked, ServiceError
from domain.grants import HeldGrant, HeldGrants, explain_denial
from domain.identity import IdentityExchange, IdentitySession
from domain.permissions import Permission, Privilege, TargetType
from domain.ports import AwsOperations, CallerGrant, CallerGrantsPage, DataAccessRequest
from domain.regions import BucketRegions
from domain.revocation import Revocations
from domain.shared_cache import (
    DENIALS_ENTRY,
    GRANT_PREFIX,
    MAX_SHARED_DENIALS,
    SharedTier,
    grant_entry_name,
)
from domain.targets import GrantTarget

# The caller's whole grant list (pre-filter and denial explanations): pages of ListCallerAccessGrants.
GRANT_LIST_PAGE = 1000
MAX_GRANT_LIST_PAGES = 5
GRANT_LIST_TTL_SECONDS = 60
MAX_GRANT_LISTS = 1000
# The metric each vend outcome counts.
VEND_METRICS = {"granted": "Vends", "denied": "Denials", "error": "VendErrors"}
T = TypeVar("T")
# The caller's grant list for the pre-filter (None: too long to hold, so nothing is pre-filtered).
GrantSource = Callable[[], HeldGrants | None]


class CredentialRequest(msgspec.Struct, frozen=True):
    target: GrantTarget
    permission: Permission
    privilege: Privilege = "Default"
    duration_seconds: int | None = None  # None = DEFAULT_DURATION_SECONDS
    target_type: TargetType | None = None  # None = "Object" for object targets
    role: str | None = None  # iam-role mode: the group (or role ARN) to act as


class VendResult(msgspec.Struct, frozen=True):
    credentials: AwsCredentials
    matched_grant_target: str
    permission: Permission  # what the credentials allow
    grantee_type: str | None
    grantee_identifier: str | None
    cached: bool
    directory_user_id: str | None = None
    source_identity: str | None = None
    cache_tier: str | None = None  # where a cached answer came from: "memory" or "shared"


class VendingService:
    """Vending with its caches and AWS gateway; one per execution environment (`composition.root`)."""

    def __init__(
        self,
        config: ServiceConfig,
        gateway: AwsOperations,
        *,
        identities: IdentityExchange | None = None,
        credentials: CredentialCache[VendResult] | None = None,
        denials: DenialCache | None = None,
        regions: BucketRegions | None = None,
        shared: SharedTier | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.shared = shared
        self.identities = identities or IdentityExchange(
            config, self.gateway, shared=shared, revocations=revocations
        )
        self.regions = regions or BucketRegions(
            config.bucket_regions, config.aws_region, self.gateway.bucket_region
        )
        # With caching off the reuse bound is 0: every cache keeps nothing, and no use needs a branch.
        max_age = config.reuse_seconds
        self._credentials = credentials or CredentialCache(max_age_seconds=max_age)
        self._denials = denials or DenialCache(ttl_seconds=min(DENIAL_TTL_SECONDS, max_age))
        self._grant_lists: TtlCache[HeldGrants] = TtlCache(MAX_GRANT_LISTS)
        self._grant_list_ttl = min(GRANT_LIST_TTL_SECONDS, max_age)
        if revocations is not None:
            revocations.on_revoke(self.forget_everything)  # nothing obtained before is served after

    def vend(self, caller: Caller, request: CredentialRequest) -> VendResult:
        """Credentials handed to the caller: exactly the permission, privilege and duration asked for."""
        return self._vend(caller, request, min_remaining_seconds=None, prefilter=None)

    def signing_credentials(
        self,
        caller: Caller,
        request: CredentialRequest,
        *,
        min_remaining_seconds: int,
        prefilter: GrantSource | None = None,
    ) -> VendResult:
        """Credentials the service signs with itself: a cached wider entry may serve (the URL or the call
        fixes method, key and expiry), if it lives `min_remaining_seconds` more. With `prefilter` (batches:
        the caller's grant list, fetched once per request), a target no grant of the caller covers is
        refused without a GetDataAccess call."""
        return self._vend(caller, request, min_remaining_seconds=min_remaining_seconds, prefilter=prefilter)

    def _vend(
        self,
        caller: Caller,
        request: CredentialRequest,
        *,
        min_remaining_seconds: int | None,
        prefilter: GrantSource | None,
    ) -> VendResult:
        duration = request.duration_seconds or self.config.default_duration_seconds
        target_type = request.target_type or request.target.target_type
        if target_type == "Object" and request.target.is_prefix:
            raise InvalidRequest("targetType Object needs an object target (s3://bucket/key)")
        with Decision(
            "vend",
            metrics=VEND_METRICS,
            subject=caller.subject,
            target=str(request.target),
            permission=request.permission,
            privilege=request.privilege,
            purpose="credentials" if min_remaining_seconds is None else "signing",
        ) as decision:
            shared_failures = self.shared.failures if self.shared is not None else 0
            try:
                identity = self.identities.session_key(caller, request.role)
                decision.add(identity=identity, **principal_fields(self.identities.cached_session(identity)))
                result = self._cached(identity, request, duration, min_remaining_seconds)
                if result is None:
                    if prefilter is not None:
                        self._refuse_if_no_grant_covers(prefilter(), identity, request)
                    result = self._fetch(caller, request, identity, duration, target_type)
            finally:
                if self.shared is not None and self.shared.failures != shared_failures:
                    decision.add(sharedCache="unavailable")
            decision.record(
                "granted",
                requestedPermission=request.permission if result.permission != request.permission else None,
                permission=result.permission,
                directoryUserId=result.directory_user_id,
                sourceIdentity=result.source_identity,
                matchedGrantTarget=result.matched_grant_target,
                expiration=isoformat(result.credentials.expiration),
                accessKeyId=result.credentials.access_key_id,
                cached=result.cached,
                cacheTier=result.cache_tier,
            )
        return result

    def forget_credentials(self, caller: Caller, role: str | None = None) -> None:
        """Drop the caller's cached credentials: AWS refused them (expired or revoked upstream)."""
        identity = self.identities.session_key(caller, role)
        self._credentials.forget(identity)
        if self.shared is not None:
            self.shared.distrust(identity)

    def forget_everything(self) -> None:
        """Drop everything this environment holds in memory (a user was revoked): sessions, credentials,
        denials and grant lists."""
        self.identities.forget_everything()
        self._credentials.clear()
        self._denials.clear()
        self._grant_lists.clear()

    def _cached(
        self, identity: str, request: CredentialRequest, duration: int, min_remaining_seconds: int | None
    ) -> VendResult | None:
        self._refuse_if_recently_denied(identity, request)
        found = self._find(identity, request, duration, min_remaining_seconds)
        tier = "memory"
        if found is None and self._load_shared(identity):
            self._refuse_if_recently_denied(identity, request)
            found = self._find(identity, request, duration, min_remaining_seconds)
            tier = "shared"
        if found is None:
            count("CacheMisses")
            return None
        count("CacheHits")
        count("MemoryCacheHits" if tier == "memory" else "SharedTierCacheHits")  # hits by tier
        return msgspec.structs.replace(found, cached=True, cache_tier=tier)

    def _refuse_if_recently_denied(self, identity: str, request: CredentialRequest) -> None:
        denied = self._denials.is_denied(identity, request.target, request.permission, request.privilege)
        if denied is not None:
            count("CacheHits")
            raise AccessDenied(denied)

    def _find(
        self, identity: str, request: CredentialRequest, duration: int, min_remaining_seconds: int | None
    ) -> VendResult | None:
        if min_remaining_seconds is None:
            return self._credentials.find_exact(
                identity, request.target, request.permission, request.privilege, duration
            )
        return self._credentials.find_covering(
            identity, request.target, request.permission, min_remaining_seconds
        )

    def _load_shared(self, identity: str) -> bool:
        """Load the identity's credentials from the shared tier into memory; whether any were found."""
        if self.shared is None:
            return False
        loaded = False
        for name, entry in self.shared.entries(identity).items():
            try:
                if name == DENIALS_ENTRY:
                    self._denials.restore(identity, msgspec.json.decode(entry.payload, type=list[Denial]))
                elif name.startswith(GRANT_PREFIX):
                    grant = msgspec.json.decode(entry.payload, type=CachedGrant[VendResult])
                    self._credentials.store(identity, grant, obtained_at=entry.obtained_at)
                else:
                    continue
            except msgspec.DecodeError:
                continue  # written by another version of the service: the exchange replaces it
            loaded = True
        return loaded

    def _refuse_if_no_grant_covers(
        self, grants: HeldGrants | None, identity: str, request: CredentialRequest
    ) -> None:
        if grants is not None and not grants.allows(request.target, request.permission):
            detail = explain_denial(grants, request.target, request.permission)
            # Not shared: the grant list decides it again in any environment without an AWS call, and a
            # batch may refuse hundreds of targets at once.
            self._denials.remember(identity, request.target, request.permission, request.privilege, detail)
            raise AccessDenied(detail)

    def _fetch(
        self,
        caller: Caller,
        request: CredentialRequest,
        identity: str,
        duration: int,
        target_type: TargetType | None,
    ) -> VendResult:
        obtained_at = time.time()  # before the call: the reuse bound never counts from later than AWS's
        wanted = DataAccessRequest(
            target=str(request.target),
            permission=request.permission,
            privilege=request.privilege,
            duration_seconds=duration,
            target_type=target_type,
        )
        region = self.regions.region_of(request.target.bucket)
        try:
            session, access = self._as_caller(
                caller,
                request.role,
                identity,
                lambda session: self.gateway.get_data_access(session.credentials, region, wanted),
            )
        except Revoked:
            raise  # not the grants' answer: nothing to explain, nothing to remember
        except AccessDenied:
            detail = self._explain(caller, request)
            self._remember_denial(identity, request, detail)
            raise AccessDenied(detail) from None
        result = VendResult(
            credentials=access.credentials,
            matched_grant_target=access.matched_grant_target or str(request.target),
            permission=request.permission,
            grantee_type=access.grantee_type,
            grantee_identifier=access.grantee_identifier,
            cached=False,
            directory_user_id=session.directory_user_id,
            source_identity=session.source_identity,
        )
        # Minimal privilege scopes the credentials to the target itself, not to the matched grant.
        scope = result.matched_grant_target if request.privilege == "Default" else str(request.target)
        grant = CachedGrant(
            scope,
            request.permission,
            request.privilege,
            duration,
            result.credentials.expiration.timestamp(),
            result,
        )
        fresh_until = self._credentials.store(identity, grant, obtained_at=obtained_at)
        if self.shared is not None:
            self.shared.store(
                identity,
                grant_entry_name(scope, request.permission, request.privilege, duration),
                msgspec.json.encode(grant),
                obtained_at=obtained_at,
                fresh_until=fresh_until,
            )
        return result

    def _remember_denial(self, identity: str, request: CredentialRequest, detail: str) -> None:
        """Remember AWS's refusal here and offer it to every environment."""
        self._denials.remember(identity, request.target, request.permission, request.privilege, detail)
        if self.shared is not None:
            # This environment's view of the caller's denials: what it decided, and what it loaded from
            # the shared entry at this request's memory miss.
            held = self._denials.held_by(identity)[-MAX_SHARED_DENIALS:]
            self.shared.store(
                identity,
                DENIALS_ENTRY,
                msgspec.json.encode(held),
                obtained_at=time.time(),
                fresh_until=max(denial.until for denial in held),
            )

    def _explain(self, caller: Caller, request: CredentialRequest) -> str:
        """A denial's detail naming the caller's grants near the target. The grant list is a convenience
        here: if it cannot be had, the denial stands with a plain explanation."""
        try:
            region = self.regions.region_of(request.target.bucket)
            grants = self.caller_grants(caller, request.role, region)
        except ServiceError:
            grants = None
        return explain_denial(grants, request.target, request.permission)

    def _as_caller(
        self, caller: Caller, role: str | None, identity: str, send: Callable[[IdentitySession], T]
    ) -> tuple[IdentitySession, T]:
        """Run `send` with the caller's identity session (`identity` is its key); a session AWS finds
        stale (e.g. its identity context expired) is rebuilt once."""

        def attempt() -> tuple[IdentitySession, T]:
            session, _ = self.identities.session_for(caller, role, identity)
            return session, send(session)

        return retry_once_if_stale(attempt, forget=lambda: self.identities.forget(identity))

    def caller_grants(self, caller: Caller, role: str | None, region: str) -> HeldGrants | None:
        """Every grant the caller holds in one Region (ListCallerAccessGrants, all pages), cached per
        identity and Region briefly; None when the list is longer than MAX_GRANT_LIST_PAGES pages (then
        nothing is pre-filtered)."""
        identity = self.identities.session_key(caller, role)
        cache_key = (identity, region)
        cached = self._grant_lists.get(cache_key)
        if cached is not None:
            return cached
        held: list[CallerGrant] = []
        next_token: str | None = None
        for _ in range(MAX_GRANT_LIST_PAGES):
            page = self.grants_page(caller, role, identity, region, GRANT_LIST_PAGE, next_token=next_token)
            held.extend(page.grants)
            next_token = page.next_token
            if not next_token:
                break
        else:
            return None
        grants = HeldGrants(HeldGrant(grant.scope, grant.permission) for grant in held)
        self._grant_lists.put(cache_key, grants, time.time() + self._grant_list_ttl)
        return grants

    def grants_page(
        self,
        caller: Caller,
        role: str | None,
        identity: str,
        region: str,
        max_results: int,
        *,
        scope: GrantTarget | None = None,
        next_token: str | None = None,
    ) -> CallerGrantsPage:
        """One page of ListCallerAccessGrants in `region`, asked as the caller (`identity` is its session
        key)."""
        _, page = self._as_caller(
            caller,
            role,
            identity,
            lambda session: self.gateway.list_caller_grants(
                session.credentials,
                region,
                max_results=max_results,
                scope=str(scope) if scope is not None else None,
                next_token=next_token,
            ),
        )
        return page


def principal_fields(session: IdentitySession | None) -> dict[str, Any]:
    """Who AWS knows the caller as, for audit records: the directory user or the source identity."""
    if session is None:
        return {}
    return {"directoryUserId": session.directory_user_id, "sourceIdentity": session.source_identity}

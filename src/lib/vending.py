"""Vending: the one place that turns (caller, target, permission) into S3 Access Grants credentials.

`vend_credentials` is behind POST /v1/credentials and is what presigning and object listing use too.
Order: recent denial? → cached credentials covering the target? → identity session → GetDataAccess.
Every decision writes exactly one audit record.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from lib.audit import audit, count
from lib.auth import Caller
from lib.aws import AwsCredentials, AwsGateway, StaleSession, credentials_from
from lib.cache import CachedGrant, CredentialCache, DenialCache
from lib.config import IDENTITY_CENTER, ServiceConfig, load_config
from lib.errors import AccessDenied, InvalidRequest, ServiceError, UpstreamError, from_aws_error
from lib.identity import IdentityExchange, IdentitySession
from lib.targets import GrantTarget

PERMISSIONS = ("READ", "WRITE", "READWRITE")
PRIVILEGES = ("Default", "Minimal")
TARGET_TYPES = ("Object",)
MAX_GRANTS_PAGE = 100
MAX_NEXT_TOKEN_CHARS = 2048
_NEXT_TOKEN = re.compile(r"^[\x21-\x7e]{1,2048}$")


@dataclass(frozen=True)
class CredentialRequest:
    target: GrantTarget
    permission: str  # READ | WRITE | READWRITE
    privilege: str = "Default"  # Default | Minimal
    duration_seconds: int | None = None  # None = DEFAULT_DURATION_SECONDS
    target_type: str | None = None  # None = "Object" for object targets
    role: str | None = None  # iam-role mode: the group (or role ARN) to act as
    # Cached credentials expiring sooner than this are not served (presigned URLs must not outlive them).
    min_remaining_seconds: int = 0


@dataclass(frozen=True)
class VendResult:
    credentials: AwsCredentials
    matched_grant_target: str
    permission: str  # what the credentials allow (may be wider than asked, e.g. READWRITE for READ)
    grantee_type: str | None
    grantee_identifier: str | None
    cached: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "credentials": {
                "accessKeyId": self.credentials.access_key_id,
                "secretAccessKey": self.credentials.secret_access_key,
                "sessionToken": self.credentials.session_token,
                "expiration": _iso(self.credentials),
            },
            "matchedGrantTarget": self.matched_grant_target,
            "grantee": {"type": self.grantee_type, "identifier": self.grantee_identifier},
        }

    def to_credential_process(self) -> dict[str, Any]:
        return {
            "Version": 1,
            "AccessKeyId": self.credentials.access_key_id,
            "SecretAccessKey": self.credentials.secret_access_key,
            "SessionToken": self.credentials.session_token,
            "Expiration": _iso(self.credentials),
        }


def _iso(credentials: AwsCredentials) -> str:
    return credentials.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class VendingService:
    """Vending with its caches and AWS gateway; one per execution environment (see `get_service`)."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        gateway: AwsGateway | None = None,
        identities: IdentityExchange | None = None,
        credentials: CredentialCache[VendResult] | None = None,
        denials: DenialCache | None = None,
    ) -> None:
        self.config = config
        self.gateway = gateway or AwsGateway(config)
        self.identities = identities or IdentityExchange(config, self.gateway)
        caching = config.cache_enabled
        self._credentials = (credentials or CredentialCache()) if caching else None
        self._denials = (denials or DenialCache()) if caching else None

    def vend(self, caller: Caller, request: CredentialRequest) -> VendResult:
        started = time.perf_counter()
        privilege = request.privilege
        duration = request.duration_seconds or self.config.default_duration_seconds
        target_type = request.target_type or request.target.target_type
        if target_type == "Object" and request.target.is_prefix:
            raise InvalidRequest("targetType Object needs an object target (s3://bucket/key)")
        fields: dict[str, Any] = {
            "subject": caller.subject,
            "target": str(request.target),
            "permission": request.permission,
            "privilege": privilege,
        }
        try:
            identity = self.identities.session_key(caller, request.role)
            fields["identity"] = identity
            result = self._cached(identity, request, request.duration_seconds or 0)
            if result is None:
                result = self._fetch(caller, request, identity, duration, target_type)
        except ServiceError as error:
            outcome = "denied" if isinstance(error, AccessDenied) else "error"
            count("Denials" if outcome == "denied" else "VendErrors")
            audit(
                "vend",
                outcome,
                status=error.status,
                code=error.code,
                latencyMs=_elapsed_ms(started),
                **fields,
            )
            raise
        count("Vends")
        audit(
            "vend",
            "granted",
            matchedGrantTarget=result.matched_grant_target,
            expiration=_iso(result.credentials),
            accessKeyId=result.credentials.access_key_id,
            cached=result.cached,
            latencyMs=_elapsed_ms(started),
            **fields,
        )
        return result

    def forget_credentials(self, caller: Caller, role: str | None = None) -> None:
        """Drop the caller's cached credentials: AWS refused them (expired or revoked upstream)."""
        if self._credentials is not None:
            self._credentials.forget(self.identities.session_key(caller, role))

    def _cached(self, identity: str, request: CredentialRequest, min_duration: int) -> VendResult | None:
        if self._denials is not None:
            denied = self._denials.is_denied(identity, request.target, request.permission, request.privilege)
            if denied is not None:
                count("CacheHits")
                raise AccessDenied(denied)
        if self._credentials is None:
            return None
        found = self._credentials.find(
            identity, request.target, request.permission, request.privilege, min_duration
        )
        if found is not None and found.credentials.expiration.timestamp() - time.time() < (
            request.min_remaining_seconds
        ):
            found = None
        count("CacheHits" if found is not None else "CacheMisses")
        if found is None:
            return None
        return VendResult(
            credentials=found.credentials,
            matched_grant_target=found.matched_grant_target,
            permission=found.permission,
            grantee_type=found.grantee_type,
            grantee_identifier=found.grantee_identifier,
            cached=True,
        )

    def _fetch(
        self,
        caller: Caller,
        request: CredentialRequest,
        identity: str,
        duration: int,
        target_type: str | None,
    ) -> VendResult:
        kwargs: dict[str, Any] = {
            "Target": str(request.target),
            "Permission": request.permission,
            "Privilege": request.privilege,
            "DurationSeconds": duration,
        }
        if target_type:
            kwargs["TargetType"] = target_type
        session, _ = self.identities.session_for(caller, request.role)
        try:
            try:
                response = self.gateway.get_data_access(session.s3control, **kwargs)
            except StaleSession:
                # The cached identity session expired upstream (e.g. its identity context): one fresh try.
                self.identities.forget(session)
                session, _ = self.identities.session_for(caller, request.role)
                response = self.gateway.get_data_access(session.s3control, **kwargs)
        except StaleSession as stale:
            raise UpstreamError("GetDataAccess refused a fresh session") from stale
        except AccessDenied as denied:
            if self._denials is not None:
                self._denials.remember(
                    identity, request.target, request.permission, request.privilege, denied.detail
                )
            raise
        grantee = response.get("Grantee") or {}
        result = VendResult(
            credentials=credentials_from(response["Credentials"]),
            matched_grant_target=response.get("MatchedGrantTarget") or str(request.target),
            permission=request.permission,
            grantee_type=grantee.get("GranteeType"),
            grantee_identifier=grantee.get("GranteeIdentifier"),
            cached=False,
        )
        if self._credentials is not None:
            # Minimal privilege scopes the credentials to the target itself, not to the matched grant.
            scope = result.matched_grant_target if request.privilege == "Default" else str(request.target)
            self._credentials.store(
                identity,
                CachedGrant(scope, request.permission, request.privilege, duration, result),
                result.credentials.expiration.timestamp(),
            )
        return result

    def list_grants(
        self,
        caller: Caller,
        *,
        scope: GrantTarget | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        role: str | None = None,
    ) -> dict[str, Any]:
        """ListCallerAccessGrants as the caller: `{"grants": [...], "nextToken": ...}`."""
        if next_token is not None and not _NEXT_TOKEN.match(next_token):
            raise InvalidRequest("nextToken is not a token this service issued")
        started = time.perf_counter()
        kwargs: dict[str, Any] = {"MaxResults": max_results or MAX_GRANTS_PAGE}
        if scope is not None:
            kwargs["GrantScope"] = str(scope)
        if next_token is not None:
            kwargs["NextToken"] = next_token
        identity = None
        try:
            identity = self.identities.session_key(caller, role)
            session, _ = self.identities.session_for(caller, role)
            try:
                response = self.gateway.list_caller_access_grants(session.s3control, **kwargs)
            except StaleSession:
                self.identities.forget(session)
                session, _ = self.identities.session_for(caller, role)
                response = self.gateway.list_caller_access_grants(session.s3control, **kwargs)
        except StaleSession as stale:
            raise from_aws_error(stale.__cause__ or stale, "ListCallerAccessGrants") from stale
        except ServiceError as error:
            audit(
                "list-grants",
                "denied" if isinstance(error, AccessDenied) else "error",
                subject=caller.subject,
                identity=identity,
                target=str(scope) if scope else None,
                status=error.status,
                code=error.code,
                latencyMs=_elapsed_ms(started),
            )
            raise
        grants = [
            {
                "grantScope": grant.get("GrantScope"),
                "permission": grant.get("Permission"),
                "applicationArn": grant.get("ApplicationArn"),
            }
            for grant in response.get("CallerAccessGrantsList", [])
        ]
        audit(
            "list-grants",
            "listed",
            subject=caller.subject,
            identity=identity,
            target=str(scope) if scope else None,
            latencyMs=_elapsed_ms(started),
        )
        return {"grants": grants, "nextToken": response.get("NextToken")}

    def describe(self, caller: Caller, *, role: str | None = None) -> dict[str, Any]:
        """Who the service thinks the caller is (this performs the identity exchange, cached)."""
        started = time.perf_counter()
        try:
            session, cached = self.identities.session_for(caller, role)
        except ServiceError as error:
            audit(
                "describe",
                "denied" if isinstance(error, AccessDenied) else "error",
                subject=caller.subject,
                status=error.status,
                code=error.code,
                latencyMs=_elapsed_ms(started),
            )
            raise
        audit(
            "describe",
            "described",
            subject=caller.subject,
            identity=session.identity_key,
            cached=cached,
            latencyMs=_elapsed_ms(started),
        )
        answer: dict[str, Any] = {
            "subject": caller.subject,
            "email": caller.email,
            "identityMode": self.config.identity_mode,
            "groups": list(caller.groups),
            "roleArn": session.role_arn,
            "sessionName": session.session_name,
        }
        if self.config.identity_mode == IDENTITY_CENTER:
            answer["directoryUserId"] = session.directory_user_id
        else:
            answer["group"] = session.group
            answer["sourceIdentity"] = session.source_identity
        return answer

    def session(self, caller: Caller, role: str | None = None) -> IdentitySession:
        """The caller's identity session (used by callers that need it directly)."""
        return self.identities.session_for(caller, role)[0]


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


_service: VendingService | None = None


def get_service() -> VendingService:
    """The vending service of this execution environment, built lazily (no AWS call at import time)."""
    global _service
    if _service is None:
        _service = VendingService(load_config())
    return _service


def reset_service() -> None:
    """Forget the environment's service, caches and configuration (tests switch configurations)."""
    global _service
    _service = None
    load_config.cache_clear()


def vend_credentials(
    caller: Caller, request: CredentialRequest, *, service: VendingService | None = None
) -> VendResult:
    """Credentials for `request.target` with `request.permission`, from the cache or GetDataAccess.

    Raises AccessDenied (403) when no grant covers the request, InvalidRequest (400), and the upstream
    errors of `lib.errors.from_aws_error`. Writes one audit record.
    """
    return (service or get_service()).vend(caller, request)


def list_caller_grants(
    caller: Caller,
    *,
    scope: GrantTarget | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
    role: str | None = None,
    service: VendingService | None = None,
) -> dict[str, Any]:
    return (service or get_service()).list_grants(
        caller, scope=scope, next_token=next_token, max_results=max_results, role=role
    )


def describe_caller(
    caller: Caller, *, role: str | None = None, service: VendingService | None = None
) -> dict:
    return (service or get_service()).describe(caller, role=role)

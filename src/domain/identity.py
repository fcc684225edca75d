"""From an authenticated caller to an AWS session that S3 Access Grants knows as that caller.

- identity-center: CreateTokenWithIAM (the JWT as assertion) → AssumeRole on the identity-bearer role with
  the identity context in `ProvidedContexts`;
- iam-role: the caller's group claim → a configured department role → AssumeRole with `SourceIdentity`.

Sessions are cached per end-user identity (and role) until shortly before they expire: in this execution
environment's memory, and with the shared tier on, for every environment (`domain.shared_cache`).
"""

from __future__ import annotations

import hashlib
import re
import time

import msgspec

from domain.cache import SessionCache
from domain.caller import Caller
from domain.config import IDENTITY_CENTER, ServiceConfig
from domain.credentials import AwsCredentials, retry_once_if_stale
from domain.errors import AccessDenied, InvalidRequest, UpstreamError
from domain.keys import digest_key
from domain.ports import AwsOperations, RoleSessionRequest
from domain.revocation import Revocations, user_digest
from domain.shared_cache import SESSION_ENTRY, SharedTier

MAX_SESSION_NAME = 64
_NOT_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]", re.ASCII)


class IdentitySession(msgspec.Struct):
    """An AWS session acting for one end user, in every Region: its credentials are STS's (global)."""

    identity_key: str
    role_arn: str
    session_name: str
    credentials: AwsCredentials
    directory_user_id: str | None = None
    source_identity: str | None = None
    group: str | None = None

    @property
    def expires_at(self) -> float:
        return self.credentials.expiration.timestamp()


def session_name_for(caller: Caller) -> str:
    """A readable, valid STS session name (2-64 chars of `[\\w+=,.@-]`) derived from the user."""
    base = _NOT_SESSION_NAME_CHARS.sub("-", caller.display_name).strip("-") or "user"
    if len(base) <= MAX_SESSION_NAME and base == caller.display_name:
        return base if len(base) >= 2 else f"{base}-u"
    # Sanitised or truncated: add a digest of the subject so two users never share a name.
    digest = hashlib.sha256(caller.identity_key.encode()).hexdigest()[:10]
    return f"{base[: MAX_SESSION_NAME - len(digest) - 1]}-{digest}"


class IdentityExchange:
    def __init__(
        self,
        config: ServiceConfig,
        gateway: AwsOperations,
        sessions: SessionCache[IdentitySession] | None = None,
        *,
        shared: SharedTier | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        self._config = config
        self._gateway = gateway
        self._sessions: SessionCache[IdentitySession] = sessions or SessionCache(
            max_age_seconds=config.reuse_seconds
        )
        self._shared = shared
        self._revocations = revocations

    def mapped_role(self, caller: Caller, role: str | None) -> tuple[str, str]:
        """iam-role mode: the (group, role ARN) this caller acts as; 403 with none, 400 if ambiguous."""
        mapping = self._config.role_mapping
        choices = {group: mapping[group] for group in caller.groups if group in mapping}
        if role is not None:
            for group, role_arn in choices.items():
                if role in (group, role_arn):
                    return group, role_arn
            raise AccessDenied("you are not a member of a group mapped to that role")
        if not choices:
            raise AccessDenied("none of your groups is mapped to a role")
        if len(choices) > 1:
            raise InvalidRequest(
                f"you are in several mapped groups; name one with 'role': {', '.join(choices)}"
            )
        return next(iter(choices.items()))

    def session_key(self, caller: Caller, role: str | None = None) -> str:
        """The cache key of the caller's identity session: the caller's identity key, and in iam-role mode
        a digest of it with the mapped role."""
        if self._config.identity_mode == IDENTITY_CENTER:
            return caller.identity_key
        return digest_key("role-session/v1", caller.identity_key, self.mapped_role(caller, role)[1])

    def cached_session(self, key: str) -> IdentitySession | None:
        """The cached session for `key`, if any (no AWS call): for audit records."""
        return self._sessions.get(key)

    def session_for(
        self, caller: Caller, role: str | None = None, key: str | None = None
    ) -> tuple[IdentitySession, bool]:
        """The caller's identity session and whether it came from the cache (`key`: its `session_key`,
        when the caller already has it)."""
        if self._config.identity_mode == IDENTITY_CENTER and role is not None:
            raise InvalidRequest("'role' applies only in iam-role mode")
        key = key or self.session_key(caller, role)
        cached = self._sessions.get(key) or self._shared_session(key)
        if cached is not None:
            self._refuse_if_revoked(cached)
            return cached, True
        obtained_at = time.time()
        if self._config.identity_mode == IDENTITY_CENTER:
            # The context may expire (or STS stop honouring it) between the exchange and AssumeRole: then
            # one fresh exchange (nothing was cached yet, so there is nothing to forget).
            session = retry_once_if_stale(lambda: self._identity_center_session(caller, key), forget=_nothing)
        else:
            session = self._role_session(caller, key, role)
        self._refuse_if_revoked(session)
        fresh_until = self._sessions.store(key, session, session.expires_at, obtained_at=obtained_at)
        if self._shared is not None:
            users = {caller.user, caller.email, session.directory_user_id} - {None, ""}
            self._shared.store(
                key,
                SESSION_ENTRY,
                msgspec.json.encode(session),
                obtained_at=obtained_at,
                fresh_until=fresh_until,
                users=sorted(user_digest(user) for user in users if user),
            )
        return session, False

    def _shared_session(self, key: str) -> IdentitySession | None:
        """The session another environment obtained, loaded into this one's memory (None without one)."""
        entry = self._shared.entries(key).get(SESSION_ENTRY) if self._shared is not None else None
        if entry is None:
            return None
        try:
            session = msgspec.json.decode(entry.payload, type=IdentitySession)
        except msgspec.DecodeError:
            return None  # written by another version of the service: the exchange replaces it
        if session.identity_key != key:
            return None
        self._sessions.store(key, session, session.expires_at, obtained_at=entry.obtained_at)
        return self._sessions.get(key)

    def _refuse_if_revoked(self, session: IdentitySession) -> None:
        """A revocation may name the directory user, whom only the exchange reveals."""
        if self._revocations is not None and session.directory_user_id:
            self._revocations.refuse_if_revoked(session.directory_user_id)

    def forget(self, key: str) -> None:
        """Drop the identity session cached under `key` (AWS found it stale), here and as shared."""
        self._sessions.forget(key)
        if self._shared is not None:
            self._shared.distrust(key)

    def forget_everything(self) -> None:
        """Drop every session held in memory (a user was revoked)."""
        self._sessions.clear()

    def _identity_center_session(self, caller: Caller, key: str) -> IdentitySession:
        context = self._gateway.identity_context(caller.token)
        if not context.assertion:
            raise UpstreamError("IAM Identity Center returned no identity context")
        session_name = session_name_for(caller)
        credentials = self._gateway.assume_role(
            RoleSessionRequest(
                role_arn=str(self._config.identity_bearer_role_arn),
                session_name=session_name,
                identity_context=context.assertion,
            )
        )
        return IdentitySession(
            identity_key=key,
            role_arn=str(self._config.identity_bearer_role_arn),
            session_name=session_name,
            credentials=credentials,
            directory_user_id=context.directory_user_id,
        )

    def _role_session(self, caller: Caller, key: str, role: str | None) -> IdentitySession:
        group, role_arn = self.mapped_role(caller, role)
        session_name = session_name_for(caller)
        credentials = self._gateway.assume_role(
            RoleSessionRequest(role_arn=role_arn, session_name=session_name, source_identity=session_name)
        )
        return IdentitySession(
            identity_key=key,
            role_arn=role_arn,
            session_name=session_name,
            credentials=credentials,
            source_identity=session_name,
            group=group,
        )


def _nothing() -> None:
    pass

"""The emulator's own state: what moto does not know about.

Shared by the Access Grants / S3 enforcement side (access_grants.py, s3_enforcement.py) and the
Identity Center / STS side (identity_center.py, sts.py). Every mutation happens under `lock`.
All times come from `now()`, which honours the test clock offset (`POST /_local/clock`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

IDENTITY_CENTER_CONTEXT_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
CLOUDTRAIL_EVENTS_KEPT = 1000


@dataclass
class DirectoryUser:
    user_id: str
    user_name: str
    email: str
    display_name: str


@dataclass
class DirectoryGroup:
    group_id: str
    display_name: str


@dataclass
class IdentityContext:
    """An opaque identity context issued by CreateTokenWithIAM (also the idToken's `sts:identity_context`)."""

    value: str
    user_id: str
    application_arn: str
    expiration: datetime


@dataclass
class RoleSession:
    """Credentials issued by STS AssumeRole, recorded so later calls know who signs with them."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    role_arn: str  # arn:aws:iam::<account>:role/<name> (the role, not the assumed-role ARN)
    session_name: str
    expiration: datetime
    source_identity: str | None = None
    directory_user_id: str | None = None  # set when ProvidedContexts carried a valid identity context

    @property
    def assumed_role_arn(self) -> str:
        account = self.role_arn.split(":")[4]
        role_name = self.role_arn.split("/")[-1]
        return f"arn:aws:sts::{account}:assumed-role/{role_name}/{self.session_name}"


@dataclass
class TrustedTokenIssuer:
    """An external OIDC issuer whose JWTs CreateTokenWithIAM accepts (sso-admin CreateTrustedTokenIssuer)."""

    arn: str
    name: str
    issuer_url: str
    claim_attribute_path: str  # JWT claim holding the user's identifier, e.g. "email"
    identity_store_attribute_path: str  # directory attribute it must equal, e.g. "emails.value"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Application:
    """An Identity Center customer-managed application (sso-admin CreateApplication and its Put* calls)."""

    arn: str
    name: str
    provider_arn: str
    instance_arn: str
    created: datetime
    description: str | None = None
    status: str = "ENABLED"
    portal_options: dict | None = None  # returned only when set, as Identity Center does
    grants: dict[str, dict] = field(default_factory=dict)  # grant type -> Grant document
    authentication_methods: dict[str, dict] = field(default_factory=dict)  # "IAM" -> AuthenticationMethod
    access_scopes: dict[str, list[str]] = field(default_factory=dict)  # scope -> authorized targets
    assignment_required: bool = True
    assignments: set[tuple[str, str]] = field(default_factory=set)  # (principal type, principal id)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class VendedCredential:
    """Credentials returned by GetDataAccess: S3 honours them only inside `scope` and `permission`."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    scope: str  # s3://bucket/prefix*, s3://bucket/prefix/* or an exact object s3://bucket/key
    permission: str  # READ | WRITE | READWRITE
    expiration: datetime
    grant_id: str
    session_name: str


@dataclass
class EmulatorState:
    account_id: str
    region: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock_offset: timedelta = field(default_factory=timedelta)
    # Identity Center side
    identity_store_id: str = "d-9067c0ffee"
    instance_arn: str = "arn:aws:sso:::instance/ssoins-7223c0ffee5e1a7d"
    users: dict[str, DirectoryUser] = field(default_factory=dict)  # by user_id
    groups: dict[str, DirectoryGroup] = field(default_factory=dict)  # by group_id
    memberships: dict[str, set[str]] = field(default_factory=dict)  # user_id -> group_ids
    identity_contexts: dict[str, IdentityContext] = field(default_factory=dict)  # by value
    role_sessions: dict[str, RoleSession] = field(default_factory=dict)  # by access key id
    trusted_token_issuers: dict[str, TrustedTokenIssuer] = field(default_factory=dict)  # by ARN
    applications: dict[str, Application] = field(default_factory=dict)  # by ARN
    # Access Grants side
    vended: dict[str, VendedCredential] = field(default_factory=dict)  # by access key id
    # What CloudTrail would record of data access (GetDataAccess), newest last: `GET /_local/cloudtrail`.
    cloudtrail: deque[dict] = field(default_factory=lambda: deque(maxlen=CLOUDTRAIL_EVENTS_KEPT))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def groups_of(self, user_id: str) -> set[str]:
        return set(self.memberships.get(user_id, ()))

    def group_id_by_name(self, display_name: str) -> str | None:
        return next((g.group_id for g in self.groups.values() if g.display_name == display_name), None)

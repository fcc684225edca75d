"""IAM Identity Center's customer-managed applications and trusted token issuers (what moto's sso-admin
lacks), and the directory as moto's identitystore holds it.

Behaviour from the IAM Identity Center API reference: list calls page with `MaxResults`/`NextToken`;
`ClientToken` makes a Create idempotent ("If you retry the operation with the same ClientToken, but with
different parameters, the retry fails with an IdempotentParameterMismatch error"); `PortalOptions` is
returned only when set.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.identitystore.models import IdentityStoreData, identitystore_backends
from moto.ssoadmin.models import ssoadmin_backends

from local.aws_emulator.core import paging
from local.aws_emulator.core.state import Clock
from local.aws_emulator.sso_admin.exceptions import conflict, idempotency_mismatch, invalid, not_found

INSTANCE_ID = "ssoins-7223c0ffee5e1a7d"
IDENTITY_STORE_ID = "d-9067c0ffee"
INSTANCE_NAME = "shopfast-local"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_PAGE = 100


@dataclass
class TrustedTokenIssuer:
    arn: str
    name: str
    issuer_url: str
    claim_attribute_path: str  # JWT claim holding the user's identifier, e.g. "email"
    identity_store_attribute_path: str  # directory attribute it must equal, e.g. "emails.value"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Application:
    arn: str
    name: str
    provider_arn: str
    instance_arn: str
    created: datetime
    description: str | None = None
    status: str = "ENABLED"
    portal_options: dict[str, Any] | None = None
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)  # grant type -> Grant document
    authentication_methods: dict[str, dict[str, Any]] = field(default_factory=dict)  # "IAM" -> method
    access_scopes: dict[str, list[str]] = field(default_factory=dict)  # scope -> authorized targets
    assignment_required: bool = True
    assignments: set[tuple[str, str]] = field(default_factory=set)  # (principal type, principal id)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DirectoryUser:
    user_id: str
    user_name: str
    emails: tuple[str, ...]


def page(
    items: list[dict[str, Any]], params: Mapping[str, Any], key: str, unique: str | list[str]
) -> dict[str, Any]:
    """One page of `items` under `key`, with a `NextToken` to the rest; a token Identity Center did not
    issue for this request is a ValidationException."""
    chunk, token = paging.page(
        items,
        params,
        unique=unique,
        default_limit=DEFAULT_PAGE,
        invalid_token=lambda: invalid("NextToken is not valid"),
    )
    return {key: chunk, **({"NextToken": token} if token else {})}


class IdentityCenterBackend:
    """One Identity Center instance (in its home region) and its applications and token issuers."""

    def __init__(self, account_id: str, region: str, clock: Clock) -> None:
        self.account_id = account_id
        self.region = region
        self.clock = clock
        self.instance_arn = f"arn:aws:sso:::instance/{INSTANCE_ID}"
        self.identity_store_id = IDENTITY_STORE_ID
        self.trusted_token_issuers: dict[str, TrustedTokenIssuer] = {}
        self.applications: dict[str, Application] = {}
        self._client_tokens: dict[tuple[str, str], tuple[str, str]] = {}  # (op, token) -> (params, arn)
        self.lock = threading.RLock()

    @property
    def identity_store_arn(self) -> str:
        return f"arn:aws:identitystore::{self.account_id}:identitystore/{self.identity_store_id}"

    def claim_moto_instance(self) -> None:
        """moto's sso-admin invents a random instance; make it ours so ListInstances names the real one."""
        instance = ssoadmin_backends[self.account_id][self.region].instances[0]
        instance.instance_arn, instance.identity_store_id, instance.name = (
            self.instance_arn,
            self.identity_store_id,
            INSTANCE_NAME,
        )

    # -- the directory (moto's identitystore, read where needed) --
    def _store(self) -> IdentityStoreData:
        backend = identitystore_backends[self.account_id][self.region]
        return backend.identity_stores.setdefault(self.identity_store_id, IdentityStoreData())

    def find_user(self, attribute_path: str, value: str) -> DirectoryUser | None:
        """The user whose `attribute_path` (emails.value: case-insensitive, userName) equals `value`."""
        path = attribute_path.lower()
        for user in self._store().users.values():
            emails = tuple(email.get("Value", "") for email in user.Emails or [])
            if (path == "emails.value" and value.lower() in (e.lower() for e in emails)) or (
                path == "username" and user.UserName == value
            ):
                return DirectoryUser(user.UserId, user.UserName, emails)
        return None

    def groups_of(self, user_id: str) -> set[str]:
        return {
            membership["GroupId"]
            for membership in self._store().group_memberships.values()
            if membership.get("MemberId", {}).get("UserId") == user_id
        }

    def principal_exists(self, kind: str, principal_id: str) -> bool:
        store = self._store()
        return principal_id in (store.users if kind == "USER" else store.groups if kind == "GROUP" else {})

    # -- idempotency --
    def idempotent(self, operation: str, params: Mapping[str, Any], create: Callable[[], str]) -> str:
        token = params.get("ClientToken")
        if not token:
            return create()
        fingerprint = json.dumps({k: v for k, v in params.items() if k != "ClientToken"}, sort_keys=True)
        with self.lock:
            seen = self._client_tokens.get((operation, token))
            if seen is not None:
                if seen[0] != fingerprint:
                    raise idempotency_mismatch()
                return seen[1]
            arn = create()
            self._client_tokens[(operation, token)] = (fingerprint, arn)
            return arn

    # -- trusted token issuers --
    def create_trusted_token_issuer(self, params: Mapping[str, Any], arn: str | None = None) -> str:
        self.check_instance(params)
        if params.get("TrustedTokenIssuerType") != "OIDC_JWT":
            raise invalid("TrustedTokenIssuerType must be OIDC_JWT")
        config = (params.get("TrustedTokenIssuerConfiguration") or {}).get("OidcJwtConfiguration") or {}
        missing = [
            n for n in ("IssuerUrl", "ClaimAttributePath", "IdentityStoreAttributePath") if not config.get(n)
        ]
        if missing:
            raise invalid(f"OidcJwtConfiguration needs {', '.join(missing)}")

        def create() -> str:
            with self.lock:
                if any(issuer.name == params["Name"] for issuer in self.trusted_token_issuers.values()):
                    raise conflict(f"a trusted token issuer named {params['Name']} exists")
                new_arn = (
                    arn
                    or f"arn:aws:sso::{self.account_id}:trustedTokenIssuer/{INSTANCE_ID}/tti-{uuid.uuid4()}"
                )
                self.trusted_token_issuers[new_arn] = TrustedTokenIssuer(
                    new_arn,
                    params["Name"],
                    config["IssuerUrl"],
                    config["ClaimAttributePath"],
                    config["IdentityStoreAttributePath"],
                    _tags(params),
                )
                return new_arn

        return self.idempotent("CreateTrustedTokenIssuer", params, create)

    def issuer(self, arn: str | None) -> TrustedTokenIssuer:
        issuer = self.trusted_token_issuers.get(arn or "")
        if issuer is None:
            raise not_found(f"trusted token issuer {arn}")
        return issuer

    # -- applications --
    def create_application(self, params: Mapping[str, Any], arn: str | None = None) -> str:
        self.check_instance(params)

        def create() -> str:
            with self.lock:
                new_arn = arn or (
                    f"arn:aws:sso::{self.account_id}:application/{INSTANCE_ID}/apl-{secrets.token_hex(8)}"
                )
                self.applications[new_arn] = Application(
                    arn=new_arn,
                    name=params["Name"],
                    provider_arn=params["ApplicationProviderArn"],
                    instance_arn=self.instance_arn,
                    created=self.clock.now(),
                    description=params.get("Description"),
                    status=params.get("Status") or "ENABLED",
                    portal_options=params.get("PortalOptions"),
                    tags=_tags(params),
                )
                return new_arn

        return self.idempotent("CreateApplication", params, create)

    def application(self, arn: str | None) -> Application:
        application = self.applications.get(arn or "")
        if application is None:
            raise not_found(f"application {arn}")
        return application

    def put_grant(self, application: Application, grant_type: str, grant: Mapping[str, Any]) -> None:
        if grant_type == JWT_BEARER:
            issuers = (grant.get("JwtBearer") or {}).get("AuthorizedTokenIssuers") or []
            if not issuers:
                raise invalid("JwtBearer needs at least one AuthorizedTokenIssuers entry")
            for entry in issuers:
                self.issuer(entry.get("TrustedTokenIssuerArn"))
                if not entry.get("AuthorizedAudiences"):
                    raise invalid("each authorized token issuer needs AuthorizedAudiences")
        with self.lock:
            application.grants[grant_type] = dict(grant)

    def put_authentication_method(
        self, application: Application, kind: str, method: Mapping[str, Any]
    ) -> None:
        if kind != "IAM":
            raise invalid("AuthenticationMethodType must be IAM")
        actor_policy = (method.get("Iam") or {}).get("ActorPolicy")
        if isinstance(actor_policy, str):  # a document sent as JSON text
            actor_policy = json.loads(actor_policy)
        if not isinstance(actor_policy, dict) or not actor_policy.get("Statement"):
            raise invalid("Iam.ActorPolicy must be a policy document with statements")
        with self.lock:
            application.authentication_methods["IAM"] = {"Iam": {"ActorPolicy": actor_policy}}

    def assignment_key(self, params: Mapping[str, Any]) -> tuple[str, str]:
        kind, principal = params.get("PrincipalType", ""), params.get("PrincipalId", "")
        if kind not in ("USER", "GROUP"):
            raise invalid("PrincipalType must be USER or GROUP")
        if not self.principal_exists(kind, principal):
            raise not_found(f"{kind} {principal}")
        return kind, principal

    def check_instance(self, params: Mapping[str, Any]) -> None:
        if params.get("InstanceArn") not in (None, self.instance_arn):
            raise not_found(f"instance {params['InstanceArn']}")

    def tagged(self, arn: str | None) -> Application | TrustedTokenIssuer:
        resource = self.applications.get(arn or "") or self.trusted_token_issuers.get(arn or "")
        if resource is None:
            raise not_found(f"resource {arn}")
        return resource


def _tags(params: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in params.get("Tags") or []}

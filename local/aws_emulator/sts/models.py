"""STS sessions and who signs a request.

Every session the emulator issues (AssumeRole, the location role sessions GetDataAccess vends, a Lambda
execution role's credentials) is a `RoleSession`; later calls signed with its keys are checked with them
(`identify`). AssumeRole evaluates the role's trust policy for every caller: the STS API reference
(AssumeRole: "the role's trust policy … specifies who can assume the role") and the IAM User Guide
(trust policies, `sts:SetContext`, `sts:SetSourceIdentity`, `sts:TagSession`).

Who signs: an emulator session (verified), an IAM user's access key created through moto (verified), any
other static keys (moto's stand-in administrator `user/moto`, as moto's GetCallerIdentity names it), or
nobody (anonymous). Static keys act in the data account, or in the account their access key ID names when
it is twelve digits (LocalStack's convention: the AWS CLI and Terraform can choose an account only through
their keys).

Across accounts, IAM asks both sides (IAM User Guide, "Cross-account policy evaluation logic"): the
resource's policy (a role's trust policy, an application's actor policy) must allow the caller, and so must
the caller's own identity-based policies (and its session policy). Within one account the resource's policy
alone decides, as the emulator has always evaluated it.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from moto.core.request import Request

from local.aws_emulator.core import moto_models, policy, wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.policy import Principal, RequestContext
from local.aws_emulator.core.signing import Problem, check, claim_of
from local.aws_emulator.core.state import Clock
from local.aws_emulator.sts import exceptions

IDENTITY_CENTER_CONTEXT_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
MIN_DURATION_SECONDS = 900
DEFAULT_DURATION_SECONDS = 3600
ROLE_CHAINING_MAX_SECONDS = 3600
# Lambda refreshes its execution role's credentials on its own; the stand-in outlives any test clock move.
EXECUTION_ROLE_LIFETIME = timedelta(days=30)
LAMBDA_SERVICE = "lambda.amazonaws.com"
ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
STATIC_PRINCIPAL_NAME = "moto"
ACCOUNT_KEY = re.compile(r"^\d{12}$")


class IdentityContexts(Protocol):
    def get(self, value: str) -> Any | None: ...


@dataclass
class RoleSession:
    access_key_id: str
    secret_access_key: str
    session_token: str
    role_arn: str
    role_id: str
    session_name: str
    expiration: datetime
    source_identity: str | None = None
    directory_user_id: str | None = None  # set when a valid Identity Center context was provided
    application_arn: str | None = None  # the Identity Center application that context came from
    instance_arn: str | None = None
    policy: Mapping[str, Any] | None = None  # the session policy, if any (GetDataAccess scopes with one)
    issued_at: datetime | None = None  # aws:TokenIssueTime

    @property
    def token_issue_time(self) -> str:
        issued = self.issued_at or self.expiration
        return issued.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def assumed_role_arn(self) -> str:
        return (
            f"arn:aws:sts::{self.account}:assumed-role/{self.role_arn.rsplit('/', 1)[-1]}/{self.session_name}"
        )

    @property
    def principal(self) -> Principal:
        return Principal(arn=self.assumed_role_arn, account=self.account, role_arn=self.role_arn)


@dataclass(frozen=True)
class Caller:
    """Who signed a request: a principal, with the emulator session behind it, and what is wrong with it."""

    principal: Principal
    session: RoleSession | None = None
    problem: Problem | None = None  # a key the emulator knows, signed wrongly (or without its token)
    expired: bool = False


def _access_key_id() -> str:
    return "ASIA" + secrets.token_hex(8).upper()


class StsBackend:
    def __init__(self, account_id: str, clock: Clock, contexts: IdentityContexts) -> None:
        self.account_id = account_id
        self.clock = clock
        self.contexts = contexts
        self.sessions: dict[str, RoleSession] = {}
        self.lock = threading.RLock()

    # -- who signed --
    def static_principal(self, access_key_id: str = "") -> Principal:
        account = access_key_id if ACCOUNT_KEY.match(access_key_id) else self.account_id
        return Principal(arn=f"arn:aws:iam::{account}:user/{STATIC_PRINCIPAL_NAME}", account=account)

    def _key_owner(self, access_key_id: str) -> tuple[Principal, RoleSession | None, str | None]:
        """Whose access key it is, unverified: an emulator session, an IAM user (with the key's secret) or
        moto's stand-in administrator."""
        session = self.sessions.get(access_key_id)
        if session is not None:
            return session.principal, session, session.secret_access_key
        user_key = moto_models.iam_user_key(access_key_id)
        if user_key is not None:
            user, secret, account = user_key
            return Principal(arn=user.arn, account=account), None, secret
        return self.static_principal(access_key_id), None, None

    def identify(self, request: Request) -> Caller:
        claim = claim_of(request)
        if claim is None:
            return Caller(policy.ANONYMOUS)
        now = self.clock.now()
        principal, session, secret = self._key_owner(claim.access_key_id)
        if session is not None:
            problem = check(request, session.secret_access_key, session.session_token, now=now)
            return Caller(principal, session, problem, expired=session.expiration <= now)
        if secret is not None:
            return Caller(principal, problem=check(request, secret, None, now=now))
        return Caller(principal)

    def account_of(self, request: Request) -> str:
        """The account a request acts in, from its access key alone (moto keeps its state per account)."""
        claim = claim_of(request)
        if claim is None:
            return self.account_id
        return self._key_owner(claim.access_key_id)[0].account or self.account_id

    def identity_allows(self, caller: Caller, action: str, resource: str) -> bool:
        """The caller's half of a cross-account request: its identity-based policies allow `action` on
        `resource` (no explicit deny), and so does its session policy if it has one. moto's stand-in
        administrator (static keys) may do anything."""
        principal = caller.principal
        if principal.arn is None or principal.principal_arn is None:
            return False
        if principal.role_arn is None and principal.arn == self.static_principal(principal.account or "").arn:
            return True
        context = RequestContext(action=action, resource=resource, principal=principal)
        verdicts = {
            policy.evaluate(document, context)
            for document in moto_models.identity_policies(principal.principal_arn)
        }
        if policy.Decision.DENY in verdicts or policy.Decision.ALLOW not in verdicts:
            return False
        session = caller.session
        return session is None or session.policy is None or policy.allows(session.policy, context)

    # -- issuing --
    def issue(
        self,
        role: Any,
        session_name: str,
        duration_seconds: int,
        *,
        source_identity: str | None = None,
        context: Any | None = None,
        session_policy: Mapping[str, Any] | None = None,
        lifetime_cap: datetime | None = None,
    ) -> RoleSession:
        issued_at = self.clock.now()
        expiration = issued_at + timedelta(seconds=duration_seconds)
        if lifetime_cap is not None:
            expiration = min(expiration, lifetime_cap)
        session = RoleSession(
            access_key_id=_access_key_id(),
            secret_access_key=secrets.token_urlsafe(30)[:40],
            session_token="IQoJb3JpZ2luX2Vj" + base64.b64encode(secrets.token_bytes(96)).decode(),
            role_arn=role.arn,
            role_id=role.id,
            session_name=session_name,
            expiration=expiration.replace(microsecond=0),
            source_identity=source_identity,
            directory_user_id=getattr(context, "user_id", None),
            application_arn=getattr(context, "application_arn", None),
            instance_arn=getattr(context, "instance_arn", None),
            policy=session_policy,
            issued_at=issued_at,
        )
        with self.lock:
            self.sessions[session.access_key_id] = session
        return session

    def trusts(self, role: Any, principal: Principal, actions: list[str], keys: Mapping[str, Any]) -> bool:
        """Does the role's trust policy allow `principal` every one of `actions` with these context keys?"""
        document = role.assume_role_policy_document
        return all(
            policy.allows(document, RequestContext(action=action, principal=principal, keys=keys))
            for action in actions
        )

    def assume_role(self, caller: Caller, params: Mapping[str, Any]) -> RoleSession:
        role_arn, session_name = params.get("RoleArn", ""), params.get("RoleSessionName", "")
        if not ROLE_ARN.match(role_arn):
            raise exceptions.validation(f"RoleArn {role_arn!r} is not a valid role ARN")
        if not SESSION_NAME.match(session_name):
            raise exceptions.validation("RoleSessionName must be 2-64 characters of [\\w+=,.@-]")
        chained = caller.session
        duration = int(params.get("DurationSeconds") or DEFAULT_DURATION_SECONDS)
        source_identity = params.get("SourceIdentity") or None
        if chained and chained.source_identity and source_identity not in (None, chained.source_identity):
            raise exceptions.access_denied(
                "SourceIdentity cannot be changed once set for a role session chain"
            )
        contexts = params.get("ProvidedContexts") or []
        context = self._context(contexts) if contexts else None
        actions = ["sts:AssumeRole"]
        keys: dict[str, Any] = {"sts:RoleSessionName": session_name}
        if source_identity:
            actions.append("sts:SetSourceIdentity")
            keys["sts:SourceIdentity"] = source_identity
        if params.get("Tags"):
            actions.append("sts:TagSession")
        if context is not None:
            actions.append("sts:SetContext")
            keys["sts:RequestContextProviders"] = [IDENTITY_CENTER_CONTEXT_PROVIDER]
            keys["sts:RequestContext/identitycenter:InstanceArn"] = context.instance_arn
        role = moto_models.iam_role(role_arn)
        cross_account = caller.principal.account != role_arn.split(":")[4]
        if (
            role is None
            or not self.trusts(role, caller.principal, actions, keys)
            or (cross_account and not all(self.identity_allows(caller, a, role_arn) for a in actions))
        ):
            raise exceptions.access_denied(
                f"User: {caller.principal.arn} is not authorized to perform: {' and '.join(actions)} "
                f"on resource: {role_arn}"
            )
        maximum = ROLE_CHAINING_MAX_SECONDS if chained else int(role.max_session_duration or 3600)
        if duration < MIN_DURATION_SECONDS:
            raise exceptions.validation(f"DurationSeconds must be at least {MIN_DURATION_SECONDS}")
        if duration > maximum:
            limit = (
                "the 1 hour session limit for roles assumed by role chaining"
                if chained
                else ("the MaxSessionDuration set for this role")
            )
            raise exceptions.validation(f"The requested DurationSeconds exceeds {limit}.")
        return self.issue(
            role,
            session_name,
            duration,
            source_identity=source_identity or (chained.source_identity if chained else None),
            context=context,
            # An identity-aware session never outlives the identity context it carries.
            lifetime_cap=context.expiration if context is not None else None,
        )

    def _context(self, provided: list[Mapping[str, Any]]) -> Any:
        _check_provided_contexts(provided)
        if len(provided) != 1:
            raise exceptions.invalid_parameter("Provide exactly one context for the IdentityCenter provider")
        provider, assertion = provided[0].get("ProviderArn"), provided[0].get("ContextAssertion", "")
        if provider != IDENTITY_CENTER_CONTEXT_PROVIDER:
            raise exceptions.invalid_parameter(f"Unsupported context provider: {provider}")
        context = self.contexts.get(assertion)
        if context is None:
            raise exceptions.invalid_context("The provided context assertion is malformed or was not issued")
        if context.expiration <= self.clock.now():
            raise exceptions.invalid_context("The provided context assertion has expired")
        return context

    def execution_role_session(self, role_arn: str) -> RoleSession:
        """The credentials Lambda gives a function running as `role_arn` (its trust must allow Lambda)."""
        role = moto_models.iam_role(role_arn)
        lambda_service = Principal(service=LAMBDA_SERVICE)
        if role is None or not self.trusts(role, lambda_service, ["sts:AssumeRole"], {}):
            raise exceptions.access_denied(f"{LAMBDA_SERVICE} may not assume {role_arn}")
        expiration = self.clock.now() + EXECUTION_ROLE_LIFETIME
        return self.issue(
            role, "local-lambda", int(EXECUTION_ROLE_LIFETIME.total_seconds()), lifetime_cap=expiration
        )


def _check_provided_contexts(provided: list[Mapping[str, Any]]) -> None:
    """The bounds the STS model sets on `ProvidedContexts` (AssumeRole: at most 5; ProvidedContext:
    `ProviderArn` 20-2048 characters, `ContextAssertion` 4-3072 in the model, 4-2048 on the reference
    page), as the ValidationError AWS's input validation writes ("1 validation error detected: Value ...
    at '...' failed to satisfy constraint").
    botocore checks them before sending, so only a client that does not (or a raw request) meets these."""
    request = wire.operation_model("sts", "AssumeRole").input_shape
    assert request is not None
    shape: Any = request.members["ProvidedContexts"]  # a ListShape of the ProvidedContext structure
    most = shape.metadata.get("max")
    if most is not None and len(provided) > most:
        raise _violated("providedContexts", f"less than or equal to {most}")
    for index, entry in enumerate(provided, 1):
        for name, member in shape.member.members.items():
            value = entry.get(name)
            if value is None:
                continue
            field = f"providedContexts.{index}.member.{name[0].lower()}{name[1:]}"
            if len(value) < member.metadata.get("min", 0):
                raise _violated(field, f"greater than or equal to {member.metadata['min']}")
            if len(value) > member.metadata.get("max", len(value)):
                raise _violated(field, f"less than or equal to {member.metadata['max']}")


def _violated(field: str, bound: str) -> EmulatorError:
    return exceptions.validation(
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
        f"Member must have length {bound}"
    )

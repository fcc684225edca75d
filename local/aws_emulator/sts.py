"""Emulated STS where moto falls short: identity-aware AssumeRole and callers the emulator knows.

moto's AssumeRole accepts `ProvidedContexts` and ignores them, does not check that the role exists or
that DurationSeconds fits the role, and knows nothing of the emulator clock. Here AssumeRole
(query protocol) is checked, forwarded to moto for the credentials, and answered with an expiration on
the emulator clock; every session is recorded in `state.role_sessions` so later calls (CreateTokenWithIAM,
GetDataAccess, GetCallerIdentity) know who signs with its keys. With a ProvidedContexts entry for the
Identity Center provider, the context must be one CreateTokenWithIAM issued and still valid; the session
then carries the directory user and ends no later than the context does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response

from local.aws_emulator.access_grants import access_key_id_of
from local.aws_emulator.identity_center import session_signature_problem
from local.aws_emulator.state import IDENTITY_CENTER_CONTEXT_PROVIDER, EmulatorState, RoleSession

Forward = Callable[[Request], Response]

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
MIN_DURATION_SECONDS = 900
ROLE_CHAINING_MAX_SECONDS = 3600
DEFAULT_DURATION_SECONDS = 3600
ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


class StsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def response(self) -> Response:
        kind = "Sender" if self.status < 500 else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{STS_NAMESPACE}"><Error><Type>{kind}</Type><Code>{self.code}</Code>'
            f"<Message>{escape(self.message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )
        return Response(body, status=self.status, content_type="text/xml")


def _params(request: Request) -> dict[str, str]:
    params = dict(request.args.items())
    content_type = request.content_type or ""
    if request.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        params.update(
            parse_qsl(request.get_data(cache=True).decode("utf-8", "replace"), keep_blank_values=True)
        )
    return params


def _signing_service(request: Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if "Credential=" not in auth:
        return None
    parts = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return parts[3] if len(parts) == 5 else None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _caller_session(state: EmulatorState, request: Request) -> RoleSession | None:
    """The recorded session that signed the request; an expired one is refused like STS refuses it."""
    session = state.role_sessions.get(access_key_id_of(request) or "")
    if session is None:
        return None
    problem = session_signature_problem(request, session)
    if problem == "token":
        raise StsError("InvalidClientTokenId", "The security token included in the request is invalid.", 403)
    if problem == "signature":
        raise StsError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            403,
        )
    if session.expiration <= state.now():
        raise StsError("ExpiredToken", "The security token included in the request is expired", 403)
    return session


def _iam_role(state: EmulatorState, role_arn: str) -> Any:
    from moto.iam.models import iam_backends

    backend = iam_backends[state.account_id]["aws"]
    try:
        return backend.get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto raises its own NotFound; any failure means "no such role"
        return None


def _provided_contexts(params: dict[str, str]) -> list[tuple[str, str]]:
    contexts = []
    index = 1
    while f"ProvidedContexts.member.{index}.ProviderArn" in params:
        contexts.append(
            (
                params[f"ProvidedContexts.member.{index}.ProviderArn"],
                params.get(f"ProvidedContexts.member.{index}.ContextAssertion", ""),
            )
        )
        index += 1
    return contexts


def _directory_user_from_contexts(
    state: EmulatorState, contexts: list[tuple[str, str]]
) -> tuple[str, datetime]:
    if len(contexts) != 1:
        raise StsError("InvalidParameterValue", "Provide exactly one context for the IdentityCenter provider")
    provider, assertion = contexts[0]
    if provider != IDENTITY_CENTER_CONTEXT_PROVIDER:
        raise StsError("InvalidParameterValue", f"Unsupported context provider: {provider}")
    context = state.identity_contexts.get(assertion)
    # STS documents one error for both cases: "expired or is not valid".
    if context is None:
        raise StsError("ExpiredTokenException", "The provided context assertion is not valid")
    if context.expiration <= state.now():
        raise StsError("ExpiredTokenException", "The provided context assertion has expired")
    return context.user_id, context.expiration


def _moto_credentials(response: Response) -> dict[str, str]:
    root = ElementTree.fromstring(response.get_data())  # noqa: S314 - moto's own reply, not outside input
    values = {}
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if (
            name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "AssumedRoleId", "Arn")
            and element.text
        ):
            values[name] = element.text
    return values


def _assume_role(
    request: Request, state: EmulatorState, forward: Forward, params: dict[str, str]
) -> Response:
    caller = _caller_session(state, request)
    role_arn, session_name = params.get("RoleArn", ""), params.get("RoleSessionName", "")
    if not ROLE_ARN.match(role_arn):
        raise StsError("ValidationError", f"RoleArn {role_arn!r} is not a valid role ARN")
    if not SESSION_NAME.match(session_name):
        raise StsError("ValidationError", "RoleSessionName must be 2-64 characters of [\\w+=,.@-]")
    role = _iam_role(state, role_arn)
    if role is None:
        who = caller.assumed_role_arn if caller else f"arn:aws:iam::{state.account_id}:user/local"
        raise StsError(
            "AccessDenied",
            f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            403,
        )
    try:
        duration = int(params.get("DurationSeconds", DEFAULT_DURATION_SECONDS))
    except ValueError as error:
        raise StsError("ValidationError", "DurationSeconds must be an integer") from error
    maximum = ROLE_CHAINING_MAX_SECONDS if caller else int(role.max_session_duration or 3600)
    if duration < MIN_DURATION_SECONDS:
        raise StsError("ValidationError", f"DurationSeconds must be at least {MIN_DURATION_SECONDS}")
    if duration > maximum:
        limit = (
            "the 1 hour session limit for roles assumed by role chaining"
            if caller
            else "the MaxSessionDuration set for this role"
        )
        raise StsError("ValidationError", f"The requested DurationSeconds exceeds {limit}.")
    source_identity = params.get("SourceIdentity") or None
    if caller and caller.source_identity and source_identity not in (None, caller.source_identity):
        raise StsError(
            "AccessDenied", "SourceIdentity cannot be changed once set for a role session chain", 403
        )
    source_identity = source_identity or (caller.source_identity if caller else None)

    now = state.now()
    expiration = now + timedelta(seconds=duration)
    directory_user_id = None
    contexts = _provided_contexts(params)
    if contexts:
        directory_user_id, context_expiration = _directory_user_from_contexts(state, contexts)
        # An identity-aware session never outlives the identity context it was made from.
        expiration = min(expiration, context_expiration)

    moto_response = forward(request)
    if moto_response.status_code != 200:
        return moto_response
    issued = _moto_credentials(moto_response)
    session = RoleSession(
        access_key_id=issued["AccessKeyId"],
        secret_access_key=issued["SecretAccessKey"],
        session_token=issued["SessionToken"],
        role_arn=role.arn,
        session_name=session_name,
        expiration=expiration,
        source_identity=source_identity,
        directory_user_id=directory_user_id,
    )
    with state.lock:
        state.role_sessions[session.access_key_id] = session
    source = f"<SourceIdentity>{escape(source_identity)}</SourceIdentity>" if source_identity else ""
    body = (
        f'<AssumeRoleResponse xmlns="{STS_NAMESPACE}"><AssumeRoleResult>{source}'
        f"<AssumedRoleUser><AssumedRoleId>{escape(role.id)}:{escape(session_name)}</AssumedRoleId>"
        f"<Arn>{escape(session.assumed_role_arn)}</Arn></AssumedRoleUser>"
        f"<Credentials><AccessKeyId>{escape(session.access_key_id)}</AccessKeyId>"
        f"<SecretAccessKey>{escape(session.secret_access_key)}</SecretAccessKey>"
        f"<SessionToken>{escape(session.session_token)}</SessionToken>"
        f"<Expiration>{_iso(expiration)}</Expiration></Credentials>"
        "<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )
    return Response(body, status=200, content_type="text/xml")


def _get_caller_identity(request: Request, state: EmulatorState) -> Response | None:
    session = _caller_session(state, request)
    if session is None:
        return None  # moto answers for IAM users, its own sessions and static keys
    role = _iam_role(state, session.role_arn)
    role_id = (
        role.id
        if role is not None
        else "AROA" + uuid.uuid5(uuid.NAMESPACE_URL, session.role_arn).hex[:17].upper()
    )
    body = (
        f'<GetCallerIdentityResponse xmlns="{STS_NAMESPACE}"><GetCallerIdentityResult>'
        f"<Arn>{escape(session.assumed_role_arn)}</Arn>"
        f"<UserId>{escape(role_id)}:{escape(session.session_name)}</UserId>"
        f"<Account>{session.role_arn.split(':')[4]}</Account>"
        f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )
    return Response(body, status=200, content_type="text/xml")


def handle(request: Request, state: EmulatorState, forward: Forward) -> Response | None:
    """AssumeRole and GetCallerIdentity (for recorded sessions); None for anything else."""
    if request.headers.get("X-Amz-Target") or _signing_service(request) not in (None, "sts"):
        return None
    params = _params(request)
    action = params.get("Action")
    try:
        if action == "AssumeRole":
            return _assume_role(request, state, forward, params)
        if action == "GetCallerIdentity":
            return _get_caller_identity(request, state)
    except StsError as error:
        return error.response()
    return None

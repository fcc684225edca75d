"""Emulated IAM Identity Center: sso-oidc CreateTokenWithIAM, the sso-admin application calls, the directory.

moto 5.2 has no sso-oidc and no Identity Center applications or trusted token issuers, so they live here:

- `POST /token?aws_iam=t` (sso-oidc CreateTokenWithIAM, rest-json, jwt-bearer grant): the assertion's
  signature is checked against the trusted token issuer's JWKS (OIDC discovery over HTTP, cached), its
  `iss`, `aud` (the application grant's authorised audiences) and `exp`; the issuer's claim (e.g. `email`)
  is mapped to a directory user; the answer carries an opaque access token, an `idToken` with
  `sts:identity_context`, and `awsAdditionalDetails.identityContext`, recorded in `state.identity_contexts`.
- sso-admin (json 1.1, `X-Amz-Target: SWBExternalService.<Op>`): trusted token issuers, applications and
  their grants, authentication methods, access scopes, assignment configuration, assignments and tags,
  plus DescribeInstance. Everything else (permission sets, ListInstances...) goes to moto.
- identitystore: moto answers; after any successful write the directory is copied into `state`, which is
  what the emulator's own logic reads (token exchange here, grantee matching in GetDataAccess).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.wrappers import Request, Response

from local.aws_emulator.access_grants import access_key_id_of
from local.aws_emulator.s3_enforcement import header_signatures
from local.aws_emulator.state import (
    Application,
    DirectoryGroup,
    DirectoryUser,
    EmulatorState,
    IdentityContext,
    RoleSession,
    TrustedTokenIssuer,
)

Forward = Callable[[Request], Response]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CUSTOM_APPLICATION_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"
CREATE_TOKEN_ACTION = "sso-oauth:CreateTokenWithIAM"
# Identity Center tokens obtained with CreateTokenWithIAM last one hour, whatever the assertion's own
# lifetime: RFC 7523 makes the assertion a one-time authorization grant checked at exchange time.
TOKEN_LIFETIME = timedelta(hours=1)
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512"]
JWKS_CACHE_SECONDS = 300
JWKS_FETCH_TIMEOUT_SECONDS = 5
CONTEXT_PRUNE_THRESHOLD = 10_000
ADMIN_TARGET_PREFIX = "SWBExternalService."
IDENTITYSTORE_TARGET_PREFIX = "AWSIdentityStore."
# Seeded ids are derived from names, so they are the same at every start (grants reference group ids).
DIRECTORY_NAMESPACE = uuid.UUID("0c3f8a7e-9d61-4f0e-8b52-7223c0ffee00")


# --- errors ------------------------------------------------------------------------------------------


class OidcError(Exception):
    """An sso-oidc error: `x-amzn-ErrorType` names the shape, the body carries `error`/`error_description`."""

    CODES = {
        "InvalidRequestException": "invalid_request",
        "InvalidClientException": "invalid_client",
        "InvalidGrantException": "invalid_grant",
        "UnauthorizedClientException": "unauthorized_client",
        "UnsupportedGrantTypeException": "unsupported_grant_type",
        "InvalidScopeException": "invalid_scope",
        "AccessDeniedException": "access_denied",
        "ExpiredTokenException": "expired_token",
    }

    def __init__(self, shape: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.shape, self.description, self.status = shape, description, status

    def response(self) -> Response:
        body = {"error": self.CODES[self.shape], "error_description": self.description}
        return _json_response(body, self.status, {"x-amzn-ErrorType": self.shape}, "application/json")


class AdminError(Exception):
    """An sso-admin (json 1.1) error."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def response(self) -> Response:
        body = {"__type": self.code, "Message": self.message}
        return _json_response(
            body, self.status, {"x-amzn-ErrorType": self.code}, "application/x-amz-json-1.1"
        )


class SignatureError(Exception):
    """A request carrying an emulator-issued access key but not that session's signature or token."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem

    def response(self) -> Response:
        if self.problem == "token":
            code, message = (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        else:
            code, message = "InvalidSignatureException", "The request signature we calculated does not match."
        body = {"message": message}
        return _json_response(body, 403, {"x-amzn-ErrorType": code}, "application/json")


def _json_response(body: Any, status: int, headers: dict[str, str], content_type: str) -> Response:
    response = Response(json.dumps(body, default=_json_default), status=status, content_type=content_type)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# --- who signed the request -----------------------------------------------------------------------


def session_signature_problem(request: Request, session: RoleSession) -> str | None:
    """Why a request claiming a recorded session's access key is not really signed by it, or None.

    Real AWS checks every signature; moto checks none. For keys the emulator issued (and so knows the
    secret of) the SigV4 signature and the session token are checked like AWS checks them.
    """
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256"):
        return "signature"
    try:
        sent, expected = header_signatures(
            session.secret_access_key, request, hashlib.sha256(request.get_data(cache=True)).hexdigest()
        )
    except (KeyError, ValueError):
        return "signature"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        return "signature"
    if not hmac.compare_digest(
        request.headers.get("X-Amz-Security-Token", "").encode(), session.session_token.encode()
    ):
        return "token"
    return None


# --- the directory (identity store) ----------------------------------------------------------------


def _identitystore_backend(state: EmulatorState) -> Any:
    from moto.identitystore.models import IdentityStoreData, identitystore_backends

    backend = identitystore_backends[state.account_id][state.region]
    return backend.identity_stores.setdefault(state.identity_store_id, IdentityStoreData())


def sync_directory_from_moto(state: EmulatorState) -> None:
    """Copy moto's identity store into `state` (after identitystore writes made through the API)."""
    store = _identitystore_backend(state)
    users = {}
    for user in store.users.values():
        emails = user.Emails or []
        primary = next((e for e in emails if e.get("Primary")), emails[0] if emails else {})
        users[user.UserId] = DirectoryUser(
            user.UserId, user.UserName, primary.get("Value", ""), user.DisplayName
        )
    groups = {g.GroupId: DirectoryGroup(g.GroupId, g.DisplayName) for g in store.groups.values()}
    memberships: dict[str, set[str]] = {}
    for membership in store.group_memberships.values():
        memberships.setdefault(membership["MemberId"]["UserId"], set()).add(membership["GroupId"])
    with state.lock:
        state.users, state.groups, state.memberships = users, groups, memberships


def _seed_directory(state: EmulatorState, demo_users: dict, plan: dict) -> None:
    """Demo users and one group per department, written into moto's identity store with stable ids."""
    from moto.identitystore.models import Group, Name, User

    store = _identitystore_backend(state)
    directory_group = {dept: spec["directory_group"] for dept, spec in plan.get("departments", {}).items()}
    group_names = list(dict.fromkeys(directory_group.values()))
    for entry in demo_users.get("users", []):
        group_names += [
            directory_group.get(g, g) for g in entry.get("groups", []) if directory_group.get(g, g)
        ]
    group_ids = {}
    for name in dict.fromkeys(group_names):
        group_id = str(uuid.uuid5(DIRECTORY_NAMESPACE, f"group:{name}"))
        group_ids[name] = group_id
        store.groups[group_id] = Group(
            group_id, name, [], f"ShopFast department {name}", state.identity_store_id
        )
    for entry in demo_users.get("users", []):
        email = entry["email"]
        user_id = str(uuid.uuid5(DIRECTORY_NAMESPACE, f"user:{email.lower()}"))
        display = entry.get("name", email.split("@")[0])
        name = Name.from_dict({"GivenName": display, "FamilyName": "ShopFast", "Formatted": display})
        emails = [{"Value": email, "Type": "work", "Primary": True}]
        store.users[user_id] = User(
            user_id, state.identity_store_id, email, name, display, "", "", emails, [], [], "", "", "", "", ""
        )
        for group in entry.get("groups", []):
            group_id = group_ids[directory_group.get(group, group)]
            membership_id = str(uuid.uuid5(DIRECTORY_NAMESPACE, f"membership:{email.lower()}:{group_id}"))
            store.group_memberships[membership_id] = {
                "IdentityStoreId": state.identity_store_id,
                "MembershipId": membership_id,
                "GroupId": group_id,
                "MemberId": {"UserId": user_id},
            }
    sync_directory_from_moto(state)


def _align_moto_instance(state: EmulatorState) -> None:
    """moto's sso-admin invents a random instance; make it ours so ListInstances names the real one."""
    from moto.ssoadmin.models import ssoadmin_backends

    backend = ssoadmin_backends[state.account_id][state.region]
    instance = backend.instances[0]
    instance.instance_arn, instance.identity_store_id, instance.name = (
        state.instance_arn,
        state.identity_store_id,
        "shopfast-local",
    )


def seed_directory(state: EmulatorState, demo_users: dict, plan: dict) -> None:
    """The instance (as ListInstances names it) and the demo directory, without any application."""
    _align_moto_instance(state)
    _seed_directory(state, demo_users, plan)


def find_user(state: EmulatorState, attribute_path: str, value: str) -> DirectoryUser | None:
    """The directory user whose `attribute_path` (emails.value | userName) equals `value`."""
    path = attribute_path.lower()
    for user in state.users.values():
        if path == "emails.value" and user.email.lower() == value.lower():
            return user
        if path == "username" and user.user_name == value:
            return user
    return None


# --- sso-admin: trusted token issuers and applications ---------------------------------------------


def _instance_id(state: EmulatorState) -> str:
    return state.instance_arn.rsplit("/", 1)[-1]


def _identity_store_arn(state: EmulatorState) -> str:
    return f"arn:aws:identitystore::{state.account_id}:identitystore/{state.identity_store_id}"


def _require(params: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise AdminError("ValidationException", f"missing required parameter(s): {', '.join(missing)}")


def _check_instance(state: EmulatorState, params: dict[str, Any]) -> None:
    if params.get("InstanceArn") not in (None, state.instance_arn):
        raise AdminError("ResourceNotFoundException", f"instance {params['InstanceArn']} does not exist")


def _application(state: EmulatorState, params: dict[str, Any]) -> Application:
    _require(params, "ApplicationArn")
    application = state.applications.get(params["ApplicationArn"])
    if application is None:
        raise AdminError(
            "ResourceNotFoundException", f"application {params['ApplicationArn']} does not exist"
        )
    return application


def _issuer(state: EmulatorState, params: dict[str, Any]) -> TrustedTokenIssuer:
    _require(params, "TrustedTokenIssuerArn")
    issuer = state.trusted_token_issuers.get(params["TrustedTokenIssuerArn"])
    if issuer is None:
        arn = params["TrustedTokenIssuerArn"]
        raise AdminError("ResourceNotFoundException", f"trusted token issuer {arn} does not exist")
    return issuer


def _tags(params: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in params.get("Tags") or []}


def create_trusted_token_issuer(state: EmulatorState, params: dict[str, Any], arn: str | None = None) -> dict:
    _require(params, "InstanceArn", "Name", "TrustedTokenIssuerType", "TrustedTokenIssuerConfiguration")
    _check_instance(state, params)
    if params["TrustedTokenIssuerType"] != "OIDC_JWT":
        raise AdminError("ValidationException", "TrustedTokenIssuerType must be OIDC_JWT")
    config = params["TrustedTokenIssuerConfiguration"].get("OidcJwtConfiguration") or {}
    _require(config, "IssuerUrl", "ClaimAttributePath", "IdentityStoreAttributePath")
    with state.lock:
        if any(i.name == params["Name"] for i in state.trusted_token_issuers.values()):
            raise AdminError("ConflictException", f"a trusted token issuer named {params['Name']} exists")
        arn = (
            arn
            or f"arn:aws:sso::{state.account_id}:trustedTokenIssuer/{_instance_id(state)}/tti-{uuid.uuid4()}"
        )
        state.trusted_token_issuers[arn] = TrustedTokenIssuer(
            arn=arn,
            name=params["Name"],
            issuer_url=config["IssuerUrl"],
            claim_attribute_path=config["ClaimAttributePath"],
            identity_store_attribute_path=config["IdentityStoreAttributePath"],
            tags=_tags(params),
        )
    return {"TrustedTokenIssuerArn": arn}


def _describe_trusted_token_issuer(state: EmulatorState, params: dict[str, Any]) -> dict:
    issuer = _issuer(state, params)
    return {
        "TrustedTokenIssuerArn": issuer.arn,
        "Name": issuer.name,
        "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {
            "OidcJwtConfiguration": {
                "IssuerUrl": issuer.issuer_url,
                "ClaimAttributePath": issuer.claim_attribute_path,
                "IdentityStoreAttributePath": issuer.identity_store_attribute_path,
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
    }


def _list_trusted_token_issuers(state: EmulatorState, params: dict[str, Any]) -> dict:
    _check_instance(state, params)
    issuers = [
        {"TrustedTokenIssuerArn": i.arn, "Name": i.name, "TrustedTokenIssuerType": "OIDC_JWT"}
        for i in state.trusted_token_issuers.values()
    ]
    return {"TrustedTokenIssuers": issuers}


def _update_trusted_token_issuer(state: EmulatorState, params: dict[str, Any]) -> dict:
    issuer = _issuer(state, params)
    config = (params.get("TrustedTokenIssuerConfiguration") or {}).get("OidcJwtConfiguration") or {}
    with state.lock:
        issuer.name = params.get("Name") or issuer.name
        issuer.claim_attribute_path = config.get("ClaimAttributePath") or issuer.claim_attribute_path
        issuer.identity_store_attribute_path = (
            config.get("IdentityStoreAttributePath") or issuer.identity_store_attribute_path
        )
    return {}


def _delete_trusted_token_issuer(state: EmulatorState, params: dict[str, Any]) -> dict:
    issuer = _issuer(state, params)
    with state.lock:
        state.trusted_token_issuers.pop(issuer.arn, None)
    return {}


def create_application(state: EmulatorState, params: dict[str, Any], arn: str | None = None) -> dict:
    _require(params, "InstanceArn", "ApplicationProviderArn", "Name")
    _check_instance(state, params)
    with state.lock:
        arn = (
            arn
            or f"arn:aws:sso::{state.account_id}:application/{_instance_id(state)}/apl-{secrets.token_hex(8)}"
        )
        state.applications[arn] = Application(
            arn=arn,
            name=params["Name"],
            provider_arn=params["ApplicationProviderArn"],
            instance_arn=state.instance_arn,
            created=state.now(),
            description=params.get("Description"),
            status=params.get("Status") or "ENABLED",
            portal_options=params.get("PortalOptions"),
            tags=_tags(params),
        )
    return {
        "ApplicationArn": arn,
        "InstanceArn": state.instance_arn,
        "IdentityStoreArn": _identity_store_arn(state),
    }


def _application_summary(state: EmulatorState, application: Application) -> dict:
    summary = {
        "ApplicationArn": application.arn,
        "ApplicationProviderArn": application.provider_arn,
        "Name": application.name,
        "ApplicationAccount": state.account_id,
        "InstanceArn": application.instance_arn,
        "Status": application.status,
        "CreatedDate": application.created,
    }
    if application.portal_options:
        summary["PortalOptions"] = application.portal_options
    if application.description:
        summary["Description"] = application.description
    return summary


def _describe_application(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    return {
        **_application_summary(state, application),
        "IdentityStoreArn": _identity_store_arn(state),
    }


def _list_applications(state: EmulatorState, params: dict[str, Any]) -> dict:
    _check_instance(state, params)
    return {"Applications": [_application_summary(state, a) for a in state.applications.values()]}


def _update_application(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    with state.lock:
        application.name = params.get("Name") or application.name
        application.description = params.get("Description", application.description)
        application.status = params.get("Status") or application.status
        application.portal_options = params.get("PortalOptions", application.portal_options)
    return {}


def _delete_application(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    with state.lock:
        state.applications.pop(application.arn, None)
    return {}


def put_application_grant(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "GrantType", "Grant")
    grant_type, grant = params["GrantType"], params["Grant"]
    if grant_type == JWT_BEARER:
        issuers = (grant.get("JwtBearer") or {}).get("AuthorizedTokenIssuers") or []
        if not issuers:
            raise AdminError(
                "ValidationException", "JwtBearer needs at least one AuthorizedTokenIssuers entry"
            )
        for entry in issuers:
            _issuer(state, entry)
            if not entry.get("AuthorizedAudiences"):
                raise AdminError(
                    "ValidationException", "each authorized token issuer needs AuthorizedAudiences"
                )
    with state.lock:
        application.grants[grant_type] = grant
    return {}


def _get_application_grant(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "GrantType")
    grant = application.grants.get(params["GrantType"])
    if grant is None:
        raise AdminError("ResourceNotFoundException", f"no {params['GrantType']} grant on {application.arn}")
    return {"Grant": grant}


def _list_application_grants(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    return {"Grants": [{"GrantType": t, "Grant": g} for t, g in application.grants.items()]}


def _delete_application_grant(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "GrantType")
    with state.lock:
        application.grants.pop(params["GrantType"], None)
    return {}


def put_application_authentication_method(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "AuthenticationMethodType", "AuthenticationMethod")
    if params["AuthenticationMethodType"] != "IAM":
        raise AdminError("ValidationException", "AuthenticationMethodType must be IAM")
    policy = (params["AuthenticationMethod"].get("Iam") or {}).get("ActorPolicy")
    if not isinstance(policy, dict) or not policy.get("Statement"):
        raise AdminError("ValidationException", "Iam.ActorPolicy must be a policy document with statements")
    with state.lock:
        application.authentication_methods["IAM"] = params["AuthenticationMethod"]
    return {}


def _get_application_authentication_method(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "AuthenticationMethodType")
    method = application.authentication_methods.get(params["AuthenticationMethodType"])
    if method is None:
        raise AdminError("ResourceNotFoundException", f"no authentication method on {application.arn}")
    return {"AuthenticationMethod": method}


def _list_application_authentication_methods(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    methods = [
        {"AuthenticationMethodType": t, "AuthenticationMethod": m}
        for t, m in application.authentication_methods.items()
    ]
    return {"AuthenticationMethods": methods}


def _delete_application_authentication_method(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    with state.lock:
        application.authentication_methods.pop(params.get("AuthenticationMethodType", "IAM"), None)
    return {}


def put_application_access_scope(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "Scope")
    with state.lock:
        application.access_scopes[params["Scope"]] = list(params.get("AuthorizedTargets") or [])
    return {}


def _get_application_access_scope(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "Scope")
    if params["Scope"] not in application.access_scopes:
        raise AdminError(
            "ResourceNotFoundException", f"no access scope {params['Scope']} on {application.arn}"
        )
    targets = application.access_scopes[params["Scope"]]
    return {"Scope": params["Scope"], **({"AuthorizedTargets": targets} if targets else {})}


def _list_application_access_scopes(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    scopes = [
        {"Scope": s, **({"AuthorizedTargets": t} if t else {})} for s, t in application.access_scopes.items()
    ]
    return {"Scopes": scopes}


def _delete_application_access_scope(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    _require(params, "Scope")
    with state.lock:
        application.access_scopes.pop(params["Scope"], None)
    return {}


def put_application_assignment_configuration(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    if not isinstance(params.get("AssignmentRequired"), bool):
        raise AdminError("ValidationException", "AssignmentRequired must be a boolean")
    with state.lock:
        application.assignment_required = params["AssignmentRequired"]
    return {}


def _get_application_assignment_configuration(state: EmulatorState, params: dict[str, Any]) -> dict:
    return {"AssignmentRequired": _application(state, params).assignment_required}


def _assignment_key(state: EmulatorState, params: dict[str, Any]) -> tuple[str, str]:
    _require(params, "PrincipalId", "PrincipalType")
    kind, principal = params["PrincipalType"], params["PrincipalId"]
    known = state.users if kind == "USER" else state.groups if kind == "GROUP" else None
    if known is None:
        raise AdminError("ValidationException", "PrincipalType must be USER or GROUP")
    if principal not in known:
        raise AdminError("ResourceNotFoundException", f"{kind} {principal} does not exist")
    return kind, principal


def create_application_assignment(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    key = _assignment_key(state, params)
    with state.lock:
        application.assignments.add(key)
    return {}


def _describe_application_assignment(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    kind, principal = _assignment_key(state, params)
    if (kind, principal) not in application.assignments:
        raise AdminError(
            "ResourceNotFoundException", f"{kind} {principal} is not assigned to {application.arn}"
        )
    return {"ApplicationArn": application.arn, "PrincipalType": kind, "PrincipalId": principal}


def _list_application_assignments(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    assignments = [
        {"ApplicationArn": application.arn, "PrincipalType": kind, "PrincipalId": principal}
        for kind, principal in sorted(application.assignments)
    ]
    return {"ApplicationAssignments": assignments}


def _delete_application_assignment(state: EmulatorState, params: dict[str, Any]) -> dict:
    application = _application(state, params)
    key = _assignment_key(state, params)
    with state.lock:
        application.assignments.discard(key)
    return {}


def _describe_instance(state: EmulatorState, params: dict[str, Any]) -> dict:
    _require(params, "InstanceArn")
    _check_instance(state, params)
    return {
        "InstanceArn": state.instance_arn,
        "IdentityStoreId": state.identity_store_id,
        "OwnerAccountId": state.account_id,
        "Name": "shopfast-local",
        "Status": "ACTIVE",
    }


def _tagged(state: EmulatorState, arn: str | None) -> Application | TrustedTokenIssuer | None:
    return state.applications.get(arn or "") or state.trusted_token_issuers.get(arn or "")


def _list_tags(state: EmulatorState, params: dict[str, Any]) -> dict:
    resource = _tagged(state, params.get("ResourceArn"))
    if resource is None:
        raise AdminError("ResourceNotFoundException", f"resource {params.get('ResourceArn')} does not exist")
    return {"Tags": [{"Key": k, "Value": v} for k, v in resource.tags.items()]}


def _tag_resource(state: EmulatorState, params: dict[str, Any]) -> dict:
    resource = _tagged(state, params.get("ResourceArn"))
    if resource is None:
        raise AdminError("ResourceNotFoundException", f"resource {params.get('ResourceArn')} does not exist")
    with state.lock:
        resource.tags.update(_tags(params))
    return {}


def _untag_resource(state: EmulatorState, params: dict[str, Any]) -> dict:
    resource = _tagged(state, params.get("ResourceArn"))
    if resource is None:
        raise AdminError("ResourceNotFoundException", f"resource {params.get('ResourceArn')} does not exist")
    with state.lock:
        for key in params.get("TagKeys") or []:
            resource.tags.pop(key, None)
    return {}


ADMIN_OPERATIONS: dict[str, Callable[[EmulatorState, dict[str, Any]], dict]] = {
    "CreateTrustedTokenIssuer": create_trusted_token_issuer,
    "DescribeTrustedTokenIssuer": _describe_trusted_token_issuer,
    "ListTrustedTokenIssuers": _list_trusted_token_issuers,
    "UpdateTrustedTokenIssuer": _update_trusted_token_issuer,
    "DeleteTrustedTokenIssuer": _delete_trusted_token_issuer,
    "CreateApplication": create_application,
    "DescribeApplication": _describe_application,
    "ListApplications": _list_applications,
    "UpdateApplication": _update_application,
    "DeleteApplication": _delete_application,
    "PutApplicationGrant": put_application_grant,
    "GetApplicationGrant": _get_application_grant,
    "ListApplicationGrants": _list_application_grants,
    "DeleteApplicationGrant": _delete_application_grant,
    "PutApplicationAuthenticationMethod": put_application_authentication_method,
    "GetApplicationAuthenticationMethod": _get_application_authentication_method,
    "ListApplicationAuthenticationMethods": _list_application_authentication_methods,
    "DeleteApplicationAuthenticationMethod": _delete_application_authentication_method,
    "PutApplicationAccessScope": put_application_access_scope,
    "GetApplicationAccessScope": _get_application_access_scope,
    "ListApplicationAccessScopes": _list_application_access_scopes,
    "DeleteApplicationAccessScope": _delete_application_access_scope,
    "PutApplicationAssignmentConfiguration": put_application_assignment_configuration,
    "GetApplicationAssignmentConfiguration": _get_application_assignment_configuration,
    "CreateApplicationAssignment": create_application_assignment,
    "DescribeApplicationAssignment": _describe_application_assignment,
    "ListApplicationAssignments": _list_application_assignments,
    "DeleteApplicationAssignment": _delete_application_assignment,
    "DescribeInstance": _describe_instance,
    "ListTagsForResource": _list_tags,
    "TagResource": _tag_resource,
    "UntagResource": _untag_resource,
}


# --- the application's IAM authentication method (actor policy) -----------------------------------


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _principal_matches(principal: Any, principal_arn: str, account_id: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    accepted = {account_id, f"arn:aws:iam::{account_id}:root", principal_arn, "*"}
    return any(p in accepted for p in _as_list(principal.get("AWS")))


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    """Arn/String Equals/Like on aws:PrincipalArn and aws:PrincipalAccount; any other condition fails."""
    for operator, tests in (conditions or {}).items():
        if operator not in ("ArnEquals", "ArnLike", "StringEquals", "StringLike"):
            return False
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                return False
            if not any(fnmatch.fnmatchcase(actual, pattern) for pattern in _as_list(expected)):
                return False
    return True


def actor_policy_allows(
    policy: dict[str, Any], principal_arn: str, account_id: str, application_arn: str
) -> bool:
    """Does the actor policy let `principal_arn` call CreateTokenWithIAM on the application? Deny wins."""
    context = {"aws:principalarn": principal_arn, "aws:principalaccount": account_id}
    allowed = False
    for statement in _as_list(policy.get("Statement")):
        actions = [a.lower() for a in _as_list(statement.get("Action"))]
        resources = _as_list(statement.get("Resource")) or ["*"]
        matches = (
            _principal_matches(statement.get("Principal"), principal_arn, account_id)
            and any(fnmatch.fnmatchcase(CREATE_TOKEN_ACTION.lower(), a) for a in actions)
            and any(fnmatch.fnmatchcase(application_arn, r) for r in resources)
            and _conditions_hold(statement.get("Condition") or {}, context)
        )
        if matches and statement.get("Effect") == "Deny":
            return False
        allowed = allowed or (matches and statement.get("Effect") == "Allow")
    return allowed


# --- the trusted token issuer's keys ----------------------------------------------------------------


class JwksCache:
    """Keys of trusted token issuers, found by OIDC discovery and cached; an unknown `kid` refetches.

    When the issuer cannot be reached, keys fetched earlier keep verifying (last known good).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}  # issuer -> (fetched at, kid -> key)

    @staticmethod
    def _get_json(url: str) -> Any:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"refusing to fetch {url!r}")
        with urllib.request.urlopen(url, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as reply:
            return json.loads(reply.read())

    def _fetch(self, issuer_url: str) -> dict[str, Any]:
        discovery = self._get_json(f"{issuer_url.rstrip('/')}/.well-known/openid-configuration")
        jwk_set = jwt.PyJWKSet.from_dict(self._get_json(discovery["jwks_uri"]))
        return {key.key_id: key for key in jwk_set.keys if key.key_id}

    def key(self, issuer_url: str, kid: str) -> Any:
        with self._lock:
            fetched_at, keys = self._keys.get(issuer_url, (0.0, {}))
        if kid in keys and time.monotonic() - fetched_at < JWKS_CACHE_SECONDS:
            return keys[kid]
        try:
            fresh = self._fetch(issuer_url)
        except (OSError, ValueError, KeyError, jwt.PyJWKError) as error:
            if kid in keys:
                return keys[kid]
            raise OidcError(
                "InvalidGrantException", f"cannot fetch the issuer's signing keys: {error}"
            ) from error
        with self._lock:
            self._keys[issuer_url] = (time.monotonic(), fresh)
        if kid not in fresh:
            raise OidcError(
                "InvalidGrantException", "the assertion is signed with a key the issuer does not publish"
            )
        return fresh[kid]


JWKS = JwksCache()


class _IdTokenSigner:
    """The emulated Identity Center's own signing key for idTokens (clients read them, nobody verifies)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: rsa.RSAPrivateKey | None = None

    def sign(self, claims: dict[str, Any]) -> str:
        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "identity-center-local"})


ID_TOKEN_SIGNER = _IdTokenSigner()


# --- sso-oidc CreateTokenWithIAM ------------------------------------------------------------------


def _authorize_caller(state: EmulatorState, request: Request, application: Application) -> None:
    method = application.authentication_methods.get("IAM")
    if method is None:
        raise OidcError("AccessDeniedException", "the application has no IAM authentication method")
    key = access_key_id_of(request)
    if key is None:
        raise OidcError("AccessDeniedException", "the request is not signed with AWS credentials")
    session = state.role_sessions.get(key)
    if session is None:
        return  # static keys: accepted like moto accepts them (the principal cannot be known)
    problem = session_signature_problem(request, session)
    if problem is not None:
        raise SignatureError(problem)
    if session.expiration <= state.now():
        raise OidcError("ExpiredTokenException", "the security token included in the request is expired")
    if not actor_policy_allows(
        method["Iam"]["ActorPolicy"], session.role_arn, state.account_id, application.arn
    ):
        raise OidcError(
            "AccessDeniedException",
            f"{session.assumed_role_arn} is not authorized to perform {CREATE_TOKEN_ACTION} "
            f"on {application.arn}",
        )


def _verify_assertion(
    state: EmulatorState, application: Application, assertion: str
) -> tuple[TrustedTokenIssuer, dict]:
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise OidcError("InvalidGrantException", f"the assertion is not a valid JWT: {error}") from error
    issuer_url = unverified.get("iss")
    grant = application.grants.get(JWT_BEARER) or {}
    issuer, audiences = None, []
    for entry in grant.get("JwtBearer", {}).get("AuthorizedTokenIssuers", []):
        candidate = state.trusted_token_issuers.get(entry.get("TrustedTokenIssuerArn", ""))
        if candidate is not None and candidate.issuer_url == issuer_url:
            issuer, audiences = candidate, entry.get("AuthorizedAudiences") or []
            break
    if issuer is None:
        raise OidcError("InvalidGrantException", f"issuer {issuer_url!r} is not trusted by the application")
    if header.get("alg") not in ASSERTION_ALGORITHMS or not header.get("kid"):
        raise OidcError(
            "InvalidGrantException", "the assertion must be RS256/384/512 signed and name its kid"
        )
    key = JWKS.key(issuer.issuer_url, header["kid"])
    try:
        claims = jwt.decode(
            assertion,
            key.key,
            algorithms=ASSERTION_ALGORITHMS,
            audience=audiences,
            issuer=issuer.issuer_url,
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "aud"],
            },
        )
    except jwt.InvalidAudienceError as error:
        raise OidcError("InvalidGrantException", "the assertion's audience is not authorized") from error
    except jwt.PyJWTError as error:
        raise OidcError("InvalidGrantException", f"the assertion failed verification: {error}") from error
    now = state.now().timestamp()  # the emulator's clock, so advancing it expires assertions
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= now:
        raise OidcError("InvalidGrantException", "the assertion has expired")
    if isinstance(claims.get("nbf"), int | float) and claims["nbf"] > now:
        raise OidcError("InvalidGrantException", "the assertion is not valid yet")
    return issuer, claims


def _check_assignment(state: EmulatorState, application: Application, user: DirectoryUser) -> None:
    if not application.assignment_required:
        return
    principals = {("USER", user.user_id)} | {("GROUP", g) for g in state.groups_of(user.user_id)}
    if not principals & application.assignments:
        raise OidcError("AccessDeniedException", "the user is not assigned to the application")


def _issue_tokens(
    state: EmulatorState, application: Application, issuer: TrustedTokenIssuer, user: DirectoryUser
) -> tuple[str, str]:
    """Record a new identity context for the user; return it and the idToken that carries it."""
    now = state.now()
    expiration = now + TOKEN_LIFETIME
    context_value = "AQoJb3JpZ2luX2Vj" + base64.b64encode(secrets.token_bytes(96)).decode()
    with state.lock:
        if len(state.identity_contexts) >= CONTEXT_PRUNE_THRESHOLD:  # long benchmarks must not grow memory
            for value in [v for v, c in state.identity_contexts.items() if c.expiration <= now]:
                del state.identity_contexts[value]
        state.identity_contexts[context_value] = IdentityContext(
            value=context_value, user_id=user.user_id, application_arn=application.arn, expiration=expiration
        )
    id_token = ID_TOKEN_SIGNER.sign(
        {
            "iss": f"https://identitycenter.amazonaws.com/{_instance_id(state)}",
            "sub": user.user_id,
            "aud": application.arn.rsplit("/", 1)[-1],
            "iat": int(now.timestamp()),
            "exp": int(expiration.timestamp()),
            "auth_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sts:identity_context": context_value,
            "sts:audit_context": base64.b64encode(secrets.token_bytes(48)).decode(),
            "aws:identity_store_id": state.identity_store_id,
            "aws:identity_store_arn": _identity_store_arn(state),
            "aws:instance_account": state.account_id,
            "aws:instance_arn": state.instance_arn,
            "aws:application_arn": application.arn,
            "aws:credential_id": secrets.token_urlsafe(24),
            "act": {"sub": issuer.arn},
        }
    )
    return context_value, id_token


def create_token_with_iam(request: Request, state: EmulatorState) -> Response:
    try:
        params = json.loads(request.get_data(cache=True) or b"{}")
        if not isinstance(params, dict):
            raise TypeError("the body must be a JSON object")
    except (ValueError, TypeError) as error:
        return OidcError("InvalidRequestException", f"malformed request body: {error}").response()
    try:
        for name in ("clientId", "grantType"):
            if not isinstance(params.get(name), str) or not params[name]:
                raise OidcError("InvalidRequestException", f"{name} is required")
        application = state.applications.get(params["clientId"])
        if application is None:
            raise OidcError("InvalidClientException", f"no application {params['clientId']}")
        if params["grantType"] != JWT_BEARER:
            raise OidcError(
                "UnsupportedGrantTypeException", f"grant type {params['grantType']} is not emulated"
            )
        _authorize_caller(state, request, application)
        if JWT_BEARER not in application.grants:
            raise OidcError("UnauthorizedClientException", "the application has no jwt-bearer grant")
        if not isinstance(params.get("assertion"), str) or not params["assertion"]:
            raise OidcError("InvalidRequestException", "assertion is required for the jwt-bearer grant")
        granted_scopes = ["sts:identity_context", "openid", "aws", *application.access_scopes]
        requested = params.get("scope")
        if requested is not None and (
            not isinstance(requested, list) or set(requested) - set(granted_scopes)
        ):
            raise OidcError("InvalidScopeException", "the requested scope is not granted to the application")
        issuer, claims = _verify_assertion(state, application, params["assertion"])
        value = claims.get(issuer.claim_attribute_path)
        user = (
            find_user(state, issuer.identity_store_attribute_path, value) if isinstance(value, str) else None
        )
        if user is None:
            raise OidcError(
                "InvalidGrantException", f"no directory user matches the {issuer.claim_attribute_path} claim"
            )
        _check_assignment(state, application, user)
        context_value, id_token = _issue_tokens(state, application, issuer, user)
    except (OidcError, SignatureError) as error:
        return error.response()
    body = {
        "accessToken": "aoa" + secrets.token_urlsafe(96),
        "tokenType": "Bearer",
        "expiresIn": int(TOKEN_LIFETIME.total_seconds()),
        "idToken": id_token,
        "issuedTokenType": "urn:ietf:params:oauth:token-type:access_token",
        "scope": requested or granted_scopes,
        "awsAdditionalDetails": {"identityContext": context_value},
    }
    return _json_response(body, 200, {}, "application/json")


# --- dispatch and seeding ----------------------------------------------------------------------------


def _admin(request: Request, state: EmulatorState, operation: str) -> Response:
    try:
        params = json.loads(request.get_data(cache=True) or b"{}")
        if not isinstance(params, dict):
            raise AdminError("SerializationException", "the body must be a JSON object")
        return _json_response(
            ADMIN_OPERATIONS[operation](state, params), 200, {}, "application/x-amz-json-1.1"
        )
    except ValueError:
        return AdminError("SerializationException", "the body is not valid JSON").response()
    except AdminError as error:
        return error.response()


def handle(request: Request, state: EmulatorState, forward: Forward) -> Response | None:
    """Answer the Identity Center calls moto lacks; None for anything else."""
    if request.path == "/token" and request.method == "POST" and "aws_iam" in request.args:
        return create_token_with_iam(request, state)
    target = request.headers.get("X-Amz-Target", "")
    if target.startswith(ADMIN_TARGET_PREFIX) and target[len(ADMIN_TARGET_PREFIX) :] in ADMIN_OPERATIONS:
        return _admin(request, state, target[len(ADMIN_TARGET_PREFIX) :])
    if target.startswith(IDENTITYSTORE_TARGET_PREFIX) and target.split(".", 1)[1].startswith(
        ("Create", "Delete", "Update")
    ):
        response = forward(request)
        if response.status_code < 300:
            sync_directory_from_moto(state)
        return response
    return None


def seed(state: EmulatorState, demo_users: dict, plan: dict, issuer_url: str, audience: str) -> None:
    """The demo directory and the vending application trusting the local OIDC issuer.

    Users, one group per department, memberships; the trusted token issuer (claim `email` ->
    `emails.value`); the application (fixed ARN) with its jwt-bearer grant for `audience`, its IAM
    authentication method trusting only the client-application role, the Access Grants scope, and
    assignment not required (GetDataAccess decides, so a user without a department is refused there).
    """
    _align_moto_instance(state)
    _seed_directory(state, demo_users, plan)
    account, instance = state.account_id, _instance_id(state)
    issuer_id = uuid.uuid5(DIRECTORY_NAMESPACE, issuer_url)
    issuer_arn = f"arn:aws:sso::{account}:trustedTokenIssuer/{instance}/tti-{issuer_id}"
    create_trusted_token_issuer(
        state,
        {
            "InstanceArn": state.instance_arn,
            "Name": "shopfast-local-oidc",
            "TrustedTokenIssuerType": "OIDC_JWT",
            "TrustedTokenIssuerConfiguration": {
                "OidcJwtConfiguration": {
                    "IssuerUrl": issuer_url,
                    "ClaimAttributePath": "email",
                    "IdentityStoreAttributePath": "emails.value",
                    "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
                }
            },
        },
        arn=issuer_arn,
    )
    application_arn = f"arn:aws:sso::{account}:application/{instance}/apl-5a1e5c0ffee0b1d8"
    create_application(
        state,
        {
            "InstanceArn": state.instance_arn,
            "ApplicationProviderArn": CUSTOM_APPLICATION_PROVIDER,
            "Name": "shopfast-vending",
            "Description": "S3 Access Grants credential vending (local)",
        },
        arn=application_arn,
    )
    put_application_grant(
        state,
        {
            "ApplicationArn": application_arn,
            "GrantType": JWT_BEARER,
            "Grant": {
                "JwtBearer": {
                    "AuthorizedTokenIssuers": [
                        {"TrustedTokenIssuerArn": issuer_arn, "AuthorizedAudiences": [audience]}
                    ]
                }
            },
        },
    )
    client_role = f"arn:aws:iam::{account}:role/shopfast-vending-client-app"
    put_application_authentication_method(
        state,
        {
            "ApplicationArn": application_arn,
            "AuthenticationMethodType": "IAM",
            "AuthenticationMethod": {
                "Iam": {
                    "ActorPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": account},
                                "Action": CREATE_TOKEN_ACTION,
                                "Resource": application_arn,
                                "Condition": {"ArnEquals": {"aws:PrincipalArn": client_role}},
                            }
                        ],
                    }
                }
            },
        },
    )
    put_application_access_scope(
        state, {"ApplicationArn": application_arn, "Scope": "s3:access_grants:read_write"}
    )
    put_application_assignment_configuration(
        state, {"ApplicationArn": application_arn, "AssignmentRequired": False}
    )

"""sso-admin (json 1.1, `X-Amz-Target: SWBExternalService.<Op>`): the application and trusted token
issuer operations moto lacks; every other sso-admin call (permission sets, ListInstances…) is moto's.
Also the identitystore answers, which AWS writes without the attributes a user or group does not have."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator.core import wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.signing import claim_of
from local.aws_emulator.sso_admin.exceptions import access_denied, not_found
from local.aws_emulator.sso_admin.models import Application, IdentityCenterBackend, page
from local.aws_emulator.sts.models import StsBackend

SERVICE = "sso-admin"
Handler = Callable[[dict[str, Any]], dict[str, Any]]
# X-Amz-Target prefix -> (botocore service, IAM action prefix)
_OTHER_ACCOUNT_SERVICES = {
    "SWBExternalService": (SERVICE, "sso"),
    "AWSIdentityStore": ("identitystore", "identitystore"),
}


class OtherAccountsIdentityCenter:
    """sso-admin and identitystore called from an account other than Identity Center's: that account has no
    instance (ListInstances answers none, as for an account without Identity Center), and the instance,
    its applications and its directory belong to another account, which no resource policy opens to it.
    The IAM Identity Center API reference lists AccessDeniedException for each of these operations; it
    does not write out the message, so this one names the principal, action and account."""

    def __init__(self, backend: IdentityCenterBackend, sts: StsBackend) -> None:
        self.backend = backend
        self.sts = sts

    def handle(self, request: Request) -> Response | None:
        target = request.headers.get("X-Amz-Target", "").rpartition(".")[0]
        service, action_prefix = _OTHER_ACCOUNT_SERVICES.get(target, (None, None))
        if service is None or claim_of(request) is None:
            return None
        account = self.sts.account_of(request)
        if account == self.backend.account_id:
            return None
        routed = wire.route(service, request)
        if routed is None:
            return None
        operation = routed[0]
        if operation.name == "ListInstances":
            return wire.respond(service, operation, {"Instances": []})
        caller = self.sts.identify(request).principal.arn
        action = f"{action_prefix}:{operation.name}"
        return wire.respond(
            service,
            operation,
            access_denied(
                f"User: {caller} is not authorized to perform: {action} on resources of account "
                f"{self.backend.account_id}"
            ),
        )


class SsoAdminResponses:
    def __init__(self, backend: IdentityCenterBackend) -> None:
        self.backend = backend
        self.operations: dict[str, Handler] = {
            name.removeprefix("op_"): getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    def handle(self, request: Request) -> Response | None:
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith("SWBExternalService.") or target.rpartition(".")[2] not in self.operations:
            return None
        routed = wire.route(SERVICE, request)
        if routed is None:
            return None
        operation, uri_params = routed
        try:
            params = wire.parse(SERVICE, operation, request, uri_params)
            return wire.respond(SERVICE, operation, self.operations[operation.name](params))
        except EmulatorError as error:
            return wire.respond(SERVICE, operation, error)

    # -- trusted token issuers --
    def op_CreateTrustedTokenIssuer(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"TrustedTokenIssuerArn": self.backend.create_trusted_token_issuer(params)}

    def op_DescribeTrustedTokenIssuer(self, params: dict[str, Any]) -> dict[str, Any]:
        issuer = self.backend.issuer(params.get("TrustedTokenIssuerArn"))
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

    def op_ListTrustedTokenIssuers(self, params: dict[str, Any]) -> dict[str, Any]:
        self.backend.check_instance(params)
        issuers = [
            {"TrustedTokenIssuerArn": i.arn, "Name": i.name, "TrustedTokenIssuerType": "OIDC_JWT"}
            for i in self.backend.trusted_token_issuers.values()
        ]
        return page(issuers, params, "TrustedTokenIssuers", "TrustedTokenIssuerArn")

    def op_UpdateTrustedTokenIssuer(self, params: dict[str, Any]) -> dict[str, Any]:
        issuer = self.backend.issuer(params.get("TrustedTokenIssuerArn"))
        config = (params.get("TrustedTokenIssuerConfiguration") or {}).get("OidcJwtConfiguration") or {}
        with self.backend.lock:
            issuer.name = params.get("Name") or issuer.name
            issuer.claim_attribute_path = config.get("ClaimAttributePath") or issuer.claim_attribute_path
            issuer.identity_store_attribute_path = (
                config.get("IdentityStoreAttributePath") or issuer.identity_store_attribute_path
            )
        return {}

    def op_DeleteTrustedTokenIssuer(self, params: dict[str, Any]) -> dict[str, Any]:
        issuer = self.backend.issuer(params.get("TrustedTokenIssuerArn"))
        with self.backend.lock:
            self.backend.trusted_token_issuers.pop(issuer.arn, None)
        return {}

    # -- applications --
    def op_CreateApplication(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ApplicationArn": self.backend.create_application(params),
            "InstanceArn": self.backend.instance_arn,
            "IdentityStoreArn": self.backend.identity_store_arn,
        }

    def _summary(self, application: Application) -> dict[str, Any]:
        summary = {
            "ApplicationArn": application.arn,
            "ApplicationProviderArn": application.provider_arn,
            "Name": application.name,
            "ApplicationAccount": self.backend.account_id,
            "InstanceArn": application.instance_arn,
            "Status": application.status,
            "CreatedDate": application.created,
            "PortalOptions": application.portal_options or None,
            "Description": application.description,
        }
        return {key: value for key, value in summary.items() if value is not None}

    def op_DescribeApplication(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        return {**self._summary(application), "IdentityStoreArn": self.backend.identity_store_arn}

    def op_ListApplications(self, params: dict[str, Any]) -> dict[str, Any]:
        self.backend.check_instance(params)
        summaries = [self._summary(a) for a in self.backend.applications.values()]
        return page(summaries, params, "Applications", "ApplicationArn")

    def op_UpdateApplication(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        with self.backend.lock:
            application.name = params.get("Name") or application.name
            application.description = params.get("Description", application.description)
            application.status = params.get("Status") or application.status
            application.portal_options = params.get("PortalOptions", application.portal_options)
        return {}

    def op_DeleteApplication(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        with self.backend.lock:
            self.backend.applications.pop(application.arn, None)
        return {}

    # -- an application's grants, authentication methods, access scopes, assignments --
    def op_PutApplicationGrant(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        self.backend.put_grant(application, params.get("GrantType", ""), params.get("Grant") or {})
        return {}

    def op_GetApplicationGrant(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        grant = application.grants.get(params.get("GrantType", ""))
        if grant is None:
            raise not_found(f"{params.get('GrantType')} grant on {application.arn}")
        return {"Grant": grant}

    def op_ListApplicationGrants(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        grants = [{"GrantType": kind, "Grant": grant} for kind, grant in application.grants.items()]
        return page(grants, params, "Grants", "GrantType")

    def op_DeleteApplicationGrant(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        with self.backend.lock:
            application.grants.pop(params.get("GrantType", ""), None)
        return {}

    def op_PutApplicationAuthenticationMethod(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        self.backend.put_authentication_method(
            application, params.get("AuthenticationMethodType", ""), params.get("AuthenticationMethod") or {}
        )
        return {}

    def op_GetApplicationAuthenticationMethod(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        method = application.authentication_methods.get(params.get("AuthenticationMethodType", ""))
        if method is None:
            raise not_found(f"authentication method on {application.arn}")
        return {"AuthenticationMethod": method}

    def op_ListApplicationAuthenticationMethods(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        methods = [
            {"AuthenticationMethodType": kind, "AuthenticationMethod": method}
            for kind, method in application.authentication_methods.items()
        ]
        return page(methods, params, "AuthenticationMethods", "AuthenticationMethodType")

    def op_DeleteApplicationAuthenticationMethod(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        with self.backend.lock:
            application.authentication_methods.pop(params.get("AuthenticationMethodType") or "IAM", None)
        return {}

    def op_PutApplicationAccessScope(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        with self.backend.lock:
            application.access_scopes[params["Scope"]] = list(params.get("AuthorizedTargets") or [])
        return {}

    @staticmethod
    def _scope(scope: str, targets: list[str]) -> dict[str, Any]:
        return {"Scope": scope, **({"AuthorizedTargets": targets} if targets else {})}

    def op_GetApplicationAccessScope(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        if params.get("Scope") not in application.access_scopes:
            raise not_found(f"access scope {params.get('Scope')} on {application.arn}")
        return self._scope(params["Scope"], application.access_scopes[params["Scope"]])

    def op_ListApplicationAccessScopes(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        scopes = [self._scope(scope, targets) for scope, targets in application.access_scopes.items()]
        return page(scopes, params, "Scopes", "Scope")

    def op_DeleteApplicationAccessScope(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        with self.backend.lock:
            application.access_scopes.pop(params.get("Scope", ""), None)
        return {}

    def op_PutApplicationAssignmentConfiguration(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        with self.backend.lock:
            application.assignment_required = bool(params.get("AssignmentRequired"))
        return {}

    def op_GetApplicationAssignmentConfiguration(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "AssignmentRequired": self.backend.application(params.get("ApplicationArn")).assignment_required
        }

    def op_CreateApplicationAssignment(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        key = self.backend.assignment_key(params)
        with self.backend.lock:
            application.assignments.add(key)
        return {}

    def op_DescribeApplicationAssignment(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        kind, principal = self.backend.assignment_key(params)
        if (kind, principal) not in application.assignments:
            raise not_found(f"assignment of {kind} {principal} to {application.arn}")
        return {"ApplicationArn": application.arn, "PrincipalType": kind, "PrincipalId": principal}

    def op_ListApplicationAssignments(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        assignments = [
            {"ApplicationArn": application.arn, "PrincipalType": kind, "PrincipalId": principal}
            for kind, principal in sorted(application.assignments)
        ]
        return page(assignments, params, "ApplicationAssignments", ["PrincipalType", "PrincipalId"])

    def op_DeleteApplicationAssignment(self, params: dict[str, Any]) -> dict[str, Any]:
        application = self.backend.application(params.get("ApplicationArn"))
        key = self.backend.assignment_key(params)
        with self.backend.lock:
            application.assignments.discard(key)
        return {}

    # -- the instance and tags --
    def op_DescribeInstance(self, params: dict[str, Any]) -> dict[str, Any]:
        self.backend.check_instance(params)
        return {
            "InstanceArn": self.backend.instance_arn,
            "IdentityStoreId": self.backend.identity_store_id,
            "OwnerAccountId": self.backend.account_id,
            "Name": "shopfast-local",
            "Status": "ACTIVE",
        }

    def op_ListTagsForResource(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = self.backend.tagged(params.get("ResourceArn"))
        return page([{"Key": k, "Value": v} for k, v in resource.tags.items()], params, "Tags", "Key")

    def op_TagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = self.backend.tagged(params.get("ResourceArn"))
        with self.backend.lock:
            resource.tags.update({tag["Key"]: tag["Value"] for tag in params.get("Tags") or []})
        return {}

    def op_UntagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = self.backend.tagged(params.get("ResourceArn"))
        with self.backend.lock:
            for key in params.get("TagKeys") or []:
                resource.tags.pop(key, None)
        return {}


class IdentityStoreAnswers:
    """identitystore is moto's, except that moto writes unset attributes as null where AWS leaves them out
    (the identitystore API reference marks every user attribute but the ids and UserName as optional)."""

    def __init__(self, forward: Callable[[Request], Response]) -> None:
        self.forward = forward

    def handle(self, request: Request) -> Response | None:
        if not request.headers.get("X-Amz-Target", "").startswith("AWSIdentityStore."):
            return None
        response = self.forward(request)
        if response.status_code == 200 and response.get_data():
            response.set_data(json.dumps(_without_nulls(json.loads(response.get_data()))))
        return response


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value

"""S3 Access Grants over its real wire format: rest-xml under `/v20180820/`, the account in
`x-amz-account-id`, the Region the request is signed for. Other s3control operations are moto's."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator.core import wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.signing import claim_of
from local.aws_emulator.core.state import HOME_REGION
from local.aws_emulator.s3control import exceptions
from local.aws_emulator.s3control.data_access import DataAccess
from local.aws_emulator.s3control.models import (
    AccessGrantsBackend,
    Grant,
    Instance,
    Location,
    RegionGrants,
    page,
)
from local.aws_emulator.sts.models import StsBackend

SERVICE = "s3control"
_ACCOUNT_ID = re.compile(r"^\d{12}$")
Handler = Callable[[RegionGrants, dict[str, Any], Request], dict[str, Any]]


def is_access_grants(operation_name: str, params_or_path: str) -> bool:
    return "AccessGrant" in operation_name or ":access-grants/" in params_or_path


class AccessGrantsResponses:
    def __init__(self, backend: AccessGrantsBackend, data_access: DataAccess, sts: StsBackend) -> None:
        self.backend = backend
        self.data_access = data_access
        self.sts = sts
        self.operations: dict[str, Handler] = {
            name.removeprefix("op_"): getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    def handle(self, request: Request) -> Response | None:
        if not request.path.startswith("/v20180820/"):
            return None
        routed = wire.route(SERVICE, request)
        if routed is None or routed[0].name not in self.operations:
            return None
        operation, uri_params = routed
        if operation.name.endswith(("Resource", "ForResource")) and ":access-grants/" not in request.path:
            return None  # tags of jobs, access points, Storage Lens: moto's
        try:
            params = wire.parse(SERVICE, operation, request, uri_params)
            account_id = params.get("AccountId") or ""
            if not _ACCOUNT_ID.match(account_id):
                raise exceptions.invalid_request("x-amz-account-id must be a 12-digit account id")
            claim = claim_of(request)
            caller_account = self.sts.account_of(request) if claim else account_id
            if caller_account != account_id:
                # Access Grants has no resource policies: another account's instance is out of reach.
                raise exceptions.access_denied(
                    f"Account {caller_account} may not act on the Access Grants resources of account "
                    f"{account_id}"
                )
            grants = self.backend.region(account_id, (claim.region if claim else None) or HOME_REGION)
            with self.backend.lock:
                result = self.operations[operation.name](grants, params, request)
        except EmulatorError as error:
            return wire.respond(SERVICE, operation, error)
        return wire.respond(SERVICE, operation, result)

    # -- views --
    @staticmethod
    def _instance(instance: Instance) -> dict[str, Any]:
        return {
            "AccessGrantsInstanceId": instance.instance_id,
            "AccessGrantsInstanceArn": instance.arn,
            "IdentityCenterArn": instance.identity_center_arn,
            "IdentityCenterInstanceArn": instance.identity_center_arn,
            "IdentityCenterApplicationArn": instance.identity_center_application_arn,
            "CreatedAt": instance.created_at,
        }

    @staticmethod
    def _location(location: Location) -> dict[str, Any]:
        return {
            "CreatedAt": location.created_at,
            "AccessGrantsLocationId": location.location_id,
            "AccessGrantsLocationArn": location.arn,
            "LocationScope": location.scope,
            "IAMRoleArn": location.iam_role_arn,
        }

    @staticmethod
    def _grant(grant: Grant) -> dict[str, Any]:
        return {
            "CreatedAt": grant.created_at,
            "AccessGrantId": grant.grant_id,
            "AccessGrantArn": grant.arn,
            "Grantee": grant.grantee,
            "Permission": grant.permission,
            "AccessGrantsLocationId": grant.location_id,
            "AccessGrantsLocationConfiguration": {"S3SubPrefix": grant.sub_prefix}
            if grant.sub_prefix
            else None,
            "GrantScope": grant.scope,
            "ApplicationArn": grant.application_arn,
        }

    # -- instances --
    def op_CreateAccessGrantsInstance(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        instance = self.backend.create_instance(grants, params.get("IdentityCenterArn"))
        self.backend.set_tags(grants, instance.arn, params.get("Tags"))
        return self._instance(instance)

    def op_GetAccessGrantsInstance(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        return self._instance(grants.require_instance())

    def op_DeleteAccessGrantsInstance(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        self.backend.delete_instance(grants)
        return {}

    def op_ListAccessGrantsInstances(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        instances = [self._instance(grants.instance)] if grants.instance else []
        chunk, token = page(instances, params, "AccessGrantsInstanceArn")
        return {"AccessGrantsInstancesList": chunk, "NextToken": token}

    def op_AssociateAccessGrantsIdentityCenter(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        self.backend.associate(grants, params.get("IdentityCenterArn", ""))
        return {}

    def op_DissociateAccessGrantsIdentityCenter(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        instance = grants.require_instance()
        instance.identity_center_arn = instance.identity_center_application_arn = None
        return {}

    def op_GetAccessGrantsInstanceForPrefix(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        instance = grants.require_instance()
        prefix = params.get("S3Prefix", "")
        scopes = [
            loc.scope if loc.scope == "s3://" else loc.scope.rstrip("/") + "/"
            for loc in grants.locations.values()
        ]
        if not any(prefix.startswith(scope) or prefix == scope.rstrip("/") for scope in scopes):
            raise exceptions.instance_not_found()
        return {"AccessGrantsInstanceArn": instance.arn, "AccessGrantsInstanceId": instance.instance_id}

    def op_PutAccessGrantsInstanceResourcePolicy(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        instance = grants.require_instance()
        instance.resource_policy = params.get("Policy", "")
        return {
            "Policy": instance.resource_policy,
            "Organization": params.get("Organization"),
            "CreatedAt": self.backend.clock.now(),
        }

    def op_GetAccessGrantsInstanceResourcePolicy(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        instance = grants.require_instance()
        if instance.resource_policy is None:
            raise exceptions.not_found(
                "AccessGrantsInstanceResourcePolicyNotExists",
                "Access Grants Instance Resource Policy does not exist",
            )
        return {"Policy": instance.resource_policy, "CreatedAt": instance.created_at}

    def op_DeleteAccessGrantsInstanceResourcePolicy(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        grants.require_instance().resource_policy = None
        return {}

    # -- locations --
    def op_CreateAccessGrantsLocation(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        location = self.backend.create_location(
            grants, params.get("LocationScope", ""), params.get("IAMRoleArn", "")
        )
        self.backend.set_tags(grants, location.arn, params.get("Tags"))
        return self._location(location)

    def op_GetAccessGrantsLocation(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        return self._location(grants.location(params["AccessGrantsLocationId"]))

    def op_UpdateAccessGrantsLocation(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        location = grants.location(params["AccessGrantsLocationId"])
        self.backend.update_location(location, params.get("IAMRoleArn", ""))
        return self._location(location)

    def op_DeleteAccessGrantsLocation(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        self.backend.delete_location(grants, grants.location(params["AccessGrantsLocationId"]))
        return {}

    def op_ListAccessGrantsLocations(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        grants.require_instance()
        wanted = params.get("LocationScope")
        locations = sorted(grants.locations.values(), key=lambda loc: loc.scope)
        listed = [loc for loc in locations if wanted is None or loc.scope == wanted]
        chunk, token = page(listed, params, "location_id")
        return {"AccessGrantsLocationsList": [self._location(loc) for loc in chunk], "NextToken": token}

    # -- grants --
    def op_CreateAccessGrant(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        grant = self.backend.create_grant(grants, params)
        self.backend.set_tags(grants, grant.arn, params.get("Tags"))
        return self._grant(grant)

    def op_GetAccessGrant(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        return self._grant(grants.grant(params["AccessGrantId"]))

    def op_DeleteAccessGrant(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        grant = grants.grant(params["AccessGrantId"])
        del grants.grants[grant.grant_id]
        grants.tags.pop(grant.arn, None)
        return {}

    def op_ListAccessGrants(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        grants.require_instance()
        filters = {
            "grantee_type": params.get("GranteeType"),
            "grantee_identifier": params.get("GranteeIdentifier"),
            "permission": params.get("Permission"),
            "scope": params.get("GrantScope"),
            "application_arn": params.get("ApplicationArn"),
        }
        listed = [
            grant
            for grant in sorted(grants.grants.values(), key=lambda g: (g.scope, g.created_at, g.grant_id))
            if all(value is None or getattr(grant, key) == value for key, value in filters.items())
        ]
        chunk, token = page(listed, params, "grant_id")
        return {"AccessGrantsList": [self._grant(grant) for grant in chunk], "NextToken": token}

    # -- tags --
    def op_TagResource(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        self.backend.set_tags(
            grants, self.backend.tagged_arn(grants, params["ResourceArn"]), params.get("Tags")
        )
        return {}

    def op_UntagResource(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        arn = self.backend.tagged_arn(grants, params["ResourceArn"])
        for key in params.get("TagKeys") or []:
            grants.tags.get(arn, {}).pop(key, None)
        return {}

    def op_ListTagsForResource(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        arn = self.backend.tagged_arn(grants, params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(grants.tags.get(arn, {}).items())]}

    # -- the caller's view --
    def op_ListCallerAccessGrants(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        caller = self.sts.identify(request)
        self.data_access.authenticate(caller)
        return self.data_access.list_caller_grants(grants, caller, params)

    def op_GetDataAccess(
        self, grants: RegionGrants, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        caller = self.sts.identify(request)
        self.data_access.authenticate(caller)
        return self.data_access.get_data_access(grants, caller, params)

"""S3 Access Grants over its real wire format (rest-xml under `/v20180820/`, account in `x-amz-account-id`).

Requests are decoded and responses encoded from botocore's own s3control service model, so whatever
botocore (and any other SDK built from the same model, such as Terraform's provider) sends is read the
way AWS reads it, and whatever we answer parses. Error codes and messages follow the S3 error-code
table for Access Grants. Decisions where the AWS documentation is silent are in `local/README.md`.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import botocore.session
from botocore.model import OperationModel, Shape
from werkzeug.wrappers import Request, Response

from local.aws_emulator.state import EmulatorState, RoleSession, VendedCredential

XML_NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
PERMISSIONS = ("READ", "WRITE", "READWRITE")
MIN_DURATION, DEFAULT_DURATION, MAX_DURATION = 900, 3600, 43200
MAX_LIST_RESULTS = 1000

_MODEL = botocore.session.get_session().get_service_model("s3control")


class AccessGrantsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _not_found_instance() -> AccessGrantsError:
    return AccessGrantsError(
        404, "AccessGrantsInstanceNotExistsError", "Access Grants Instance does not exist"
    )


def _invalid(message: str) -> AccessGrantsError:
    return AccessGrantsError(400, "InvalidRequest", message)


# --- routing -------------------------------------------------------------------------------------

_ROUTES: list[tuple[str, re.Pattern[str], str]] = []
for _name in _MODEL.operation_names:
    _http = _MODEL.operation_model(_name).http
    _uri = _http["requestUri"].split("?", 1)[0]
    if not _uri.startswith("/v20180820/accessgrantsinstance") and not _uri.startswith("/v20180820/tags"):
        continue
    _pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(_uri))
    _pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", _pattern)
    _ROUTES.append((_http["method"], re.compile(f"^{_pattern}$"), _name))


def _route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route_method, pattern, name in _ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return name, {k: unquote(v) for k, v in match.groupdict().items()}
    return None


def operation_name(method: str, path: str) -> str | None:
    """The Access Grants operation a request is, or None for other s3control paths (left to moto)."""
    routed = _route(method, path)
    return routed[0] if routed else None


# --- model-driven wire encoding ------------------------------------------------------------------


def _scalar_from_text(shape: Shape, text: str) -> Any:
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name == "boolean":
        return text.strip().lower() == "true"
    return text


def _from_xml(shape: Shape, node: ET.Element) -> Any:
    if shape.type_name == "structure":
        out: dict[str, Any] = {}
        children = {_local_tag(child.tag): child for child in node}
        for name, member in shape.members.items():
            child = children.get(member.serialization.get("name", name))
            if child is not None:
                out[name] = _from_xml(member, child)
        return out
    if shape.type_name == "list":
        member = shape.member
        item_tag = member.serialization.get("name", "member")
        return [_from_xml(member, child) for child in node if _local_tag(child.tag) == item_tag]
    return _scalar_from_text(shape, node.text or "")


def _local_tag(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def decode_input(operation: OperationModel, request: Request, uri_params: dict[str, str]) -> dict[str, Any]:
    """The operation's parameters, read from headers, URI, query string and XML body per the model."""
    shape = operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    body = request.get_data(cache=True)
    root = None
    if body.strip():
        try:
            root = ET.fromstring(body)  # noqa: S314 - local emulator; input from local SDK clients
        except ET.ParseError as error:
            raise AccessGrantsError(
                400, "MalformedXML", "The XML you provided was not well-formed."
            ) from error
    body_members = {}
    if root is not None:
        body_members = {_local_tag(child.tag): child for child in root}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        try:
            if location == "header":
                if wire_name in request.headers:
                    params[name] = _scalar_from_text(member, request.headers[wire_name])
            elif location == "uri":
                if wire_name in uri_params:
                    params[name] = uri_params[wire_name]
            elif location == "querystring":
                if wire_name in request.args:
                    params[name] = _scalar_from_text(member, request.args[wire_name])
            elif wire_name in body_members:
                params[name] = _from_xml(member, body_members[wire_name])
        except ValueError as error:
            raise AccessGrantsError(400, "InvalidRequest", f"Invalid value for {wire_name}") from error
    return params


def _to_xml(parent: ET.Element, tag: str, shape: Shape, value: Any) -> None:
    node = ET.SubElement(parent, tag)
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _to_xml(node, member.serialization.get("name", name), member, value[name])
    elif shape.type_name == "list":
        item_tag = shape.member.serialization.get("name", "member")
        for item in value:
            _to_xml(node, item_tag, shape.member, item)
    elif shape.type_name == "timestamp":
        node.text = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    elif shape.type_name == "boolean":
        node.text = "true" if value else "false"
    else:
        node.text = str(value)


def encode_output(operation: OperationModel, result: dict[str, Any]) -> Response:
    shape = operation.output_shape
    status = int(operation.http.get("responseCode", 200))
    if shape is None or not shape.members:
        return Response(b"", status=status, headers=_common_headers())
    root = ET.Element(shape.name, xmlns=XML_NAMESPACE)
    for name, member in shape.members.items():
        if result.get(name) is not None:
            _to_xml(root, member.serialization.get("name", name), member, result[name])
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)
    return Response(body, status=status, content_type="application/xml", headers=_common_headers())


def _common_headers() -> dict[str, str]:
    return {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": secrets.token_urlsafe(24)}


def error_response(status: int, code: str, message: str) -> Response:
    """s3control's error document: <ErrorResponse><Error>… which botocore's rest-xml parser reads."""
    root = ET.Element("ErrorResponse")
    error = ET.SubElement(root, "Error")
    ET.SubElement(error, "Code").text = code
    ET.SubElement(error, "Message").text = message
    headers = _common_headers()
    ET.SubElement(root, "RequestId").text = headers["x-amz-request-id"]
    ET.SubElement(root, "HostId").text = headers["x-amz-id-2"]
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)
    return Response(body, status=status, content_type="application/xml", headers=headers)


# --- scopes --------------------------------------------------------------------------------------


def covers(scope: str, target: str) -> bool:
    """Whether a grant (or credential) scope covers a target.

    `s3://b/p/*` covers every target whose text up to a trailing `*` starts with `s3://b/p/`
    (`s3://b/p/x`, `s3://b/p/*`, `s3://b/p/sub/*`, `s3://b/p/`), never a wider one (`s3://b/p*`).
    A scope without `*` is one object and covers only itself.
    """
    if scope.endswith("*"):
        return target.removesuffix("*").startswith(scope[:-1])
    return target == scope


def specificity(scope: str) -> tuple[int, bool]:
    """Longer prefixes are closer; an exact object is closer than the prefix spelled like it."""
    return len(scope.removesuffix("*")), not scope.endswith("*")


def satisfies(granted: str, requested: str) -> bool:
    return granted == requested or granted == "READWRITE"


# --- records -------------------------------------------------------------------------------------


def _new_id() -> str:
    return str(uuid.uuid4())


def _random_key(prefix: str, length: int) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length - len(prefix)))


@dataclass
class Instance:
    arn: str
    instance_id: str
    created_at: datetime
    identity_center_arn: str | None = None
    identity_center_application_arn: str | None = None
    resource_policy: str | None = None


@dataclass
class Location:
    location_id: str
    arn: str
    scope: str
    iam_role_arn: str
    created_at: datetime


@dataclass
class Grant:
    grant_id: str
    arn: str
    location_id: str
    sub_prefix: str | None
    grantee_type: str
    grantee_identifier: str
    permission: str
    scope: str
    created_at: datetime
    application_arn: str | None = None

    @property
    def grantee(self) -> dict[str, str]:
        return {"GranteeType": self.grantee_type, "GranteeIdentifier": self.grantee_identifier}


@dataclass
class AccountGrants:
    instance: Instance | None = None
    locations: dict[str, Location] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # by resource ARN


# --- the service ---------------------------------------------------------------------------------


class AccessGrants:
    """The Access Grants API of one emulated partition, all accounts (keyed by `x-amz-account-id`)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.accounts: dict[str, AccountGrants] = {}
        self._handlers: dict[str, Callable[[str, AccountGrants, dict[str, Any], Request], dict[str, Any]]] = {
            name.removeprefix("_op_"): getattr(self, name) for name in dir(self) if name.startswith("_op_")
        }

    def handle(self, request: Request) -> Response | None:
        routed = _route(request.method, request.path)
        if routed is None:
            return None
        name, uri_params = routed
        operation = _MODEL.operation_model(name)
        handler = self._handlers.get(name)
        if handler is None:
            return error_response(501, "NotImplemented", f"{name} is not emulated")
        try:
            params = decode_input(operation, request, uri_params)
            account_id = params.get("AccountId") or ""
            if not re.fullmatch(r"\d{12}", account_id):
                raise _invalid("x-amz-account-id must be a 12-digit account id")
            with self.state.lock:
                account = self.accounts.setdefault(account_id, AccountGrants())
                result = handler(account_id, account, params, request)
        except AccessGrantsError as error:
            return error_response(error.status, error.code, error.message)
        return encode_output(operation, result)

    # -- helpers --
    def _arn(self, account_id: str, suffix: str = "") -> str:
        return f"arn:aws:s3:{self.state.region}:{account_id}:access-grants/default{suffix}"

    @staticmethod
    def _require_instance(account: AccountGrants) -> Instance:
        if account.instance is None:
            raise _not_found_instance()
        return account.instance

    def _instance_view(self, instance: Instance) -> dict[str, Any]:
        return {
            "AccessGrantsInstanceId": instance.instance_id,
            "AccessGrantsInstanceArn": instance.arn,
            "IdentityCenterArn": instance.identity_center_arn,
            "IdentityCenterInstanceArn": instance.identity_center_arn,
            "IdentityCenterApplicationArn": instance.identity_center_application_arn,
            "CreatedAt": instance.created_at,
        }

    @staticmethod
    def _location_view(location: Location) -> dict[str, Any]:
        return {
            "CreatedAt": location.created_at,
            "AccessGrantsLocationId": location.location_id,
            "AccessGrantsLocationArn": location.arn,
            "LocationScope": location.scope,
            "IAMRoleArn": location.iam_role_arn,
        }

    @staticmethod
    def _grant_view(grant: Grant) -> dict[str, Any]:
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

    def _set_tags(self, account: AccountGrants, arn: str, tags: list[dict[str, str]] | None) -> None:
        if not tags:
            return
        keys = [tag.get("Key", "") for tag in tags]
        if len(set(keys)) != len(keys):
            raise AccessGrantsError(400, "InvalidTag", "There are duplicate tag keys in your request.")
        if any(key.lower().startswith("aws:") for key in keys):
            raise AccessGrantsError(
                400, "InvalidTags", "Tag keys cannot start with AWS reserved prefix for system tags."
            )
        merged = account.tags.setdefault(arn, {})
        merged.update({tag["Key"]: tag.get("Value", "") for tag in tags})
        if len(merged) > 50:
            raise AccessGrantsError(400, "TooManyTags", "The number of tags exceeds the limit of 50 tags.")

    @staticmethod
    def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
        limit = params.get("MaxResults") or MAX_LIST_RESULTS
        if not 0 <= limit <= MAX_LIST_RESULTS:
            raise _invalid(f"MaxResults must be between 0 and {MAX_LIST_RESULTS}")
        start = 0
        if params.get("NextToken"):
            try:
                start = int(base64.urlsafe_b64decode(params["NextToken"].encode()).decode())
            except (ValueError, UnicodeDecodeError) as error:
                raise AccessGrantsError(
                    400, "InvalidNextTokenException", "The NextToken is invalid"
                ) from error
        end = start + (limit or MAX_LIST_RESULTS)
        token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
        return items[start:end], token

    # -- instances --
    def _op_CreateAccessGrantsInstance(self, account_id, account, params, request):
        if account.instance is not None:
            raise AccessGrantsError(
                409, "AccessGrantsInstanceAlreadyExists", "Access Grants Instance already exists"
            )
        account.instance = Instance(
            arn=self._arn(account_id), instance_id="default", created_at=self.state.now()
        )
        if params.get("IdentityCenterArn"):
            self._associate(account.instance, params["IdentityCenterArn"])
        self._set_tags(account, account.instance.arn, params.get("Tags"))
        return self._instance_view(account.instance)

    def _associate(self, instance: Instance, identity_center_arn: str) -> None:
        if not re.fullmatch(r"arn:aws[\w-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}", identity_center_arn):
            raise AccessGrantsError(
                400, "InvalidIdentityCenterInstance", "The specified identity center instance is invalid"
            )
        instance.identity_center_arn = identity_center_arn
        instance_id = identity_center_arn.rsplit("/", 1)[-1]
        # AWS creates an Identity Center application for the association; this stands for it.
        instance.identity_center_application_arn = (
            f"arn:aws:sso::{instance.arn.split(':')[4]}:application/{instance_id}/apl-{uuid.uuid4().hex[:16]}"
        )

    def _op_GetAccessGrantsInstance(self, account_id, account, params, request):
        return self._instance_view(self._require_instance(account))

    def _op_DeleteAccessGrantsInstance(self, account_id, account, params, request):
        instance = self._require_instance(account)
        if account.locations:
            raise AccessGrantsError(
                400,
                "AccessGrantsInstanceNotEmptyError",
                "Please clean up locations before deleting the access grants instance",
            )
        account.tags.pop(instance.arn, None)
        account.instance = None
        return {}

    def _op_ListAccessGrantsInstances(self, account_id, account, params, request):
        instances = [self._instance_view(account.instance)] if account.instance else []
        page, token = self._page(instances, params)
        return {"AccessGrantsInstancesList": page, "NextToken": token}

    def _op_AssociateAccessGrantsIdentityCenter(self, account_id, account, params, request):
        self._associate(self._require_instance(account), params.get("IdentityCenterArn", ""))
        return {}

    def _op_DissociateAccessGrantsIdentityCenter(self, account_id, account, params, request):
        instance = self._require_instance(account)
        instance.identity_center_arn = instance.identity_center_application_arn = None
        return {}

    def _op_GetAccessGrantsInstanceForPrefix(self, account_id, account, params, request):
        instance = self._require_instance(account)
        prefix = params.get("S3Prefix", "")
        if not any(covers(_as_prefix_scope(loc.scope), prefix) for loc in account.locations.values()):
            raise _not_found_instance()
        return {"AccessGrantsInstanceArn": instance.arn, "AccessGrantsInstanceId": instance.instance_id}

    def _op_PutAccessGrantsInstanceResourcePolicy(self, account_id, account, params, request):
        instance = self._require_instance(account)
        instance.resource_policy = params.get("Policy", "")
        return {"Policy": instance.resource_policy, "Organization": params.get("Organization"),
                "CreatedAt": self.state.now()}  # fmt: skip

    def _op_GetAccessGrantsInstanceResourcePolicy(self, account_id, account, params, request):
        instance = self._require_instance(account)
        if instance.resource_policy is None:
            raise AccessGrantsError(
                404,
                "AccessGrantsInstanceResourcePolicyNotExists",
                "Access Grants Instance Resource Policy does not exist",
            )
        return {"Policy": instance.resource_policy, "CreatedAt": instance.created_at}

    def _op_DeleteAccessGrantsInstanceResourcePolicy(self, account_id, account, params, request):
        self._require_instance(account).resource_policy = None
        return {}

    # -- locations --
    def _op_CreateAccessGrantsLocation(self, account_id, account, params, request):
        instance = self._require_instance(account)
        scope = params.get("LocationScope", "")
        role_arn = params.get("IAMRoleArn", "")
        if not scope.startswith("s3://") or "*" in scope:
            raise AccessGrantsError(
                400, "InvalidAccessGrantsLocation", "The specified Access Grants Location is invalid"
            )
        if not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+", role_arn):
            raise AccessGrantsError(400, "InvalidIamRole", "The specified IAM Role is invalid")
        if any(loc.scope == scope for loc in account.locations.values()):
            raise AccessGrantsError(
                409,
                "AccessGrantsLocationAlreadyExistsError",
                "The specified access grants location already exists",
            )
        location_id = "default" if scope == "s3://" else _new_id()
        location = Location(
            location_id, f"{instance.arn}/location/{location_id}", scope, role_arn, self.state.now()
        )
        account.locations[location_id] = location
        self._set_tags(account, location.arn, params.get("Tags"))
        return self._location_view(location)

    def _location(self, account: AccountGrants, location_id: str) -> Location:
        self._require_instance(account)
        location = account.locations.get(location_id)
        if location is None:
            raise AccessGrantsError(
                404, "NoSuchAccessGrantsLocationError", "The specified access grants location does not exist"
            )
        return location

    def _op_GetAccessGrantsLocation(self, account_id, account, params, request):
        return self._location_view(self._location(account, params["AccessGrantsLocationId"]))

    def _op_UpdateAccessGrantsLocation(self, account_id, account, params, request):
        location = self._location(account, params["AccessGrantsLocationId"])
        role_arn = params.get("IAMRoleArn", "")
        if not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+", role_arn):
            raise AccessGrantsError(400, "InvalidIamRole", "The specified IAM Role is invalid")
        location.iam_role_arn = role_arn
        return self._location_view(location)

    def _op_DeleteAccessGrantsLocation(self, account_id, account, params, request):
        location = self._location(account, params["AccessGrantsLocationId"])
        if any(grant.location_id == location.location_id for grant in account.grants.values()):
            raise AccessGrantsError(
                400,
                "AccessGrantsLocationNotEmptyError",
                "Please clean up access grants before deleting access grants location",
            )
        del account.locations[location.location_id]
        account.tags.pop(location.arn, None)
        return {}

    def _op_ListAccessGrantsLocations(self, account_id, account, params, request):
        self._require_instance(account)
        wanted = params.get("LocationScope")
        locations = sorted(account.locations.values(), key=lambda loc: loc.scope)
        views = [self._location_view(loc) for loc in locations if wanted is None or loc.scope == wanted]
        page, token = self._page(views, params)
        return {"AccessGrantsLocationsList": page, "NextToken": token}

    # -- grants --
    def _op_CreateAccessGrant(self, account_id, account, params, request):
        instance = self._require_instance(account)
        location = self._location(account, params.get("AccessGrantsLocationId", ""))
        grantee = params.get("Grantee") or {}
        grantee_type = grantee.get("GranteeType")
        identifier = grantee.get("GranteeIdentifier", "")
        permission = params.get("Permission")
        if grantee_type not in ("IAM", "DIRECTORY_USER", "DIRECTORY_GROUP") or not identifier:
            raise AccessGrantsError(400, "InvalidAccessGrant", "The specified Access Grant is invalid")
        if grantee_type != "IAM" and instance.identity_center_arn is None:
            raise AccessGrantsError(
                400,
                "InvalidAccessGrant",
                "Directory grantees need an Identity Center instance associated with the instance",
            )
        if permission not in PERMISSIONS:
            raise AccessGrantsError(400, "InvalidAccessGrant", "The specified Access Grant is invalid")
        sub_prefix = (params.get("AccessGrantsLocationConfiguration") or {}).get("S3SubPrefix")
        scope = _grant_scope(location.scope, sub_prefix, params.get("S3PrefixType"))
        for existing in account.grants.values():
            if (existing.scope, existing.grantee, existing.permission, existing.application_arn) == (
                scope,
                {"GranteeType": grantee_type, "GranteeIdentifier": identifier},
                permission,
                params.get("ApplicationArn"),
            ):
                raise AccessGrantsError(
                    409, "AccessGrantAlreadyExists", "The specified access grant already exists"
                )
        grant_id = _new_id()
        grant = Grant(
            grant_id=grant_id,
            arn=f"{instance.arn}/grant/{grant_id}",
            location_id=location.location_id,
            sub_prefix=sub_prefix,
            grantee_type=grantee_type,
            grantee_identifier=identifier,
            permission=permission,
            scope=scope,
            created_at=self.state.now(),
            application_arn=params.get("ApplicationArn"),
        )
        account.grants[grant_id] = grant
        self._set_tags(account, grant.arn, params.get("Tags"))
        return self._grant_view(grant)

    def _grant(self, account: AccountGrants, grant_id: str) -> Grant:
        self._require_instance(account)
        grant = account.grants.get(grant_id)
        if grant is None:
            raise AccessGrantsError(
                404, "NoSuchAccessGrantError", "The specified access grant does not exist"
            )
        return grant

    def _op_GetAccessGrant(self, account_id, account, params, request):
        return self._grant_view(self._grant(account, params["AccessGrantId"]))

    def _op_DeleteAccessGrant(self, account_id, account, params, request):
        grant = self._grant(account, params["AccessGrantId"])
        del account.grants[grant.grant_id]
        account.tags.pop(grant.arn, None)
        return {}

    def _op_ListAccessGrants(self, account_id, account, params, request):
        self._require_instance(account)
        filters = {
            "grantee_type": params.get("GranteeType"),
            "grantee_identifier": params.get("GranteeIdentifier"),
            "permission": params.get("Permission"),
            "scope": params.get("GrantScope"),
            "application_arn": params.get("ApplicationArn"),
        }
        grants = [
            grant
            for grant in sorted(account.grants.values(), key=lambda g: (g.scope, g.created_at, g.grant_id))
            if all(value is None or getattr(grant, key) == value for key, value in filters.items())
        ]
        page, token = self._page([self._grant_view(grant) for grant in grants], params)
        return {"AccessGrantsList": page, "NextToken": token}

    # -- tags --
    def _tagged_arn(self, account: AccountGrants, arn: str) -> str:
        known = {account.instance.arn} if account.instance else set()
        known |= {loc.arn for loc in account.locations.values()} | {g.arn for g in account.grants.values()}
        if arn not in known:
            raise AccessGrantsError(404, "NoSuchResource", f"The resource {arn} does not exist")
        return arn

    def _op_TagResource(self, account_id, account, params, request):
        self._set_tags(account, self._tagged_arn(account, params["ResourceArn"]), params.get("Tags"))
        return {}

    def _op_UntagResource(self, account_id, account, params, request):
        arn = self._tagged_arn(account, params["ResourceArn"])
        keys = request.args.getlist("tagKeys")
        for key in keys:
            account.tags.get(arn, {}).pop(key, None)
        return {}

    def _op_ListTagsForResource(self, account_id, account, params, request):
        arn = self._tagged_arn(account, params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(account.tags.get(arn, {}).items())]}

    # -- the caller's view --
    def _caller_session(self, request: Request) -> RoleSession | None:
        session = self.state.role_sessions.get(access_key_id_of(request) or "")
        if session is not None and session.expiration <= self.state.now():
            raise AccessGrantsError(400, "ExpiredToken", "The provided token has expired.")
        return session

    def _caller_grants(self, account: AccountGrants, session: RoleSession | None) -> list[Grant]:
        if session is None:  # static keys of no known principal hold no grants
            return []
        # A role session holds its role's grants; an identity-aware one also those of its directory user
        # and the user's groups ("this API also returns the grants of the IAM role used for the
        # identity-aware request", GetDataAccess reference).
        held = {("IAM", session.role_arn)}
        if session.directory_user_id:
            held.add(("DIRECTORY_USER", session.directory_user_id))
            held |= {("DIRECTORY_GROUP", group) for group in self.state.groups_of(session.directory_user_id)}
        return [g for g in account.grants.values() if (g.grantee_type, g.grantee_identifier) in held]

    def _op_ListCallerAccessGrants(self, account_id, account, params, request):
        self._require_instance(account)
        grants = self._caller_grants(account, self._caller_session(request))
        wanted = params.get("GrantScope")
        if wanted is not None:
            grants = [
                g for g in grants if g.scope.startswith(wanted.removesuffix("*")) or covers(g.scope, wanted)
            ]
        grants.sort(key=lambda g: (g.scope, g.permission, g.grant_id))
        views = [
            {"Permission": g.permission, "GrantScope": g.scope, "ApplicationArn": g.application_arn}
            for g in grants
        ]
        page, token = self._page(views, params)
        return {"CallerAccessGrantsList": page, "NextToken": token}

    def _op_GetDataAccess(self, account_id, account, params, request):
        instance = self._require_instance(account)
        target = params.get("Target", "")
        permission = params.get("Permission", "")
        privilege = params.get("Privilege") or "Default"
        duration = params.get("DurationSeconds", DEFAULT_DURATION)
        target_type = params.get("TargetType")
        if not target.startswith("s3://") or len(target) <= len("s3://"):
            raise AccessGrantsError(
                400, "ValidationException", "Target must be an S3 URI starting with s3://"
            )
        if permission not in PERMISSIONS:
            raise AccessGrantsError(400, "ValidationException", "Permission must be READ, WRITE or READWRITE")
        if privilege not in ("Default", "Minimal"):
            raise AccessGrantsError(400, "ValidationException", "Privilege must be Default or Minimal")
        if not MIN_DURATION <= duration <= MAX_DURATION:
            raise AccessGrantsError(
                400,
                "ValidationException",
                f"DurationSeconds must be between {MIN_DURATION} and {MAX_DURATION} seconds",
            )
        if target_type not in (None, "Object") or (target_type == "Object" and target.endswith("*")):
            raise AccessGrantsError(400, "ValidationException", "TargetType Object needs an object target")
        session = self._caller_session(request)
        event = self._record_data_access(session, params)
        candidates = [
            grant
            for grant in self._caller_grants(account, session)
            if covers(grant.scope, target) and satisfies(grant.permission, permission)
        ]
        if session is None or not candidates:
            event["errorCode"] = "AccessDenied"
            raise AccessGrantsError(
                403,
                "AccessDenied",
                f"You do not have {permission} permissions to the requested S3 Prefix: {target}",
            )
        grant = max(candidates, key=lambda g: (specificity(g.scope), g.created_at))
        if privilege == "Minimal":
            scope = target if target_type == "Object" or target.endswith("*") else target + "*"
        else:
            scope = grant.scope
        expiration = (self.state.now() + timedelta(seconds=duration)).replace(microsecond=0)
        vended = VendedCredential(
            access_key_id=_random_key("ASIA", 20),
            secret_access_key=secrets.token_urlsafe(30)[:40],
            session_token=base64.b64encode(secrets.token_bytes(96)).decode(),
            scope=scope,
            permission=permission,
            expiration=expiration,
            grant_id=grant.grant_id,
            session_name=session.session_name,
        )
        self.state.vended[vended.access_key_id] = vended
        event["responseElements"] = {"matchedGrantTarget": scope, "accessKeyId": vended.access_key_id}
        return {
            "Credentials": {
                "AccessKeyId": vended.access_key_id,
                "SecretAccessKey": vended.secret_access_key,
                "SessionToken": vended.session_token,
                "Expiration": expiration,
            },
            "MatchedGrantTarget": scope,
            "Grantee": grant.grantee,
            "MatchedInstanceArn": instance.arn,
        }

    def _record_data_access(self, session: RoleSession | None, params: dict[str, Any]) -> dict[str, Any]:
        """A CloudTrail-shaped event for the call: `AuditContext` is how a caller joins it to its own log."""
        event: dict[str, Any] = {
            "eventName": "GetDataAccess",
            "eventTime": self.state.now().isoformat(),
            "requestParameters": {
                "target": params.get("Target"),
                "permission": params.get("Permission"),
                "privilege": params.get("Privilege") or "Default",
                "durationSeconds": params.get("DurationSeconds", DEFAULT_DURATION),
                "auditContext": params.get("AuditContext"),
                "instanceScope": params.get("InstanceScope"),
            },
            "userIdentity": {
                "arn": session.assumed_role_arn if session else None,
                "onBehalfOf": {"userId": session.directory_user_id}
                if session and session.directory_user_id
                else None,
            },
        }
        self.state.cloudtrail.append(event)
        return event


def _as_prefix_scope(location_scope: str) -> str:
    return location_scope if location_scope == "s3://" else location_scope.rstrip("/") + "/*"


def _grant_scope(location_scope: str, sub_prefix: str | None, prefix_type: str | None) -> str:
    base = location_scope if location_scope == "s3://" else location_scope.rstrip("/") + "/"
    if not sub_prefix:
        return base + "*" if base != "s3://" else "s3://*"
    if prefix_type == "Object":
        return base + sub_prefix.removesuffix("*")
    return base + sub_prefix


def access_key_id_of(request: Request) -> str | None:
    """The access key id a request is signed with (SigV4 header or query, or SigV2 query)."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("AWS4-HMAC-SHA256"):
        credential = auth.split("Credential=", 1)[-1].split(",", 1)[0]
        return credential.split("/", 1)[0] or None
    if auth.startswith("AWS "):
        return auth[4:].split(":", 1)[0] or None
    if "X-Amz-Credential" in request.args:
        return request.args["X-Amz-Credential"].split("/", 1)[0] or None
    return request.args.get("AWSAccessKeyId")

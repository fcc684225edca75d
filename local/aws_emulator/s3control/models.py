"""S3 Access Grants' resources: one instance per account and Region, its locations, grants and tags.

Documented behaviour (Amazon S3 API reference, Access Grants operations; S3 User Guide, "Working with S3
Access Grants"):
- an instance is regional ("one instance per Region per account"); its ARN names the Region;
- the default location `s3://` has the id `default`; a grant on it needs a bucket (and prefix) in
  `S3SubPrefix` ("you cannot create an access grant for the entire default location");
- a grant's scope is the location scope plus `S3SubPrefix`; directory grantees need an associated Identity
  Center instance; IAM grantees are roles or users;
- list calls page with `MaxResults`/`NextToken` (an unknown token is `InvalidRequest`).
Decisions where the documentation is silent are in local/README.md.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.aws_emulator.core import moto_models, paging
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.paging import Item
from local.aws_emulator.core.state import Clock
from local.aws_emulator.s3control import exceptions

PERMISSIONS = ("READ", "WRITE", "READWRITE")
MAX_LIST_RESULTS = 1000
MAX_TAGS = 50
_ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_IDENTITY_CENTER_ARN = re.compile(r"^arn:aws[\w-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$")
_IAM_GRANTEE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")


@dataclass
class Instance:
    arn: str
    created_at: datetime
    identity_center_arn: str | None = None
    identity_center_application_arn: str | None = None
    resource_policy: str | None = None
    instance_id: str = "default"


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
class RegionGrants:
    """One account's Access Grants in one Region."""

    account_id: str
    region: str
    instance: Instance | None = None
    locations: dict[str, Location] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # by resource ARN

    @property
    def instance_arn(self) -> str:
        return f"arn:aws:s3:{self.region}:{self.account_id}:access-grants/default"

    def require_instance(self) -> Instance:
        if self.instance is None:
            raise exceptions.instance_not_found()
        return self.instance

    def location(self, location_id: str) -> Location:
        self.require_instance()
        location = self.locations.get(location_id)
        if location is None:
            raise exceptions.not_found(
                "NoSuchAccessGrantsLocationError", "The specified access grants location does not exist"
            )
        return location

    def grant(self, grant_id: str) -> Grant:
        self.require_instance()
        grant = self.grants.get(grant_id)
        if grant is None:
            raise exceptions.not_found("NoSuchAccessGrantError", "The specified access grant does not exist")
        return grant


def page(items: Sequence[Item], params: Mapping[str, Any], unique: str) -> tuple[list[Item], str | None]:
    """Access Grants' list pages: at most 1,000 items; a token it did not issue is InvalidRequest."""
    limit = params.get("MaxResults") or MAX_LIST_RESULTS
    if not 0 <= limit <= MAX_LIST_RESULTS:
        raise exceptions.invalid_request(f"MaxResults must be between 0 and {MAX_LIST_RESULTS}")
    return paging.page(
        items,
        params,
        unique=unique,
        default_limit=MAX_LIST_RESULTS,
        invalid_token=lambda: exceptions.invalid_request("The continuation token provided is invalid"),
    )


def bucket_name(scope: str) -> str:
    return scope.removeprefix("s3://").split("/", 1)[0]


def grant_scope(location_scope: str, sub_prefix: str | None, prefix_type: str | None) -> str:
    """The location's scope and the sub-prefix concatenated, one `/` between them (user guide, "Create
    grants": on a bucket location the sub-prefix of an object is written `/object-key-name`). An object grant
    (`S3PrefixType` `Object`, the model's only value) names one object: no wildcard, and a sub-prefix."""
    base = location_scope if location_scope == "s3://" else location_scope.rstrip("/") + "/"
    if prefix_type not in (None, "Object"):
        raise exceptions.invalid_grant(f"S3PrefixType must be Object, not {prefix_type}")
    if prefix_type == "Object" and (not sub_prefix or sub_prefix.endswith("*")):
        raise exceptions.invalid_grant(
            "A grant with S3PrefixType Object names one object: S3SubPrefix must be its key, without *"
        )
    if not sub_prefix:
        return base + "*" if base != "s3://" else "s3://*"
    return base + sub_prefix.removeprefix("/")


class AccessGrantsBackend:
    """Access Grants of every account and Region, keyed by (account, Region)."""

    def __init__(self, clock: Clock, identity_center_account_id: str) -> None:
        self.clock = clock
        self.identity_center_account_id = identity_center_account_id
        self.regions: dict[tuple[str, str], RegionGrants] = {}
        self.lock = threading.RLock()

    def region(self, account_id: str, region: str) -> RegionGrants:
        with self.lock:
            return self.regions.setdefault((account_id, region), RegionGrants(account_id, region))

    # -- instances --
    def create_instance(self, grants: RegionGrants, identity_center_arn: str | None) -> Instance:
        if grants.instance is not None:
            raise exceptions.conflict(
                "AccessGrantsInstanceAlreadyExists", "Access Grants Instance already exists"
            )
        grants.instance = Instance(arn=grants.instance_arn, created_at=self.clock.now())
        if identity_center_arn:
            self.associate(grants, identity_center_arn)
        return grants.instance

    def associate(self, grants: RegionGrants, identity_center_arn: str) -> None:
        instance = grants.require_instance()
        if not _IDENTITY_CENTER_ARN.match(identity_center_arn):
            raise exceptions.bad(
                "InvalidIdentityCenterInstance", "The specified identity center instance is invalid"
            )
        instance.identity_center_arn = identity_center_arn
        # AWS creates an Identity Center application for the association, in the instance's account.
        instance.identity_center_application_arn = (
            f"arn:aws:sso::{self.identity_center_account_id}:application/"
            f"{identity_center_arn.rsplit('/', 1)[-1]}/apl-{uuid.uuid4().hex[:16]}"
        )

    def delete_instance(self, grants: RegionGrants) -> None:
        instance = grants.require_instance()
        if grants.locations:
            raise exceptions.bad(
                "AccessGrantsInstanceNotEmptyError",
                "Please clean up locations before deleting the access grants instance",
            )
        grants.tags.pop(instance.arn, None)
        grants.instance = None

    # -- locations --
    def create_location(self, grants: RegionGrants, scope: str, role_arn: str) -> Location:
        instance = grants.require_instance()
        if not scope.startswith("s3://") or "*" in scope:
            raise exceptions.invalid_location()
        self.require_same_region(
            grants, moto_models.s3_bucket(bucket_name(scope)), exceptions.invalid_location
        )
        if not _ROLE_ARN.match(role_arn):
            raise exceptions.invalid_role()
        if any(location.scope == scope for location in grants.locations.values()):
            raise exceptions.conflict(
                "AccessGrantsLocationAlreadyExistsError",
                "The specified access grants location already exists",
            )
        location_id = "default" if scope == "s3://" else str(uuid.uuid4())
        location = Location(
            location_id, f"{instance.arn}/location/{location_id}", scope, role_arn, self.clock.now()
        )
        grants.locations[location_id] = location
        return location

    @staticmethod
    def require_same_region(
        grants: RegionGrants, bucket: Any | None, error: Callable[[str], EmulatorError]
    ) -> None:
        """A location's data "must be in the same Region as your S3 Access Grants instance" (API reference,
        CreateAccessGrantsLocation), and the default location is the instance Region's buckets only; AWS
        does not document the error, so it is the location's or the grant's invalid-input error."""
        if bucket is not None and bucket.region_name != grants.region:
            raise error(
                f"The bucket {bucket.name} is in {bucket.region_name}; this Access Grants instance serves "
                f"{grants.region} only"
            )

    def update_location(self, location: Location, role_arn: str) -> None:
        if not _ROLE_ARN.match(role_arn):
            raise exceptions.invalid_role()
        location.iam_role_arn = role_arn

    def delete_location(self, grants: RegionGrants, location: Location) -> None:
        if any(grant.location_id == location.location_id for grant in grants.grants.values()):
            raise exceptions.bad(
                "AccessGrantsLocationNotEmptyError",
                "Please clean up access grants before deleting access grants location",
            )
        del grants.locations[location.location_id]
        grants.tags.pop(location.arn, None)

    # -- grants --
    def create_grant(self, grants: RegionGrants, params: Mapping[str, Any]) -> Grant:
        instance = grants.require_instance()
        location = grants.location(params.get("AccessGrantsLocationId", ""))
        grantee = params.get("Grantee") or {}
        kind, identifier = grantee.get("GranteeType"), grantee.get("GranteeIdentifier", "")
        permission = params.get("Permission")
        if (
            kind not in ("IAM", "DIRECTORY_USER", "DIRECTORY_GROUP")
            or not identifier
            or permission not in PERMISSIONS
        ):
            raise exceptions.invalid_grant()
        if kind == "IAM" and not _IAM_GRANTEE.match(identifier):
            raise exceptions.invalid_grant("IAM grantees are IAM role or user ARNs")
        if kind != "IAM" and instance.identity_center_arn is None:
            raise exceptions.invalid_grant(
                "Directory grantees need an Identity Center instance associated with the instance"
            )
        sub_prefix = (params.get("AccessGrantsLocationConfiguration") or {}).get("S3SubPrefix")
        if location.scope == "s3://" and not (sub_prefix or "").strip("*/"):
            raise exceptions.invalid_grant(
                "A grant on the default location s3:// must name a bucket in S3SubPrefix"
            )
        scope = grant_scope(location.scope, sub_prefix, params.get("S3PrefixType"))
        name = bucket_name(scope)
        bucket = moto_models.s3_bucket(name)
        if bucket is None:
            raise exceptions.invalid_grant(f"The bucket {name} of the grant scope does not exist")
        self.require_same_region(grants, bucket, exceptions.invalid_grant)
        application = params.get("ApplicationArn")
        for existing in grants.grants.values():
            if (existing.scope, existing.grantee, existing.permission, existing.application_arn) == (
                scope,
                {"GranteeType": kind, "GranteeIdentifier": identifier},
                permission,
                application,
            ):
                raise exceptions.conflict(
                    "AccessGrantAlreadyExists", "The specified access grant already exists"
                )
        grant_id = str(uuid.uuid4())
        grant = Grant(
            grant_id=grant_id,
            arn=f"{instance.arn}/grant/{grant_id}",
            location_id=location.location_id,
            sub_prefix=sub_prefix,
            grantee_type=kind,
            grantee_identifier=identifier,
            permission=permission,
            scope=scope,
            created_at=self.clock.now(),
            application_arn=application,
        )
        grants.grants[grant_id] = grant
        return grant

    # -- tags --
    def set_tags(self, grants: RegionGrants, arn: str, tags: list[Mapping[str, str]] | None) -> None:
        if not tags:
            return
        keys = [tag.get("Key", "") for tag in tags]
        if len(set(keys)) != len(keys):
            raise exceptions.bad("InvalidTag", "There are duplicate tag keys in your request.")
        if any(key.lower().startswith("aws:") for key in keys):
            raise exceptions.bad(
                "InvalidTags", "Tag keys cannot start with AWS reserved prefix for system tags."
            )
        merged = grants.tags.setdefault(arn, {})
        merged.update({tag["Key"]: tag.get("Value", "") for tag in tags})
        if len(merged) > MAX_TAGS:
            raise exceptions.bad("TooManyTags", f"The number of tags exceeds the limit of {MAX_TAGS} tags.")

    @staticmethod
    def tagged_arn(grants: RegionGrants, arn: str) -> str:
        known = {grants.instance.arn} if grants.instance else set()
        known |= {location.arn for location in grants.locations.values()} | {
            g.arn for g in grants.grants.values()
        }
        if arn not in known:
            raise exceptions.not_found("NoSuchResource", f"The resource {arn} does not exist")
        return arn

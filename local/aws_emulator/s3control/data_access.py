"""The caller's side of S3 Access Grants: ListCallerAccessGrants and GetDataAccess.

Documented behaviour this follows:
- GetDataAccess (API reference): S3 Access Grants assumes the location's IAM role, whose trust policy must
  allow `sts:AssumeRole` and, for directory identities `sts:SetContext`, for IAM identities
  `sts:SetSourceIdentity`; the credentials are that role's STS session, scoped by a session policy to the
  matched grant (`Default`) or exactly to the target (`Minimal`). The S3 User Guide's privilege table
  ("Request access to Amazon S3 data through S3 Access Grants"): a `Minimal` target without `*` is that
  object only (`bob/` is the object named `bob/`). `DurationSeconds` 900-43200, default 3600;
  `MatchedGrantTarget` and `MatchedInstanceArn` are answered; `AuditContext` is kept for CloudTrail.
- A grant's `ApplicationArn` (CreateAccessGrant, ListCallerAccessGrantsEntry): "the grantee can only access
  the S3 data through this application". ListCallerAccessGrants `AllowedByApplication` keeps the grants
  authorized for the caller's application; entries without an application say `NA`.
- The actions a vended credential allows per permission (S3 User Guide, "Create grants": READ is
  s3:GetObject, GetObjectVersion, GetObjectAcl, GetObjectVersionAcl, ListMultipartUploadParts; WRITE is
  s3:PutObject, PutObjectAcl, PutObjectVersionAcl, DeleteObject, DeleteObjectVersion, AbortMultipartUpload),
  plus listing the granted prefix with READ.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from local.aws_emulator.core import moto_models
from local.aws_emulator.core.policy import Principal
from local.aws_emulator.s3control import exceptions
from local.aws_emulator.s3control.models import PERMISSIONS, Grant, RegionGrants, page
from local.aws_emulator.sso_admin.models import IdentityCenterBackend
from local.aws_emulator.sts.models import Caller, StsBackend

MIN_DURATION, DEFAULT_DURATION, MAX_DURATION = 900, 3600, 43200
ACCESS_GRANTS_SERVICE = "access-grants.s3.amazonaws.com"
NO_APPLICATION = "NA"
READ_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAcl",
    "s3:GetObjectVersionAcl",
    "s3:ListMultipartUploadParts",
]
LIST_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"]
WRITE_ACTIONS = [
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
]
CLOUDTRAIL_EVENTS_KEPT = 1000


def covers(scope: str, target: str) -> bool:
    """`s3://b/p/*` covers every target whose text up to a trailing `*` starts with `s3://b/p/`, never a
    wider one (`s3://b/p*`); a scope without `*` is one object and covers only itself."""
    if scope.endswith("*"):
        return target.removesuffix("*").startswith(scope[:-1])
    return target == scope


def specificity(scope: str) -> tuple[int, bool]:
    """Longer prefixes are closer; an exact object is closer than the prefix spelled like it."""
    return len(scope.removesuffix("*")), not scope.endswith("*")


def satisfies(granted: str, requested: str) -> bool:
    return granted == requested or granted == "READWRITE"


def session_policy(scope: str, permission: str) -> dict[str, Any]:
    """The session policy that scopes vended credentials to `scope` with `permission`."""
    bucket, _, key = scope.removeprefix("s3://").partition("/")
    objects = f"arn:aws:s3:::{bucket}/{key}"
    statements: list[dict[str, Any]] = []
    if permission in ("READ", "READWRITE"):
        statements.append({"Effect": "Allow", "Action": READ_ACTIONS, "Resource": objects})
        if key.endswith("*"):
            listing: dict[str, Any] = {
                "Effect": "Allow",
                "Action": LIST_ACTIONS,
                "Resource": f"arn:aws:s3:::{bucket}",
            }
            if key != "*":  # the whole bucket: no prefix condition, so HeadBucket works too
                listing["Condition"] = {"StringLike": {"s3:prefix": key}}
            statements.append(listing)
    if permission in ("WRITE", "READWRITE"):
        statements.append({"Effect": "Allow", "Action": WRITE_ACTIONS, "Resource": objects})
    return {"Version": "2012-10-17", "Statement": statements}


class DataAccess:
    def __init__(self, sts: StsBackend, identity_center: IdentityCenterBackend) -> None:
        self.sts = sts
        self.identity_center = identity_center
        self.cloudtrail: deque[dict[str, Any]] = deque(maxlen=CLOUDTRAIL_EVENTS_KEPT)

    def authenticate(self, caller: Caller) -> None:
        if caller.problem is not None and caller.problem.name.startswith("TOKEN"):
            raise exceptions.invalid_token()
        if caller.problem is not None:
            raise exceptions.signature_mismatch()
        if caller.expired:
            raise exceptions.expired_token()

    def held_grants(self, grants: RegionGrants, caller: Caller) -> list[Grant]:
        """The grants whose grantee the caller is: its IAM identity (a role session counts as its role),
        and for an identity-aware session also its directory user and the user's groups."""
        principal = caller.principal
        if principal.is_anonymous:
            return []
        held = {("IAM", principal.arn), ("IAM", principal.role_arn)}
        session = caller.session
        if session is not None and session.directory_user_id:
            held.add(("DIRECTORY_USER", session.directory_user_id))
            held |= {
                ("DIRECTORY_GROUP", g) for g in self.identity_center.groups_of(session.directory_user_id)
            }
        return [
            grant
            for grant in grants.grants.values()
            if (grant.grantee_type, grant.grantee_identifier) in held
        ]

    @staticmethod
    def usable(grant: Grant, caller: Caller) -> bool:
        """A grant restricted to an application serves only identity contexts from that application."""
        application = caller.session.application_arn if caller.session else None
        return grant.application_arn is None or grant.application_arn == application

    def list_caller_grants(
        self, grants: RegionGrants, caller: Caller, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        instance = grants.require_instance()
        held = self.held_grants(grants, caller)
        if params.get("AllowedByApplication"):
            application = caller.session.application_arn if caller.session else None
            held = [g for g in held if application is not None and g.application_arn == application]
        wanted = params.get("GrantScope")
        if wanted is not None:
            # "a fragment of the data's S3 path": the grants under it, and the grants that cover it.
            held = [
                g for g in held if g.scope.startswith(wanted.removesuffix("*")) or covers(g.scope, wanted)
            ]
        held.sort(key=lambda g: (g.scope, g.permission, g.grant_id))
        chunk, token = page(held, params, "grant_id")
        entries = [
            {
                "Permission": g.permission,
                "GrantScope": g.scope,
                "ApplicationArn": g.application_arn or NO_APPLICATION,
                "AccessGrantsInstanceArn": instance.arn,
            }
            for g in chunk
        ]
        return {"CallerAccessGrantsList": entries, "NextToken": token}

    def get_data_access(
        self, grants: RegionGrants, caller: Caller, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        instance = grants.require_instance()
        target, permission = params.get("Target", ""), params.get("Permission", "")
        privilege = params.get("Privilege") or "Default"
        duration = params.get("DurationSeconds", DEFAULT_DURATION)
        target_type = params.get("TargetType")
        if not target.startswith("s3://") or len(target) <= len("s3://"):
            raise exceptions.validation("Target must be an S3 URI starting with s3://")
        if permission not in PERMISSIONS:
            raise exceptions.validation("Permission must be READ, WRITE or READWRITE")
        if privilege not in ("Default", "Minimal"):
            raise exceptions.validation("Privilege must be Default or Minimal")
        if not MIN_DURATION <= duration <= MAX_DURATION:
            raise exceptions.validation(
                f"DurationSeconds must be between {MIN_DURATION} and {MAX_DURATION} seconds"
            )
        if target_type not in (None, "Object") or (target_type == "Object" and target.endswith("*")):
            raise exceptions.validation("TargetType Object needs an object target")
        event = self._record(grants, caller, params)
        candidates = [
            g
            for g in self.held_grants(grants, caller)
            if covers(g.scope, target) and satisfies(g.permission, permission) and self.usable(g, caller)
        ]
        if not candidates:
            event["errorCode"] = "AccessDenied"
            raise exceptions.access_denied(
                f"You do not have {permission} permissions to the requested S3 Prefix: {target}"
            )
        grant = max(candidates, key=lambda g: (specificity(g.scope), g.created_at))
        # Minimal: exactly the target, object or prefix as written (no `*` is added to an object).
        scope = target if privilege == "Minimal" else grant.scope
        session = self._location_session(grants, grant, caller, scope, permission, duration)
        event["responseElements"] = {"matchedGrantTarget": scope, "accessKeyId": session.access_key_id}
        return {
            "Credentials": {
                "AccessKeyId": session.access_key_id,
                "SecretAccessKey": session.secret_access_key,
                "SessionToken": session.session_token,
                "Expiration": session.expiration,
            },
            "MatchedGrantTarget": scope,
            "Grantee": grant.grantee,
            "MatchedInstanceArn": instance.arn,
        }

    def _location_session(
        self, grants: RegionGrants, grant: Grant, caller: Caller, scope: str, permission: str, duration: int
    ) -> Any:
        location = grants.locations[grant.location_id]
        role = moto_models.iam_role(location.iam_role_arn)
        directory = grant.grantee_type != "IAM"
        actions = ["sts:AssumeRole", "sts:SetContext" if directory else "sts:SetSourceIdentity"]
        keys = {"aws:SourceAccount": grants.account_id, "aws:SourceArn": grants.instance_arn}
        if role is None or not self.sts.trusts(role, Principal(service=ACCESS_GRANTS_SERVICE), actions, keys):
            raise exceptions.access_denied(
                f"S3 Access Grants could not assume the location role {location.iam_role_arn}: its trust "
                f"policy must allow {ACCESS_GRANTS_SERVICE} {', '.join(actions)}"
            )
        return self.sts.issue(
            role,
            f"access-grants-{uuid.uuid4()}",
            duration,
            source_identity=caller.session.source_identity if caller.session else None,
            session_policy=session_policy(scope, permission),
        )

    def _record(self, grants: RegionGrants, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        """A CloudTrail-shaped event: `AuditContext` is how a caller joins it to its own log."""
        session = caller.session
        event: dict[str, Any] = {
            "eventName": "GetDataAccess",
            "awsRegion": grants.region,
            "eventTime": self.sts.clock.now().isoformat(),
            "requestParameters": {
                "target": params.get("Target"),
                "permission": params.get("Permission"),
                "privilege": params.get("Privilege") or "Default",
                "durationSeconds": params.get("DurationSeconds", DEFAULT_DURATION),
                "auditContext": params.get("AuditContext"),
                "instanceScope": params.get("InstanceScope"),
            },
            "userIdentity": {
                "arn": caller.principal.arn,
                "onBehalfOf": {"userId": session.directory_user_id}
                if session and session.directory_user_id
                else None,
            },
        }
        self.cloudtrail.append(event)
        return event

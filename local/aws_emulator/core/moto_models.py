"""moto's own models, read where the emulated services need them: IAM roles and users, S3 buckets."""

from __future__ import annotations

from typing import Any

from moto.iam.models import iam_backends
from moto.s3.models import s3_backends


def iam_role(role_arn: str) -> Any | None:
    """A role by ARN, in the account the ARN names (moto keeps IAM per account)."""
    account_id = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    if account_id not in iam_backends:  # reading moto's per-account dict would create the account
        return None
    try:
        return iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto raises its own NotFound; any failure means "no such role"
        return None


def role_inline_policies(role_arn: str) -> list[str]:
    """The documents of a role's inline policies (PutRolePolicy)."""
    role = iam_role(role_arn)
    return list(role.policies.values()) if role is not None else []


def identity_policies(principal_arn: str) -> list[str]:
    """The identity-based policies of an IAM role or user (inline and attached managed), by its ARN."""
    account_id = principal_arn.split(":")[4]
    if account_id not in iam_backends:
        return []
    if ":role/" in principal_arn:
        entity = iam_role(principal_arn)
    else:
        entity = iam_backends[account_id]["aws"].users.get(principal_arn.rsplit("/", 1)[-1])
    if entity is None:
        return []
    managed = [
        version.document
        for policy in entity.managed_policies.values()
        for version in policy.versions
        if version.is_default
    ]
    return [*entity.policies.values(), *managed]


def iam_user_key(access_key_id: str) -> tuple[Any, str, str] | None:
    """The IAM user owning an access key created through moto's IAM (in any account), the key's secret and
    the user's account."""
    for account_id, account in list(iam_backends.items()):
        for user in account["aws"].users.values():
            for key in user.access_keys:
                if key.access_key_id == access_key_id and key.status == "Active":
                    return user, key.secret_access_key, account_id
    return None


def s3_backend_of(bucket: str) -> Any | None:
    """The S3 backend of the account owning a bucket (bucket names are global), or None: no such bucket."""
    owner = s3_backends.bucket_accounts.get(bucket)
    if owner is None:
        return None
    partition, account_id = owner
    return s3_backends[account_id][partition]


def s3_bucket(name: str) -> Any | None:
    """A bucket by name, in whichever account owns it."""
    backend = s3_backend_of(name)
    return backend.buckets.get(name) if backend is not None else None

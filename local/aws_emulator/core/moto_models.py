"""moto's own models, read where the emulated services need them: IAM roles and users, S3 buckets."""

from __future__ import annotations

from typing import Any

from moto.iam.models import iam_backends
from moto.s3.models import s3_backends


def iam_role(account_id: str, role_arn: str) -> Any | None:
    try:
        return iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto raises its own NotFound; any failure means "no such role"
        return None


def role_inline_policies(account_id: str, role_arn: str) -> list[str]:
    """The documents of a role's inline policies (PutRolePolicy)."""
    role = iam_role(account_id, role_arn)
    return list(role.policies.values()) if role is not None else []


def iam_user_key(account_id: str, access_key_id: str) -> tuple[Any, str] | None:
    """The IAM user owning an access key created through moto's IAM, and the key's secret."""
    for user in iam_backends[account_id]["aws"].users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id and key.status == "Active":
                return user, key.secret_access_key
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

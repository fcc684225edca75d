"""The words of the S3 Access Grants contract, as types: what a grant allows, how narrowly credentials are
scoped, what a target names, and the HTTP methods a presigned request may use (with the permission each
needs)."""

from __future__ import annotations

from typing import Literal, get_args

Permission = Literal["READ", "WRITE", "READWRITE"]
Privilege = Literal["Default", "Minimal"]
TargetType = Literal["Object"]
PresignMethod = Literal["GET", "PUT", "POST"]
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)
METHOD_PERMISSION: dict[PresignMethod, Permission] = {"GET": "READ", "PUT": "WRITE", "POST": "WRITE"}


def satisfies(held: Permission | str, wanted: Permission | str) -> bool:
    """Whether credentials with the `held` permission can do what `wanted` needs (READWRITE does both)."""
    return held == wanted or held == "READWRITE"

"""Listing a folder with credentials vended for the caller.

`GET /v1/objects?prefix=s3://bucket/folder/` vends READ credentials for `s3://bucket/folder/*` (so a
READ grant must cover the folder, else 403) and lists with them (ListObjectsV2, delimiter `/`): what
comes back is exactly what the caller may read. The continuation token is S3's, wrapped with the prefix
it belongs to, so a token cannot be replayed against another folder.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

import msgspec

from domain.caller import Caller
from domain.credentials import retry_once_if_stale
from domain.errors import InvalidRequest
from domain.limits import MAX_PAGE_TOKEN_CHARS
from domain.permissions import Permission
from domain.ports import ObjectPage, StoredObject
from domain.targets import GrantTarget
from domain.vending import CredentialRequest, VendingService

DEFAULT_PAGE_SIZE = 200
LIST_PERMISSION: Permission = "READ"
# A listing is one call made now: credentials with a minute left are enough.
LISTING_MIN_REMAINING_SECONDS = 60
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


class ListRequest(msgspec.Struct, frozen=True):
    folder: GrantTarget  # a prefix target: bucket + key prefix ending with '/' (or '' for the bucket root)
    continuation_token: str | None  # S3's token, unwrapped
    page_size: int
    role: str | None = None

    @property
    def prefix(self) -> str:
        return folder_uri(self.folder)


def folder_uri(folder: GrantTarget) -> str:
    return f"s3://{folder.bucket}/{folder.key}"


def wrap_token(s3_token: str, prefix: str) -> str:
    raw = json.dumps({"p": prefix, "t": s3_token}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unwrap_token(token: str, prefix: str) -> str:
    invalid = InvalidRequest("query parameter continuationToken is not a token this listing returned")
    if len(token) > MAX_PAGE_TOKEN_CHARS or not _TOKEN.match(token):  # b64decode would skip stray characters
        raise invalid
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: a deeply nested JSON token
        raise invalid from None
    if not isinstance(decoded, dict) or decoded.get("p") != prefix or not isinstance(decoded.get("t"), str):
        raise invalid
    s3_token: str = decoded["t"]
    return s3_token


class FolderPage(msgspec.Struct, frozen=True):
    """One page of a folder as the caller may read it; `next_token` is ours (S3's, wrapped)."""

    folder: GrantTarget
    objects: tuple[StoredObject, ...]
    folders: tuple[str, ...]  # key prefixes of the sub-folders
    next_token: str | None

    @property
    def prefix(self) -> str:
        return folder_uri(self.folder)


def list_folder(caller: Caller, request: ListRequest, *, service: VendingService) -> FolderPage:
    """One page of the folder, listed with READ credentials vended for it (403 if no grant covers it)."""
    credential_request = CredentialRequest(
        target=request.folder, permission=LIST_PERMISSION, role=request.role
    )
    region = service.regions.region_of(request.folder.bucket)
    # ListObjectsV2 names the prefix itself, so cached wider credentials may list it (the signing rule).

    def list_page() -> ObjectPage:
        vended = service.signing_credentials(
            caller, credential_request, min_remaining_seconds=LISTING_MIN_REMAINING_SECONDS
        )
        return service.gateway.list_objects(
            vended.credentials,
            region,
            request.folder,
            page_size=request.page_size,
            next_token=request.continuation_token,
        )

    # S3 refusing cached credentials as expired (clock skew, a revoked session): vend fresh ones, once,
    # rather than serving the refused ones from the cache until they age out.
    page = retry_once_if_stale(list_page, forget=lambda: service.forget_credentials(caller, request.role))
    return FolderPage(
        folder=request.folder,
        objects=page.objects,
        folders=page.folders,
        next_token=wrap_token(page.next_token, request.prefix) if page.next_token else None,
    )

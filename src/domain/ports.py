"""What the domain needs from the outside, in the domain's own terms: the AWS operations and the request
signer, as protocols, and the values they take and return.

The adapters (`adapters.aws.AwsGateway`, `adapters.s3_signer.S3Presigner`) implement them and speak
botocore's dialect (parameter names, error codes, response shapes) so that nothing here does: a change of
an AWS call's shape touches an adapter only. Every failure arrives as a `ServiceError` (`StaleSession`
when the session signing a call has expired upstream). The domain imports neither boto3 nor the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from domain.credentials import AwsCredentials
from domain.permissions import Permission, Privilege, TargetType
from domain.signing import PresignedRequest, PresignItem
from domain.targets import GrantTarget


class IdentityContext(msgspec.Struct, frozen=True):
    """What IAM Identity Center's token exchange says of the user: the identity context STS takes as a
    context assertion (None if Identity Center gave none), and the directory user it names."""

    assertion: str | None
    directory_user_id: str | None = None


class RoleSessionRequest(msgspec.Struct, frozen=True):
    """AssumeRole of `role_arn`: with an identity context (identity-center mode), or with a source identity
    (iam-role mode)."""

    role_arn: str
    session_name: str
    identity_context: str | None = None
    source_identity: str | None = None


class DataAccessRequest(msgspec.Struct, frozen=True):
    """GetDataAccess: credentials for `target` with `permission`, living `duration_seconds`."""

    target: str
    permission: Permission
    privilege: Privilege
    duration_seconds: int
    target_type: TargetType | None = None


class DataAccess(msgspec.Struct, frozen=True):
    """GetDataAccess's answer: the credentials, the grant that matched and its grantee."""

    credentials: AwsCredentials
    matched_grant_target: str | None
    grantee_type: str | None = None
    grantee_identifier: str | None = None


class CallerGrant(msgspec.Struct, frozen=True):
    """One grant of ListCallerAccessGrants."""

    scope: str
    permission: str
    application_arn: str | None = None


class CallerGrantsPage(msgspec.Struct, frozen=True):
    grants: tuple[CallerGrant, ...]
    next_token: str | None = None


class StoredObject(msgspec.Struct, frozen=True):
    key: str
    size: int
    last_modified: datetime | None = None
    etag: str | None = None  # without S3's quotes


class ObjectPage(msgspec.Struct, frozen=True):
    """One page of ListObjectsV2 with a delimiter: objects, the folders under the prefix, and S3's token
    for the next page (None on the last)."""

    objects: tuple[StoredObject, ...]
    folders: tuple[str, ...]  # key prefixes, each ending with the delimiter
    next_token: str | None = None


class AwsOperations(Protocol):
    """The AWS calls the service makes. `credentials`, where taken, sign the call; `region` is where."""

    def identity_context(self, assertion: str) -> IdentityContext:
        """CreateTokenWithIAM with the user's JWT as a jwt-bearer assertion."""
        ...

    def assume_role(self, request: RoleSessionRequest) -> AwsCredentials: ...

    def get_data_access(
        self, credentials: AwsCredentials, region: str, request: DataAccessRequest
    ) -> DataAccess: ...

    def list_caller_grants(
        self,
        credentials: AwsCredentials,
        region: str,
        *,
        max_results: int,
        scope: str | None = None,
        next_token: str | None = None,
    ) -> CallerGrantsPage: ...

    def list_objects(
        self,
        credentials: AwsCredentials,
        region: str,
        folder: GrantTarget,
        *,
        page_size: int,
        next_token: str | None = None,
    ) -> ObjectPage: ...

    def start_multipart_upload(
        self, credentials: AwsCredentials, region: str, target: GrantTarget, content_type: str | None
    ) -> str:
        """S3's UploadId of a new multipart upload of `target`."""
        ...

    def complete_multipart_upload(
        self,
        credentials: AwsCredentials,
        region: str,
        target: GrantTarget,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
    ) -> str:
        """The object's ETag (without quotes) once S3 joined the parts `(partNumber, etag)`."""
        ...

    def abort_multipart_upload(
        self, credentials: AwsCredentials, region: str, target: GrantTarget, upload_id: str
    ) -> None: ...

    def bucket_region(self, bucket: str) -> str | None: ...

    def secret_string(self, secret_id: str, *, previous: bool = False) -> str | None:
        """The secret's current value; with `previous`, the value the current one replaced (None if it
        was never rotated)."""
        ...


class RequestSigner(Protocol):
    """Signs S3 requests locally with given credentials (no AWS call)."""

    def presign(
        self, request: PresignItem, credentials: AwsCredentials, expires_in: int, region: str
    ) -> PresignedRequest: ...

    def sign(
        self,
        method: str,
        target: GrantTarget,
        credentials: AwsCredentials,
        expires_in: int,
        region: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PresignedRequest: ...

    def sign_headers(
        self,
        *,
        method: str,
        host: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        payload_hash: str,
        credentials: AwsCredentials,
        region: str,
    ) -> dict[str, str]:
        """The SigV4 headers of a request to `host` + `path` (encoded) with `query` (decoded pairs) and
        `headers` (lowercase, all signed), its body declared as `payload_hash`."""
        ...


class SharedEntry(msgspec.Struct, frozen=True):
    """One entry of the shared cache tier: `payload` (the entry as msgspec JSON; the store seals it) under
    `name` ("session", or "grant/" and a digest of its scope) within an identity's entries, obtained from
    AWS at `obtained_at` and fresh until `fresh_until` (epoch seconds)."""

    name: str
    payload: bytes
    obtained_at: float
    fresh_until: float


class SharedStore(Protocol):
    """The store every execution environment reaches (DynamoDB, each payload sealed under KMS). Failures
    are `ServiceError`s; an entry that does not open (tampered with, moved to another key) is left out."""

    def entries(self, identity: str) -> list[SharedEntry]:
        """The entries stored for `identity` (a digest: never a user's name)."""
        ...

    def put(self, identity: str, entry: SharedEntry, users: Sequence[str]) -> None:
        """Store `entry`, unless one obtained later is already there; `users` (digests) index it for
        revocation."""
        ...


class RevocationList(msgspec.Struct, frozen=True):
    """Who may no longer be served (digests of users), and since when no session obtained earlier may be
    served to anyone (`make revoke-sessions`; epoch seconds)."""

    users: frozenset[str] = frozenset()
    sessions_before: float | None = None


class RevocationStore(Protocol):
    """The revocation list: one revision item, read at every poll, and the list, read when the revision
    changes."""

    def revision(self) -> str | None: ...

    def revocation_list(self) -> RevocationList: ...

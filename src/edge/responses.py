"""The one place where the domain's results become the API's answers: each is built as the contract's
response model (`edge.contract`, from which `openapi.yaml` is generated) and encoded by msgspec, so the
contract is declared once for responses as for requests. Names are the wire's through the models
(camelCase); times are RFC 3339 in UTC (`domain.credentials.isoformat`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import msgspec
from aws_lambda_powertools.event_handler import Response

from domain.credentials import isoformat
from domain.errors import ServiceError
from edge import contract
from edge.problems import encoded, iceberg_error, problem

if TYPE_CHECKING:  # each function imports only its own route's domain modules (cold start)
    from domain.describe import CallerDescription
    from domain.grant_listing import GrantsPage
    from domain.objects import FolderPage
    from domain.remote_signing import SignedS3Request
    from domain.signing import PresignedRequest
    from domain.uploads import CompletedUpload, SignedParts, StartedUpload
    from domain.vending import VendResult


def json_answer(model: msgspec.Struct, status: int = 200) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=encoded(model))


def credentials(result: VendResult) -> contract.CredentialsResponse:
    return contract.CredentialsResponse(
        credentials=contract.Credentials(
            access_key_id=result.credentials.access_key_id,
            secret_access_key=result.credentials.secret_access_key,
            session_token=result.credentials.session_token,
            expiration=isoformat(result.credentials.expiration),
        ),
        matched_grant_target=result.matched_grant_target,
        # As S3 Access Grants names them (IAM, DIRECTORY_USER, DIRECTORY_GROUP): passed on as they come.
        grantee=contract.Grantee(
            type=cast(Any, result.grantee_type), identifier=cast(str, result.grantee_identifier)
        ),
    )


def credential_process(result: VendResult) -> contract.CredentialProcessDocument:
    return contract.CredentialProcessDocument(
        Version=1,
        AccessKeyId=result.credentials.access_key_id,
        SecretAccessKey=result.credentials.secret_access_key,
        SessionToken=result.credentials.session_token,
        Expiration=isoformat(result.credentials.expiration),
    )


def me(description: CallerDescription) -> contract.Me:
    return contract.Me(
        subject=description.subject,
        email=description.email,
        identity_mode=cast(Any, description.identity_mode),
        groups=list(description.groups),
        role_arn=description.role_arn,
        session_name=description.session_name,
        directory_user_id=description.directory_user_id,
        group=description.group,
        source_identity=description.source_identity,
    )


def grants(page: GrantsPage) -> contract.GrantList:
    return contract.GrantList(
        grants=[
            contract.Grant(
                grant_scope=grant.scope,
                permission=cast(Any, grant.permission),
                application_arn=grant.application_arn,
            )
            for grant in page.grants
        ],
        next_token=page.next_token,
    )


def presigned(signed: PresignedRequest) -> contract.PresignedUrl | contract.PresignedPost:
    if signed.fields is not None:
        return contract.PresignedPost(
            url=signed.url,
            method="POST",
            fields=dict(signed.fields),
            expires_at=isoformat(signed.expires_at),
            max_bytes=cast(int, signed.max_bytes),
        )
    return contract.PresignedUrl(
        url=signed.url,
        method=cast(Any, signed.method),
        headers=dict(signed.headers),
        expires_at=isoformat(signed.expires_at),
    )


def presign_batch(
    results: Sequence[PresignedRequest | ServiceError], request_id: str | None
) -> contract.PresignBatchResponse:
    return contract.PresignBatchResponse(
        results=[
            problem(result, request_id) if isinstance(result, ServiceError) else presigned(result)
            for result in results
        ]
    )


def folder(page: FolderPage) -> contract.ObjectList:
    bucket = page.folder.bucket
    return contract.ObjectList(
        prefix=page.prefix,
        objects=[
            contract.ObjectEntry(
                key=item.key,
                target=f"s3://{bucket}/{item.key}",
                size=item.size,
                last_modified=isoformat(item.last_modified) if item.last_modified else _EPOCH,
                etag=item.etag,
            )
            for item in page.objects
        ],
        prefixes=[f"s3://{bucket}/{prefix}" for prefix in page.folders],
        next_continuation_token=page.next_token,
    )


_EPOCH = "1970-01-01T00:00:00Z"  # S3 always dates an object; a listing without a date says so plainly


def upload_started(started: StartedUpload) -> contract.UploadStarted:
    return contract.UploadStarted(
        upload_id=started.upload_id,
        target=str(started.target),
        parts=_part_urls(started.signed),
        expires_at=isoformat(started.signed.expires_at),
        part_count=started.part_count,
        next_part_number=started.next_part_number,
    )


def part_urls(signed: SignedParts) -> contract.PartUrls:
    return contract.PartUrls(parts=_part_urls(signed), expires_at=isoformat(signed.expires_at))


def upload_completed(completed: CompletedUpload) -> contract.UploadCompleted:
    return contract.UploadCompleted(target=str(completed.target), etag=completed.etag)


def _part_urls(signed: SignedParts) -> list[contract.PartUrl]:
    return [contract.PartUrl(part_number=part.number, url=part.url) for part in signed.parts]


def s3_signed(signed: SignedS3Request, method: str) -> Response[str]:
    """Iceberg's S3SignResponse. Its spec lets the client cache the answer of a GET or HEAD
    (`Cache-Control: private`) and no other (`no-cache`), instead of this API's `no-store`."""
    return Response(
        status_code=200,
        content_type="application/json",
        body=encoded(contract.S3SignResponse(uri=signed.uri, headers=signed.headers)),
        headers={"Cache-Control": "private" if method in ("GET", "HEAD") else "no-cache"},
    )


def s3_sign_refused(error: ServiceError) -> Response[str]:
    """A refusal of the Iceberg signer, in Iceberg's error model (not a problem document)."""
    return Response(
        status_code=error.status,
        content_type="application/json",
        body=encoded(iceberg_error(error)),
        headers=dict(error.headers),
    )

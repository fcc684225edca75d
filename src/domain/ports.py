"""What the domain needs from the outside, as protocols: the AWS operations and the request signer.

The adapters (`adapters.aws.AwsGateway`, `adapters.s3_signer.S3Presigner`) implement them; tests may pass
anything of the same shape. The domain imports neither boto3 nor the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from domain.credentials import AwsCredentials
from domain.targets import GrantTarget

if TYPE_CHECKING:
    from domain.presign import PresignedRequest, PresignRequest


class AwsOperations(Protocol):
    """The AWS calls the service makes; every failure arrives as a `ServiceError` (or `StaleSession`)."""

    def create_token_with_iam(self, assertion: str) -> dict[str, Any]: ...

    def assume_role(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_data_access(self, credentials: AwsCredentials, region: str, **kwargs: Any) -> dict[str, Any]: ...

    def list_caller_access_grants(
        self, credentials: AwsCredentials, region: str, **kwargs: Any
    ) -> dict[str, Any]: ...

    def s3_call(
        self, operation: str, credentials: AwsCredentials, region: str, **parameters: Any
    ) -> dict[str, Any]: ...

    def bucket_region(self, bucket: str) -> str | None: ...

    def secret_string(self, secret_id: str) -> str: ...


class RequestSigner(Protocol):
    """Signs S3 requests locally with given credentials (no AWS call)."""

    def presign(
        self, request: PresignRequest, credentials: AwsCredentials, expires_in: int, region: str
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

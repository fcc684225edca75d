"""AWS adapters: clients created once per execution environment, with explicit timeouts, standard
retries, the loopback fix for the local emulator, and a per-invocation deadline that refuses to start
an attempt that could outlive the Lambda. Every failure leaves here as a `ServiceError`.

`AwsGateway` implements the domain's port (`domain.ports.AwsOperations`): it takes and returns the domain's
values and keeps botocore's parameter names, response shapes and error codes to itself."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import botocore.session
from botocore import xform_name
from botocore.config import Config

from adapters.aws_errors import STALE_SESSION_CODES, aws_error_code, from_aws_error, is_throttling
from adapters.loopback import use_loopback_endpoint
from domain.audit import count, logger, record_latency
from domain.budget import invocation_budget
from domain.config import ServiceConfig
from domain.credentials import AwsCredentials, StaleSession
from domain.deadline import invocation_deadline
from domain.errors import ServiceError, UpstreamTimeout
from domain.ports import (
    CallerGrant,
    CallerGrantsPage,
    DataAccess,
    DataAccessRequest,
    IdentityContext,
    ObjectPage,
    RoleSessionRequest,
    StoredObject,
)
from domain.targets import GrantTarget

CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 3.0
MAX_ATTEMPTS = 3
MAX_S3CONTROL_CLIENTS = 256
# S3 API reference, CompleteMultipartUpload: "could take several minutes to finalize", S3 answering 200 at
# once and white space while it works. A server that holds its answer until done (the emulator does) must
# not be cut off by the usual 3 s read timeout and retried into NoSuchUpload: the UploadsFunction's
# timeout (29 s) bounds this one.
COMPLETE_READ_TIMEOUT_SECONDS = 25.0
IDENTITY_CENTER_CONTEXT_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
# The SDK's debug logs carry request bodies (the caller's JWT as CreateTokenWithIAM assertion) and
# responses (credentials): whatever the log level of the function, they never go below WARNING.
for _sdk_logger in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_sdk_logger).setLevel(logging.WARNING)


def _answered(**_: Any) -> bool:
    return False  # do not retry: the answer at hand is the one wanted


def _refuse_attempt_past_deadline(**_: Any) -> None:
    deadline = invocation_deadline.get()
    if deadline is not None and deadline.remaining() < CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS:
        raise UpstreamTimeout("not enough time left in this invocation to call AWS")


def _stop_retrying_past_deadline(attempts: int, **_: Any) -> bool | None:
    """Before botocore sleeps and retries: if the next attempt could not finish inside the invocation,
    stop now, so the caller gets the real failure (throttled → 503, 5xx → 502, read timeout → 504)
    instead of a generic "no time left" raised on the next attempt. False = do not retry."""
    deadline = invocation_deadline.get()
    if deadline is None:
        return None
    # Standard mode sleeps at most 2 ** (attempts - 1) seconds before the next attempt.
    worst_backoff = 2 ** (attempts - 1)
    if deadline.remaining() < worst_backoff + CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS:
        return False
    return None


def client_config(read_timeout: float = READ_TIMEOUT_SECONDS) -> Config:
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        # total_max_attempts counts the first attempt; botocore's max_attempts would count retries only.
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        user_agent_extra="shopfast-vending",
    )


class ClientFactory:
    """Creates AWS clients from one shared session (cheap after the first) with the service's settings.

    A botocore session, not boto3's: boto3's clients are botocore's, but importing boto3 also imports
    s3transfer (with multiprocessing and concurrent.futures): ~10 ms of every cold start for nothing."""

    def __init__(self, config: ServiceConfig, session: botocore.session.Session | None = None) -> None:
        self._config = config
        self._session = session or botocore.session.Session()

    def create(
        self,
        service: str,
        credentials: AwsCredentials | None = None,
        *,
        region: str | None = None,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> Any:
        """A client of `service` in `region` (default: the function's), signing with `credentials`
        (default: the execution role's)."""
        client = self._session.create_client(
            service,
            region_name=region or self._config.aws_region,
            endpoint_url=self._config.aws_endpoint_url,
            config=client_config(read_timeout),
            # None: the execution role's credentials, from the environment
            aws_access_key_id=credentials.access_key_id if credentials else None,
            aws_secret_access_key=credentials.secret_access_key if credentials else None,
            aws_session_token=credentials.session_token if credentials else None,
        )
        client.meta.events.register("before-send", _refuse_attempt_past_deadline)
        # A needs-retry handler's answer decides the retry (botocore.retryhandler); the stubs type every
        # handler as returning None.
        client.meta.events.register_first(
            "needs-retry", cast(Callable[..., None], _stop_retrying_past_deadline)
        )
        if service == "s3control":
            use_loopback_endpoint(client)
        return client


class AwsGateway:
    """The AWS operations the service performs. The service's own clients (sso-oidc in Identity Center's
    home Region, sts and s3 in the function's) are created once; s3control clients are created per identity
    session and Region, signing with that session's credentials."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        factory: ClientFactory | None = None,
        sso_oidc: Any = None,
        sts: Any = None,
        s3: Any = None,
    ) -> None:
        self._config = config
        self._factory = factory or ClientFactory(config)
        self._sso_oidc = sso_oidc
        self._sts = sts
        self._s3 = s3
        # Per identity session (its access key) and Region: each signs with the session's credentials.
        self._s3control: dict[tuple[str, str], Any] = {}

    @property
    def sso_oidc(self) -> Any:
        if self._sso_oidc is None:
            # IAM Identity Center answers only in its home Region; an application ARN does not name it.
            self._sso_oidc = self._factory.create("sso-oidc", region=self._config.idc_region)
        return self._sso_oidc

    @property
    def sts(self) -> Any:
        if self._sts is None:
            self._sts = self._factory.create("sts")
        return self._sts

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._factory.create("s3")
            # HeadBucket's first answer names the bucket's Region whatever its status; botocore's redirector
            # would ask a second time in that Region, and a retry would only repeat the answer.
            self._s3.meta.events.register_first("needs-retry.s3.HeadBucket", _answered)
        return self._s3

    def _s3control_client(self, credentials: AwsCredentials, region: str) -> Any:
        key = (credentials.access_key_id, region)
        client = self._s3control.get(key)
        if client is None:
            if len(self._s3control) >= MAX_S3CONTROL_CLIENTS:
                self._s3control.clear()  # sessions expire within the hour: old clients are rarely useful
            client = self._s3control[key] = self._factory.create("s3control", credentials, region=region)
        return client

    def _s3_call(
        self,
        operation: str,
        credentials: AwsCredentials,
        region: str,
        *,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        **parameters: Any,
    ) -> dict[str, Any]:
        """One S3 operation (by its API name) signed with vended credentials, in the bucket's Region."""
        client = self._factory.create("s3", credentials, region=region, read_timeout=read_timeout)
        return call(operation, getattr(client, xform_name(operation)), **parameters)

    def prime_client(self, service: str, region: str) -> None:
        """Create and drop a client: its model and endpoint rules stay loaded in the shared session."""
        self._factory.create(service, region=region)

    def bucket_region(self, bucket: str) -> str | None:
        """The Region S3 names for a bucket (HeadBucket's `x-amz-bucket-region`, answered on 200, 301, 400
        and 403 alike, so the execution role needs no permission on the bucket), or None."""
        try:
            answer = self.s3.head_bucket(Bucket=bucket)
        except Exception as error:  # noqa: BLE001 - any failure: S3 could not say, the caller falls back
            answer = getattr(error, "response", None) or {}
        headers = (answer.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        region = headers.get("x-amz-bucket-region")
        return region if isinstance(region, str) and region else None

    def secret_string(self, secret_id: str, *, previous: bool = False) -> str | None:
        """A Secrets Manager secret's value, read with the execution role: the version staged AWSCURRENT,
        or AWSPREVIOUS (None when there is none: the secret was never rotated)."""
        client = self._factory.create("secretsmanager")
        stage = "AWSPREVIOUS" if previous else "AWSCURRENT"
        try:
            answer = call("GetSecretValue", client.get_secret_value, SecretId=secret_id, VersionStage=stage)
        except ServiceError as error:
            cause = error.__cause__
            if previous and cause is not None and aws_error_code(cause) == "ResourceNotFoundException":
                return None
            raise
        return str(answer["SecretString"])

    def identity_context(self, assertion: str) -> IdentityContext:
        token = call(
            "CreateTokenWithIAM",
            self.sso_oidc.create_token_with_iam,
            clientId=self._config.idc_application_arn,
            grantType="urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion=assertion,
        )
        id_claims = _unverified_claims(token.get("idToken"))
        context = (token.get("awsAdditionalDetails") or {}).get("identityContext") or id_claims.get(
            "sts:identity_context"
        )
        user = id_claims.get("sub")
        return IdentityContext(
            assertion=context if isinstance(context, str) and context else None,
            directory_user_id=user if isinstance(user, str) else None,
        )

    def assume_role(self, request: RoleSessionRequest) -> AwsCredentials:
        parameters: dict[str, Any] = {"RoleArn": request.role_arn, "RoleSessionName": request.session_name}
        if request.identity_context is not None:
            parameters["ProvidedContexts"] = [
                {
                    "ProviderArn": IDENTITY_CENTER_CONTEXT_PROVIDER,
                    "ContextAssertion": request.identity_context,
                }
            ]
        if request.source_identity is not None:
            parameters["SourceIdentity"] = request.source_identity
        return _credentials(call("AssumeRole", self.sts.assume_role, **parameters)["Credentials"])

    def get_data_access(
        self, credentials: AwsCredentials, region: str, request: DataAccessRequest
    ) -> DataAccess:
        budget = invocation_budget.get()
        if budget is not None:
            budget.spend_data_access_call()
        parameters: dict[str, Any] = {
            "AccountId": self._config.access_grants_account_id,
            "InstanceScope": self._config.instance_scope,
            "Target": request.target,
            "Permission": request.permission,
            "Privilege": request.privilege,
            "DurationSeconds": request.duration_seconds,
        }
        if request.target_type is not None:
            parameters["TargetType"] = request.target_type
        request_id = logger.get_correlation_id()
        if request_id:
            # CloudTrail shows it with the GetDataAccess event: the join to this service's audit record.
            parameters["AuditContext"] = request_id
        answer = call(
            "GetDataAccess", self._s3control_client(credentials, region).get_data_access, **parameters
        )
        grantee = answer.get("Grantee") or {}
        return DataAccess(
            credentials=_credentials(answer["Credentials"]),
            matched_grant_target=answer.get("MatchedGrantTarget") or None,
            grantee_type=grantee.get("GranteeType"),
            grantee_identifier=grantee.get("GranteeIdentifier"),
        )

    def list_caller_grants(
        self,
        credentials: AwsCredentials,
        region: str,
        *,
        max_results: int,
        scope: str | None = None,
        next_token: str | None = None,
    ) -> CallerGrantsPage:
        parameters: dict[str, Any] = {
            "AccountId": self._config.access_grants_account_id,
            "InstanceScope": self._config.instance_scope,
            "MaxResults": max_results,
        }
        if scope is not None:
            parameters["GrantScope"] = scope
        if next_token is not None:
            parameters["NextToken"] = next_token
        page = call(
            "ListCallerAccessGrants",
            self._s3control_client(credentials, region).list_caller_access_grants,
            **parameters,
        )
        return CallerGrantsPage(
            grants=tuple(
                CallerGrant(
                    scope=str(entry["GrantScope"]),
                    permission=str(entry["Permission"]),
                    application_arn=entry.get("ApplicationArn"),
                )
                for entry in page.get("CallerAccessGrantsList", [])
                if entry.get("GrantScope") and entry.get("Permission")
            ),
            next_token=page.get("NextToken") or None,
        )

    def list_objects(
        self,
        credentials: AwsCredentials,
        region: str,
        folder: GrantTarget,
        *,
        page_size: int,
        next_token: str | None = None,
    ) -> ObjectPage:
        parameters: dict[str, Any] = {
            "Bucket": folder.bucket,
            "Prefix": folder.key,
            "Delimiter": "/",
            "MaxKeys": page_size,
        }
        if next_token:
            parameters["ContinuationToken"] = next_token
        page = self._s3_call("ListObjectsV2", credentials, region, **parameters)
        return ObjectPage(
            objects=tuple(
                StoredObject(
                    key=item["Key"],
                    size=int(item.get("Size", 0)),
                    last_modified=item.get("LastModified"),
                    etag=str(item["ETag"]).strip('"') if item.get("ETag") else None,
                )
                for item in page.get("Contents", [])
            ),
            folders=tuple(item["Prefix"] for item in page.get("CommonPrefixes", [])),
            next_token=page.get("NextContinuationToken") if page.get("IsTruncated") else None,
        )

    def start_multipart_upload(
        self, credentials: AwsCredentials, region: str, target: GrantTarget, content_type: str | None
    ) -> str:
        parameters: dict[str, Any] = {"Bucket": target.bucket, "Key": target.key}
        if content_type:
            parameters["ContentType"] = content_type
        return str(self._s3_call("CreateMultipartUpload", credentials, region, **parameters)["UploadId"])

    def complete_multipart_upload(
        self,
        credentials: AwsCredentials,
        region: str,
        target: GrantTarget,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
    ) -> str:
        answer = self._s3_call(
            "CompleteMultipartUpload",
            credentials,
            region,
            read_timeout=COMPLETE_READ_TIMEOUT_SECONDS,
            Bucket=target.bucket,
            Key=target.key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
        )
        return str(answer.get("ETag") or "").strip('"')

    def abort_multipart_upload(
        self, credentials: AwsCredentials, region: str, target: GrantTarget, upload_id: str
    ) -> None:
        self._s3_call(
            "AbortMultipartUpload",
            credentials,
            region,
            Bucket=target.bucket,
            Key=target.key,
            UploadId=upload_id,
        )


def _credentials(answer: Mapping[str, Any]) -> AwsCredentials:
    return AwsCredentials(
        access_key_id=answer["AccessKeyId"],
        secret_access_key=answer["SecretAccessKey"],
        session_token=answer["SessionToken"],
        expiration=answer["Expiration"],
    )


def _unverified_claims(id_token: str | None) -> dict[str, Any]:
    """Claims of the Identity Center idToken: received from AWS over TLS, read for ids only."""
    if not id_token or id_token.count(".") != 2:
        return {}
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def call(operation: str, method: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """Run one AWS operation: time it, and map any failure to a ServiceError (or StaleSession)."""
    started = time.perf_counter()
    try:
        return method(**kwargs)
    except Exception as error:
        if aws_error_code(error) in STALE_SESSION_CODES and operation != "CreateTokenWithIAM":
            raise StaleSession(operation) from error
        mapped = from_aws_error(error, operation)
        # What operators alarm on (docs/operations.md): AWS throttling us, and AWS failing (5xx, timeouts,
        # connections); AWS's answers (denied, not found, bad input) are neither.
        if is_throttling(error):
            count("UpstreamThrottles")
            count("UpstreamThrottlesByOperation", operation=operation)
        elif mapped.status >= 500:
            count("UpstreamErrors")
            count("UpstreamErrorsByOperation", operation=operation)
        raise mapped from error
    finally:
        record_latency(operation, (time.perf_counter() - started) * 1000)

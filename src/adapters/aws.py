"""AWS adapters: clients created once per execution environment, with explicit timeouts, standard
retries, the loopback fix for the local emulator, and a per-invocation deadline that refuses to start
an attempt that could outlive the Lambda. Every failure leaves here as a `ServiceError`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

import botocore.session
from botocore import xform_name
from botocore.config import Config

from adapters.loopback import use_loopback_endpoint
from domain.audit import logger, record_latency
from domain.budget import invocation_budget
from domain.config import ServiceConfig
from domain.credentials import AwsCredentials, StaleSession
from domain.deadline import invocation_deadline
from domain.errors import UpstreamTimeout, aws_error_code, from_aws_error

CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 3.0
MAX_ATTEMPTS = 3
MAX_S3CONTROL_CLIENTS = 256
# The SDK's debug logs carry request bodies (the caller's JWT as CreateTokenWithIAM assertion) and
# responses (credentials): whatever the log level of the function, they never go below WARNING.
for _sdk_logger in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_sdk_logger).setLevel(logging.WARNING)
# Error codes meaning "the session signing this call, or the identity context it is made from, is no
# longer valid" (a fresh session may succeed). STS answers an expired or foreign context assertion with
# InvalidContextAssertion (its current model); older answers said ExpiredTokenException.
STALE_SESSION_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "InvalidClientTokenId",
        "InvalidContextAssertion",
    }
)


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

    def s3_call(
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

    def secret_string(self, secret_id: str) -> str:
        """A Secrets Manager secret's current value, read with the execution role."""
        client = self._factory.create("secretsmanager")
        return str(call("GetSecretValue", client.get_secret_value, SecretId=secret_id)["SecretString"])

    def create_token_with_iam(self, assertion: str) -> dict[str, Any]:
        return call(
            "CreateTokenWithIAM",
            self.sso_oidc.create_token_with_iam,
            clientId=self._config.idc_application_arn,
            grantType="urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion=assertion,
        )

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        return call("AssumeRole", self.sts.assume_role, **kwargs)

    def get_data_access(self, credentials: AwsCredentials, region: str, **kwargs: Any) -> dict[str, Any]:
        budget = invocation_budget.get()
        if budget is not None:
            budget.spend_data_access_call()
        request_id = logger.get_correlation_id()
        if request_id:
            # CloudTrail shows it with the GetDataAccess event: the join to this service's audit record.
            kwargs["AuditContext"] = request_id
        return call(
            "GetDataAccess",
            self._s3control_client(credentials, region).get_data_access,
            AccountId=self._config.access_grants_account_id,
            InstanceScope=self._config.instance_scope,
            **kwargs,
        )

    def list_caller_access_grants(
        self, credentials: AwsCredentials, region: str, **kwargs: Any
    ) -> dict[str, Any]:
        return call(
            "ListCallerAccessGrants",
            self._s3control_client(credentials, region).list_caller_access_grants,
            AccountId=self._config.access_grants_account_id,
            InstanceScope=self._config.instance_scope,
            **kwargs,
        )


def call(operation: str, method: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """Run one AWS operation: time it, and map any failure to a ServiceError (or StaleSession)."""
    started = time.perf_counter()
    try:
        return method(**kwargs)
    except Exception as error:
        if aws_error_code(error) in STALE_SESSION_CODES and operation != "CreateTokenWithIAM":
            raise StaleSession(operation) from error
        raise from_aws_error(error, operation) from error
    finally:
        record_latency(operation, (time.perf_counter() - started) * 1000)

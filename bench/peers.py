"""AWS's S3 Access Grants plugin for boto3 as a peer: what a team would run instead of
this service, on the same emulator and injected latency.

Each user gets what the service builds for them: an identity-aware session (CreateTokenWithIAM with the
user's token, then AssumeRole of the identity-bearer role with the identity context). A boto3-style S3
client with `aws-s3-access-grants-boto3-plugin` registered (fallback off) then does what the workload's
request is for: a READ is a GetObject, a WRITE or READWRITE a PutObject, of the same object. The plugin
resolves the bucket's Region (HeadBucket) and account, asks GetDataAccess and caches the credentials.

Measured per user as that user's own client: the plugin shares its s3control clients between instances
in a process (a class attribute), which signs one user's GetDataAccess with another user's session; each
plugin here gets its own. Side by side with the service's passes, per workload: the AWS calls (all of
them, the identity exchanges included; the object reads and writes themselves listed apart, since with the
service the client makes those too) and the p50 / p95 per operation. The plugin's time includes the S3
call it wraps; the service's is the vend alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import botocore.session
from aws_s3_access_grants_boto3_plugin.s3_access_grants_plugin import S3AccessGrantsPlugin
from botocore.config import Config
from botocore.exceptions import ClientError

from adapters.loopback import strip_account_prefix
from bench.measure import calls_by_operation, percentile, rounded
from bench.workloads import Workload

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CONTEXT_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
# What the workloads' own calls are (with the service, the client makes these itself).
OBJECT_OPERATIONS = ("GetObject", "PutObject")


def _identity_session(stack: Any, token: str, user: str) -> dict[str, str]:
    config = stack.config()
    role = stack.execution_role_credentials(config["clientApplicationRoleArn"])
    keys = {
        "aws_access_key_id": role["AccessKeyId"],
        "aws_secret_access_key": role["SecretAccessKey"],
        "aws_session_token": role["SessionToken"],
    }
    context = stack.client("sso-oidc", credentials=keys).create_token_with_iam(
        clientId=config["applicationArn"], grantType=JWT_BEARER, assertion=token
    )["awsAdditionalDetails"]["identityContext"]
    session = stack.client("sts", credentials=keys).assume_role(
        RoleArn=config["identityBearerRoleArn"],
        RoleSessionName="plugin-" + user.split("@")[0],
        ProvidedContexts=[{"ProviderArn": CONTEXT_PROVIDER, "ContextAssertion": context}],
    )["Credentials"]
    return {
        "access_key": session["AccessKeyId"],
        "secret_key": session["SecretAccessKey"],
        "token": session["SessionToken"],
    }


def _plugin_client(stack: Any, credentials: dict[str, str]) -> Any:
    session = botocore.session.Session()
    session.set_credentials(**credentials)
    session.set_config_variable("region", stack.config()["region"])
    # The plugin builds its s3control clients from this session: the emulator serves s3control on
    # 127.0.0.1, without the {AccountId}. host prefix (the service's own clients do the same).
    session.register("before-sign.s3-control", strip_account_prefix)
    s3 = session.create_client("s3", config=Config(s3={"addressing_style": "path"}))
    plugin = S3AccessGrantsPlugin(s3, fallback_enabled=False, customer_session=session)
    # The plugin keeps its s3control clients in a class attribute (`client_dict`, one per Region, built
    # from the first instance's session), so in one process every later user's GetDataAccess would be
    # signed with the first user's session and answered with that user's grants. One dict per instance
    # measures the plugin as each user's own client, its intended use.
    plugin.client_dict = {}
    plugin.register()
    return s3


def run_plugin_workload(stack: Any, workload: Workload, tokens: dict[str, str]) -> dict[str, Any]:
    stack.reset_stats()
    clients: dict[str, Any] = {}
    walls: list[float] = []
    outcomes: dict[str, int] = {}
    for request in workload.requests:
        body = request.body or {}
        bucket, key = str(body["target"]).removeprefix("s3://").split("/", 1)
        started = time.perf_counter()
        if request.user not in clients:  # the identity exchange is part of the first request's cost
            clients[request.user] = _plugin_client(
                stack, _identity_session(stack, tokens[request.user], request.user)
            )
        s3 = clients[request.user]
        try:
            if body.get("permission") == "READ":
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            else:
                s3.put_object(Bucket=bucket, Key=key, Body=b"peer")
            outcome = "ok"
        except ClientError as error:
            outcome = str(error.response.get("Error", {}).get("Code"))
        except Exception as error:
            outcome = type(error).__name__
        walls.append((time.perf_counter() - started) * 1000.0)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    calls = calls_by_operation(stack.stats())
    return {
        "requests": len(walls),
        "aws_calls": sum(count for name, count in calls.items() if name not in OBJECT_OPERATIONS),
        "object_calls": sum(count for name, count in calls.items() if name in OBJECT_OPERATIONS),
        "calls_by_operation": calls,
        "p50_ms": rounded(percentile(walls, 50)),
        "p95_ms": rounded(percentile(walls, 95)),
        "outcomes": outcomes,
    }


def measure_plugin_peer(
    stack: Any, workloads: list[Workload], tokens: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    figures = {}
    # The plugin creates its STS, s3control and S3 clients itself: only AWS_ENDPOINT_URL reaches them.
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = stack.aws_endpoint
    try:
        for workload in workloads:
            if workload.name not in ("repeat_one_user", "six_users"):
                continue
            progress(f"  peer: {workload.name} through aws-s3-access-grants-boto3-plugin")
            figures[workload.name] = run_plugin_workload(stack, workload, tokens)
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
    return figures

"""The local stack as the functions' configuration: template parameter values from the emulator's
`/_local/config`, the execution role's credentials, the functions' environment, and the template's API
read with them. Shared by the gateway, `make invoke` and the in-process harness (`local.functions`), so
none of them derives a function's configuration another way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from local.gateway.cloudformation import load_template
from local.gateway.template import HttpApi, read_http_api
from local.oidc_authorization import DEMO_CLIENT_ID

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"


def shown(path: Path) -> str:
    """A path as a developer reads it in a message: relative to the checkout when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(resolved)


def local_stack_config(aws_endpoint: str) -> dict[str, Any]:
    with requests.Session() as http:
        http.trust_env = False
        response = http.get(f"{aws_endpoint.rstrip('/')}/_local/config", timeout=5)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def parameter_values(
    config: Mapping[str, Any], declared: Mapping[str, Any], gateway_url: str
) -> dict[str, Any]:
    """Template parameter values for the local stack, taken from the emulator's `/_local/config`, so that
    the local run and a deployment read the same template and cannot drift. Only parameters the template
    declares are set; the others keep their defaults."""
    origins = [gateway_url, gateway_url.replace("127.0.0.1", "localhost")]
    department_roles = config.get("departmentRoles") or {}
    known: dict[str, Any] = {
        "JwtIssuer": config["issuer"],
        "JwtAudience": config["audience"],
        "CorsAllowedOrigins": ",".join(origins),
        "IdcApplicationArn": config["applicationArn"],
        "IdentityBearerRoleArn": config["identityBearerRoleArn"],
        "AccessGrantsAccountId": config["accountId"],
        "ExecutionRoleArn": config["clientApplicationRoleArn"],
        "AllowedBuckets": ",".join(config.get("buckets") or []),
        "BucketRegions": json.dumps(config.get("bucketRegions") or {}, separators=(",", ":")),
        # The emulator's own Region is Identity Center's home.
        "IdcRegion": config["region"],
        "RoleMapping": json.dumps(department_roles, separators=(",", ":")),
    }
    return {name: value for name, value in known.items() if name in declared}


def execution_role_credentials(aws_endpoint: str, role_arn: str) -> dict[str, str]:
    """The credentials Lambda would give a function running as `role_arn`, from the emulator's STS (the
    role's trust policy must allow lambda.amazonaws.com, as on AWS)."""
    with requests.Session() as http:
        http.trust_env = False
        response = http.post(
            f"{aws_endpoint.rstrip('/')}/_local/execution-role-credentials",
            json={"roleArn": role_arn},
            timeout=10,
        )
    if response.status_code != 200:
        raise RuntimeError(
            f"the emulator gave no credentials for the execution role {role_arn}: {response.text}"
        )
    answer: dict[str, str] = response.json()
    return answer


def local_environment(config: Mapping[str, Any], role_arn: str | None = None) -> dict[str, str]:
    """What Lambda's runtime would provide, pointed at the local stack instead of AWS: the endpoint, the
    Region and the execution role's session (by default the stack's client-application role)."""
    credentials = execution_role_credentials(
        config["endpoint"], role_arn or config["clientApplicationRoleArn"]
    )
    return {
        "AWS_ENDPOINT_URL": config["endpoint"],
        "AWS_REGION": config["region"],
        "AWS_DEFAULT_REGION": config["region"],
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


@dataclass(frozen=True)
class LoadedApi:
    api: HttpApi
    config: dict[str, Any]
    parameters: dict[str, Any]


def load_api(
    template: Path,
    aws_endpoint: str,
    gateway_url: str,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedApi:
    return read_api(template, local_stack_config(aws_endpoint), gateway_url, overrides)


def read_api(
    template: Path,
    config: Mapping[str, Any],
    gateway_url: str,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedApi:
    """The template's API for the local stack whose `/_local/config` is `config`."""
    declared = load_template(template).get("Parameters") or {}
    parameters = {**parameter_values(config, declared, gateway_url), **(overrides or {})}
    api = read_http_api(
        template,
        parameters,
        account_id=config["accountId"],
        region=config["region"],
        physical_ids=config.get("physicalIds"),
    )
    return LoadedApi(api, dict(config), parameters)


def demo_page_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The demo page's settings (`/demo/config.json`): everything it needs to sign in with any OIDC provider
    and call the API. Pointed at a real IdP, only these values change."""
    return {
        "issuer": config["issuer"],
        "clientId": DEMO_CLIENT_ID,
        "scopes": "openid email profile offline_access",
        "apiUrl": "",  # same origin as the page
        "awsEndpoint": config["endpoint"],
    }


def register_redirect_uris(issuer: str, gateway_url: str) -> None:
    """The demo page's URLs (127.0.0.1 and localhost) as redirect URIs of the demo client."""
    with requests.Session() as http:
        http.trust_env = False
        for origin in (gateway_url, gateway_url.replace("127.0.0.1", "localhost")):
            http.post(
                f"{issuer}/dev/clients/{DEMO_CLIENT_ID}/redirect-uris",
                json={"redirectUri": f"{origin}/"},
                timeout=10,
            ).raise_for_status()

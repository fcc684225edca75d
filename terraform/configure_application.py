"""Set the two parts of the Identity Center application that Terraform's AWS provider (5.100) cannot.

1. The jwt-bearer grant: which trusted token issuer's JWTs, for which audiences, the application
   exchanges in CreateTokenWithIAM.
2. The IAM authentication method: whose IAM credentials may call CreateTokenWithIAM for the
   application; its actor policy trusts only the vending service's client-application role.

Both are written only when they differ from what the application has, so running the command again
changes nothing. Run with credentials of the Identity Center account, after the federation and
service-iam roots are applied (`make deploy` does this from their outputs):

    python terraform/configure_application.py --application-arn ARN --trusted-token-issuer-arn ARN \
        --audience CLIENT_ID --client-application-role-arn ARN

boto3 honours AWS_PROFILE, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL as usual.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError

JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def desired_grant(trusted_token_issuer_arn: str, audiences: Sequence[str]) -> dict[str, Any]:
    return {
        "JwtBearer": {
            "AuthorizedTokenIssuers": [
                {"TrustedTokenIssuerArn": trusted_token_issuer_arn, "AuthorizedAudiences": list(audiences)}
            ]
        }
    }


def desired_authentication_method(application_arn: str, client_application_role_arn: str) -> dict[str, Any]:
    return {
        "Iam": {
            "ActorPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "VendingServiceOnly",
                        "Effect": "Allow",
                        "Principal": {"AWS": client_application_role_arn},
                        "Action": "sso-oauth:CreateTokenWithIAM",
                        "Resource": application_arn,
                    }
                ],
            }
        }
    }


def _canonical(value: Any) -> str:
    """Order-insensitive comparison of JSON documents (the API may return them re-serialised)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return json.dumps(value)
    return json.dumps(value, sort_keys=True)


def _current_or_none(call: Any, key: str, **kwargs: Any) -> Any:
    try:
        return call(**kwargs)[key]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def configure_application(
    sso_admin: Any,
    *,
    application_arn: str,
    trusted_token_issuer_arn: str,
    audiences: Sequence[str],
    client_application_role_arn: str,
) -> dict[str, str]:
    """Bring the application's grant and authentication method to the desired state.

    Returns what happened to each: "created", "updated" or "unchanged".
    """
    outcome: dict[str, str] = {}

    grant = desired_grant(trusted_token_issuer_arn, audiences)
    current_grant = _current_or_none(
        sso_admin.get_application_grant,
        "Grant",
        ApplicationArn=application_arn,
        GrantType=JWT_BEARER_GRANT_TYPE,
    )
    if current_grant is not None and _canonical(current_grant) == _canonical(grant):
        outcome["jwtBearerGrant"] = "unchanged"
    else:
        sso_admin.put_application_grant(
            ApplicationArn=application_arn, GrantType=JWT_BEARER_GRANT_TYPE, Grant=grant
        )
        outcome["jwtBearerGrant"] = "created" if current_grant is None else "updated"

    method = desired_authentication_method(application_arn, client_application_role_arn)
    current_method = _current_or_none(
        sso_admin.get_application_authentication_method,
        "AuthenticationMethod",
        ApplicationArn=application_arn,
        AuthenticationMethodType="IAM",
    )
    if current_method is not None and _canonical(current_method) == _canonical(method):
        outcome["iamAuthenticationMethod"] = "unchanged"
    else:
        sso_admin.put_application_authentication_method(
            ApplicationArn=application_arn, AuthenticationMethodType="IAM", AuthenticationMethod=method
        )
        outcome["iamAuthenticationMethod"] = "created" if current_method is None else "updated"
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--application-arn", required=True)
    parser.add_argument("--trusted-token-issuer-arn", required=True)
    parser.add_argument(
        "--audience", action="append", required=True, help="an authorised audience (repeatable)"
    )
    parser.add_argument("--client-application-role-arn", required=True)
    args = parser.parse_args(argv)
    try:
        outcome = configure_application(
            boto3.client("sso-admin"),
            application_arn=args.application_arn,
            trusted_token_issuer_arn=args.trusted_token_issuer_arn,
            audiences=args.audience,
            client_application_role_arn=args.client_application_role_arn,
        )
    except ClientError as error:
        err = error.response.get("Error", {})
        print(f"configure_application: {err.get('Code')}: {err.get('Message')}", file=sys.stderr)
        return 1
    print(json.dumps(outcome, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

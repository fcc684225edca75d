"""`make revoke USER=…`, `make reinstate USER=…` and `make revoke-sessions`: an operator cuts a user off.

`revoke` adds the user (an email address or a directory user id) to the revocation list in the state table
and deletes their shared cache entries; every execution environment refuses them (403 `revoked`) within
10 s. `reinstate` removes them from the list. No HTTP route does this: the operator's own AWS credentials
write the table, so IAM decides who may revoke. The list holds a digest of the user, never the name.

`revoke-sessions` is AWS's break-glass for what was handed out already (IAM user guide, "Revoke IAM role
temporary security credentials"): an inline policy on the Access Grants location role that denies
everything to sessions issued before now (`aws:TokenIssueTime`), which ends every vended credential and
presigned URL of every user at once; new vends work at once.

Where: the `make run` of STATE_DIR by default (its emulator, with the local administrator's keys); with
TABLE (the deployment's `StateTableName` output) the deployment in REGION, with the default AWS credential
chain; revoke-sessions there needs ROLES (the location roles, the grants root's `location_role_arn`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import requests

from adapters.shared_state import end_shared_sessions, reinstate_user, revoke_user
from domain.revocation import POLL_SECONDS, user_digest
from local.gateway.configuration import shown
from local.invoke import DEFAULT_STATE_DIR

# The name AWS's console gives the same policy ("Revoke active sessions").
REVOKE_SESSIONS_POLICY = "AWSRevokeOlderSessions"
# The local administrator's keys (the emulator's stand-in for an operator's credentials).
LOCAL_KEYS = {"aws_access_key_id": "AKIALOCALOPERATOR001", "aws_secret_access_key": "local-operator-secret"}


class Target:
    """Where the revocation is written: a running local stack, or a deployment."""

    def __init__(self, *, table: str | None, region: str | None, state_dir: Path) -> None:
        self.local_config: dict[str, Any] | None = None
        if table:
            self.table, self.region, self.endpoint = table, region, None
            self.where = f"table {table} in {region or 'the default Region'}"
            return
        stack_file = state_dir / "stack.json"
        try:
            endpoint = str(json.loads(stack_file.read_text())["awsEndpoint"])
            with requests.Session() as http:
                http.trust_env = False
                self.local_config = http.get(f"{endpoint}/_local/config", timeout=5).json()
        except (OSError, ValueError, KeyError, requests.RequestException):
            raise SystemExit(
                f"no make run answers for {shown(state_dir)}: start `make run`, or name a deployment's "
                "table with TABLE=<StateTableName output> [REGION=…]"
            ) from None
        assert self.local_config is not None
        self.table, self.region, self.endpoint = (
            self.local_config["stateTable"],
            self.local_config["region"],
            endpoint,
        )
        self.where = f"the local stack at {endpoint}"

    def client(self, service: str) -> Any:
        if self.endpoint is None:
            return boto3.client(service, region_name=self.region)
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint, **LOCAL_KEYS)


def revoke(target: Target, user: str) -> str:
    deleted = revoke_user(target.client("dynamodb"), target.table, user_digest(user), time.time())
    return (
        f"revoked {user} in {target.where}: every execution environment refuses them within "
        f"{2 * POLL_SECONDS:.0f} s ({deleted} shared cache entries deleted).\n"
        "Credentials and URLs handed out before stay valid until they expire (docs/revocation.md); "
        "`make revoke-sessions` ends them for everyone."
    )


def reinstate(target: Target, user: str) -> str:
    was_revoked = reinstate_user(target.client("dynamodb"), target.table, user_digest(user))
    if not was_revoked:
        return f"{user} was not revoked in {target.where}; nothing changed"
    return f"reinstated {user} in {target.where}: served again within {2 * POLL_SECONDS:.0f} s"


def revoke_sessions(target: Target, roles: list[str]) -> str:
    if not roles and target.local_config is not None:
        roles = [target.local_config["locationRoleArn"]]
    if not roles:
        raise SystemExit("name the location roles: ROLES=<role ARN or name>[,…] (the grants root's output)")
    now = datetime.now(UTC)
    cutoff = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
            }
        ],
    }
    iam = target.client("iam")
    for role in roles:
        iam.put_role_policy(
            RoleName=role.rsplit("/", 1)[-1],
            PolicyName=REVOKE_SESSIONS_POLICY,
            PolicyDocument=json.dumps(document),
        )
    # The service must not go on signing with what it cached from those sessions.
    deleted = end_shared_sessions(target.client("dynamodb"), target.table, now.timestamp())
    return (
        f"every session of {', '.join(roles)} issued before {cutoff} is denied ({target.where}): all "
        "vended credentials and presigned URLs signed with them stop working; new vends work at once "
        f"(every execution environment drops what it cached within {2 * POLL_SECONDS:.0f} s; {deleted} "
        "shared cache entries deleted)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make revoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["revoke", "reinstate", "revoke-sessions"])
    parser.add_argument("--user", default="", help="an email address or a directory user id")
    parser.add_argument("--table", default="", help="a deployment's state table (default: make run's)")
    parser.add_argument("--region", default="", help="the deployment's Region")
    parser.add_argument("--roles", default="", help="revoke-sessions: location role ARNs or names")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    user = args.user.strip()
    if args.action != "revoke-sessions" and not user:
        print(f"usage: make {args.action} USER=<email or directory user id>", file=sys.stderr)
        return 2
    target = Target(table=args.table or None, region=args.region or None, state_dir=args.state_dir)
    if args.action == "revoke":
        print(revoke(target, user))
    elif args.action == "reinstate":
        print(reinstate(target, user))
    else:
        print(revoke_sessions(target, [role.strip() for role in args.roles.split(",") if role.strip()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

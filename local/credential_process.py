#!/usr/bin/env python3
"""An AWS SDK `credential_process` that asks the vending API for S3 credentials.

Standard library only, so it runs anywhere an SDK does. The user's JWT comes from the environment
variable named by --token-env (default SHOPFAST_TOKEN) or from --token-file; it is never printed.
On success the SDK's document (`Version: 1`, keys, `Expiration`) goes to stdout; on failure a one-line
reason goes to stderr and the exit status is 1, which the SDK reports as a credential error.

    [profile shopfast-support]
    credential_process = python3 /path/to/credential_process.py --api https://api.example.com
        --target s3://shopfast-data/users/* --permission READ
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_TOKEN_ENV = "SHOPFAST_TOKEN"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="base URL of the API, e.g. http://127.0.0.1:3000")
    parser.add_argument("--target", required=True, help="s3://bucket/prefix/* or s3://bucket/key")
    parser.add_argument("--permission", default="READ", choices=["READ", "WRITE", "READWRITE"])
    parser.add_argument("--privilege", choices=["Default", "Minimal"])
    parser.add_argument("--duration", type=int, help="durationSeconds (900-43200)")
    parser.add_argument("--role", help="iam-role mode: the group or role to act as, when several apply")
    parser.add_argument("--token-env", default=DEFAULT_TOKEN_ENV, help="environment variable holding the JWT")
    parser.add_argument("--token-file", type=Path, help="file holding the JWT (when the variable is unset)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the API")
    return parser.parse_args(argv)


def read_token(args: argparse.Namespace) -> str:
    token = os.environ.get(args.token_env, "").strip()
    if not token and args.token_file is not None:
        token = args.token_file.read_text(encoding="utf-8").strip()
    if not token:
        raise SystemExit(f"credential_process: no token in ${args.token_env} or --token-file")
    return token


def request_body(args: argparse.Namespace) -> bytes:
    body: dict[str, object] = {"target": args.target, "permission": args.permission}
    if args.privilege:
        body["privilege"] = args.privilege
    if args.duration:
        body["durationSeconds"] = args.duration
    if args.role:
        body["role"] = args.role
    return json.dumps(body).encode()


def fetch_document(args: argparse.Namespace, token: str) -> dict[str, object]:
    url = args.api.rstrip("/") + "/v1/credentials?format=credential_process"
    if not url.startswith(("https://", "http://")):
        raise SystemExit("credential_process: --api must be an http(s) URL")
    request = urllib.request.Request(
        url,
        data=request_body(args),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            document = json.load(response)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"credential_process: HTTP {error.code}: {problem_detail(error)}") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        raise SystemExit(f"credential_process: {error}") from None
    if not isinstance(document, dict) or document.get("Version") != 1:
        raise SystemExit("credential_process: the API did not answer a credential_process document")
    return document


def problem_detail(error: urllib.error.HTTPError) -> str:
    try:
        problem = json.loads(error.read() or b"{}")
    except ValueError:
        return error.reason or "error"
    if isinstance(problem, dict):
        return str(problem.get("detail") or problem.get("title") or problem.get("message") or error.reason)
    return str(error.reason)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    document = fetch_document(args, read_token(args))
    sys.stdout.write(json.dumps(document) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

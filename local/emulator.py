"""`python -m local.emulator`: the emulated AWS endpoint and the OIDC issuer, seeded, in the foreground.

Prints what it serves and a last line `READY` once both listen and the seed is in place; SIGINT or
SIGTERM stops both servers and exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
HOST = "127.0.0.1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.emulator", description=__doc__)
    parser.add_argument(
        "--aws-port", type=int, default=4000, help="emulated AWS endpoint port (0 = any free port)"
    )
    parser.add_argument("--idp-port", type=int, default=3001, help="OIDC issuer port (0 = any free port)")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local", help="state folder (signing key)")
    parser.add_argument("--no-seed", action="store_true", help="start empty (no buckets, grants or users)")
    parser.add_argument(
        "--seed-directory-only",
        action="store_true",
        help="seed only the Identity Center instance and directory (users, groups), as Terraform finds it",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Werkzeug's access log would print presigned URLs, signatures included: keep it quiet.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # moto's Flask apps would answer every origin with CORS `*`; S3 CORS follows bucket configuration instead.
    os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")
    if str(ROOT / "src") not in sys.path:  # the service's package root, as SAM's CodeUri has it
        sys.path.insert(0, str(ROOT / "src"))

    from local.aws_emulator.app import EmulatorApp
    from local.aws_emulator.core.state import DATA_ACCOUNT_ID, IDENTITY_CENTER_ACCOUNT_ID
    from local.aws_emulator.seed import seed, seed_directory
    from local.aws_emulator.server import AwsEndpoint
    from local.oidc_issuer import IssuerRequestHandler
    from local.oidc_issuer import make_app as make_issuer

    try:
        faults = json.loads(os.environ.get("LOCAL_AWS_FAULTS") or "[]")
        latency_ms = int(os.environ.get("LOCAL_AWS_LATENCY_MS") or 0)
    except ValueError as error:
        print(f"LOCAL_AWS_FAULTS / LOCAL_AWS_LATENCY_MS: {error}", file=sys.stderr)
        return 2
    args.state_dir.mkdir(parents=True, exist_ok=True)
    demo_users = json.loads((ROOT / "local" / "demo-users.json").read_text())
    plan = json.loads((ROOT / "terraform" / "access-plan.json").read_text())

    app = EmulatorApp(region=REGION, faults=faults)
    aws_server = AwsEndpoint(HOST, args.aws_port, app)
    endpoint = f"http://{HOST}:{aws_server.server_port}"
    # The issuer's URL (its port) must be known before its app exists: bind first, then attach the app.
    idp_server = make_server(
        HOST,
        args.idp_port,
        lambda environ, start_response: [],
        threaded=True,
        request_handler=IssuerRequestHandler,
    )
    issuer_url = f"http://{HOST}:{idp_server.server_port}"
    idp_server.app = make_issuer(args.state_dir, issuer_url, demo_users)
    threading.Thread(target=idp_server.serve_forever, name="serve-idp", daemon=True).start()

    config: dict[str, Any] = {
        "accountId": DATA_ACCOUNT_ID,
        "identityCenterAccountId": IDENTITY_CENTER_ACCOUNT_ID,
        "region": REGION,
        "endpoint": endpoint,
        "issuer": issuer_url,
    }
    if args.seed_directory_only:
        config |= seed_directory(app, endpoint=endpoint, plan=plan, demo_users=demo_users)
    elif not args.no_seed:
        config = seed(app, endpoint=endpoint, issuer_url=issuer_url, plan=plan, demo_users=demo_users)
    app.local_config = config
    app.reset_stats()
    app.latency_ms = latency_ms  # seeding is not slowed down; clients are

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(
        f"aws endpoint: {endpoint}  (data account {DATA_ACCOUNT_ID}, Identity Center account "
        f"{IDENTITY_CENTER_ACCOUNT_ID} with keys named {IDENTITY_CENTER_ACCOUNT_ID}, region {REGION})"
    )
    print(f"oidc issuer:  {issuer_url}  (token: {issuer_url}/dev/token?user=alice@shopfast.example)")
    print(f"control api:  {endpoint}/_local/config  /_local/stats  /_local/faults  /_local/clock")
    print(f"state dir:    {args.state_dir}")
    if not args.no_seed and not args.seed_directory_only:
        regions = config.get("bucketRegions") or {}
        print(f"buckets:      {', '.join(f'{b} ({regions.get(b, REGION)})' for b in config['buckets'])}")
        print(f"users:        {', '.join(u['email'] for u in demo_users['users'])}")
        print(f"config:       {json.dumps(config)}")
    if latency_ms or faults:
        print(f"faults:       latency {latency_ms} ms on control-plane calls, {json.dumps(faults)}")
    print(f"started in {time.monotonic() - started:.2f}s")
    print("READY", flush=True)
    # A bare wait() on a lock is not woken by a signal everywhere: poll so the handler gets to run.
    while not stop.wait(0.2):
        pass
    for server in (aws_server, idp_server):
        server.shutdown()
    return 0


def run() -> None:
    code = main()
    # Tearing down moto's thousands of module objects at interpreter exit takes seconds; nothing is
    # left to flush or close once the servers stopped, so leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()

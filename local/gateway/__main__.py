"""`python -m local.gateway`: serve template.yaml's HTTP API against a running local stack."""

from __future__ import annotations

import argparse
from pathlib import Path

from local.gateway.configuration import DEFAULT_TEMPLATE
from local.gateway.environments import DEFAULT_CONCURRENCY
from local.gateway.server import run_gateway


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.gateway", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--aws-endpoint", default="http://127.0.0.1:4000", help="the running local emulator")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="a template parameter override"
    )
    parser.add_argument("--no-demo", action="store_true", help="do not serve the demo page at /")
    parser.add_argument("--ready-file", type=Path, help="written with the URL once listening")
    parser.add_argument("--audit-log", type=Path, help="also append every audit record here (JSON lines)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"execution environments per function, at most (default {DEFAULT_CONCURRENCY})",
    )
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.parameter:
        name, separator, value = item.partition("=")
        if not separator:
            parser.error(f"--parameter {item!r} must be NAME=VALUE")
        overrides[name] = value
    run_gateway(
        port=args.port,
        aws_endpoint=args.aws_endpoint,
        template=args.template,
        overrides=overrides,
        demo=not args.no_demo,
        ready_file=args.ready_file,
        audit_log=args.audit_log,
        concurrency=args.concurrency,
    )


if __name__ == "__main__":
    main()

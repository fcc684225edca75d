"""PyIceberg as a user runs it against the service: a SQL catalog on SQLite whose warehouse is in S3,
every S3 request signed by the service's `POST /v1/aws/s3/sign` (PyIceberg's `S3V4RestSigner` on its
fsspec FileIO) with the user's token; PyIceberg never holds an AWS key.

Run by tests/gateway/test_iceberg.py with the data-tools interpreter (.tools/data-tools, pinned in
tests/peers/requirements.txt), never imported by the suite. The token comes from SHOPFAST_TOKEN (not the
command line, which other processes can read). Prints one JSON document: {"rows": [...]} or, when
PyIceberg fails, {"error": <exception class>, "message": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog

WAREHOUSE = "s3://shopfast-data/feedback/iceberg/"
TABLE = "feedback.ratings"
SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("comment", pa.string())])


def catalog(database: Path, api: str, s3_endpoint: str) -> SqlCatalog:
    return SqlCatalog(
        "shopfast",
        **{
            "uri": f"sqlite:///{database}",
            "warehouse": WAREHOUSE,
            "py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO",  # the FileIO that speaks the signer protocol
            "s3.endpoint": s3_endpoint,
            "s3.region": "us-east-1",
            "s3.signer": "S3V4RestSigner",
            "s3.signer.uri": api,  # POST {s3.signer.uri}/v1/aws/s3/sign
            "token": os.environ["SHOPFAST_TOKEN"],
        },
    )


def run(action: str, rows: list[dict[str, Any]], shop: SqlCatalog) -> list[dict[str, Any]]:
    if action == "create":
        shop.create_namespace_if_not_exists("feedback")
        shop.create_table(TABLE, schema=SCHEMA)
        return []
    table = shop.load_table(TABLE)
    if action == "append":
        table.append(pa.Table.from_pylist(rows, schema=SCHEMA))
    return sorted(table.scan().to_arrow().to_pylist(), key=lambda row: row["id"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["create", "append", "scan"])
    parser.add_argument("--catalog", type=Path, required=True, help="the SQLite file of the catalog")
    parser.add_argument("--api", required=True, help="the service's base URL")
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--rows", default="[]", help="JSON rows to append")
    args = parser.parse_args()
    try:
        rows = run(args.action, json.loads(args.rows), catalog(args.catalog, args.api, args.s3_endpoint))
    except Exception as error:  # what PyIceberg raised is the test's subject, not a crash
        print(json.dumps({"error": type(error).__name__, "message": str(error)[:2000]}))
        return 0
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

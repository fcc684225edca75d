"""The recipes of docs/data-tools.md, as a user runs them: one data tool reads one object with the
credentials the service vended (in the standard AWS_* environment variables, as the credentials document
or a credential_process profile provides them) from the S3 endpoint in AWS_ENDPOINT_URL.

Run by tests/gateway/test_data_tools.py with the data-tools interpreter (.tools/data-tools, pinned in
tests/peers/requirements.txt), never imported by the suite. Prints one JSON document: {"rows": [...]}
or, when the tool fails, {"error": <exception class>, "message": ...}.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "")  # the emulator locally; unset on AWS


def with_pyarrow(url: str) -> list[dict[str, Any]]:
    import pyarrow.fs
    import pyarrow.parquet

    endpoint = urlsplit(ENDPOINT)
    s3 = pyarrow.fs.S3FileSystem(  # keys from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
        region=os.environ["AWS_REGION"], endpoint_override=endpoint.netloc, scheme=endpoint.scheme
    )
    return pyarrow.parquet.read_table(url.removeprefix("s3://"), filesystem=s3).to_pylist()


def with_duckdb(url: str) -> list[dict[str, Any]]:
    import duckdb
    import s3fs

    # DuckDB reads through any fsspec filesystem (no extension to download); httpfs is the other way.
    connection = duckdb.connect()
    connection.register_filesystem(s3fs.S3FileSystem())
    result = connection.execute("SELECT * FROM read_parquet(?) ORDER BY 1", [url])
    columns = [column[0] for column in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def with_polars(url: str) -> list[dict[str, Any]]:
    import polars

    # object_store reads AWS_* (keys, Region, AWS_ENDPOINT_URL); plain http needs aws_allow_http.
    frame = polars.read_parquet(url, storage_options={"aws_allow_http": str(ENDPOINT.startswith("http:"))})
    return frame.to_dicts()


def with_s3fs(url: str) -> list[dict[str, Any]]:
    import pyarrow.parquet
    import s3fs

    with s3fs.S3FileSystem().open(url, "rb") as data:
        return pyarrow.parquet.read_table(data).to_pylist()


SAMPLE = [{"id": 1, "rating": 5, "comment": "fast"}, {"id": 2, "rating": 3, "comment": None}]


def sample_parquet() -> bytes:
    """SAMPLE as a Parquet file: what the test stores for the tools to read."""
    import pyarrow
    import pyarrow.parquet

    sink = pyarrow.BufferOutputStream()
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(SAMPLE), sink)
    return bytes(sink.getvalue().to_pybytes())


TOOLS: dict[str, Callable[[str], list[dict[str, Any]]]] = {
    "pyarrow": with_pyarrow,
    "duckdb": with_duckdb,
    "polars": with_polars,
    "s3fs": with_s3fs,
}


def main() -> int:
    if sys.argv[1] == "sample":
        sys.stdout.buffer.write(sample_parquet())
        return 0
    tool, url = sys.argv[1], sys.argv[2]
    try:
        rows = TOOLS[tool](url)
    except Exception as error:  # the tool's refusal is the test's subject, not a crash
        print(json.dumps({"error": type(error).__name__, "message": str(error)[:2000]}))
        return 0
    print(json.dumps({"rows": rows}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

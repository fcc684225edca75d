"""POST /v1/aws/s3/sign: Iceberg's S3SignRequest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.remote_signing import S3RequestToSign
from edge import contract
from edge.requests.decode import decode


def parse_sign_request(body: Mapping[str, Any]) -> S3RequestToSign:
    request = decode(contract.S3SignRequest, body)
    return S3RequestToSign(
        region=request.region,
        uri=request.uri,
        method=request.method,
        headers=request.headers,
        body=request.body,
    )

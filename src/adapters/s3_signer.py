"""The S3 request signer: presigned URLs and POST policies signed locally with vended credentials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
from botocore import UNSIGNED
from botocore.auth import S3SigV4PostAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials

from adapters import sigv4
from adapters.loopback import is_loopback_url
from adapters.sigv4 import SigningKeys
from domain.credentials import AwsCredentials
from domain.signing import PresignedRequest, PresignItem, content_disposition
from domain.targets import GrantTarget


class S3Presigner:
    """Adapter: signs S3 requests locally with given credentials (SigV4 query auth, no AWS call), for the
    bucket's Region (its host and its credential scope).

    botocore's `generate_presigned_url` resolves the endpoint ruleset, validates parameters and runs
    the event hooks for every URL (~0.4 ms each). Here each bucket's URL is resolved once, by an
    unsigned S3 client of its Region (path-style on a loopback endpoint, elsewhere botocore's
    addressing), and each URL is signed by `adapters.sigv4` with a signing key derived once per credentials,
    day and Region: the same URL as botocore's, byte for byte (tests/unit/test_presign_parts.py and
    tests/unit/test_sigv4.py compare them), at a fraction of the cost.
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        session: botocore.session.Session | None = None,
        clients: dict[str, Any] | None = None,
        max_buckets: int = 256,
    ) -> None:
        self._endpoint_url = endpoint_url
        # Only resolve bucket URLs (one per Region, created on first use); they never send anything.
        # One botocore session for all of them, best the AWS gateway's: each session loads S3's model again
        # (~11 MB of JSON).
        self._session = session
        self._clients: dict[str, Any] = dict(clients or {})
        self._bucket_parts: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._max_buckets = max_buckets
        self._signing_keys = SigningKeys()

    def prime_bucket(self, bucket: str, region: str) -> None:
        """Resolve the bucket's URL now (SnapStart priming; no AWS call)."""
        self._bucket_origin(bucket, region)

    def _bucket_origin(self, bucket: str, region: str) -> tuple[str, str, str]:
        """(scheme://netloc, Host header, path) of the bucket's URL; the URL itself is origin + path."""
        parts = self._bucket_parts.get((region, bucket))
        if parts is None:
            split = urlsplit(self._resolve_bucket_url(bucket, region))
            host = split.hostname or ""
            if split.port is not None and split.port != {"http": 80, "https": 443}.get(split.scheme):
                host = f"{host}:{split.port}"
            parts = (f"{split.scheme}://{split.netloc}", host, split.path)
            if len(self._bucket_parts) >= self._max_buckets:
                self._bucket_parts.clear()
            self._bucket_parts[(region, bucket)] = parts
        return parts

    def _resolve_bucket_url(self, bucket: str, region: str) -> str:
        client = self._clients.get(region)
        if client is None:
            self._session = self._session or botocore.session.Session()
            client = self._clients[region] = _unsigned_s3_client(self._session, region, self._endpoint_url)
        object_url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}
        )
        url = object_url.removesuffix(f"/{_PROBE_KEY}")
        if url == object_url:  # not the shape botocore builds today: refuse rather than guess
            raise RuntimeError(f"unexpected S3 object URL for bucket {bucket!r}")
        return url

    def presign(
        self, request: PresignItem, credentials: AwsCredentials, expires_in: int, region: str
    ) -> PresignedRequest:
        target = request.grant_target
        if request.method == "POST":
            assert request.max_bytes is not None
            return self.post_policy(
                target, credentials, expires_in, region, request.max_bytes, request.content_type
            )
        params: dict[str, str] = {}
        headers: dict[str, str] = {}
        if request.method == "GET":
            if request.filename:
                params["response-content-disposition"] = content_disposition(request.filename)
        else:
            # Signed: S3 refuses another type, or another size.
            if request.content_type:
                headers["Content-Type"] = request.content_type
            if request.content_length is not None:
                headers["Content-Length"] = str(request.content_length)
        return self.sign(request.method, target, credentials, expires_in, region, params, headers)

    def sign(
        self,
        method: str,
        target: GrantTarget,
        credentials: AwsCredentials,
        expires_in: int,
        region: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PresignedRequest:
        """A presigned `method` request on the object `target` (query `params` and `headers` signed)."""
        origin, host, base_path = self._bucket_origin(target.bucket, region)
        signed_at = datetime.now(UTC).replace(microsecond=0)
        url = sigv4.presign(
            method=method,
            origin=origin,
            host=host,
            # The key as botocore puts it in the path (its `percent_encode(key, safe="/~")`).
            path=f"{base_path}/{quote(target.key, safe='/~')}",
            params=params or {},
            headers=headers or {},
            access_key=credentials.access_key_id,
            secret_key=credentials.secret_access_key,
            token=credentials.session_token,
            region=region,
            service="s3",
            expires=expires_in,
            now=signed_at,
            keys=self._signing_keys,
        )
        # S3 stops honouring the URL at X-Amz-Date + X-Amz-Expires.
        return PresignedRequest(
            url=url,
            method=method,
            headers=dict(headers or {}),
            expires_at=signed_at + timedelta(seconds=expires_in),
        )

    def sign_headers(
        self,
        *,
        method: str,
        host: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        payload_hash: str,
        credentials: AwsCredentials,
        region: str,
    ) -> dict[str, str]:
        return sigv4.sign_headers(
            method=method,
            host=host,
            path=path,
            query=query,
            headers=headers,
            payload_hash=payload_hash,
            access_key=credentials.access_key_id,
            secret_key=credentials.secret_access_key,
            token=credentials.session_token,
            region=region,
            service="s3",
            now=datetime.now(UTC).replace(microsecond=0),
            keys=self._signing_keys,
        )

    def post_policy(
        self,
        target: GrantTarget,
        credentials: AwsCredentials,
        expires_in: int,
        region: str,
        max_bytes: int,
        content_type: str | None,
    ) -> PresignedRequest:
        """A browser form upload (S3 "POST Object") to the object `target`, or to any key under the prefix
        `target`, of at most `max_bytes`: the policy document and its SigV4 signature, by botocore's
        `S3SigV4PostAuth` (what `generate_presigned_post` uses), with the conditions of boto3's own
        `generate_presigned_post` (bucket, key) plus size, type and the signing fields."""
        fields: dict[str, str] = {}
        conditions: list[Any] = [{"bucket": target.bucket}]
        if target.is_prefix:
            conditions.append(["starts-with", "$key", target.key])
        else:
            fields["key"] = target.key
            conditions.append({"key": target.key})
        conditions.append(["content-length-range", 0, max_bytes])
        if content_type:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in)
        policy = {"expiration": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "conditions": conditions}
        origin, _, path = self._bucket_origin(target.bucket, region)
        aws_request = AWSRequest(method="POST", url=f"{origin}{path}")
        aws_request.context["s3-presign-post-fields"] = fields
        aws_request.context["s3-presign-post-policy"] = policy
        S3SigV4PostAuth(_signing_keys(credentials), "s3", region).add_auth(aws_request)
        return PresignedRequest(
            url=f"{origin}{path}",
            method="POST",
            headers={},
            expires_at=expires_at,
            fields=aws_request.context["s3-presign-post-fields"],
            max_bytes=max_bytes,
        )


def _signing_keys(credentials: AwsCredentials) -> ReadOnlyCredentials:
    return ReadOnlyCredentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )


_PROBE_KEY = "probe"


def _unsigned_s3_client(session: botocore.session.Session, region: str, endpoint_url: str | None) -> Any:
    # A loopback endpoint has no per-bucket host names; elsewhere botocore picks the addressing.
    config = (
        Config(signature_version=UNSIGNED, s3={"addressing_style": "path"})
        if is_loopback_url(endpoint_url)
        else Config(signature_version=UNSIGNED)
    )
    return session.create_client("s3", region_name=region, endpoint_url=endpoint_url, config=config)

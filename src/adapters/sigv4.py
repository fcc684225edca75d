"""SigV4 signing of S3 requests, in the query string (presigned URLs) or in headers (Iceberg's remote
signing), with the signing key derived once and reused.

botocore's `S3SigV4QueryAuth` rebuilds everything for every URL: an `AWSRequest`, URL splitting and
re-joining, header maps, and the signing key (four HMACs) from the secret. AWS's JavaScript and Java SDKs
cache the signing key per credentials, date, Region and service; the SigV4 specification makes it valid
for the whole UTC day of its date ("Create a signing key", AWS General Reference). What must remain per
URL is the canonical request, one SHA-256 and one HMAC.

The output is byte for byte what botocore's `S3SigV4QueryAuth` produces for the same request and instant
(same query order, `percent_encode` with `-_.~` safe, sorted canonical query over the encoded pairs,
`host` without a default port, trimmed header values, `UNSIGNED-PAYLOAD`); tests/unit/test_sigv4.py
checks thousands of random cases against botocore, and the integration tests send the URLs to S3 (the
emulator), which recomputes them with botocore. Written here because botocore offers no way to reuse a
derived key or to skip its request machinery.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_SAFE = "-_.~"
# botocore drops this auto-set content type from presigned requests (SigV4QueryAuth).
_DROPPED_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
MAX_SIGNING_KEYS = 256


def _encode(value: str) -> str:
    return quote(value.encode("utf-8"), safe=_SAFE)


@lru_cache(maxsize=1024)
def _encoded(value: str) -> str:
    """`_encode` of a value that repeats from URL to URL: the credential scope, the date (to the second),
    the expiry, the signed headers and the session token (~1 KB, the same for every URL of a session)."""
    return _encode(value)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


@lru_cache(maxsize=16)
def _signature(canonical_request: str, amz_date: str, scope: str, signing_key: bytes) -> str:
    """SigV4's last two steps: the string to sign over the canonical request's digest, and its HMAC."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
    return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _amz_date(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")  # the URLs of a batch are signed within a second or two


class SigningKeys:
    """Derived SigV4 signing keys by (secret key, date, Region, service): four HMACs once, not per URL.

    Bounded; a full cache is emptied (keys are cheap to derive again, and a day's keys are few)."""

    def __init__(self, max_keys: int = MAX_SIGNING_KEYS) -> None:
        self._keys: dict[tuple[str, str, str, str], bytes] = {}
        self._max_keys = max_keys

    def key(self, secret_key: str, date: str, region: str, service: str) -> bytes:
        cache_key = (secret_key, date, region, service)
        found = self._keys.get(cache_key)
        if found is None:
            k_date = _hmac(f"AWS4{secret_key}".encode(), date)
            found = _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")
            if len(self._keys) >= self._max_keys:
                self._keys.clear()
            self._keys[cache_key] = found
        return found

    def __len__(self) -> int:
        return len(self._keys)


def presign(
    *,
    method: str,
    origin: str,
    host: str,
    path: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    access_key: str,
    secret_key: str,
    token: str | None,
    region: str,
    service: str,
    expires: int,
    now: datetime,
    keys: SigningKeys,
) -> str:
    """The presigned URL `origin + path + ?query` of a `method` request (`path` already URL-encoded, `host`
    as the Host header is: no default port), valid `expires` seconds from `now` (UTC)."""
    amz_date = _amz_date(now)
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    signed: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "content-type" and value == _DROPPED_CONTENT_TYPE:
            continue
        signed[lowered] = value
    signed.setdefault("host", host)
    names = sorted(signed)
    signed_headers = ";".join(names)
    auth = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{access_key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", signed_headers),
    ]
    pairs = [(_encode(name), _encode(value)) for name, value in params.items()]
    pairs += [(name, _encoded(value)) for name, value in auth]  # the names need no encoding
    if token is not None:
        pairs.append(("X-Amz-Security-Token", _encoded(token)))
    query = "&".join(f"{name}={value}" for name, value in pairs)
    canonical_request = "\n".join(
        (
            method,
            path,
            "&".join(f"{name}={value}" for name, value in sorted(pairs)),
            "\n".join(f"{name}:{' '.join(signed[name].split())}" for name in names) + "\n",
            signed_headers,
            UNSIGNED_PAYLOAD,
        )
    )
    signature = _signature(canonical_request, amz_date, scope, keys.key(secret_key, date, region, service))
    return f"{origin}{path}?{query}&X-Amz-Signature={signature}"


def sign_headers(
    *,
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    payload_hash: str,
    access_key: str,
    secret_key: str,
    token: str | None,
    region: str,
    service: str,
    now: datetime,
    keys: SigningKeys,
) -> dict[str, str]:
    """The headers that sign a `method` request (SigV4 in the Authorization header) to `host` + `path`
    (`path` URI-encoded as sent; `query` decoded pairs; `headers` lowercase names, all of them signed;
    `host` as the Host header is: no default port): Authorization, X-Amz-Date, X-Amz-Content-SHA256 and,
    with a session, X-Amz-Security-Token."""
    amz_date = _amz_date(now)
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    signed = dict(headers)
    signed["host"] = host
    signed["x-amz-date"] = amz_date
    signed["x-amz-content-sha256"] = payload_hash
    if token is not None:
        signed["x-amz-security-token"] = token
    names = sorted(signed)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        (
            method,
            path,
            "&".join(f"{name}={value}" for name, value in sorted((_encode(n), _encode(v)) for n, v in query)),
            "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names),
            signed_headers,
            payload_hash,
        )
    )
    signature = _signature(canonical_request, amz_date, scope, keys.key(secret_key, date, region, service))
    answer = {
        "Authorization": f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_headers}, "
        f"Signature={signature}",
        "X-Amz-Date": amz_date,
        "X-Amz-Content-SHA256": payload_hash,
    }
    if token is not None:
        answer["X-Amz-Security-Token"] = token
    return answer

"""How the security suite talks to the service, and what it remembers for the leak scan.

Two ways in: `ApiClient` over HTTP through the local gateway (its JWT authorizer first, like API
Gateway), and `DirectInvoker` calling a Lambda handler in-process with an HTTP API v2 event, as
`sam local invoke` does (no authorizer in front: the Lambda's own verification is all there is).

Both record what the suite saw in a `SeenSecrets`: every bearer token sent, every secret access
key, session token and URL signature received, and every error body. The last test of the suite
scans every log for all of them.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

# Environment variable through which test_fuzz hands the schemathesis checks (fuzz_checks.py, loaded
# by the `st` child process only) a forged token to replay requests with.
FORGED_TOKEN_VARIABLE = "SECURITY_SUITE_FORGED_TOKEN"
# Fragments shorter than this are too common to prove a leak (and could match by chance).
MIN_SECRET_LENGTH = 16
# Presigned POST form fields carry the session token and the signature too.
_SECRET_FIELDS = {
    "secretAccessKey",
    "sessionToken",
    "SecretAccessKey",
    "SessionToken",
    "x-amz-signature",
    "x-amz-security-token",
}
_SIGNATURE_PARAMS = {"X-Amz-Signature", "X-Amz-Security-Token", "Signature", "x-amz-security-token"}


@dataclass
class SeenSecrets:
    """Every secret the suite saw, with where it came from, plus every error body it received."""

    secrets: dict[str, str] = field(default_factory=dict)  # value -> provenance
    error_bodies: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, value: Any, provenance: str) -> None:
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            with self._lock:
                self.secrets.setdefault(value, provenance)

    def add_authorization(self, headers: Mapping[str, str], provenance: str) -> None:
        """The token of an `Authorization: Bearer` header, genuine or forged, if it looks like a JWT."""
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and "." in token:
            self.add_token(token.strip(), provenance)

    def add_token(self, token: str, provenance: str) -> None:
        """A bearer token: the whole of it, its signing input and its signature are each a leak."""
        self.add(token, provenance)
        parts = token.split(".")
        if len(parts) == 3:
            self.add(f"{parts[0]}.{parts[1]}", f"{provenance} (signing input)")
            self.add(parts[2], f"{provenance} (signature)")

    def add_from_response(self, status: int, body_text: str, provenance: str) -> None:
        if status >= 400:
            with self._lock:
                self.error_bodies.append(body_text)
        try:
            document = json.loads(body_text)
        except ValueError:
            return
        for key, value in _walk(document):
            if key in _SECRET_FIELDS:
                self.add(value, f"{provenance}: {key}")
            elif key == "url" and isinstance(value, str):
                self.add_presigned_url(value, provenance)

    def add_presigned_url(self, url: str, provenance: str) -> None:
        for name, values in parse_qs(urlsplit(url).query).items():
            if name in _SIGNATURE_PARAMS:
                for value in values:
                    self.add(value, f"{provenance}: URL {name}")

    def __len__(self) -> int:
        return len(self.secrets)


def _walk(document: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(document, Mapping):
        for key, value in document.items():
            yield str(key), value
            yield from _walk(value)
    elif isinstance(document, list):
        for item in document:
            yield from _walk(item)


class ApiClient:
    """HTTP through the gateway; records tokens sent and secrets/error bodies received."""

    def __init__(self, base_url: str, seen: SeenSecrets) -> None:
        self.base_url = base_url.rstrip("/")
        self.seen = seen
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
        **kwargs: Any,
    ) -> requests.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        self.seen.add_authorization(sent, f"bearer token sent to {method} {path}")
        url = f"{self.base_url}{path}"
        response = self.session.request(method, url, headers=sent, timeout=timeout, **kwargs)
        self.seen.add_from_response(response.status_code, response.text, f"{method} {path}")
        return response


@dataclass
class DirectResponse:
    status: int
    headers: dict[str, str]
    body: str
    remaining_ms: int  # the Lambda's remaining time when the handler returned

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        lowered = {key.lower(): value for key, value in self.headers.items()}
        return lowered.get(name.lower())


class DirectInvoker:
    """Calls a handler like `sam local invoke` (an HTTP API v2 event, no authorizer in front) inside a
    `lambda_host` process, whose environment variables and module state belong to it alone."""

    def __init__(self, host_url: str, seen: SeenSecrets) -> None:
        self.host_url = host_url
        self.seen = seen
        self._session = requests.Session()

    def invoke(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        authorization: str | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        claims: dict[str, Any] | None = None,
        timeout_seconds: float = 10.0,
    ) -> DirectResponse:
        sent = dict(headers or {})
        if token is not None:
            authorization = f"Bearer {token}"
        if authorization is not None:
            sent["authorization"] = authorization
        self.seen.add_authorization(sent, f"bearer token sent directly to {method} {path}")
        request = {
            "method": method,
            "path": path,
            "headers": sent,
            "query": query,
            "body": None if isinstance(body, bytes) else body,
            "bodyBase64": base64.b64encode(body).decode() if isinstance(body, bytes) else None,
            "claims": claims,
            "timeoutSeconds": timeout_seconds,
        }
        answer = self._session.post(f"{self.host_url}/invoke", json=request, timeout=timeout_seconds + 30)
        assert answer.status_code == 200, f"the handler crashed instead of answering: {answer.text}"
        result = answer.json()["result"]
        text = result.get("body") or ""
        self.seen.add_from_response(result["statusCode"], text, f"direct {method} {path}")
        headers_out = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        return DirectResponse(result["statusCode"], headers_out, text, answer.json()["remainingMs"])

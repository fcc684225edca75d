"""The issuer's signing keys (JWKS) for one execution environment: found through OpenID Connect discovery
or configured, fetched within the invocation's time, cached with rotation (an unknown `kid` refetches,
at most once per cool-down) and last-known-good keys served while the endpoint is down.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from domain.audit import logger
from domain.deadline import invocation_deadline
from domain.errors import ServiceUnavailable, Unauthorized

MAX_JWKS_BYTES = 256 * 1024
JWKS_MAX_AGE_SECONDS = 3600
# An unknown `kid` triggers at most one JWKS refetch per cool-down, however many such tokens arrive.
UNKNOWN_KID_REFETCH_COOLDOWN_SECONDS = 60
# With no keys at all (cold start while the endpoint is down) retry no more often than this.
COLD_RETRY_SECONDS = 5
FETCH_TIMEOUT_SECONDS = 2.0
MIN_FETCH_TIMEOUT_SECONDS = 0.2
# A key id as a JWS header may name it: printable ASCII, bounded.
KID = re.compile(r"^[\x21-\x7e]{1,256}$")

Fetch = Callable[[str, float], bytes]


def discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 §4: a terminating '/' of the issuer is removed before the suffix."""
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


def _read_url(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - configured URL
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked in config
        body: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("response too large")
    return body


def _default_fetch(url: str, timeout: float) -> bytes:
    """GET `url` within `timeout` seconds in all. A socket timeout bounds each read only: an endpoint
    trickling its answer byte by byte would otherwise hold the request past its budget. The fetch runs
    in a daemon thread that is abandoned (and finishes on its own) when the time is up."""
    outcome: dict[str, Any] = {}

    def fetch() -> None:
        try:
            outcome["body"] = _read_url(url, timeout)
        except Exception as error:  # noqa: BLE001 - re-raised in the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=fetch, name="jwks-fetch", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError("the JWKS endpoint did not answer within the time budget")
    if "error" in outcome:
        raise outcome["error"]
    body: bytes = outcome["body"]
    return body


class JwksCache:
    """The issuer's signing keys by `kid`, with rotation and last-known-good behaviour."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        fetch: Fetch = _default_fetch,
        # Wall-clock time: the keys' age must stay true across a SnapStart snapshot and restore, which a
        # monotonic clock does not promise.
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._last_unknown_kid_refetch: float | None = None
        self.generation = 0  # changes whenever the published key set does

    def key_for(self, kid: str) -> dict[str, Any]:
        """The JWK for `kid`; 401 if the issuer does not publish it, 503 if no keys can be had."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > JWKS_MAX_AGE_SECONDS
            if kid not in self._keys:
                if not self._keys:
                    if self._last_attempt is None or now - self._last_attempt >= COLD_RETRY_SECONDS:
                        self._refresh(now)
                elif (
                    self._last_unknown_kid_refetch is None
                    or now - self._last_unknown_kid_refetch >= UNKNOWN_KID_REFETCH_COOLDOWN_SECONDS
                ):
                    self._last_unknown_kid_refetch = now
                    self._refresh(now)
            elif stale and (self._last_attempt is None or now - self._last_attempt >= COLD_RETRY_SECONDS):
                self._refresh(now)
            if not self._keys:
                raise ServiceUnavailable(
                    "the token signing keys are unavailable", retry_after=COLD_RETRY_SECONDS
                )
            key = self._keys.get(kid)
            if key is None:
                raise Unauthorized("token signed with an unknown key")
            return key

    def prefetch(self) -> None:
        """Fetch the keys now (SnapStart priming); a failure leaves the first request to fetch them."""
        with self._lock:
            if not self._keys:
                self._refresh(self._clock())

    def _timeout(self) -> float:
        deadline = invocation_deadline.get()
        timeout = FETCH_TIMEOUT_SECONDS
        if deadline is not None:
            timeout = min(timeout, deadline.remaining())
        if timeout < MIN_FETCH_TIMEOUT_SECONDS:
            raise ServiceUnavailable("no time left to fetch the token signing keys")
        return timeout

    def _jwks_location(self) -> str:
        if self._jwks_url is None:
            discovery = json.loads(self._fetch(discovery_url(self._issuer), self._timeout()))
            if not isinstance(discovery, dict) or discovery.get("issuer") != self._issuer:
                raise ValueError("discovery document names another issuer")
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise ValueError("discovery document has no usable jwks_uri")
            self._jwks_url = jwks_uri
        return self._jwks_url

    def _refresh(self, now: float) -> None:
        self._last_attempt = now
        try:
            document = json.loads(self._fetch(self._jwks_location(), self._timeout()))
            keys = _usable_keys(document)
        except (OSError, ValueError, urllib.error.URLError) as error:
            # Keep serving the last-known-good keys; the log says why without any token material.
            logger.warning("JWKS refresh failed", extra={"errorType": type(error).__name__})
            return
        if keys:
            if keys != self._keys:
                self.generation += 1
            self._keys = keys
            self._fetched_at = now


def _usable_keys(document: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")  # noqa: TRY004 - handled like malformed JSON
    keys: dict[str, dict[str, Any]] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not KID.match(kid) or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("kty") not in {"RSA", "EC"} or "d" in jwk:
            continue
        keys[kid] = jwk
    return keys

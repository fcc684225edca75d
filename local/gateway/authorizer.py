"""API Gateway's HTTP API JWT authorizer, emulated.

Behaviour follows the API Gateway developer guide ("Control access to HTTP APIs with JWT
authorizers"): the token comes from the identity source (a leading `Bearer ` is accepted); the
issuer's signing keys come from `<issuer>/.well-known/openid-configuration` → `jwks_uri`; the
token must carry a `kid` naming one of those keys, use an RSA algorithm and verify; `exp` must be
present and in the future, `nbf` and `iat` (when present) in the past; `iss` must equal the
configured issuer; `aud` (or `client_id` when there is no `aud`) must be one of the configured
audiences; route scopes, when configured, must appear in `scope`/`scp`. A refusal is
401 `{"message":"Unauthorized"}` (403 `Forbidden` for missing scopes) with a `www-authenticate`
challenge, and the Lambda never runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from local.gateway.template import JwtAuthorizer

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
JWKS_REFETCH_INTERVAL_SECONDS = 5.0  # an unknown kid refetches the keys at most this often
HTTP_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Refusal:
    status: int  # 401, or 403 for missing scopes
    description: str | None  # None: no token at all, so the challenge carries no error

    @property
    def message(self) -> str:
        return "Unauthorized" if self.status == 401 else "Forbidden"

    @property
    def challenge(self) -> str:
        if self.description is None:
            return "Bearer"
        error = "invalid_token" if self.status == 401 else "insufficient_scope"
        return f'Bearer scope="" error="{error}" error_description="{self.description}"'


@dataclass(frozen=True)
class Authorized:
    claims: dict[str, Any]
    scopes: tuple[str, ...]


class _IssuerKeys:
    """The issuer's JWKS, found through OIDC discovery and refreshed when an unknown kid appears."""

    def __init__(self, issuer: str) -> None:
        self._issuer = issuer.rstrip("/")
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._http = requests.Session()
        self._http.trust_env = False  # the issuer is on loopback: no proxy from the environment

    def key(self, kid: str) -> Any | None:
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= JWKS_REFETCH_INTERVAL_SECONDS:
                self._refresh()
            return self._keys.get(kid)

    def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            discovery = self._http.get(
                f"{self._issuer.rstrip('/')}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT_SECONDS
            )
            discovery.raise_for_status()
            jwks = self._http.get(discovery.json()["jwks_uri"], timeout=HTTP_TIMEOUT_SECONDS)
            jwks.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(jwks.json())
        except (requests.RequestException, ValueError, KeyError, jwt.PyJWKSetError):
            return  # keep the last known keys; tokens signed with unknown keys are refused
        self._keys = {key.key_id: key.key for key in key_set.keys if key.key_id}


class JwtAuthorizerEmulator:
    def __init__(self, authorizer: JwtAuthorizer) -> None:
        self._authorizer = authorizer
        self._keys = _IssuerKeys(authorizer.issuer)

    def authorize(
        self, headers: dict[str, str], query: dict[str, str], required_scopes: tuple[str, ...]
    ) -> Authorized | Refusal:
        token = self._identity(headers, query)
        if not token:
            return Refusal(401, None)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return Refusal(401, "the token is not a valid JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            return Refusal(401, "the token has no kid header")
        if header.get("alg") not in RSA_ALGORITHMS:
            return Refusal(401, "the token is not signed with a supported algorithm")
        key = self._keys.key(kid)
        if key is None:
            return Refusal(401, "the token's kid does not match a key of the issuer")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(RSA_ALGORITHMS),
                options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
            )
        except jwt.ExpiredSignatureError:
            return Refusal(401, "the token has expired")
        except jwt.ImmatureSignatureError:
            return Refusal(401, "the token is not yet valid")
        except jwt.MissingRequiredClaimError:
            return Refusal(401, "the token has no exp claim")
        except jwt.PyJWTError:
            return Refusal(401, "the token's signature is invalid")
        if claims.get("iss") != self._authorizer.issuer:
            return Refusal(401, "the token does not have a valid issuer")
        if not self._audience_matches(claims):
            return Refusal(401, "the token does not have a valid audience")
        scopes = _scopes(claims)
        if required_scopes and not set(required_scopes) & set(scopes):
            return Refusal(403, "the token does not have the required scope")
        return Authorized(claims, scopes)

    def _identity(self, headers: dict[str, str], query: dict[str, str]) -> str | None:
        _, source, name = self._authorizer.identity_source.split(".", 2)
        value = headers.get(name.lower()) if source == "header" else query.get(name)
        if value is None:
            return None
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "bearer":
            return rest.strip() or None
        return value.strip() or None

    def _audience_matches(self, claims: dict[str, Any]) -> bool:
        # API Gateway checks client_id only when there is no aud (Cognito access tokens).
        audience = claims.get("aud", claims.get("client_id"))
        presented = audience if isinstance(audience, list) else [audience]
        return any(isinstance(a, str) and a in self._authorizer.audiences for a in presented)


def _scopes(claims: dict[str, Any]) -> tuple[str, ...]:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return tuple(raw.split())
    if isinstance(raw, list):
        return tuple(str(item) for item in raw)
    return ()

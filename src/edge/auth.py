"""JWT verification in the Lambda (defense in depth: `sam local invoke` runs no authorizer).

Strict by construction: `Authorization: Bearer` only, a size limit, the header parsed by us (algorithm
allow-list, `kid` required, no token-supplied key locations), duplicate JSON keys refused, `iss` exact,
`aud`, `exp`/`nbf`/`iat` numeric with a small leeway, `exp - iat` bounded. Keys come only from the
configured issuer's JWKS (`edge.jwks`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from typing import Any

import jwt

from domain.cache import TtlCache
from domain.caller import Caller
from domain.config import EMAIL_CLAIM, ServiceConfig
from domain.errors import Unauthorized
from edge.jwks import KID, JwksCache

MAX_TOKEN_BYTES = 8192
VERIFIED_TTL_SECONDS = 60
MAX_VERIFIED_TOKENS = 1024
_ALLOWED_HEADER_FIELDS = frozenset({"alg", "kid", "typ", "cty"})
_ALLOWED_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_KEY_TYPE_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise Unauthorized("duplicate claim in token")
        result[key] = value
    return result


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    if not _BASE64URL.match(segment):
        raise Unauthorized(f"malformed token {what}")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except Unauthorized:
        raise
    except (binascii.Error, ValueError, RecursionError):
        raise Unauthorized(f"malformed token {what}") from None
    if not isinstance(value, dict):
        raise Unauthorized(f"malformed token {what}")
    return value


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token from `Authorization: Bearer <token>`; 401 for anything else."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not value:
        raise Unauthorized("an Authorization: Bearer token is required")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("an Authorization: Bearer token is required")
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthorized("token too large")
    return token


class JwtVerifier:
    """Verifies tokens; a token that verified recently is recognised without redoing the signature check
    (bounded, at most VERIFIED_TTL_SECONDS, never past its `exp`, forgotten when the key set changes)."""

    def __init__(self, config: ServiceConfig, jwks: JwksCache | None = None) -> None:
        self._config = config
        self._jwks = jwks or JwksCache(config.jwt_issuer, config.jwt_jwks_url)
        self._verified: TtlCache[Caller] = TtlCache(MAX_VERIFIED_TOKENS)
        self._verified_generation = self._jwks.generation

    def verify(self, token: str) -> Caller:
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("token too large")
        if self._verified_generation != self._jwks.generation:
            self._verified.clear()
            self._verified_generation = self._jwks.generation
        known = self._verified.get(token)
        if known is not None:
            return known
        caller = self._verify_signed(token)
        if self._verified_generation == self._jwks.generation:
            self._verified.put(token, caller, min(caller.expires_at, time.time() + VERIFIED_TTL_SECONDS))
        return caller

    def _verify_signed(self, token: str) -> Caller:
        config = self._config
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise Unauthorized("malformed token")
        header = _decode_segment(parts[0], "header")
        _decode_segment(parts[1], "payload")  # duplicate claims are refused before any other check
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in config.jwt_algorithms:
            raise Unauthorized("token algorithm not allowed")
        unknown = set(header) - _ALLOWED_HEADER_FIELDS
        if unknown:
            raise Unauthorized("token header has unsupported fields")
        token_type = header.get("typ")
        if token_type is not None and (
            not isinstance(token_type, str) or token_type.lower() not in _ALLOWED_TYPES
        ):
            raise Unauthorized("unsupported token type")
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID.match(kid):
            raise Unauthorized("token has no usable key id")
        jwk = self._jwks.key_for(kid)
        if jwk.get("kty") != _KEY_TYPE_FOR_ALG[algorithm[:2]] or jwk.get("alg", algorithm) != algorithm:
            raise Unauthorized("token algorithm does not match its key")
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                issuer=config.jwt_issuer,
                leeway=config.jwt_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidTokenError as error:
            raise Unauthorized(f"invalid token ({type(error).__name__})") from None
        self._check_audience(claims)
        return self._caller(token, claims)

    def _check_audience(self, claims: dict[str, Any]) -> None:
        """API Gateway's JWT authorizer rule, so that both layers accept the same tokens: `aud`, or when a
        token has none (Amazon Cognito's access tokens), `client_id`, must name an accepted audience."""
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        if audience is None:
            raise Unauthorized("invalid token (MissingRequiredClaimError)")
        presented = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(value, str) and value in self._config.jwt_audience for value in presented):
            raise Unauthorized("invalid token (InvalidAudienceError)")

    def _caller(self, token: str, claims: dict[str, Any]) -> Caller:
        config = self._config
        for name in ("exp", "iat", "nbf"):
            if name in claims and (
                isinstance(claims[name], bool) or not isinstance(claims[name], int | float)
            ):
                raise Unauthorized(f"claim {name} must be numeric")
        if claims["exp"] - claims["iat"] > config.jwt_max_lifetime_seconds:
            raise Unauthorized("token lifetime exceeds the allowed maximum")
        if claims["iat"] > time.time() + config.jwt_leeway_seconds:
            raise Unauthorized("token issued in the future")
        subject = claims["sub"]
        if not isinstance(subject, str) or not 1 <= len(subject) <= 256:
            raise Unauthorized("claim sub must be a non-empty string")
        email = claims.get("email")
        username = claims.get("username") or claims.get("preferred_username")
        return Caller(
            issuer=claims["iss"],
            subject=subject,
            email=email if isinstance(email, str) and len(email) <= 320 else None,
            username=username if isinstance(username, str) and len(username) <= 256 else None,
            groups=_groups(claims.get(config.role_claim)),
            token=token,
            expires_at=int(claims["exp"]),
            user=self._mapped_user(claims),
            user_claim=config.user_claim,
        )

    def _mapped_user(self, claims: dict[str, Any]) -> str:
        """The user claim's value. With `email`, only an address the IdP verified: an IdP that lets people
        edit their email would otherwise let anyone pick the directory user they become."""
        config = self._config
        value = claims.get(config.user_claim)
        if not isinstance(value, str) or not 1 <= len(value) <= 320:
            raise Unauthorized(
                f"the token has no usable {config.user_claim} claim",
                description=f"the {config.user_claim} claim is required",
            )
        # The JSON boolean only: the string "true" is what a sloppy IdP mapping produces, not a check.
        if (
            config.user_claim == EMAIL_CLAIM
            and config.require_email_verified
            and claims.get("email_verified") is not True
        ):
            raise Unauthorized(
                "the token's email is not verified (email_verified must be true)",
                description="email_verified must be true",
            )
        return value


def _groups(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()

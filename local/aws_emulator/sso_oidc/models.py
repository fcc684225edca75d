"""IAM Identity Center's token exchange: sso-oidc CreateTokenWithIAM with the jwt-bearer grant.

Behaviour from the IAM Identity Center OIDC API reference (CreateTokenWithIAM) and the Identity Center user
guide (trusted token issuers, trusted identity propagation):
- the caller must be allowed by the application's IAM authentication method (its actor policy), evaluated
  for every caller;
- the assertion's issuer must be a trusted token issuer named in the application's jwt-bearer grant, its
  signature must verify with that issuer's keys (OIDC discovery), its `aud` must be an authorised audience
  and it must not have expired (RFC 7523);
- the issuer's claim (`ClaimAttributePath`) is matched against the directory (`IdentityStoreAttributePath`);
- the answer carries an access token, a refresh token (as the documented example does), an idToken whose
  `aud` is the application and whose `sts:identity_context` is the context for STS, and
  `awsAdditionalDetails.identityContext`;
- the other documented grant types get the errors the sso-oidc model gives for a bad grant: a grant type
  the API does not document is UnsupportedGrantTypeException, one the application was not given
  UnauthorizedClientException, one without its required parameters InvalidRequestException, and a refresh
  token, authorization code or subject token (which only flows the emulator does not run would issue)
  InvalidGrantException.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from local.aws_emulator.core import policy
from local.aws_emulator.core.policy import Principal, RequestContext
from local.aws_emulator.core.state import Clock
from local.aws_emulator.sso_admin.models import (
    INSTANCE_ID,
    JWT_BEARER,
    Application,
    DirectoryUser,
    IdentityCenterBackend,
    TrustedTokenIssuer,
)
from local.aws_emulator.sso_oidc import exceptions

# The grant types CreateTokenWithIAM documents (IAM Identity Center OIDC API reference, CreateTokenWithIAM,
# "grantType") and the parameters each requires ("assertion: ... required for jwt-bearer", "refreshToken:
# ... required for refresh_token", "code"/"redirectUri" for authorization_code, "subjectToken",
# "subjectTokenType" and "requestedTokenType" for token exchange).
GRANT_PARAMETERS: dict[str, tuple[str, ...]] = {
    JWT_BEARER: ("assertion",),
    "refresh_token": ("refreshToken",),
    "authorization_code": ("code", "redirectUri"),
    "urn:ietf:params:oauth:grant-type:token-exchange": (
        "subjectToken",
        "subjectTokenType",
        "requestedTokenType",
    ),
}

CREATE_TOKEN_ACTION = "sso-oauth:CreateTokenWithIAM"
CallerAllows = Callable[[str, str], bool]  # (action, resource): the caller's identity-based policies
# Identity Center tokens last one hour, whatever the assertion's own lifetime: RFC 7523 makes the assertion
# a one-time authorization grant checked at exchange time, and the documented example answers 3600.
TOKEN_LIFETIME = timedelta(hours=1)
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512"]
JWKS_CACHE_SECONDS = 300
JWKS_FETCH_TIMEOUT_SECONDS = 5
MAX_CONTEXTS = 10_000


@dataclass
class IdentityContext:
    """An identity context (the idToken's `sts:identity_context`), opaque to everyone but STS."""

    value: str
    user_id: str
    application_arn: str
    instance_arn: str
    expiration: datetime


class IssuerKeys:
    """Trusted token issuers' keys found by OIDC discovery and cached; an unknown `kid` refetches at once,
    and keys fetched earlier keep verifying while the issuer cannot be reached (last known good)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}  # issuer -> (fetched at, kid -> key)

    @staticmethod
    def _get_json(url: str) -> Any:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"refusing to fetch {url!r}")
        with urllib.request.urlopen(url, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as reply:
            return json.loads(reply.read())

    def key(self, issuer_url: str, kid: str) -> Any:
        with self._lock:
            fetched_at, keys = self._keys.get(issuer_url, (0.0, {}))
        if kid in keys and time.monotonic() - fetched_at < JWKS_CACHE_SECONDS:
            return keys[kid]
        try:
            discovery = self._get_json(f"{issuer_url.rstrip('/')}/.well-known/openid-configuration")
            jwk_set = jwt.PyJWKSet.from_dict(self._get_json(discovery["jwks_uri"]))
            fresh = {key.key_id: key for key in jwk_set.keys if key.key_id}
        except (OSError, ValueError, KeyError, jwt.PyJWKError) as error:
            if kid in keys:
                return keys[kid]
            raise exceptions.invalid_grant(f"cannot fetch the issuer's signing keys: {error}") from error
        with self._lock:
            self._keys[issuer_url] = (time.monotonic(), fresh)
        if kid not in fresh:
            raise exceptions.invalid_grant("the assertion is signed with a key the issuer does not publish")
        return fresh[kid]


class TokenExchange:
    def __init__(self, identity_center: IdentityCenterBackend, clock: Clock) -> None:
        self.identity_center = identity_center
        self.clock = clock
        self.contexts: dict[str, IdentityContext] = {}
        self.issuer_keys = IssuerKeys()
        self._lock = threading.Lock()
        self._id_token_key: rsa.RSAPrivateKey | None = None

    def _signing_key(self) -> rsa.RSAPrivateKey:
        """The idTokens' key, made at the first token: a 2048-bit RSA key costs a twentieth of the whole
        start-up, and many runs never exchange a token."""
        with self._lock:
            if self._id_token_key is None:
                self._id_token_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._id_token_key

    def get(self, value: str) -> IdentityContext | None:
        return self.contexts.get(value)

    def expire_all(self) -> int:
        with self._lock:
            for context in self.contexts.values():
                context.expiration = self.clock.now() - timedelta(seconds=1)
            return len(self.contexts)

    def authorize_caller(
        self, application: Application, principal: Principal, caller_allows: CallerAllows
    ) -> None:
        """The actor policy must allow the caller; a caller of another account (the service's role, as
        deployed) must also be allowed by its own identity-based policies."""
        method = application.authentication_methods.get("IAM")
        if method is None:
            raise exceptions.access_denied("the application has no IAM authentication method")
        context = RequestContext(action=CREATE_TOKEN_ACTION, resource=application.arn, principal=principal)
        cross_account = principal.account != self.identity_center.account_id
        if not policy.allows(method["Iam"]["ActorPolicy"], context) or (
            cross_account and not caller_allows(CREATE_TOKEN_ACTION, application.arn)
        ):
            raise exceptions.access_denied(
                f"{principal.arn} is not authorized to perform {CREATE_TOKEN_ACTION} on {application.arn}"
            )

    def create_token(
        self, params: dict[str, Any], caller: Principal, caller_allows: CallerAllows
    ) -> dict[str, Any]:
        """`caller_allows(action, resource)`: do the caller's identity-based policies allow it?"""
        application = self.identity_center.applications.get(params.get("clientId") or "")
        if application is None:
            raise exceptions.invalid_client(f"no application {params.get('clientId')}")
        grant_type = params.get("grantType")
        if grant_type not in GRANT_PARAMETERS:
            raise exceptions.unsupported_grant_type(f"grant type {grant_type} is not supported")
        self.authorize_caller(application, caller, caller_allows)
        if grant_type not in application.grants:
            raise exceptions.unauthorized_client(f"the application has no {grant_type} grant")
        missing = [name for name in GRANT_PARAMETERS[grant_type] if not params.get(name)]
        if missing:
            raise exceptions.invalid_request(f"{', '.join(missing)} is required for the {grant_type} grant")
        if grant_type != JWT_BEARER:
            # No refresh token, authorization code or token to exchange that this emulator could redeem:
            # each is one another Identity Center flow issued, which the emulator does not run.
            raise exceptions.invalid_grant(
                f"the {GRANT_PARAMETERS[grant_type][0]} was not issued by this instance"
            )
        granted = ["sts:identity_context", "openid", "aws", *application.access_scopes]
        requested = params.get("scope")
        if requested is not None and set(requested) - set(granted):
            raise exceptions.invalid_scope("the requested scope is not granted to the application")
        issuer, claims = self._verify_assertion(application, params["assertion"])
        value = claims.get(issuer.claim_attribute_path)
        user = (
            self.identity_center.find_user(issuer.identity_store_attribute_path, value)
            if isinstance(value, str)
            else None
        )
        if user is None:
            raise exceptions.invalid_grant(
                f"no directory user matches the {issuer.claim_attribute_path} claim"
            )
        self._check_assignment(application, user)
        context, id_token = self._issue(application, issuer, user)
        return {
            "accessToken": "aoa" + secrets.token_urlsafe(96),
            "tokenType": "Bearer",
            "expiresIn": int(TOKEN_LIFETIME.total_seconds()),
            "refreshToken": "aorAAAAAG" + secrets.token_urlsafe(96),
            "idToken": id_token,
            "issuedTokenType": "urn:ietf:params:oauth:token-type:refresh_token",
            "scope": requested or granted,
            "awsAdditionalDetails": {"identityContext": context.value},
        }

    def _verify_assertion(
        self, application: Application, assertion: str
    ) -> tuple[TrustedTokenIssuer, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise exceptions.invalid_grant(f"the assertion is not a valid JWT: {error}") from error
        issuer: TrustedTokenIssuer | None = None
        audiences: list[str] = []
        for entry in application.grants[JWT_BEARER].get("JwtBearer", {}).get("AuthorizedTokenIssuers", []):
            candidate = self.identity_center.trusted_token_issuers.get(entry.get("TrustedTokenIssuerArn", ""))
            if candidate is not None and candidate.issuer_url == unverified.get("iss"):
                issuer, audiences = candidate, entry.get("AuthorizedAudiences") or []
                break
        if issuer is None:
            raise exceptions.invalid_grant(
                f"issuer {unverified.get('iss')!r} is not trusted by the application"
            )
        if header.get("alg") not in ASSERTION_ALGORITHMS or not header.get("kid"):
            raise exceptions.invalid_grant("the assertion must be RS256/384/512 signed and name its kid")
        key = self.issuer_keys.key(issuer.issuer_url, header["kid"])
        try:
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=ASSERTION_ALGORITHMS,
                audience=audiences,
                issuer=issuer.issuer_url,
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "aud"],
                },
            )
        except jwt.InvalidAudienceError as error:
            raise exceptions.invalid_grant("the assertion's audience is not authorized") from error
        except jwt.PyJWTError as error:
            raise exceptions.invalid_grant(f"the assertion failed verification: {error}") from error
        now = self.clock.now().timestamp()  # the emulator's clock, so advancing it expires assertions
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= now:
            raise exceptions.invalid_grant("the assertion has expired")
        if isinstance(claims.get("nbf"), int | float) and claims["nbf"] > now:
            raise exceptions.invalid_grant("the assertion is not valid yet")
        return issuer, claims

    def _check_assignment(self, application: Application, user: DirectoryUser) -> None:
        if not application.assignment_required:
            return
        groups = self.identity_center.groups_of(user.user_id)
        if not ({("USER", user.user_id)} | {("GROUP", group) for group in groups}) & application.assignments:
            raise exceptions.access_denied("the user is not assigned to the application")

    def _issue(
        self, application: Application, issuer: TrustedTokenIssuer, user: DirectoryUser
    ) -> tuple[IdentityContext, str]:
        now = self.clock.now()
        expiration = now + TOKEN_LIFETIME
        context = IdentityContext(
            value="AQoJb3JpZ2luX2Vj" + base64.b64encode(secrets.token_bytes(96)).decode(),
            user_id=user.user_id,
            application_arn=application.arn,
            instance_arn=self.identity_center.instance_arn,
            expiration=expiration,
        )
        with self._lock:
            if len(self.contexts) >= MAX_CONTEXTS:  # long benchmarks must not grow memory
                for value in [v for v, c in self.contexts.items() if c.expiration <= now]:
                    del self.contexts[value]
            self.contexts[context.value] = context
        center = self.identity_center
        claims = {
            "iss": f"https://identitycenter.amazonaws.com/{INSTANCE_ID}",
            "sub": user.user_id,
            "aud": application.arn,
            "iat": int(now.timestamp()),
            "exp": int(expiration.timestamp()),
            "auth_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sts:identity_context": context.value,
            "sts:audit_context": base64.b64encode(secrets.token_bytes(48)).decode(),
            "aws:identity_store_id": center.identity_store_id,
            "aws:identity_store_arn": center.identity_store_arn,
            "aws:instance_account": center.account_id,
            "aws:instance_arn": center.instance_arn,
            "aws:application_arn": application.arn,
            "aws:credential_id": secrets.token_urlsafe(24),
            "act": {"sub": issuer.arn},
        }
        return context, jwt.encode(
            claims, self._signing_key(), algorithm="RS256", headers={"kid": "identity-center-local"}
        )

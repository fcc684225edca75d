"""JWT verification rules, against keys served by a tiny local JWKS server (no mocks of our code)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from domain.config import ServiceConfig
from domain.errors import ServiceUnavailable, Unauthorized
from domain.keys import digest_key
from edge.auth import MAX_TOKEN_BYTES, JwtVerifier, bearer_token
from edge.jwks import COLD_RETRY_SECONDS, JWKS_MAX_AGE_SECONDS, JwksCache

pytestmark = pytest.mark.unit

AUDIENCE = "shopfast-vending"


class Key:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = {**RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": kid, "use": "sig"}


class JwksServer:
    """Serves discovery and a JWKS on 127.0.0.1; counts JWKS requests; can be taken down."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.down = False
        self.jwks_requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": server.issuer, "jwks_uri": f"{server.issuer}/jwks.json"}
                elif self.path == "/jwks.json":
                    server.jwks_requests += 1
                    if server.down:
                        self.send_response(503)
                        self.end_headers()
                        return
                    body = {"keys": server.keys}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def keys() -> tuple[Key, Key]:
    return Key("key-one"), Key("key-two")


@pytest.fixture
def server(keys: tuple[Key, Key]) -> Iterator[JwksServer]:
    jwks = JwksServer()
    jwks.keys = [keys[0].jwk]
    yield jwks
    jwks.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(server: JwksServer, clock: Clock) -> JwtVerifier:
    config = ServiceConfig.from_env(
        {
            "JWT_ISSUER": server.issuer,
            "JWT_AUDIENCE": AUDIENCE,
            "IDENTITY_MODE": "iam-role",
            "ROLE_MAPPING": '{"Sales": "arn:aws:iam::111111111111:role/ShopFast-Sales"}',
            "ACCESS_GRANTS_ACCOUNT_ID": "111111111111",
        }
    )
    return JwtVerifier(config, JwksCache(config.jwt_issuer, clock=clock))


def mint(
    key: Key, issuer: str, *, headers: dict[str, Any] | None = None, drop: tuple[str, ...] = (), **claims: Any
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "user-1",
        "email": "bob@shopfast.example",
        "email_verified": True,
        "groups": ["Sales"],
        "iat": now,
        "exp": now + 3600,
    }
    payload.update(claims)
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, key.private, algorithm="RS256", headers={"kid": key.kid, **(headers or {})})


def test_a_valid_token_yields_the_caller(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer
) -> None:
    token = mint(keys[0], server.issuer)
    caller = verifier.verify(token)
    assert caller.subject == "user-1"
    assert caller.email == "bob@shopfast.example"
    assert caller.groups == ("Sales",)
    assert caller.identity_key == digest_key(
        "identity/v1", server.issuer, "user-1", "email", "bob@shopfast.example"
    )
    assert "bob" not in caller.identity_key
    assert token not in repr(caller)


@pytest.mark.parametrize("email_verified", [False, "true", "True", 1, None, "yes"])
def test_an_email_not_verified_as_the_json_boolean_true_is_refused(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer, email_verified: Any
) -> None:
    token = mint(keys[0], server.issuer, email_verified=email_verified)
    with pytest.raises(Unauthorized, match="email_verified") as raised:
        verifier.verify(token)
    assert 'error_description="email_verified must be true"' in raised.value.headers["WWW-Authenticate"]


def test_a_token_without_the_user_claim_is_refused(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer
) -> None:
    with pytest.raises(Unauthorized, match="no usable email claim"):
        verifier.verify(mint(keys[0], server.issuer, drop=("email",)))


def _verifier_with(server: JwksServer, clock: Clock, **env: str) -> JwtVerifier:
    config = ServiceConfig.from_env(
        {
            "JWT_ISSUER": server.issuer,
            "JWT_AUDIENCE": AUDIENCE,
            "IDENTITY_MODE": "iam-role",
            "ROLE_MAPPING": '{"Sales": "arn:aws:iam::111111111111:role/ShopFast-Sales"}',
            "ACCESS_GRANTS_ACCOUNT_ID": "111111111111",
            **env,
        }
    )
    return JwtVerifier(config, JwksCache(config.jwt_issuer, clock=clock))


def test_the_email_verified_requirement_can_be_switched_off_for_idps_that_never_send_it(
    keys: tuple[Key, Key], server: JwksServer, clock: Clock
) -> None:
    verifier = _verifier_with(server, clock, REQUIRE_EMAIL_VERIFIED="false")
    caller = verifier.verify(mint(keys[0], server.issuer, drop=("email_verified",)))
    assert caller.user == "bob@shopfast.example"


def test_an_immutable_user_claim_needs_no_email_verification_and_keys_the_identity(
    keys: tuple[Key, Key], server: JwksServer, clock: Clock
) -> None:
    verifier = _verifier_with(server, clock, USER_CLAIM="sub")
    caller = verifier.verify(mint(keys[0], server.issuer, email_verified=False))
    assert caller.user == "user-1"
    assert caller.identity_key == digest_key("identity/v1", server.issuer, "user-1", "sub", "user-1")


def test_the_identity_key_compares_emails_case_insensitively_like_identity_center(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer
) -> None:
    upper = verifier.verify(mint(keys[0], server.issuer, email="Bob@ShopFast.example"))
    lower = verifier.verify(mint(keys[0], server.issuer, email="bob@shopfast.example", jti="x"))
    other = verifier.verify(mint(keys[0], server.issuer, email="carol@shopfast.example"))
    assert upper.identity_key == lower.identity_key
    assert other.identity_key != lower.identity_key


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a b"},
    ],
)
def test_only_a_bearer_authorization_header_is_accepted(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized) as raised:
        bearer_token(headers)
    assert raised.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_oversized_tokens_are_refused_before_parsing() -> None:
    with pytest.raises(Unauthorized, match="too large"):
        bearer_token({"authorization": "Bearer " + "a" * (MAX_TOKEN_BYTES + 1)})


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    import base64

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(payload)}.c2ln"


def test_a_token_without_aud_is_taken_by_its_client_id_as_api_gateway_does(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer
) -> None:
    """Amazon Cognito's access tokens carry client_id and no aud (Cognito Developer Guide, "Understanding
    the access token"); API Gateway's JWT authorizer accepts them by client_id, and so does the service."""
    token = mint(keys[0], server.issuer, drop=("aud",), client_id=AUDIENCE)
    assert verifier.verify(token).subject == "user-1"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda k, iss: mint(k, iss, iss=iss + "/"), "InvalidIssuer"),
        (lambda k, iss: mint(k, iss, aud="someone-else"), "InvalidAudience"),
        (lambda k, iss: mint(k, iss, aud=["a", "b"]), "InvalidAudience"),
        # aud wins over client_id when both are there, as in API Gateway's authorizer.
        (lambda k, iss: mint(k, iss, aud="someone-else", client_id=AUDIENCE), "InvalidAudience"),
        (lambda k, iss: mint(k, iss, drop=("aud",), client_id="someone-else"), "InvalidAudience"),
        (lambda k, iss: mint(k, iss, drop=("aud",)), "MissingRequiredClaim"),
        (lambda k, iss: mint(k, iss, exp=int(time.time()) - 120), "expired"),
        (lambda k, iss: mint(k, iss, nbf=int(time.time()) + 600), "ImmatureSignature"),
        (lambda k, iss: mint(k, iss, iat=int(time.time()) + 600), "Immature"),
        (lambda k, iss: mint(k, iss, exp=int(time.time()) + 86400), "lifetime"),
        (lambda k, iss: mint(k, iss, drop=("sub",)), "MissingRequiredClaim"),
        (lambda k, iss: mint(k, iss, drop=("exp",)), "MissingRequiredClaim"),
        (lambda k, iss: mint(k, iss, drop=("iat",)), "MissingRequiredClaim"),
        (lambda k, iss: mint(k, iss, sub=""), "sub"),
        (lambda k, iss: mint(k, iss, headers={"jku": "http://evil.example/jwks"}), "unsupported fields"),
        (lambda k, iss: mint(k, iss, headers={"crit": ["exp"]}), "unsupported fields"),
        (lambda k, iss: mint(k, iss, headers={"kid": "unknown-key"}), "unknown key"),
        (lambda k, iss: _unsigned({"alg": "none", "kid": k.kid}, {"iss": iss}), "algorithm not allowed"),
        (
            lambda k, iss: jwt.encode({"iss": iss}, "secret" * 8, algorithm="HS256", headers={"kid": k.kid}),
            "algorithm",
        ),
        (lambda k, iss: _unsigned({"alg": "RS256"}, {"iss": iss}), "key id"),
        (lambda k, iss: mint(k, iss)[:-4] + "AAAA", "InvalidSignature"),
        (lambda k, iss: "not.a.jwt", "malformed"),
        (lambda k, iss: "only-one-part", "malformed"),
    ],
)
def test_invalid_tokens_are_401(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer, make, reason: str
) -> None:
    with pytest.raises(Unauthorized) as raised:
        verifier.verify(make(keys[0], server.issuer))
    assert reason in raised.value.detail


def test_duplicate_claims_are_refused(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer
) -> None:
    import base64

    token = mint(keys[0], server.issuer)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    duplicated = json.dumps(claims)[:-1] + ', "sub": "admin"}'
    forged = base64.urlsafe_b64encode(duplicated.encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthorized, match="duplicate"):
        verifier.verify(f"{header}.{forged}.{signature}")


def test_rotation_unknown_kid_triggers_one_rate_limited_refetch(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer, clock: Clock
) -> None:
    verifier.verify(mint(keys[0], server.issuer))
    assert server.jwks_requests == 1
    server.keys = [keys[0].jwk, keys[1].jwk]  # the issuer rotates in a new key
    assert verifier.verify(mint(keys[1], server.issuer)).subject == "user-1"
    assert server.jwks_requests == 2
    for index in range(20):  # a burst of unknown kids costs no further fetch within the cool-down
        with pytest.raises(Unauthorized, match="unknown key"):
            verifier.verify(mint(keys[0], server.issuer, headers={"kid": f"bogus-{index}"}))
    assert server.jwks_requests == 2
    clock.now += 61
    with pytest.raises(Unauthorized, match="unknown key"):
        verifier.verify(mint(keys[0], server.issuer, headers={"kid": "bogus-late"}))
    assert server.jwks_requests == 3


def test_last_known_good_keys_are_used_while_the_jwks_endpoint_is_down(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer, clock: Clock
) -> None:
    verifier.verify(mint(keys[0], server.issuer))
    server.down = True
    clock.now += JWKS_MAX_AGE_SECONDS + 1  # the cached keys are stale: a refresh is tried and fails
    assert verifier.verify(mint(keys[0], server.issuer)).subject == "user-1"
    assert server.jwks_requests == 2


def test_cold_cache_with_the_endpoint_down_is_503(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer, clock: Clock
) -> None:
    server.down = True
    with pytest.raises(ServiceUnavailable) as raised:
        verifier.verify(mint(keys[0], server.issuer))
    assert raised.value.status == 503
    assert "Retry-After" in raised.value.headers
    with pytest.raises(ServiceUnavailable):  # retried no more often than the cold retry interval
        verifier.verify(mint(keys[0], server.issuer))
    assert server.jwks_requests == 1
    server.down = False
    clock.now += COLD_RETRY_SECONDS
    assert verifier.verify(mint(keys[0], server.issuer)).subject == "user-1"


def test_a_recently_verified_token_is_recognised_but_a_tampered_copy_is_not(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer
) -> None:
    token = mint(keys[0], server.issuer)
    first = verifier.verify(token)
    assert verifier.verify(token) == first
    header, payload, signature = token.split(".")
    with pytest.raises(Unauthorized):
        verifier.verify(f"{header}.{payload}.{signature[:-4]}AAAA")


def test_recognised_tokens_are_forgotten_when_the_key_set_changes(
    verifier: JwtVerifier, keys: tuple[Key, Key], server: JwksServer, clock: Clock
) -> None:
    token = mint(keys[0], server.issuer)
    verifier.verify(token)
    server.keys = [keys[1].jwk]  # the issuer withdraws key-one
    verifier.verify(mint(keys[1], server.issuer))  # unknown kid: refetch, the key set changes
    with pytest.raises(Unauthorized, match="unknown key"):
        verifier.verify(token)

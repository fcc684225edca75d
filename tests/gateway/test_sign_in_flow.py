"""The local issuer's authorization code flow with PKCE, over HTTP, as a single-page app drives it, and the
API (through the gateway's JWT authorizer) accepting what it issues. Every refusal the flow's RFCs require
is here: a wrong verifier, a reused, expired or foreign code, `plain` or missing PKCE, an unregistered
redirect URI.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from werkzeug.test import Client

from local.gateway import RunningGateway
from local.oidc_authorization import CODE_TTL_SECONDS
from local.oidc_issuer import make_app
from local.stack import LocalStack

pytestmark = pytest.mark.integration

CLIENT_ID = "shopfast-demo"
REDIRECT_URI = "http://127.0.0.1:3000/"
DEMO_EMAILS = [
    "alice@shopfast.example",
    "bob@shopfast.example",
    "carol@shopfast.example",
    "dave@shopfast.example",
    "erin@shopfast.example",
    "mallory@shopfast.example",
]


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def authorization_request(pkce: Pkce, **changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile offline_access",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **changes,
    }
    return {name: value for name, value in params.items() if value is not None}


def redirected(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()} | {
        "_to": location.split("?", 1)[0]
    }


def sign_in(
    http: requests.Session, issuer: str, user: str, pkce: Pkce, **changes: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The sign-in page, then its form posted with the user: (the request's parameters, the redirect's)."""
    params = authorization_request(pkce, **changes)
    page = http.get(f"{issuer}/authorize", params=params, timeout=10)
    assert page.status_code == 200, page.text
    posted = http.post(
        f"{issuer}/authorize", data={**params, "user": user}, allow_redirects=False, timeout=10
    )
    return params, redirected(posted)


def token_request(http: requests.Session, issuer: str, **form: str) -> requests.Response:
    return http.post(f"{issuer}/token", data={"client_id": CLIENT_ID, **form}, timeout=10)


def exchange(http: requests.Session, issuer: str, code: str, pkce: Pkce, **changes: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
        **changes,
    }
    return token_request(http, issuer, **form)


def verify(issuer: str, token: str, audience: str) -> dict:
    keys = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(token, keys.key, algorithms=["RS256"], audience=audience, issuer=issuer)


def oauth_error(answer: requests.Response, error: str, status: int = 400) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and answer.json()["error_description"]
    assert answer.headers["Cache-Control"] == "no-store"


def test_discovery_advertises_the_code_flow(local_stack: LocalStack, http: requests.Session) -> None:
    issuer = local_stack.issuer_url
    document = http.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()

    assert document["authorization_endpoint"] == f"{issuer}/authorize"
    assert document["token_endpoint"] == f"{issuer}/token"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(document["grant_types_supported"])
    assert document["response_types_supported"] == ["code"]


def test_the_whole_flow_and_the_api_accepts_the_access_token(
    local_stack: LocalStack, real_gateway: RunningGateway, http: requests.Session
) -> None:
    issuer, pkce = local_stack.issuer_url, Pkce.new()
    params = authorization_request(pkce)

    page = http.get(f"{issuer}/authorize", params=params, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert (
        page.headers["Cache-Control"] == "no-store"
        and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    )
    assert sorted(re.findall(r'name="user" value="([^"]+)"', page.text)) == DEMO_EMAILS
    for name in ("state", "nonce", "code_challenge", "redirect_uri"):  # the form carries them back
        assert f'name="{name}" value="{params[name]}"' in page.text
    back = redirected(
        http.post(
            f"{issuer}/authorize", data={**params, "user": "bob@shopfast.example"}, allow_redirects=False
        )
    )
    assert back["_to"] == REDIRECT_URI and back["state"] == params["state"] and back["iss"] == issuer

    answer = exchange(http, issuer, back["code"], pkce)

    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600 and tokens["refresh_token"]
    id_token = verify(issuer, tokens["id_token"], CLIENT_ID)
    assert id_token["nonce"] == params["nonce"] and id_token["email"] == "bob@shopfast.example"
    access = verify(issuer, tokens["access_token"], "shopfast-vending")
    assert access["email"] == "bob@shopfast.example" and access["groups"] == ["Sales"]
    assert access["sub"] == id_token["sub"] and access["client_id"] == CLIENT_ID
    me = http.get(
        f"{real_gateway.url}/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    )
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "bob@shopfast.example"


def test_refresh_rotates_and_a_rotated_token_revokes_its_family(
    local_stack: LocalStack, real_gateway: RunningGateway, http: requests.Session
) -> None:
    issuer, pkce = local_stack.issuer_url, Pkce.new()
    _, back = sign_in(http, issuer, "carol@shopfast.example", pkce)
    first = exchange(http, issuer, back["code"], pkce).json()

    renewed = token_request(http, issuer, grant_type="refresh_token", refresh_token=first["refresh_token"])

    assert renewed.status_code == 200, renewed.text
    second = renewed.json()
    assert (
        second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    )
    assert "nonce" not in verify(issuer, second["id_token"], CLIENT_ID)
    me = http.get(f"{real_gateway.url}/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200
    # The first refresh token again: a replay. It is refused, and so is the one that replaced it.
    oauth_error(
        token_request(http, issuer, grant_type="refresh_token", refresh_token=first["refresh_token"]),
        "invalid_grant",
    )
    oauth_error(
        token_request(http, issuer, grant_type="refresh_token", refresh_token=second["refresh_token"]),
        "invalid_grant",
    )


def test_a_wrong_or_missing_verifier_is_invalid_grant_and_burns_the_code(
    local_stack: LocalStack, http: requests.Session
) -> None:
    issuer, pkce = local_stack.issuer_url, Pkce.new()
    _, back = sign_in(http, issuer, "alice@shopfast.example", pkce)

    oauth_error(exchange(http, issuer, back["code"], Pkce.new()), "invalid_grant")
    oauth_error(exchange(http, issuer, back["code"], pkce), "invalid_grant")  # one attempt per code

    _, back = sign_in(http, issuer, "alice@shopfast.example", pkce)
    oauth_error(exchange(http, issuer, back["code"], pkce, code_verifier=""), "invalid_grant")


def test_a_reused_code_is_refused_and_revokes_what_it_produced(
    local_stack: LocalStack, http: requests.Session
) -> None:
    issuer, pkce = local_stack.issuer_url, Pkce.new()
    _, back = sign_in(http, issuer, "alice@shopfast.example", pkce)
    tokens = exchange(http, issuer, back["code"], pkce).json()

    oauth_error(exchange(http, issuer, back["code"], pkce), "invalid_grant")
    oauth_error(
        token_request(http, issuer, grant_type="refresh_token", refresh_token=tokens["refresh_token"]),
        "invalid_grant",
    )


def test_a_foreign_code_is_refused(local_stack: LocalStack, http: requests.Session) -> None:
    """A code presented with another redirect URI, or by another client, or that was never issued."""
    issuer, pkce = local_stack.issuer_url, Pkce.new()
    _, back = sign_in(http, issuer, "alice@shopfast.example", pkce)
    oauth_error(
        exchange(http, issuer, back["code"], pkce, redirect_uri="http://localhost:3000/"), "invalid_grant"
    )
    oauth_error(exchange(http, issuer, "never-issued", pkce), "invalid_grant")
    oauth_error(exchange(http, issuer, "x", pkce, client_id="someone-else"), "invalid_client", 401)


class InProcessIssuer:
    """The issuer as a WSGI app with its clock in the test's hands (`now`), alice its only user."""

    REDIRECT_URI = "http://127.0.0.1:3999/"

    def __init__(self, tmp_path: Path) -> None:
        self.now = 1_800_000_000.0
        self.app = make_app(
            tmp_path,
            "http://127.0.0.1:3001",
            {"users": [{"email": "alice@shopfast.example", "name": "Alice", "groups": []}]},
        )
        self.app.authorization.clock = lambda: self.now
        self.app.authorization.register_redirect_uri(CLIENT_ID, self.REDIRECT_URI)
        self.client = Client(self.app)
        self.pkce = Pkce.new()

    def code(self) -> str:
        """alice signs in: the authorization code."""
        params = authorization_request(self.pkce, redirect_uri=self.REDIRECT_URI)
        answer = self.client.post("/authorize", data={**params, "user": "alice@shopfast.example"})
        return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]

    def token(self, client_id: str = CLIENT_ID, **form: str) -> Any:
        return self.client.post("/token", data={**form, "client_id": client_id})

    def exchange(self, code: str, client_id: str = CLIENT_ID) -> Any:
        return self.token(
            client_id,
            grant_type="authorization_code",
            code=code,
            redirect_uri=self.REDIRECT_URI,
            code_verifier=self.pkce.verifier,
        )


def test_an_expired_or_other_clients_code_is_invalid_grant(tmp_path: Path) -> None:
    issuer = InProcessIssuer(tmp_path)

    expired = issuer.code()
    issuer.now += CODE_TTL_SECONDS + 1
    answer = issuer.exchange(expired)
    assert answer.status_code == 400 and answer.json["error"] == "invalid_grant"

    from local.oidc_authorization import Client as RegisteredClient

    issuer.app.authorization.clients["other-app"] = RegisteredClient("other-app", {issuer.REDIRECT_URI})
    answer = issuer.exchange(issuer.code(), client_id="other-app")
    assert answer.status_code == 400 and answer.json["error"] == "invalid_grant"
    assert issuer.exchange(issuer.code()).status_code == 200


def test_a_refreshed_id_token_keeps_the_time_of_the_sign_in(tmp_path: Path) -> None:
    """OpenID Connect Core 1.0 §12.2: auth_time is the original authentication's, iat the new token's.
    oidc-client-ts refuses a refreshed ID token whose auth_time moved, so the demo page's silent refresh
    depended on the refresh falling in the same second as the sign-in."""
    issuer = InProcessIssuer(tmp_path)
    code = issuer.code()
    issuer.now += 5
    tokens = [issuer.exchange(code).json]
    for _ in range(2):
        issuer.now += 3540  # the page renews in the token's last minute
        renewed = issuer.token(grant_type="refresh_token", refresh_token=tokens[-1]["refresh_token"])
        assert renewed.status_code == 200, renewed.json
        tokens.append(renewed.json)

    claims = [jwt.decode(t["id_token"], options={"verify_signature": False}) for t in tokens]
    assert [c["auth_time"] for c in claims] == [1_800_000_000] * 3
    assert [c["iat"] for c in claims] == [1_800_000_005, 1_800_003_545, 1_800_007_085]
    assert [c["exp"] - c["iat"] for c in claims] == [3600] * 3


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "email"}, "invalid_scope"),
    ],
)
def test_refusals_after_the_redirect_uri_is_known_go_back_to_the_client(
    local_stack: LocalStack, http: requests.Session, changes: dict, error: str
) -> None:
    params = authorization_request(Pkce.new(), **changes)
    for answer in (
        http.get(f"{local_stack.issuer_url}/authorize", params=params, allow_redirects=False, timeout=10),
        http.post(
            f"{local_stack.issuer_url}/authorize",
            data={**params, "user": "alice@shopfast.example"},
            allow_redirects=False,
            timeout=10,
        ),
    ):
        back = redirected(answer)
        assert back["_to"] == REDIRECT_URI and back["error"] == error and back["state"] == params["state"]
        assert "code" not in back


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": "https://evil.example/"},
        {"redirect_uri": "http://127.0.0.1:3000/callback"},
        {"redirect_uri": None},
        {"client_id": "unknown-app"},
        {"client_id": None},
    ],
)
def test_an_unregistered_redirect_uri_or_client_is_a_400_page_never_a_redirect(
    local_stack: LocalStack, http: requests.Session, changes: dict
) -> None:
    params = authorization_request(Pkce.new(), **changes)
    for answer in (
        http.get(f"{local_stack.issuer_url}/authorize", params=params, allow_redirects=False, timeout=10),
        http.post(
            f"{local_stack.issuer_url}/authorize",
            data={**params, "user": "alice@shopfast.example"},
            allow_redirects=False,
            timeout=10,
        ),
    ):
        assert answer.status_code == 400
        assert "Location" not in answer.headers
        assert answer.headers["Content-Type"].startswith("text/html")


def test_an_unknown_user_is_asked_again(local_stack: LocalStack, http: requests.Session) -> None:
    params = authorization_request(Pkce.new())
    answer = http.post(
        f"{local_stack.issuer_url}/authorize",
        data={**params, "user": "eve@evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400 and "Location" not in answer.headers and 'role="alert"' in answer.text


def test_token_endpoint_refusals_are_rfc_6749_errors(local_stack: LocalStack, http: requests.Session) -> None:
    issuer = local_stack.issuer_url
    oauth_error(
        token_request(http, issuer, grant_type="password", username="a", password="b"),
        "unsupported_grant_type",
    )
    oauth_error(
        token_request(http, issuer, grant_type="refresh_token", refresh_token="forged"), "invalid_grant"
    )
    oauth_error(
        http.post(f"{issuer}/token", data={"grant_type": "authorization_code"}, timeout=10),
        "invalid_client",
        401,
    )


def test_revocation_forgets_the_refresh_token(local_stack: LocalStack, http: requests.Session) -> None:
    issuer, pkce = local_stack.issuer_url, Pkce.new()
    _, back = sign_in(http, issuer, "dave@shopfast.example", pkce)
    tokens = exchange(http, issuer, back["code"], pkce).json()

    revoked = http.post(
        f"{issuer}/revoke",
        data={"client_id": CLIENT_ID, "token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        timeout=10,
    )
    unknown = http.post(
        f"{issuer}/revoke", data={"client_id": CLIENT_ID, "token": "never-issued"}, timeout=10
    )

    assert revoked.status_code == 200 and unknown.status_code == 200  # RFC 7009 §2.2
    oauth_error(
        token_request(http, issuer, grant_type="refresh_token", refresh_token=tokens["refresh_token"]),
        "invalid_grant",
    )


def test_only_loopback_redirect_uris_can_be_registered(
    local_stack: LocalStack, http: requests.Session
) -> None:
    url = f"{local_stack.issuer_url}/dev/clients/{CLIENT_ID}/redirect-uris"
    assert http.post(url, json={"redirectUri": "http://127.0.0.1:3100/"}, timeout=10).status_code == 200
    for refused in ("https://evil.example/", "http://127.0.0.1:3100/x", "http://127.0.0.1:3100/?a=b", 7):
        assert http.post(url, json={"redirectUri": refused}, timeout=10).status_code == 400
    assert (
        http.post(
            f"{local_stack.issuer_url}/dev/clients/nobody/redirect-uris",
            json={"redirectUri": "http://127.0.0.1:1/"},
            timeout=10,
        ).status_code
        == 400
    )


def test_the_token_endpoint_answers_cors_for_loopback_pages(
    local_stack: LocalStack, http: requests.Session
) -> None:
    preflight = http.options(
        f"{local_stack.issuer_url}/token",
        headers={"Origin": "http://127.0.0.1:3000", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    foreign = token_request(http, local_stack.issuer_url, grant_type="refresh_token", refresh_token="x")
    assert "Access-Control-Allow-Origin" not in foreign.headers

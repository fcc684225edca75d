"""The development OIDC issuer over HTTP: discovery, JWKS, minted tokens, CORS, rotation and JWKS outages.

Rotation and outages change the issuer for everyone, so those tests run on a private stack.
"""

from __future__ import annotations

import json
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from local.oidc_issuer import ROTATION_OVERLAP_SECONDS, SIGNING_KEY_FILE, make_app
from local.stack import LocalStack
from tests.emulator.identity_flow import exchange

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "local" / "demo-users.json").read_text())
PLAN = json.loads((ROOT / "terraform" / "access-plan.json").read_text())

pytestmark = pytest.mark.integration


def _get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=10, **kwargs)


def _post(url: str, **kwargs) -> requests.Response:
    return requests.post(url, timeout=10, **kwargs)


def _verify(issuer_url: str, token: str, audience: str = "shopfast-vending") -> dict:
    keys = jwt.PyJWKSet.from_dict(_get(f"{issuer_url}/.well-known/jwks.json").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=issuer_url)


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(aws_port=0, idp_port=0, state_dir=tmp_path_factory.mktemp("issuer-stack")) as stack:
        yield stack


def test_discovery_names_the_issuer_exactly_and_its_jwks(local_stack: LocalStack) -> None:
    document = _get(f"{local_stack.issuer_url}/.well-known/openid-configuration").json()
    assert document["issuer"] == local_stack.issuer_url
    assert not document["issuer"].endswith("/")
    assert document["jwks_uri"] == f"{local_stack.issuer_url}/.well-known/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = _get(document["jwks_uri"]).json()
    assert jwks["keys"] and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["kid"] for k in jwks["keys"])
    assert all("d" not in k for k in jwks["keys"]), "the JWKS must never publish private key material"


@pytest.mark.parametrize("user", [u["email"] for u in DEMO["users"]])
def test_token_claims_for_every_demo_user(local_stack: LocalStack, user: str) -> None:
    reply = _get(f"{local_stack.issuer_url}/dev/token", params={"user": user})
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = _verify(local_stack.issuer_url, body["access_token"])
    expected_groups = next(u["groups"] for u in DEMO["users"] if u["email"] == user)
    assert claims["iss"] == local_stack.issuer_url
    assert claims["email"] == user
    assert claims["groups"] == [PLAN["departments"][g]["directory_group"] for g in expected_groups]
    assert claims["aud"] == "shopfast-vending"
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60
    uuid.UUID(claims["sub"])
    uuid.UUID(claims["jti"])
    again = _verify(local_stack.issuer_url, local_stack.token(user))
    assert again["sub"] == claims["sub"], "sub is stable per user"
    assert again["jti"] != claims["jti"], "jti is unique per token"


def test_subjects_differ_between_users(local_stack: LocalStack) -> None:
    subjects = {
        jwt.decode(local_stack.token(u["email"]), options={"verify_signature": False})["sub"]
        for u in DEMO["users"]
    }
    assert len(subjects) == len(DEMO["users"])


def test_ttl_and_audience_parameters(local_stack: LocalStack) -> None:
    token = local_stack.token("bob@shopfast.example", ttl=120, aud="another-app")
    claims = _verify(local_stack.issuer_url, token, audience="another-app")
    assert claims["exp"] - claims["iat"] == 120
    expired = local_stack.token("bob@shopfast.example", ttl=-60)
    with pytest.raises(jwt.ExpiredSignatureError):
        _verify(local_stack.issuer_url, expired)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"user": "nobody@shopfast.example"}, 404),
        ({}, 404),
        ({"user": "alice@shopfast.example", "ttl": "soon"}, 400),
        ({"user": "alice@shopfast.example", "ttl": str(30 * 86400)}, 400),
    ],
)
def test_bad_token_requests_are_json_errors(local_stack: LocalStack, params: dict, status: int) -> None:
    reply = _get(f"{local_stack.issuer_url}/dev/token", params=params)
    assert reply.status_code == status
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json()["error"] and reply.json()["error_description"]
    assert "development" in reply.headers["X-Dev-Only"]


def test_cors_on_the_token_endpoint_for_loopback_origins_only(local_stack: LocalStack) -> None:
    url = f"{local_stack.issuer_url}/dev/token"
    for origin in ("http://127.0.0.1:3000", "http://localhost:5173"):
        reply = _get(url, params={"user": "alice@shopfast.example"}, headers={"Origin": origin})
        assert reply.headers["Access-Control-Allow-Origin"] == origin
        preflight = requests.options(
            url, headers={"Origin": origin, "Access-Control-Request-Method": "GET"}, timeout=10
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == origin
    foreign = _get(url, params={"user": "alice@shopfast.example"}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 200
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_signing_key_persists_with_owner_only_permissions(tmp_path: Path) -> None:
    first = make_app(tmp_path, "http://127.0.0.1:1", DEMO)
    key_file = tmp_path / SIGNING_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.mint("alice@shopfast.example", 300, "shopfast-vending")
    restarted = make_app(tmp_path, "http://127.0.0.1:1", DEMO)
    assert restarted.keys.current.kid == first.keys.current.kid
    assert jwt.get_unverified_header(token)["kid"] in {k["kid"] for k in restarted.keys.jwks()["keys"]}


def test_rotation_keeps_the_previous_key_published(private_stack: LocalStack) -> None:
    issuer = private_stack.issuer_url
    before = private_stack.token("alice@shopfast.example")
    old_kid = jwt.get_unverified_header(before)["kid"]
    assert exchange(private_stack, before)["accessToken"]  # the emulator now caches the old key

    rotated = _post(f"{issuer}/dev/rotate", json={}).json()
    assert rotated["previousKid"] == old_kid and rotated["kid"] != old_kid
    assert rotated["overlapSeconds"] == ROTATION_OVERLAP_SECONDS
    published = [k["kid"] for k in _get(f"{issuer}/.well-known/jwks.json").json()["keys"]]
    assert published[:2] == [rotated["kid"], old_kid]

    after = private_stack.token("alice@shopfast.example")
    assert jwt.get_unverified_header(after)["kid"] == rotated["kid"]
    assert _verify(issuer, before)["email"] == _verify(issuer, after)["email"] == "alice@shopfast.example"
    # The emulated Identity Center refetches the JWKS for the unknown kid and accepts both tokens.
    assert exchange(private_stack, after)["awsAdditionalDetails"]["identityContext"]
    assert exchange(private_stack, before)["awsAdditionalDetails"]["identityContext"]
    key_on_disk = (private_stack.state_dir / SIGNING_KEY_FILE).read_bytes()
    assert key_on_disk.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE((private_stack.state_dir / SIGNING_KEY_FILE).stat().st_mode) == 0o600


def test_jwks_outage_and_slowness_switches(private_stack: LocalStack) -> None:
    issuer = private_stack.issuer_url
    token = private_stack.token("bob@shopfast.example")
    assert exchange(private_stack, token)["accessToken"]  # caches the current key in the emulator
    try:
        assert _post(f"{issuer}/dev/jwks-outage", json={"down": True}).json() == {"down": True, "delayMs": 0}
        assert _get(f"{issuer}/.well-known/jwks.json").status_code == 503
        # Identity Center keeps verifying with the keys it fetched before the outage.
        assert exchange(private_stack, private_stack.token("bob@shopfast.example"))["accessToken"]
        _post(f"{issuer}/dev/rotate", json={})
        with pytest.raises(ClientError) as refused:  # a key it never saw cannot be fetched now
            exchange(private_stack, private_stack.token("bob@shopfast.example"))
        assert refused.value.response["Error"]["Code"] == "InvalidGrantException"

        _post(f"{issuer}/dev/jwks-outage", json={"down": False, "delayMs": 300})
        started = time.monotonic()
        assert _get(f"{issuer}/.well-known/jwks.json").status_code == 200
        assert time.monotonic() - started >= 0.3
    finally:
        _post(f"{issuer}/dev/jwks-outage", json={"down": False, "delayMs": 0})
    assert exchange(private_stack, private_stack.token("bob@shopfast.example"))["accessToken"]
    bad = _post(f"{issuer}/dev/jwks-outage", data="not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400


EVIL = "https://evil.example"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/dev/jwks-outage", '{"down": true}'),
        ("/dev/rotate", "{}"),
        ("/dev/clients/shopfast-demo/redirect-uris", '{"redirectUri": "http://127.0.0.1:9/"}'),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain", "Origin": EVIL},  # a fetch() no preflight stops
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL},  # a form
        {"Content-Type": "text/plain"},  # no origin, still not JSON
        {"Content-Type": "application/json", "Origin": EVIL},  # would need a preflight, refused anyway
        {"Content-Type": "application/json", "Origin": "null"},  # a sandboxed or file:// page
    ],
    ids=["text-plain", "form", "no-origin-text", "json-evil-origin", "null-origin"],
)
def test_a_cross_site_request_changes_no_development_state(
    private_stack: LocalStack, path: str, body: str, headers: dict[str, str]
) -> None:
    issuer = private_stack.issuer_url
    jwks_before = _get(f"{issuer}/.well-known/jwks.json").json()
    answer = requests.post(f"{issuer}{path}", data=body, headers=headers, timeout=10)
    assert answer.status_code in (403, 415), answer.text
    assert answer.json()["error"] in ("access_denied", "invalid_request")
    assert _get(f"{issuer}/.well-known/jwks.json").json() == jwks_before  # not rotated, not switched off
    # The redirect URI was not registered: the sign-in page refuses it (a 400 page, never a redirect).
    authorize = _get(
        f"{issuer}/authorize",
        params={
            "client_id": "shopfast-demo",
            "redirect_uri": "http://127.0.0.1:9/",
            "response_type": "code",
            "scope": "openid",
            "state": "s",
            "nonce": "n",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
    )
    assert authorize.status_code == 400


def test_the_issuers_own_origin_and_tools_without_one_may_change_development_state(
    private_stack: LocalStack,
) -> None:
    issuer = private_stack.issuer_url
    for origin in (None, issuer, issuer.replace("127.0.0.1", "localhost")):
        headers = {"Origin": origin} if origin else {}
        answer = requests.post(f"{issuer}/dev/jwks-outage", json={"down": False}, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "host", ["rebind.evil.example", "rebind.evil.example:{port}", "127.0.0.1", "127.0.0.2:{port}"]
)
def test_a_dns_rebinding_page_gets_no_token(local_stack: LocalStack, host: str) -> None:
    """The page's scripts reach 127.0.0.1 under the attacker's name: the Host header says which."""
    port = urlsplit(local_stack.issuer_url).port
    answer = requests.get(
        f"{local_stack.issuer_url}/dev/token?user=alice@shopfast.example",
        headers={"Host": host.format(port=port)},
        timeout=10,
    )
    assert answer.status_code == 421
    assert "access_token" not in answer.text and answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST"])
def test_the_issuer_answers_under_its_own_names(local_stack: LocalStack, name: str) -> None:
    port = urlsplit(local_stack.issuer_url).port
    answer = requests.get(
        f"{local_stack.issuer_url}/.well-known/openid-configuration",
        headers={"Host": f"{name}:{port}"},
        timeout=10,
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/dev/token", 405),
        ("GET", "/dev/rotate", 405),
        ("DELETE", "/.well-known/jwks.json", 405),
        ("GET", "/oauth2/v1/authorize", 404),
    ],
)
def test_unserved_routes_are_json_errors(
    local_stack: LocalStack, method: str, path: str, status: int
) -> None:
    reply = requests.request(method, f"{local_stack.issuer_url}{path}", timeout=10)
    assert reply.status_code == status
    assert reply.json()["error"] in ("method_not_allowed", "not_found")
    if status == 405:
        assert method not in reply.headers["Allow"]

"""JWT attacks: every forged, tampered or stale token is answered 401, with no AWS call made and no
fetch from a token-supplied URL, both through the gateway (its JWT authorizer, then the Lambda) and
directly at the Lambda with no authorizer in front (as `sam local invoke` runs it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.security.clients import ApiClient, DirectInvoker
from tests.security.conftest import Tokens, control_plane_calls
from tests.security.jwt_forge import AttackCase, SigningKey, TokenForge, b64url_decode
from tests.security.listeners import RecordingServer

pytestmark = pytest.mark.security

TARGET = {"target": "s3://shopfast-data/users/user_list", "permission": "READ"}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def attack_cases(tokens: Tokens, attacker: RecordingServer) -> dict[str, AttackCase]:
    forge = tokens.forge()
    captured = tokens.issue("alice@shopfast.example")
    cases = forge.build_attack_cases(attacker.base_url, captured)
    # Publish the attacker's keys at the attacker's host, so that a verifier following jku/x5u
    # *would* be fooled (and the listener would record the fetch).
    evil_keys = {}
    for case in cases:
        header = _unverified_header(case.token)
        if isinstance(header, dict) and isinstance(header.get("jwk"), dict):
            evil_keys[header["jwk"]["kid"]] = header["jwk"]
    attacker.jwks = {"keys": list(evil_keys.values())}
    return {case.name: case for case in cases}


def _unverified_header(token: str) -> Any:
    try:
        return json.loads(b64url_decode(token.split(".")[0]))
    except Exception:
        return None


def _unverified_claims(token: str) -> dict[str, Any]:
    """What a bypassed or misconfigured authorizer would have passed on as claims."""
    try:
        # NaN/Infinity stay text: API Gateway hands claims over as strings anyway.
        claims = json.loads(b64url_decode(token.split(".")[1]), parse_constant=str, parse_float=str)
        return claims if isinstance(claims, dict) else {}
    except Exception:
        return {}


def _names() -> list[str]:
    # The case names are fixed by the forge; build them once with a throwaway key for parametrisation.
    forge = TokenForge(SigningKey.generate("names-only"), "http://127.0.0.1:1", "shopfast-vending")
    return [case.name for case in forge.build_attack_cases("http://127.0.0.1:1", forge.legit())]


CASE_NAMES = _names()


def test_the_forge_covers_every_attack_family_of_the_issue() -> None:
    families = {
        "alg-none",
        "hs256-keyed-with-public-pem",
        "hs256-keyed-with-public-jwk",
        "foreign-key-embedded-jwk",
        "foreign-key-jku",
        "foreign-key-x5u",
        "signature-bit-flipped",
        "signature-truncated",
        "signature-empty",
        "payload-edited",
        "disallowed-alg",
        "ecdsa-zero-signature",
        "time-expired",
        "time-not-yet-valid",
        "time-missing-exp",
        "time-exp-string",
        "time-lifetime-beyond-maximum",
        "claim-aud-missing",
        "claim-aud-wrong",
        "claim-aud-prefix",
        "claim-iss-missing",
        "claim-iss-wrong",
        "claim-iss-trailing-slash",
        "claim-iss-prefix",
        "crit-unknown",
        "duplicate-claim",
        "kid-",
        "oversized-token",
        "oversized-authorization-header",
    }
    missing = {family for family in families if not any(name.startswith(family) for name in CASE_NAMES)}
    assert not missing, f"attack families without a case: {sorted(missing)}"
    assert len(CASE_NAMES) == len(set(CASE_NAMES)), "case names must be unique"


def test_a_genuine_token_is_accepted_by_gateway_and_lambda(
    api: ApiClient, direct: DirectInvoker, tokens: Tokens
) -> None:
    """The control: without it, a suite refusing everything would prove nothing."""
    forged_but_genuine = tokens.forge().legit()
    for token in (tokens.issue("alice@shopfast.example"), forged_but_genuine):
        through_gateway = api.request("POST", "/v1/credentials", token=token, json=TARGET)
        assert through_gateway.status_code == 200, through_gateway.text
        at_lambda = direct.invoke("POST", "/v1/credentials", token=token, body=TARGET)
        assert at_lambda.status == 200, at_lambda.body


@pytest.mark.parametrize("name", CASE_NAMES)
def test_attack_is_refused_with_401_and_no_aws_call(
    name: str,
    attack_cases: dict[str, AttackCase],
    api: ApiClient,
    direct: DirectInvoker,
    stack: Any,
    attacker: RecordingServer,
) -> None:
    case = attack_cases[name]
    hits_before = len(attacker.hits)
    calls_before = control_plane_calls(stack)

    # Through the gateway: its authorizer or the Lambda behind it refuses (both answer 401).
    response = api.request(
        "POST", "/v1/credentials", headers={"Authorization": case.authorization}, json=TARGET
    )
    if name == "oversized-authorization-header":
        # Beyond the HTTP server's header line limit the request never reaches API Gateway's
        # authorizer: 431 (or 413/400) is the honest answer; anything but 2xx/5xx is a refusal.
        assert 400 <= response.status_code < 500, response.status_code
    else:
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text[:300]}"
        assert "bearer" in response.headers.get("www-authenticate", "").lower()

    # Directly at the Lambda, with the unverified claims handed over as if an authorizer had passed them.
    result = direct.invoke(
        "POST",
        "/v1/credentials",
        authorization=case.authorization,
        body=TARGET,
        claims=_unverified_claims(case.token) or None,
    )
    assert result.status == 401, f"{name}: Lambda answered {result.status} {result.body[:300]}"
    assert result.header("content-type") == PROBLEM
    assert result.header("www-authenticate") == 'Bearer error="invalid_token"'
    assert result.header("cache-control") == "no-store"
    problem = result.json()
    assert problem["status"] == 401 and problem["code"] == "unauthorized"
    assert case.token[:40] not in result.body or len(case.token) < 40  # the token is not echoed back

    assert control_plane_calls(stack) == calls_before, f"{name}: an AWS call was made for a refused token"
    assert attacker.hits[hits_before:] == [], f"{name}: a token-supplied URL was fetched"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        "Token abc.def.ghi",
        "Bearer a.b.c d.e.f",
        "bearer",
    ],
    ids=[
        "absent",
        "empty",
        "scheme-only",
        "scheme-and-space",
        "basic",
        "other-scheme",
        "two-tokens",
        "lower",
    ],
)
def test_missing_or_malformed_authorization_is_refused(
    authorization: str | None, api: ApiClient, direct: DirectInvoker, stack: Any
) -> None:
    calls_before = control_plane_calls(stack)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = api.request("GET", "/v1/me", headers=headers)
    assert response.status_code == 401, response.text
    result = direct.invoke("GET", "/v1/me", authorization=authorization)
    assert result.status == 401 and result.header("content-type") == PROBLEM, result.body
    assert control_plane_calls(stack) == calls_before


def test_basic_scheme_carrying_a_genuine_token_is_refused(
    api: ApiClient, direct: DirectInvoker, tokens: Tokens
) -> None:
    genuine = tokens.issue("alice@shopfast.example")
    result = direct.invoke("GET", "/v1/me", authorization=f"Basic {genuine}")
    assert result.status == 401, result.body


def test_no_token_supplied_url_was_ever_fetched(attacker: RecordingServer, attack_cases: dict) -> None:
    """Belt and braces after all cases ran: the attacker's host saw nothing at all."""
    assert any("jku" in name for name in attack_cases)
    assert attacker.hits == []


ROUTE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/me"): {},
    ("GET", "/v1/grants"): {"query": {"scope": "s3://shopfast-data/users/*"}},
    ("POST", "/v1/credentials"): {"body": TARGET},
    ("POST", "/v1/presign"): {"body": {"target": "s3://shopfast-data/users/user_list", "method": "GET"}},
    ("GET", "/v1/objects"): {"query": {"prefix": "s3://shopfast-data/users/"}},
}
# One case of each family, sent to every protected route: a handler that forgot to verify would show.
REPRESENTATIVE_CASES = [
    "alg-none-empty-signature",
    "hs256-keyed-with-public-pem-spki",
    "foreign-key-jku-issuer-kid",
    "payload-edited-groups-escalated",
    "ecdsa-zero-signature-ES256",
    "time-expired-an-hour-ago",
    "claim-aud-wrong",
    "duplicate-claim-email-last",
]


@pytest.mark.parametrize("route", list(ROUTE_BODIES), ids=lambda route: f"{route[0]} {route[1]}")
def test_every_protected_route_verifies_the_token_itself(
    route: tuple[str, str],
    attack_cases: dict[str, AttackCase],
    api: ApiClient,
    direct: DirectInvoker,
    stack: Any,
    tokens: Tokens,
) -> None:
    method, path = route
    extra = ROUTE_BODIES[route]
    genuine = tokens.issue("alice@shopfast.example")
    control = direct.invoke(method, path, token=genuine, body=extra.get("body"), query=extra.get("query"))
    assert control.status == 200, control.body
    calls_before = control_plane_calls(stack)
    for name in REPRESENTATIVE_CASES:
        case = attack_cases[name]
        result = direct.invoke(
            method,
            path,
            authorization=case.authorization,
            body=extra.get("body"),
            query=extra.get("query"),
            claims=_unverified_claims(case.token) or None,
        )
        assert result.status == 401, f"{name} on {method} {path}: {result.status} {result.body[:200]}"
        response = api.request(
            method,
            path,
            headers={"Authorization": case.authorization},
            json=extra.get("body"),
            params=extra.get("query"),
        )
        assert response.status_code == 401, (
            f"{name} on {method} {path} via the gateway: {response.status_code}"
        )
    assert control_plane_calls(stack) == calls_before

"""The gateway's JWT authorizer refuses like API Gateway's, before any Lambda runs."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

pytestmark = pytest.mark.integration


def _signed_by_the_issuer(local_stack, http, claims):
    """A token signed with the local issuer's real key and kid, with claims of the test's choosing."""
    key = serialization.load_pem_private_key(
        (local_stack.state_dir / "idp-signing-key.pem").read_bytes(), password=None
    )
    jwks = http.get(f"{local_stack.issuer_url}/.well-known/jwks.json", timeout=5).json()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": jwks["keys"][0]["kid"]})


def _claims(local_stack, **changes):
    now = int(time.time())
    claims = {
        "iss": local_stack.issuer_url,
        "sub": "probe-subject",
        "email": "alice@shopfast.example",
        "groups": ["CustomerSupport"],
        "aud": "shopfast-vending",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _assert_refused(response, description, probe_log):
    assert response.status_code == 401, response.text
    assert response.json() == {"message": "Unauthorized"}
    challenge = response.headers["www-authenticate"]
    if description is None:
        assert challenge == "Bearer"
    else:
        assert challenge.startswith('Bearer scope="" error="invalid_token" error_description="')
        assert description in challenge
    # The probe handler records every invocation; this request's id must not be among them.
    assert response.headers["apigw-requestid"] not in probe_log.request_ids()


def test_a_valid_token_reaches_the_handler_with_the_claims(probe_gateway, probe_log, local_stack, http):
    token = local_stack.token("alice@shopfast.example")
    response = http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["requestId"] == response.headers["apigw-requestid"]
    assert record["requestId"] in probe_log.request_ids()
    # Claims as API Gateway passes them: strings, arrays flattened to "[a b]".
    assert record["claims"]["email"] == "alice@shopfast.example"
    assert record["claims"]["groups"] == "[CustomerSupport]"
    assert record["claims"]["iss"] == local_stack.issuer_url
    assert record["claims"]["exp"].isdigit()


def test_the_bearer_prefix_is_optional_like_api_gateway(probe_gateway, local_stack, http):
    token = local_stack.token("alice@shopfast.example")
    response = http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": token})
    assert response.status_code == 200, response.text


def test_no_token_is_refused_before_the_handler(probe_gateway, probe_log, http):
    _assert_refused(http.post(f"{probe_gateway.url}/v1/echo"), None, probe_log)
    _assert_refused(
        http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": "Bearer "}), None, probe_log
    )


def test_wrong_audience_is_refused_before_the_handler(probe_gateway, probe_log, local_stack, http):
    token = local_stack.token("alice@shopfast.example", aud="some-other-app")
    response = http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": f"Bearer {token}"})
    _assert_refused(response, "the token does not have a valid audience", probe_log)


def test_expired_token_is_refused_before_the_handler(probe_gateway, probe_log, local_stack, http):
    token = local_stack.token("alice@shopfast.example", ttl=-60)
    response = http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": f"Bearer {token}"})
    _assert_refused(response, "the token has expired", probe_log)


def test_wrong_issuer_is_refused_even_when_the_signature_is_good(probe_gateway, probe_log, local_stack, http):
    token = _signed_by_the_issuer(local_stack, http, _claims(local_stack, iss="https://idp.attacker.example"))
    response = http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": f"Bearer {token}"})
    _assert_refused(response, "the token does not have a valid issuer", probe_log)


def test_client_id_stands_in_for_a_missing_aud(probe_gateway, local_stack, http):
    token = _signed_by_the_issuer(
        local_stack, http, _claims(local_stack, aud=None, client_id="shopfast-vending")
    )
    response = http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("case", "description"),
    [
        ("tampered payload", "signature"),
        ("no exp", "the token has no exp claim"),
        ("not yet valid", "the token is not yet valid"),
        ("unknown kid", "kid"),
        ("not a JWT", "not a valid JWT"),
        ("HS256", "algorithm"),
    ],
)
def test_invalid_tokens_are_refused_before_the_handler(
    probe_gateway, probe_log, local_stack, http, case, description
):
    good = _signed_by_the_issuer(local_stack, http, _claims(local_stack))
    header, _, signature = good.split(".")
    if case == "tampered payload":
        other = _signed_by_the_issuer(
            local_stack, http, _claims(local_stack, email="mallory@shopfast.example")
        )
        token = f"{header}.{other.split('.')[1]}.{signature}"
    elif case == "no exp":
        token = _signed_by_the_issuer(local_stack, http, _claims(local_stack, exp=None))
    elif case == "not yet valid":
        token = _signed_by_the_issuer(local_stack, http, _claims(local_stack, nbf=int(time.time()) + 600))
    elif case == "unknown kid":
        token = jwt.encode(
            _claims(local_stack),
            serialization.load_pem_private_key(
                (local_stack.state_dir / "idp-signing-key.pem").read_bytes(), password=None
            ),
            algorithm="RS256",
            headers={"kid": "no-such-key"},
        )
    elif case == "not a JWT":
        token = "definitely-not-a-jwt"
    else:
        jwks = http.get(f"{local_stack.issuer_url}/.well-known/jwks.json", timeout=5).json()
        token = jwt.encode(
            _claims(local_stack), "x" * 32, algorithm="HS256", headers={"kid": jwks["keys"][0]["kid"]}
        )
    response = http.post(f"{probe_gateway.url}/v1/echo", headers={"Authorization": f"Bearer {token}"})
    _assert_refused(response, description, probe_log)


def test_route_scopes_need_one_of_them_in_the_token(probe_gateway, probe_log, local_stack, http):
    url = f"{probe_gateway.url}/v1/scoped"
    for scope in ("probe.read", "openid probe.admin"):
        token = _signed_by_the_issuer(local_stack, http, _claims(local_stack, scope=scope))
        assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for claims in (_claims(local_stack), _claims(local_stack, scope="openid profile")):
        token = _signed_by_the_issuer(local_stack, http, claims)
        response = http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
        assert response.json() == {"message": "Forbidden"}
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
        assert response.headers["apigw-requestid"] not in probe_log.request_ids()


def test_routes_with_auth_none_need_no_token(probe_gateway, probe_log, http):
    response = http.get(f"{probe_gateway.url}/v1/public")
    assert response.status_code == 200, response.text
    assert response.json()["claims"] is None
    assert response.headers["apigw-requestid"] in probe_log.request_ids()


def test_the_real_template_refuses_before_any_aws_call(real_gateway, local_stack, http):
    """Through template.yaml's own routes: the gateway's 401 (not the service's problem document) and not
    one call reaches the emulated AWS, so no handler ran."""
    local_stack.reset_stats()
    expired = local_stack.token("alice@shopfast.example", ttl=-60)
    wrong_audience = local_stack.token("alice@shopfast.example", aud="some-other-app")
    for headers in (
        {},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {wrong_audience}"},
    ):
        for method, path in (("GET", "/v1/me"), ("GET", "/v1/grants"), ("POST", "/v1/credentials")):
            response = http.request(method, f"{real_gateway.url}{path}", headers=headers, json={})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json() == {"message": "Unauthorized"}
            assert response.headers["content-type"] == "application/json"
    assert local_stack.stats()["controlPlaneCalls"] == 0

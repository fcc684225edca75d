"""Key rotation and JWKS outages, at the Lambda (each test a cold execution environment whose JWKS
comes through a counting proxy in front of the issuer).

These tests rotate the issuer's key, so they run on a stack of their own: a rotation must not
leave the shared stack's gateway inside its unknown-kid cool-down while other tests run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.stack import LocalStack
from tests.security.clients import ApiClient, DirectInvoker, SeenSecrets
from tests.security.conftest import LambdaHosts, Tokens, control_plane_calls
from tests.security.jwt_forge import SigningKey
from tests.security.listeners import JwksProxy

pytestmark = pytest.mark.security

ME = ("GET", "/v1/me")
# edge.jwks: with no keys at all, a fetch is retried no more often than this.
COLD_RETRY_SECONDS = 5


@pytest.fixture(scope="module")
def rotation_stack(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("rotation-state")
    logs = log_dir / "rotation"
    with LocalStack(aws_port=0, idp_port=0, state_dir=state_dir, latency_ms=0, log_dir=logs) as stack:
        yield stack


@pytest.fixture(scope="module")
def rotation_tokens(rotation_stack: LocalStack, seen: SeenSecrets) -> Tokens:
    return Tokens(rotation_stack, seen)


@pytest.fixture
def proxy(rotation_stack: LocalStack) -> Iterator[JwksProxy]:
    requests.post(
        f"{rotation_stack.issuer_url}/dev/jwks-outage", json={"down": False, "delayMs": 0}, timeout=10
    )
    with JwksProxy(upstream_jwks_url=f"{rotation_stack.issuer_url}/.well-known/jwks.json") as jwks_proxy:
        yield jwks_proxy


@pytest.fixture
def cold_lambda(
    rotation_stack: LocalStack, proxy: JwksProxy, log_dir: Path, seen: SeenSecrets
) -> Iterator[DirectInvoker]:
    hosts = LambdaHosts(rotation_stack, log_dir / "rotation", seen)
    with hosts.start(JWT_JWKS_URL=proxy.jwks_url) as invoker:
        yield invoker


def _rotate(stack: LocalStack) -> dict:
    response = requests.post(f"{stack.issuer_url}/dev/rotate", json={}, timeout=10)
    response.raise_for_status()
    return response.json()


def test_a_new_key_is_accepted_after_at_most_one_refetch(
    cold_lambda: DirectInvoker, proxy: JwksProxy, rotation_stack: LocalStack, rotation_tokens: Tokens
) -> None:
    old_token = rotation_tokens.issue("alice@shopfast.example")
    assert cold_lambda.invoke(*ME, token=old_token).status == 200
    assert proxy.fetches == 1, "a cold start fetches the JWKS once"

    rotated = _rotate(rotation_stack)
    new_token = rotation_tokens.issue("bob@shopfast.example")
    assert (
        rotated["kid"] in requests.get(f"{rotation_stack.issuer_url}/.well-known/jwks.json", timeout=5).text
    )

    first = cold_lambda.invoke(*ME, token=new_token)
    assert first.status == 200, first.body
    assert proxy.fetches == 2, "the unknown kid triggered exactly one refetch"
    # Both keys are now known: more tokens of either key cost no fetch.
    for token in (new_token, old_token, rotation_tokens.issue("carol@shopfast.example")):
        assert cold_lambda.invoke(*ME, token=token).status == 200
    assert proxy.fetches == 2


def test_a_burst_of_unknown_kids_triggers_at_most_one_fetch(
    cold_lambda: DirectInvoker, proxy: JwksProxy, rotation_stack: LocalStack, rotation_tokens: Tokens
) -> None:
    genuine = rotation_tokens.issue("alice@shopfast.example")
    assert cold_lambda.invoke(*ME, token=genuine).status == 200
    fetches_after_warm_up = proxy.fetches
    calls_before = control_plane_calls(rotation_stack)

    forge = rotation_tokens.forge()
    # Correctly signed by the issuer's key but naming kids the issuer never published, and foreign keys.
    burst = [forge.sign_rs256(forge.header(kid=f"unknown-{uuid.uuid4()}"), forge.claims()) for _ in range(20)]
    stranger = SigningKey.generate()
    burst += [
        forge.sign_rs256(forge.header(kid=stranger.kid), forge.claims(), key=stranger) for _ in range(20)
    ]
    for token in burst:
        result = cold_lambda.invoke(*ME, token=token)
        assert result.status == 401, result.body

    assert proxy.fetches - fetches_after_warm_up <= 1, f"{proxy.fetches - fetches_after_warm_up} fetches"
    assert control_plane_calls(rotation_stack) == calls_before
    # The genuine key is still served from the cache.
    assert cold_lambda.invoke(*ME, token=genuine).status == 200
    assert proxy.fetches - fetches_after_warm_up <= 1


def test_a_warm_cache_keeps_serving_while_the_jwks_endpoint_is_down(
    cold_lambda: DirectInvoker, proxy: JwksProxy, rotation_tokens: Tokens
) -> None:
    genuine = rotation_tokens.issue("alice@shopfast.example")
    assert cold_lambda.invoke(*ME, token=genuine).status == 200

    proxy.down = True
    # An unknown kid makes the Lambda try a refresh, which fails: the last-known-good keys must survive it.
    forge = rotation_tokens.forge()
    unknown = forge.sign_rs256(forge.header(kid=f"unknown-{uuid.uuid4()}"), forge.claims())
    assert cold_lambda.invoke(*ME, token=unknown).status == 401
    for email in ("alice@shopfast.example", "bob@shopfast.example"):
        result = cold_lambda.invoke(*ME, token=rotation_tokens.issue(email))
        assert result.status == 200, result.body
    assert proxy.fetches >= 2, "the refresh was attempted against the failing endpoint"


def test_a_cold_cache_with_the_jwks_endpoint_down_answers_503_then_recovers(
    cold_lambda: DirectInvoker, proxy: JwksProxy, rotation_stack: LocalStack, rotation_tokens: Tokens
) -> None:
    proxy.down = True
    calls_before = control_plane_calls(rotation_stack)
    genuine = rotation_tokens.issue("alice@shopfast.example")

    result = cold_lambda.invoke(*ME, token=genuine)
    assert result.status == 503, result.body
    assert result.header("content-type") == "application/problem+json"
    assert int(result.header("retry-after") or 0) >= 1
    assert result.json()["code"] == "service_unavailable"
    assert control_plane_calls(rotation_stack) == calls_before

    # A forged token is not let through because the keys are missing: still no 2xx.
    forge = rotation_tokens.forge()
    assert cold_lambda.invoke(*ME, token=forge.legit()).status in (401, 503)

    proxy.down = False
    time.sleep(COLD_RETRY_SECONDS + 0.5)  # the Lambda's own back-off before it tries again
    recovered = cold_lambda.invoke(*ME, token=genuine)
    assert recovered.status == 200, recovered.body


@pytest.mark.parametrize("lambda_timeout_seconds", [1.5, 4.0])
def test_a_slow_jwks_endpoint_cannot_hold_a_request_past_its_budget(
    lambda_timeout_seconds: float,
    cold_lambda: DirectInvoker,
    proxy: JwksProxy,
    rotation_tokens: Tokens,
) -> None:
    proxy.delay_seconds = 8.0  # longer than any budget below
    genuine = rotation_tokens.issue("alice@shopfast.example")
    result = cold_lambda.invoke(*ME, token=genuine, timeout_seconds=lambda_timeout_seconds)
    assert result.status == 503, result.body
    assert result.header("content-type") == "application/problem+json"
    assert result.remaining_ms > 0, "the Lambda answered only after its own timeout"


def test_the_gateway_path_keeps_serving_through_an_issuer_jwks_outage(
    api: ApiClient, calm_stack: LocalStack, tokens: Tokens
) -> None:
    """On the shared stack: the gateway's authorizer and the Lambda behind it both hold warm keys."""
    genuine = tokens.issue("alice@shopfast.example")
    assert api.request("GET", "/v1/me", token=genuine).status_code == 200
    outage = {"down": True, "delayMs": 0}
    requests.post(f"{calm_stack.issuer_url}/dev/jwks-outage", json=outage, timeout=10).raise_for_status()
    assert requests.get(f"{calm_stack.issuer_url}/.well-known/jwks.json", timeout=5).status_code == 503
    for email in ("alice@shopfast.example", "dave@shopfast.example"):
        response = api.request("GET", "/v1/me", token=tokens.issue(email))
        assert response.status_code == 200, response.text


def test_a_trickling_jwks_endpoint_cannot_hold_a_request_past_its_budget(
    cold_lambda: DirectInvoker, proxy: JwksProxy, rotation_tokens: Tokens
) -> None:
    """Headers at once, then one byte every 0.3 s: no single read ever times out, so only a deadline
    on the whole fetch keeps the request inside the Lambda's time."""
    proxy.drip_interval_seconds = 0.3
    genuine = rotation_tokens.issue("alice@shopfast.example")
    result = cold_lambda.invoke(*ME, token=genuine, timeout_seconds=4.0)
    assert result.status == 503, result.body
    assert result.remaining_ms > 0, "the Lambda answered only after its own timeout"

"""The demo page signs in as a real single-page app does: the authorization code flow with PKCE through
oidc-client-ts (vendored), the identity provider's sign-in page, silent refresh with the refresh token,
sign-out that revokes it; tokens only in memory. Screenshots at 1280 and 390 px."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Page, Request, expect

from local.gateway import RunningGateway
from local.stack import LocalStack
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_demo_page import last_message, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "local" / "demo" / "vendor" / "oidc-client-ts.min.js"
# dist/browser/oidc-client-ts.min.js of the npm package oidc-client-ts@3.5.0 (Apache-2.0).
VENDORED_SHA256 = "f999daa383f09eb090d0ae32211e9ca931c76840e08e47fcf334fc8f5f74f1ef"


def test_the_vendored_client_is_the_pinned_release_unchanged_with_its_license() -> None:
    text = VENDORED.read_bytes()
    header, _, body = text.partition(b" */\n")
    assert b"oidc-client-ts 3.5.0" in header and b"Apache License" in header
    assert hashlib.sha256(body).hexdigest() == VENDORED_SHA256


def test_the_page_signs_in_through_the_identity_providers_page(
    page: Page, demo_gateway: RunningGateway, local_stack: LocalStack
) -> None:
    for script in ("/demo/app.js", "/demo/vendor/oidc-client-ts.min.js"):
        assert "/dev/token" not in requests.get(f"{demo_gateway.url}{script}", timeout=10).text
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/authorize\?"))

    query = parse_qs(urlsplit(page.url).query)
    assert page.url.startswith(f"{local_stack.issuer_url}/authorize?")
    assert query["client_id"] == ["shopfast-demo"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{demo_gateway.url}/"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile", "offline_access"}
    expect(page.locator("button[name='user']")).to_have_count(6)  # the demo users
    page.screenshot(path=str(ARTIFACTS / "browser-sign-in-page.png"))
    page.click("button[name='user'][value='dave@shopfast.example']")

    expect(page.get_by_test_id("welcome")).to_have_text("Welcome, dave@shopfast.example")
    assert page.url == f"{demo_gateway.url}/"  # the single-use code is gone from the address bar
    expect(page.get_by_test_id("grants").locator("li")).to_have_count(2)
    stored = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert "access_token" not in stored and "refresh_token" not in stored and "eyJ" not in stored


def test_the_session_refreshes_silently_before_the_token_expires(page: Page) -> None:
    refreshes: list[Request] = []
    page.on(
        "request",
        lambda r: (
            refreshes.append(r)
            if r.url.endswith("/token") and "refresh_token" in (r.post_data or "")
            else None
        ),
    )
    page.clock.install()
    sign_in(page, "bob@shopfast.example")
    first_expiry = int(page.locator("#session").get_attribute("data-expires-at") or 0)

    page.clock.fast_forward("00:59:30")  # inside the last minute: oidc-client-ts renews

    expect(page.locator("#session")).not_to_have_attribute("data-expires-at", str(first_expiry))
    assert len(refreshes) == 1 and "grant_type=refresh_token" in (refreshes[0].post_data or "")
    assert int(page.locator("#session").get_attribute("data-expires-at") or 0) > first_expiry
    page.click("#refresh-grants")  # the API accepts the renewed token
    expect(page.get_by_test_id("grants").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("message")).to_have_count(0)


@pytest.mark.console_errors("400")  # the refused refresh this test injects
def test_when_refresh_is_refused_the_session_ends_at_expiry(page: Page) -> None:
    page.route(
        "**/token",
        lambda route: (
            route.fulfill(
                status=400,
                json={"error": "invalid_grant", "error_description": "revoked"},
                headers=_cors(route),
            )
            if "refresh_token" in (route.request.post_data or "")
            else route.continue_()
        ),
    )
    page.clock.install()
    sign_in(page, "bob@shopfast.example")

    page.clock.fast_forward("01:00:05")

    expect(last_message(page)).to_contain_text("Your session has expired.")
    expect(page.locator("#sign-in-card")).to_be_visible()
    expect(page.locator("#workspace")).to_be_hidden()


def _cors(route) -> dict[str, str]:
    origin = route.request.headers.get("origin", "*")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def test_sign_out_revokes_the_refresh_token(page: Page, local_stack: LocalStack) -> None:
    issued: list[dict] = []
    page.on(
        "response",
        lambda r: (
            issued.append(r.json()) if r.url.endswith("/token") and r.request.method == "POST" else None
        ),
    )
    sign_in(page, "erin@shopfast.example")
    with page.expect_request(lambda r: r.url.endswith("/revoke")) as revocation:
        page.click("#sign-out")

    assert "token_type_hint=refresh_token" in (revocation.value.post_data or "")
    expect(last_message(page)).to_contain_text("You are signed out.")
    expect(page.locator("#sign-in-card")).to_be_visible()
    refresh_token = issued[0]["refresh_token"]
    reused = requests.post(
        f"{local_stack.issuer_url}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "shopfast-demo"},
        timeout=10,
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_a_token_the_api_refuses_signs_out_with_the_reason(page: Page, local_stack: LocalStack) -> None:
    # The identity provider hands the page a token for another audience: the gateway's authorizer refuses it.
    foreign = local_stack.token("carol@shopfast.example", aud="some-other-app")

    def swap_access_token(route) -> None:
        answer = route.fetch()
        body = answer.json()
        if "access_token" in body:
            body["access_token"] = foreign
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/token", swap_access_token)
    page.click("#sign-in")
    page.click("button[name='user'][value='carol@shopfast.example']")

    message = last_message(page)
    expect(message).to_contain_text("Your sign-in was not accepted.")
    expect(message).to_contain_text("the token does not have a valid audience")
    expect(page.locator("#workspace")).to_be_hidden()


def test_at_390_px_the_page_does_not_scroll_sideways(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "alice@shopfast.example")
    page.get_by_test_id("grants").locator("li[data-scope='s3://shopfast-data/users/*']").get_by_role(
        "button", name="Browse"
    ).click()
    expect(page.locator("tr[data-target='s3://shopfast-data/users/user_list']")).to_be_visible()

    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > 391)
            .map((e) => `${e.tagName}#${e.id}.${e.className}:${Math.round(e.getBoundingClientRect().right)}`)
            .slice(0, 8)"""
    )
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, wide
    page.screenshot(path=str(ARTIFACTS / "browser-demo-page-390px.png"), full_page=True)

"""The demo page, driven in headless Chromium: sign-in, grants, browsing, presigned download and
upload straight to (emulated) S3, and the messages for denials and an ended session."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str) -> None:
    page.select_option("#user-select", email)
    page.click("#sign-in")
    expect(page.get_by_test_id("welcome")).to_have_text(f"Welcome, {email}")


def last_message(page: Page):
    return page.get_by_test_id("message").first


def test_alice_sees_her_grants_and_downloads_the_user_list(page: Page):
    sign_in(page, "alice@shopfast.example")
    grants = page.get_by_test_id("grants")
    expect(grants.locator("li")).to_have_count(2)
    expect(grants.locator("li[data-scope='s3://shopfast-data/users/*']")).to_contain_text("read")
    expect(grants.locator("li[data-scope='s3://shopfast-data/feedback/*']")).to_contain_text("read & write")

    grants.locator("li[data-scope='s3://shopfast-data/users/*']").get_by_role("button", name="Browse").click()
    row = page.locator("tr[data-target='s3://shopfast-data/users/user_list']")
    expect(row).to_be_visible()
    with page.expect_download() as download_info:
        row.get_by_role("button", name="Download users/user_list").click()
    download = download_info.value
    assert download.suggested_filename.startswith("user_list")  # Chromium may add .txt for text/plain
    assert Path(download.path()).read_text(encoding="utf-8") == "alice,bob,carol,dave,erin\n"
    expect(page.get_by_test_id("preview")).to_have_text("alice,bob,carol,dave,erin\n")
    expect(last_message(page)).to_contain_text("Downloaded user_list.")


def test_alice_uploads_to_feedback(page: Page, s3_admin):
    sign_in(page, "alice@shopfast.example")
    name = f"browser-{uuid.uuid4().hex[:8]}.txt"
    content = b"Great service, fast delivery.\n"
    page.get_by_test_id("grants").locator("li[data-scope='s3://shopfast-data/feedback/*']").get_by_role(
        "button", name="Browse"
    ).click()
    page.set_input_files("#upload-file", files=[{"name": name, "mimeType": "text/plain", "buffer": content}])
    expect(page.locator("#upload-target")).to_have_value(f"s3://shopfast-data/feedback/{name}")
    page.click("#upload")
    expect(last_message(page)).to_contain_text(f"Uploaded {name}.")
    stored = s3_admin.get_object(Bucket="shopfast-data", Key=f"feedback/{name}")
    assert stored["Body"].read() == content
    assert stored["ContentType"] == "text/plain"
    expect(page.locator(f"tr[data-target='s3://shopfast-data/feedback/{name}']")).to_be_visible()


def test_alice_is_refused_on_users(page: Page, s3_admin):
    sign_in(page, "alice@shopfast.example")
    name = f"browser-{uuid.uuid4().hex[:8]}.txt"
    page.set_input_files("#upload-file", files=[{"name": name, "mimeType": "text/plain", "buffer": b"x\n"}])
    page.fill("#upload-target", f"s3://shopfast-data/users/{name}")
    page.click("#upload")
    message = last_message(page)
    expect(message).to_contain_text("Access denied.")
    expect(message).to_have_attribute("data-kind", "error")
    listed = s3_admin.list_objects_v2(Bucket="shopfast-data", Prefix=f"users/{name}")
    assert listed.get("KeyCount", 0) == 0

    page.fill("#prefix", "s3://shopfast-internal/leads/")
    page.click("#browse")
    expect(last_message(page)).to_contain_text("Access denied.")
    expect(page.locator("#objects-table")).to_be_hidden()


def test_mallory_sees_no_grants(page: Page):
    sign_in(page, "mallory@shopfast.example")
    expect(page.get_by_test_id("no-grants")).to_be_visible()
    expect(page.get_by_test_id("grants").locator("li")).to_have_count(0)


def test_an_expired_session_says_so_and_signs_out(page: Page):
    page.clock.install()
    sign_in(page, "bob@shopfast.example")
    page.clock.fast_forward("01:00:05")  # past the one-hour token
    expect(last_message(page)).to_contain_text("Your session has expired.")
    expect(page.locator("#sign-in-card")).to_be_visible()
    expect(page.locator("#workspace")).to_be_hidden()


def test_a_token_the_api_refuses_signs_out_with_the_reason(page: Page):
    # The issuer mints for another audience: the gateway's JWT authorizer refuses it (401).
    page.route(
        "**/dev/token?*",
        lambda route: route.continue_(url=f"{route.request.url}&aud=some-other-app"),
    )
    page.select_option("#user-select", "carol@shopfast.example")
    page.click("#sign-in")
    message = last_message(page)
    expect(message).to_contain_text("Your sign-in was not accepted.")
    expect(message).to_contain_text("the token does not have a valid audience")
    expect(page.locator("#workspace")).to_be_hidden()

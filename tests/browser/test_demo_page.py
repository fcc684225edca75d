"""The demo page, driven in headless Chromium: sign-in, grants, browsing, presigned download, and the
messages for denials and an ended session. Uploads (through Uppy) are in test_uploads.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str) -> None:
    """Through the identity provider's sign-in page, as a user does (authorization code flow with PKCE)."""
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/authorize\?"))
    page.click(f"button[name='user'][value='{email}']")
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


def test_alice_cannot_browse_outside_her_grants(page: Page):
    sign_in(page, "alice@shopfast.example")
    page.fill("#prefix", "s3://shopfast-internal/leads/")
    page.click("#browse")
    expect(last_message(page)).to_contain_text("Access denied.")
    expect(page.locator("#objects-table")).to_be_hidden()


def test_mallory_is_told_what_to_ask_for_instead_of_offered_forms_that_can_only_fail(page: Page):
    sign_in(page, "mallory@shopfast.example")
    explanation = page.get_by_test_id("no-grants")
    expect(explanation).to_be_visible()
    expect(explanation).to_contain_text("Ask your data owner")
    expect(explanation).to_contain_text("s3://bucket/prefix/")
    expect(explanation).to_contain_text("mallory@shopfast.example (groups: none)")
    expect(page.get_by_test_id("grants").locator("li")).to_have_count(0)
    for form in ("#browse-form", "#upload-card"):
        expect(page.locator(form)).to_be_hidden()


def test_the_page_keeps_one_current_message(page: Page):
    """A denial, then a success: the page shows the success alone, not an old "Access denied" above it."""
    sign_in(page, "alice@shopfast.example")
    page.fill("#prefix", "s3://shopfast-internal/leads/")
    page.click("#browse")
    expect(last_message(page)).to_contain_text("Access denied.")
    page.fill("#prefix", "s3://shopfast-data/users/")
    page.click("#browse")
    row = page.locator("tr[data-target='s3://shopfast-data/users/user_list']")
    with page.expect_download():
        row.get_by_role("button", name="Download users/user_list").click()
    expect(last_message(page)).to_contain_text("Downloaded user_list.")
    expect(page.get_by_test_id("message")).to_have_count(1)
    expect(page.get_by_text("Access denied.")).to_have_count(0)

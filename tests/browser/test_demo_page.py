"""The demo page, driven in headless Chromium: sign-in, grants, browsing, presigned download and
uploads straight to (emulated) S3 (a POST form, or parallel parts of a multipart upload with progress,
resume and cancel), and the messages for denials and an ended session."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
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


def test_mallory_is_told_what_to_ask_for_instead_of_offered_forms_that_can_only_fail(page: Page):
    sign_in(page, "mallory@shopfast.example")
    explanation = page.get_by_test_id("no-grants")
    expect(explanation).to_be_visible()
    expect(explanation).to_contain_text("Ask your data owner")
    expect(explanation).to_contain_text("s3://bucket/prefix/")
    expect(explanation).to_contain_text("mallory@shopfast.example (groups: none)")
    expect(page.get_by_test_id("grants").locator("li")).to_have_count(0)
    for form in ("#browse-form", "#upload-form", "#drop-zone"):
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


# --- uploads: a presigned POST form for small files, a multipart upload with presigned parts for large ones


MIB = 1024 * 1024


def browse_feedback(page: Page) -> None:
    page.get_by_test_id("grants").locator("li[data-scope='s3://shopfast-data/feedback/*']").get_by_role(
        "button", name="Browse"
    ).click()
    expect(page.locator("#prefix")).to_have_value("s3://shopfast-data/feedback/")


def large_file(tmp_path: Path, name: str, size: int) -> tuple[Path, str]:
    """A file of random bytes (Playwright takes at most 50 MB as an in-memory buffer) and its digest."""
    path = tmp_path / name
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MIB):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            out.write(chunk)
    return path, digest.hexdigest()


def stored_digest(s3_admin, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in s3_admin.get_object(Bucket="shopfast-data", Key=key)["Body"].iter_chunks(MIB):
        digest.update(chunk)
    return digest.hexdigest()


def open_uploads(s3_admin, key: str) -> list:
    return s3_admin.list_multipart_uploads(Bucket="shopfast-data", Prefix=key).get("Uploads", [])


def test_alice_uploads_64_mib_in_parallel_parts(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, digest = large_file(tmp_path, name, 64 * MIB)
    part_requests: list[str] = []
    page.on(
        "request",
        lambda r: part_requests.append(r.url) if r.method == "PUT" and "partNumber=" in r.url else None,
    )

    page.set_input_files("#upload-file", str(path))
    expect(page.locator("#upload-target")).to_have_value(f"s3://shopfast-data/feedback/{name}")
    page.click("#upload")

    expect(last_message(page)).to_contain_text(f"Uploaded {name}.", timeout=120_000)
    assert len({url.split("partNumber=")[1].split("&")[0] for url in part_requests}) == 8  # 8 MiB parts
    assert stored_digest(s3_admin, f"feedback/{name}") == digest
    assert s3_admin.head_object(Bucket="shopfast-data", Key=f"feedback/{name}")["ETag"].endswith('-8"')
    expect(page.locator("#upload-progress")).to_be_hidden()
    expect(page.locator(f"tr[data-target='s3://shopfast-data/feedback/{name}']")).to_be_visible()


@pytest.mark.console_errors("ERR_CONNECTION_RESET")  # the failures this test injects
def test_a_failed_part_is_resumed_without_sending_the_others_again(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, digest = large_file(tmp_path, name, 20 * MIB)  # parts of 8, 8 and 4 MiB
    sent: list[str] = []
    page.on(
        "requestfinished",
        lambda r: (
            sent.append(r.url.split("partNumber=")[1].split("&")[0])
            if "partNumber=" in r.url and r.method == "PUT"
            else None
        ),
    )
    page.route("**/*partNumber=2&*", lambda route: route.abort("connectionreset"))

    page.set_input_files("#upload-file", str(path))
    expect(page.locator("#upload-target")).to_have_value(f"s3://shopfast-data/feedback/{name}")
    page.click("#upload")

    expect(page.locator("#upload-resume")).to_be_visible(timeout=60_000)
    expect(last_message(page)).to_contain_text("A part of the upload failed.")
    assert sorted(sent) == ["1", "3"]
    page.unroute("**/*partNumber=2&*")
    page.click("#upload-resume")
    expect(last_message(page)).to_contain_text(f"Uploaded {name}.", timeout=60_000)
    assert sorted(sent) == ["1", "2", "3"]  # parts 1 and 3 were not sent again
    assert stored_digest(s3_admin, f"feedback/{name}") == digest


def test_cancelling_an_upload_aborts_it_and_stores_nothing(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, _ = large_file(tmp_path, name, 24 * MIB)
    held = []
    page.route("**/*partNumber=3&*", lambda route: held.append(route))  # in flight until cancelled

    page.set_input_files("#upload-file", str(path))
    # The destination follows the folder once its listing has answered, as a user would see it.
    expect(page.locator("#upload-target")).to_have_value(f"s3://shopfast-data/feedback/{name}")
    page.click("#upload")
    expect(page.get_by_test_id("upload-status")).to_contain_text("2 of 3 parts", timeout=60_000)
    assert open_uploads(s3_admin, f"feedback/{name}")
    page.click("#upload-cancel")

    expect(last_message(page)).to_contain_text(f"Upload of {name} cancelled.")
    expect(page.locator("#upload-progress")).to_be_hidden()
    assert open_uploads(s3_admin, f"feedback/{name}") == []
    assert s3_admin.list_objects_v2(Bucket="shopfast-data", Prefix=f"feedback/{name}").get("KeyCount", 0) == 0


def test_a_denied_upload_is_explained_and_starts_nothing(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "carol@shopfast.example")  # READ only on feedback/
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, _ = large_file(tmp_path, name, 17 * MIB)
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-target", f"s3://shopfast-data/feedback/{name}")
    page.click("#upload")

    message = last_message(page)
    expect(message).to_contain_text("Access denied.")
    expect(message).to_contain_text("WRITE")
    assert open_uploads(s3_admin, f"feedback/{name}") == []


def test_a_dropped_small_file_goes_up_in_a_post_form(page: Page, s3_admin):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"dropped-{uuid.uuid4().hex[:8]}.txt"
    forms: list[str] = []
    page.on(
        "request",
        lambda r: (
            forms.append(r.headers.get("content-type", ""))
            if r.method == "POST" and "/v1/" not in r.url
            else None
        ),
    )
    page.evaluate(
        """(name) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["dropped on the page\\n"], name, { type: "text/plain" }));
            const zone = document.getElementById("drop-zone");
            const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        name,
    )
    expect(page.locator("#upload-target")).to_have_value(f"s3://shopfast-data/feedback/{name}")
    page.click("#upload")

    expect(last_message(page)).to_contain_text(f"Uploaded {name}.")
    assert forms and forms[0].startswith("multipart/form-data")
    stored = s3_admin.get_object(Bucket="shopfast-data", Key=f"feedback/{name}")
    assert stored["Body"].read() == b"dropped on the page\n"
    assert stored["ContentType"] == "text/plain"

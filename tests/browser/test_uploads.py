"""Uploads from the demo page through Uppy (vendored, pinned), in headless Chromium, straight to
(emulated) S3: a small file in a presigned POST form, a large one in parallel parts of a multipart upload
with progress, pause and resume sending only the missing parts, cancel aborting the upload, and denied
uploads explained. Files are added the way a user adds them: Uppy's file input, or a drop on its
Dashboard; uploads start with the Dashboard's own button."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.test_demo_page import last_message, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "local" / "demo" / "vendor"
# dist/uppy.min.js and dist/uppy.min.css of the npm package uppy@5.2.4 (MIT).
VENDORED_UPPY = {
    "uppy.min.js": "efcde62cb5911f9ac5d38cb9ec8a5da47b3964219336eab805ec22306109d0fd",
    "uppy.min.css": "15bc5af0242c3e0c733bb22c5e5bdfce21c5bea462eab331d961961b3cc53594",
}
MIB = 1024 * 1024
FEEDBACK = "s3://shopfast-data/feedback/"


def test_the_vendored_uppy_is_the_pinned_release_unchanged_with_its_license() -> None:
    for name, digest in VENDORED_UPPY.items():
        header, _, body = (VENDOR / name).read_bytes().partition(b" */\n")
        assert b"Uppy 5.2.4" in header and b"uppy@5.2.4" in header and b"The MIT License" in header
        assert hashlib.sha256(body).hexdigest() == digest, name


def browse_feedback(page: Page) -> None:
    page.get_by_test_id("grants").locator(f"li[data-scope='{FEEDBACK}*']").get_by_role(
        "button", name="Browse"
    ).click()
    expect(page.locator("#prefix")).to_have_value(FEEDBACK)
    # The destination follows the folder once its listing has answered, as a user would see it.
    expect(page.locator("#upload-folder")).to_have_value(FEEDBACK)


def add_file(page: Page, file: str | Path | dict) -> None:
    page.locator("#uploader input[type=file]").first.set_input_files(file)


def start_upload(page: Page) -> None:
    page.locator("#uploader").get_by_role("button", name=re.compile(r"^Upload \d+ file")).click()


def status_bar_button(page: Page, name: str):
    """Pause, Resume or Cancel on the Dashboard's status bar."""
    return page.locator("#uploader .uppy-StatusBar").get_by_role("button", name=name, exact=True)


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


def wait_until(page: Page, condition: Callable[[], bool], seconds: float = 60) -> None:
    """Until `condition` holds, letting the page's events arrive (Playwright delivers them while waiting)."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still not true after {seconds} s")


def part_number(request: Request) -> str | None:
    found = re.search(r"[?&]partNumber=(\d+)", request.url)
    return found.group(1) if found and request.method == "PUT" else None


def test_a_small_file_goes_up_in_a_post_form(page: Page, s3_admin):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"browser-{uuid.uuid4().hex[:8]}.txt"
    forms: list[str] = []
    page.on(
        "request",
        lambda r: (
            forms.append(r.headers.get("content-type", ""))
            if r.method == "POST" and "/v1/" not in r.url
            else None
        ),
    )

    add_file(page, {"name": name, "mimeType": "text/plain", "buffer": b"Great service, fast delivery.\n"})
    start_upload(page)

    expect(last_message(page)).to_contain_text(f"Uploaded {name}.")
    assert forms and forms[0].startswith("multipart/form-data")
    stored = s3_admin.get_object(Bucket="shopfast-data", Key=f"feedback/{name}")
    assert stored["Body"].read() == b"Great service, fast delivery.\n"
    assert stored["ContentType"] == "text/plain"
    expect(page.locator(f"tr[data-target='{FEEDBACK}{name}']")).to_be_visible()  # the listing was refreshed


def test_a_file_dropped_on_the_dashboard_goes_up(page: Page, s3_admin):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"dropped-{uuid.uuid4().hex[:8]}.txt"
    page.evaluate(
        """(name) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["dropped on the page\\n"], name, { type: "text/plain" }));
            const zone = document.querySelector("#uploader .uppy-Dashboard-inner");
            const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        name,
    )
    expect(page.locator("#uploader")).to_contain_text(name)
    start_upload(page)

    expect(last_message(page)).to_contain_text(f"Uploaded {name}.")
    assert (
        s3_admin.get_object(Bucket="shopfast-data", Key=f"feedback/{name}")["Body"].read()
        == b"dropped on the page\n"
    )


def test_alice_uploads_64_mib_in_parallel_parts_with_progress(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, digest = large_file(tmp_path, name, 64 * MIB)
    in_flight: set[str] = set()
    most_in_flight = [0]
    parts: list[str] = []
    progress: list[str] = []

    def started(request: Request) -> None:
        if number := part_number(request):
            in_flight.add(number)
            most_in_flight[0] = max(most_in_flight[0], len(in_flight))

    def finished(request: Request) -> None:
        if number := part_number(request):
            in_flight.discard(number)
            parts.append(number)
            progress.append(page.get_by_test_id("upload-status").text_content() or "")

    page.on("request", started)
    page.on("requestfinished", finished)
    add_file(page, path)
    start_upload(page)

    expect(last_message(page)).to_contain_text(f"Uploaded {name}.", timeout=120_000)
    assert sorted(parts, key=int) == [str(number) for number in range(1, 9)]  # 8 MiB parts, each once
    assert most_in_flight[0] > 1  # in parallel
    assert any(re.fullmatch(rf"{re.escape(name)}: [1-9]\d?%", text) for text in progress), progress
    assert stored_digest(s3_admin, f"feedback/{name}") == digest
    assert s3_admin.head_object(Bucket="shopfast-data", Key=f"feedback/{name}")["ETag"].endswith('-8"')
    expect(page.locator(f"tr[data-target='{FEEDBACK}{name}']")).to_be_visible()


def test_pause_then_resume_sends_only_the_missing_parts(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, digest = large_file(tmp_path, name, 24 * MIB)  # parts 1, 2, 3 of 8 MiB
    stored: list[str] = []
    page.on(
        "requestfinished",
        lambda r: (
            stored.append(number) if (number := part_number(r)) and r.response().status == 200 else None
        ),
    )
    held: list = []
    page.route("**/*partNumber=3&*", lambda route: held.append(route))  # in flight until paused

    add_file(page, path)
    start_upload(page)
    wait_until(page, lambda: sorted(stored) == ["1", "2"] and bool(held))
    status_bar_button(page, "Pause").click()
    page.unroute("**/*partNumber=3&*")
    status_bar_button(page, "Resume").click()

    expect(last_message(page)).to_contain_text(f"Uploaded {name}.", timeout=60_000)
    assert sorted(stored) == ["1", "2", "3"]  # parts 1 and 2 were not sent again
    assert stored_digest(s3_admin, f"feedback/{name}") == digest


def test_cancel_aborts_the_upload_and_stores_nothing(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "alice@shopfast.example")
    browse_feedback(page)
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, _ = large_file(tmp_path, name, 24 * MIB)
    stored: list[str] = []
    page.on("requestfinished", lambda r: stored.append(number) if (number := part_number(r)) else None)
    held: list = []
    page.route("**/*partNumber=3&*", lambda route: held.append(route))

    add_file(page, path)
    start_upload(page)
    wait_until(page, lambda: len(stored) == 2 and bool(held))
    assert open_uploads(s3_admin, f"feedback/{name}")
    status_bar_button(page, "Cancel").click()

    expect(last_message(page)).to_contain_text(f"Upload of {name} cancelled.")
    assert open_uploads(s3_admin, f"feedback/{name}") == []
    assert s3_admin.list_objects_v2(Bucket="shopfast-data", Prefix=f"feedback/{name}").get("KeyCount", 0) == 0


@pytest.mark.console_errors("no grant of yours covers")  # Uppy logs the failed file
def test_a_denied_multipart_upload_is_explained_and_starts_nothing(page: Page, s3_admin, tmp_path: Path):
    sign_in(page, "carol@shopfast.example")  # READ only on feedback/
    name = f"browser-{uuid.uuid4().hex[:8]}.bin"
    path, _ = large_file(tmp_path, name, 17 * MIB)
    page.fill("#upload-folder", FEEDBACK)
    add_file(page, path)
    start_upload(page)

    message = last_message(page)
    expect(message).to_contain_text("Access denied.")
    expect(message).to_contain_text("WRITE")
    assert open_uploads(s3_admin, f"feedback/{name}") == []


@pytest.mark.console_errors("no grant of yours covers")  # Uppy logs the failed file
def test_a_denied_small_upload_is_explained_and_stores_nothing(page: Page, s3_admin):
    sign_in(page, "alice@shopfast.example")  # READ only on users/
    name = f"browser-{uuid.uuid4().hex[:8]}.txt"
    page.fill("#upload-folder", "s3://shopfast-data/users/")
    add_file(page, {"name": name, "mimeType": "text/plain", "buffer": b"x\n"})
    start_upload(page)

    message = last_message(page)
    expect(message).to_contain_text("Access denied.")
    expect(message).to_have_attribute("data-kind", "error")
    assert s3_admin.list_objects_v2(Bucket="shopfast-data", Prefix=f"users/{name}").get("KeyCount", 0) == 0


def test_a_destination_that_is_not_a_folder_is_explained(page: Page):
    sign_in(page, "alice@shopfast.example")
    page.fill("#upload-folder", "shopfast-data/feedback")
    add_file(page, {"name": "a.txt", "mimeType": "text/plain", "buffer": b"x\n"})
    start_upload(page)
    expect(last_message(page)).to_contain_text("Enter a destination folder like s3://bucket/folder/.")

"""The demo page in Debian's headless Chromium (Playwright's own browser download does not work here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from local.gateway import RunningGateway, serve
from local.stack import LocalStack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`make tools` installs it; or apt-get install chromium)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def demo_gateway(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    logs = tmp_path_factory.mktemp("demo-gateway")
    with serve(aws_endpoint=local_stack.aws_endpoint, log_file=logs / "gateway.log") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, demo_gateway: RunningGateway, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    expected = ["401", "403", *(m.args[0] for m in request.node.iter_markers("console_errors"))]
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and not any(text in message.text for text in expected)
            else None
        ),
    )
    page.goto(f"{demo_gateway.url}/")
    page.wait_for_selector("body[data-ready='true']")
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"browser-{request.node.name}.png"), full_page=True)
    context.close()
    assert not problems, problems  # the page must not throw or log errors beyond expected HTTP refusals


@pytest.fixture(scope="module")
def s3_admin(local_stack: LocalStack):
    """Static test keys: they see every object (the emulator enforces scope on vended keys only)."""
    return local_stack.client("s3")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session

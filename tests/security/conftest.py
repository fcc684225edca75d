"""The security suite's stack: its own emulator + issuer, the gateway on free ports, Lambda hosts.

The suite injects faults, moves the emulator's clock, rotates the issuer's key and takes the JWKS
endpoint down, so it gets a `LocalStack` of its own rather than the session-wide one other areas use.
Everything it starts writes its logs under one directory, which the last test scans for secrets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from local.gateway import RunningGateway, serve
from local.stack import LocalStack
from tests.security.clients import ApiClient, DirectInvoker, SeenSecrets
from tests.security.jwt_forge import SigningKey, TokenForge, decode_segment, split_token
from tests.security.listeners import RecordingServer

REPO = Path(__file__).resolve().parents[2]
ACCESS_PLAN = json.loads((REPO / "terraform/access-plan.json").read_text())
LEAK_SCAN_TEST = "test_no_secret_in_any_log_or_error_body"
CHILD_START_TIMEOUT_SECONDS = 60

# Captured output of every security test (stdout, stderr, log records), for the leak scan.
CAPTURED_OUTPUT: list[str] = []
SEEN = SeenSecrets()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The leak scan runs after everything else, so that it sees what the whole suite produced."""
    last = [item for item in items if item.name == LEAK_SCAN_TEST]
    if last:
        items[:] = [item for item in items if item.name != LEAK_SCAN_TEST] + last


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/security/" in report.nodeid.replace(os.sep, "/"):
        CAPTURED_OUTPUT.extend(content for _, content in report.sections)
        if report.longrepr is not None:
            CAPTURED_OUTPUT.append(str(report.longrepr))


# -- processes -------------------------------------------------------------------------------------
class ChildProcess:
    """A child Python process whose output goes to a log file; it announces its port as `PORT <n>`."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._log_start = self._log.tell()  # the log may already hold an earlier child's output
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + CHILD_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            match = re.search(rb"^PORT (\d+)$", self.log_path.read_bytes()[self._log_start :], re.MULTILINE)
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"child {self.process.args} did not start:\n{tail}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def child_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "JWT_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(proxy, None)
    return env


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def seen() -> SeenSecrets:
    return SEEN


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-logs")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("security-state")
    with LocalStack(
        aws_port=0, idp_port=0, state_dir=state_dir, latency_ms=0, log_dir=log_dir
    ) as local_stack:
        yield local_stack


@pytest.fixture(scope="session")
def stack_config(stack: LocalStack) -> dict[str, Any]:
    return stack.config()


@pytest.fixture
def calm_stack(stack: LocalStack) -> Iterator[LocalStack]:
    """The stack with no faults, a real clock, nothing shared between execution environments and the JWKS
    endpoint up, before and after the test."""
    _calm(stack)
    yield stack
    _calm(stack)


def _calm(stack: LocalStack) -> None:
    stack.clear_faults()
    stack.clear_shared_state()  # a fresh execution environment is then as cold as the first of a fleet
    stack.reset_clock()
    requests.post(f"{stack.issuer_url}/dev/jwks-outage", json={"down": False, "delayMs": 0}, timeout=10)


@pytest.fixture(scope="session")
def gateway(stack: LocalStack, log_dir: Path) -> Iterator[RunningGateway]:
    """The local API gateway (routes and JWT authorizer from template.yaml) in its own process."""
    with serve(aws_endpoint=stack.aws_endpoint, log_file=log_dir / "gateway.log") as running:
        yield running


@pytest.fixture(scope="session")
def api(gateway: RunningGateway, seen: SeenSecrets) -> ApiClient:
    return ApiClient(gateway.url, seen)


class LambdaHosts:
    """Starts `lambda_host` processes (fresh execution environments) with a given environment; `start`
    also empties the shared tier, so that the environment is as cold as the first of a new fleet."""

    def __init__(self, stack: LocalStack, log_dir: Path, seen: SeenSecrets) -> None:
        self._stack = stack
        self._aws_endpoint = stack.aws_endpoint
        self._log_dir = log_dir
        self._seen = seen
        self._children: list[ChildProcess] = []

    @contextmanager
    def start(self, **overrides: str) -> Iterator[DirectInvoker]:
        self._stack.clear_shared_state()
        child = self._spawn(overrides)
        try:
            yield DirectInvoker(child.url, self._seen)
        finally:
            child.stop()

    def start_shared(self, **overrides: str) -> DirectInvoker:
        return DirectInvoker(self._spawn(overrides).url, self._seen)

    def _spawn(self, overrides: dict[str, str]) -> ChildProcess:
        args = ["-m", "tests.security.lambda_host", "--aws-endpoint", self._aws_endpoint]
        for name, value in overrides.items():
            args += ["--env", f"{name}={value}"]
        log_path = self._log_dir / f"lambda-host-{uuid.uuid4().hex[:8]}.log"
        child = ChildProcess(args, child_environment(), log_path)
        self._children.append(child)
        return child

    def stop_all(self) -> None:
        for child in self._children:
            child.stop()


@pytest.fixture(scope="session")
def lambda_hosts(stack: LocalStack, log_dir: Path, seen: SeenSecrets) -> Iterator[LambdaHosts]:
    hosts = LambdaHosts(stack, log_dir, seen)
    yield hosts
    hosts.stop_all()


@pytest.fixture(scope="session")
def direct(lambda_hosts: LambdaHosts) -> DirectInvoker:
    """One warm Lambda execution environment for the whole suite (default configuration)."""
    return lambda_hosts.start_shared()


@pytest.fixture(scope="session")
def attacker() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture(scope="session")
def tokens(stack: LocalStack, seen: SeenSecrets) -> Tokens:
    return Tokens(stack, seen)


class Tokens:
    """Genuine tokens from the issuer, and a forge holding the issuer's current signing key."""

    def __init__(self, stack: LocalStack, seen: SeenSecrets) -> None:
        self._stack = stack
        self._seen = seen

    def issue(self, email: str, **kwargs: Any) -> str:
        token = self._stack.token(email, **kwargs)
        self._seen.add_token(token, f"issuer token for {email}")
        return token

    def forge(self) -> TokenForge:
        """A forge for the issuer's *current* key (tests may have rotated it)."""
        captured = self.issue("alice@shopfast.example")
        kid = decode_segment(split_token(captured)[0])["kid"]
        pem = (self._stack.state_dir / "idp-signing-key.pem").read_bytes()
        config = self._stack.config()
        return TokenForge(SigningKey.from_pem(pem, kid), config["issuer"], config["audience"])


def control_plane_calls(stack: LocalStack) -> int:
    return int(stack.stats()["controlPlaneCalls"])


def operation_calls(stack: LocalStack, operation: str) -> int:
    return int(stack.stats()["calls"].get(operation, 0))

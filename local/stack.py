"""`LocalStack`: the emulator and the OIDC issuer as one child process, for tests, benchmarks and tools.

    with LocalStack(aws_port=0, idp_port=0, state_dir=tmp) as stack:   # 0 = any free port
        s3control = stack.client("s3control")
        token = stack.token("alice@shopfast.example")

The child is `python -m local.emulator`, started in its own process group; its output goes to a log
file (`<log_dir or state_dir>/emulator.log`). `start()` returns once the child printed `READY`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import boto3
import requests
from botocore.config import Config

from adapters.loopback import use_loopback_endpoint
from adapters.shared_state import delete_items

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
# Static keys of a test administrator: any keys work for moto; they are no principal Access Grants knows.
# They act in the data account; keys whose access key ID is twelve digits act in that account, so these act
# in Identity Center's (the emulator's two accounts: local/README.md).
TEST_KEYS = {"aws_access_key_id": "AKIALOCALTESTKEY0001", "aws_secret_access_key": "local-test-secret-key"}
IDENTITY_CENTER_KEYS = {"aws_access_key_id": "222222222222", "aws_secret_access_key": "local-test-secret-key"}
START_TIMEOUT_SECONDS = 60


class LocalStackError(RuntimeError):
    pass


class LocalStack:
    def __init__(
        self,
        *,
        aws_port: int = 0,
        idp_port: int = 0,
        state_dir: Path | str,
        latency_ms: int = 0,
        faults: list[dict[str, Any]] | None = None,
        log_dir: Path | str | None = None,
        seed: bool | Literal["directory"] = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.log_path = Path(log_dir or state_dir) / "emulator.log"
        self._ports = (aws_port, idp_port)
        self._env = {"LOCAL_AWS_LATENCY_MS": str(latency_ms), "LOCAL_AWS_FAULTS": json.dumps(faults or [])}
        self._seed = seed
        self._process: subprocess.Popen[bytes] | None = None
        self.aws_endpoint = ""
        self.issuer_url = ""
        self.startup_seconds = 0.0
        self._http = requests.Session()
        self._http.trust_env = False  # loopback only: no proxy from the environment

    # -- lifecycle --
    def start(self) -> LocalStack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "local.emulator",
            "--aws-port",
            str(self._ports[0]),
            "--idp-port",
            str(self._ports[1]),
            "--state-dir",
            str(self.state_dir),
        ]
        if self._seed == "directory":  # only Identity Center's instance and directory (Terraform tests)
            command.append("--seed-directory-only")
        elif not self._seed:
            command.append("--no-seed")
        # Loopback traffic must never go through a proxy from the caller's environment.
        env = {**os.environ, **self._env, "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost"}
        env["no_proxy"] = env["NO_PROXY"]
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH")])
        )
        started = time.monotonic()
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0  # the log may hold older runs
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = started + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
            if re.search(r"^READY$", text, re.MULTILINE) and self._parse_urls(text):
                self.startup_seconds = time.monotonic() - started
                return self
            if self._process.poll() is not None:
                raise LocalStackError(
                    f"emulator exited with {self._process.returncode}; log:\n{text[-4000:]}"
                )
            time.sleep(0.05)
        self.stop()
        raise LocalStackError(f"emulator not READY within {START_TIMEOUT_SECONDS}s; see {self.log_path}")

    def _parse_urls(self, text: str) -> bool:
        aws = re.findall(r"^aws endpoint: (\S+)", text, re.MULTILINE)
        idp = re.findall(r"^oidc issuer:\s+(\S+)", text, re.MULTILINE)
        if not aws or not idp:
            return False
        self.aws_endpoint, self.issuer_url = aws[-1], idp[-1]
        return True

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- control API --
    def _control(self, method: str, path: str, payload: Any = None) -> Any:
        # State-changing control routes take JSON only (local.aws_emulator.control): an empty object at least.
        body = payload if payload is not None or method in ("GET", "DELETE") else {}
        response = self._http.request(method, f"{self.aws_endpoint}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def config(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._control("GET", "/_local/config")
        return answer

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._control("GET", "/_local/stats")
        return answer

    def reset_stats(self) -> None:
        self._control("POST", "/_local/stats/reset")

    def set_fault(
        self,
        operation: str,
        *,
        throttle: int = 0,
        server_error: int = 0,
        latency_ms: int = 0,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Fault the next calls of `operation`; `error` ({"code", "status", "count"}) answers an AWS error."""
        fault: dict[str, Any] = {
            "operation": operation,
            "throttle": throttle,
            "serverError": server_error,
            "latencyMs": latency_ms,
        }
        if error is not None:
            fault["error"] = error
        self._control("POST", "/_local/faults", fault)

    def clear_faults(self) -> None:
        self._control("DELETE", "/_local/faults")

    def advance_clock(self, seconds: float) -> None:
        self._control("POST", "/_local/clock", {"advanceSeconds": seconds})

    def reset_clock(self) -> None:
        self._control("POST", "/_local/clock", {"reset": True})

    def clear_shared_state(self) -> None:
        """Empty the state table (shared cache entries and revocations): the next execution environments
        start as a new fleet would, with nothing shared."""
        delete_items(self.client("dynamodb"), self.config()["stateTable"])

    def execution_role_credentials(self, role_arn: str) -> dict[str, str]:
        """What Lambda gives a function running as `role_arn` (AccessKeyId, SecretAccessKey, SessionToken)."""
        answer: dict[str, str] = self._control(
            "POST", "/_local/execution-role-credentials", {"roleArn": role_arn}
        )
        return answer

    def cloudtrail_events(self) -> list[dict[str, Any]]:
        """The emulator's CloudTrail stand-in: one event per GetDataAccess call, oldest first."""
        answer: list[dict[str, Any]] = self._control("GET", "/_local/cloudtrail")["events"]
        return answer

    def expire_identity_contexts(self) -> None:
        self._control("POST", "/_local/identity-contexts/expire")

    # -- identities and clients --
    def token(self, user: str, ttl: int | None = None, aud: str | None = None) -> str:
        query = {"user": user, **({"ttl": ttl} if ttl is not None else {}), **({"aud": aud} if aud else {})}
        response = self._http.get(f"{self.issuer_url}/dev/token?{urlencode(query)}", timeout=10)
        response.raise_for_status()
        answer: str = response.json()["access_token"]
        return answer

    def client(
        self,
        service: str,
        *,
        credentials: dict[str, str] | None = None,
        region: str = REGION,
        **config: Any,
    ) -> Any:
        """A boto3 client for the emulator in `region`: static test keys unless `credentials` (boto3
        kwargs) are given."""
        keys = credentials or TEST_KEYS
        retries = config.pop("retries", {"mode": "standard", "total_max_attempts": 1})
        client = boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name=region,
            config=Config(retries=retries, **config),
            **keys,
        )
        return use_loopback_endpoint(client)

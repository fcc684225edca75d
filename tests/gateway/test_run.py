"""`make run` (python -m local.run): starts everything, prints the URLs and a working curl, stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from local.gateway.configuration import REPO_ROOT

pytestmark = pytest.mark.integration


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_run_serves_health_and_demo_page_prints_a_working_curl_and_stops_on_ctrl_c(tmp_path):
    port, idp_port, aws_port = _free_ports(3)
    output = tmp_path / "run.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.run", "--port", str(port), "--idp-port", str(idp_port),
             "--aws-port", str(aws_port), "--state-dir", str(tmp_path / "state")],
            cwd=REPO_ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "Press Ctrl-C to stop" not in output.read_text(errors="replace"):
            assert process.poll() is None, output.read_text(errors="replace")
            assert time.monotonic() < deadline, output.read_text(errors="replace")
            time.sleep(0.2)
        text = output.read_text()
        assert f"http://127.0.0.1:{port}/" in text
        assert f"http://127.0.0.1:{idp_port}" in text
        with requests.Session() as http:
            http.trust_env = False
            assert http.get(f"http://127.0.0.1:{port}/v1/health", timeout=10).json()["status"] == "ok"
            page = http.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert page.status_code == 200
            assert "ShopFast data access" in page.text
        # The printed commands, run as printed in a shell of their own, vend credentials.
        exported = [line.strip() for line in text.splitlines() if line.strip().startswith("export ")]
        assert exported == [
            f"export API=http://127.0.0.1:{port}",
            f"export IDP=http://127.0.0.1:{idp_port}",
            f"export AWS=http://127.0.0.1:{aws_port}",
        ]
        commands = [
            line.strip()
            for line in text.splitlines()
            if line.strip().startswith(("TOKEN=", "curl -s -X POST"))
        ]
        assert len(commands) == 2
        clean = {name: value for name, value in os.environ.items() if name not in ("API", "IDP", "AWS")}
        vended = subprocess.run(
            ["bash", "-c", "\n".join([*exported, *commands])],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=clean,
        )
        assert re.search(r'"accessKeyId":\s*"ASIA', vended.stdout), vended.stdout + vended.stderr
        assert '"matchedGrantTarget":"s3://shopfast-data/users/*"' in vended.stdout.replace(" ", "")

        # The terminal shows the banner, not the handlers' logs (those go to .local/logs/), and the audit
        # trail has the vend; `make invoke` finds this stack through stack.json; the demo page's URL on this
        # port is a redirect URI of the sign-in.
        assert '"_aws"' not in text and '"audit"' not in text
        logs = tmp_path / "state" / "logs"
        audit = [json.loads(line) for line in (logs / "audit.jsonl").read_text().splitlines()]
        assert any(r["action"] == "vend" and r["outcome"] == "granted" for r in audit), audit
        running = json.loads((tmp_path / "state" / "stack.json").read_text())
        assert running["awsEndpoint"] == f"http://127.0.0.1:{aws_port}"
        # A second make run on the same state folder, even on other ports, refuses before touching it.
        other_ports = _free_ports(3)
        second = subprocess.run(
            [sys.executable, "-m", "local.run", "--port", str(other_ports[0]),
             "--idp-port", str(other_ports[1]), "--aws-port", str(other_ports[2]),
             "--state-dir", str(tmp_path / "state")],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 1
        assert (
            "another `make run` is using" in second.stderr and f"API http://127.0.0.1:{port}" in second.stderr
        )
        assert "STATE_DIR=" in second.stderr
        assert json.loads((tmp_path / "state" / "stack.json").read_text()) == running
        assert not any(_listening(p) for p in other_ports)
        with requests.Session() as http:
            http.trust_env = False
            sign_in_page = http.get(
                f"http://127.0.0.1:{idp_port}/authorize",
                params={
                    "response_type": "code",
                    "client_id": "shopfast-demo",
                    "redirect_uri": f"http://127.0.0.1:{port}/",
                    "scope": "openid",
                    "code_challenge": "A" * 43,
                    "code_challenge_method": "S256",
                },
                timeout=10,
            )
            assert sign_in_page.status_code == 200, sign_in_page.text

        # Ctrl-C twice (an impatient developer): everything stops, nothing keeps the ports.
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, output.read_text()
        assert "stopped." in output.read_text()
        assert not any(_listening(p) for p in (port, idp_port, aws_port))
        assert not (tmp_path / "state" / "stack.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_run_refuses_to_start_when_a_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "local.run", "--port", str(port), "--state-dir", str(tmp_path)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"port(s) {port}" in done.stderr
    assert "another `make run`" in done.stderr

"""`make invoke`: one handler, one event file, against the local stack, like `sam local invoke`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from local.gateway.configuration import REPO_ROOT

pytestmark = pytest.mark.integration


def _invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.invoke", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_invoke_runs_the_function_named_in_the_template_with_a_rendered_event(local_stack):
    done = _invoke("IdentityFunction", "events/me.json", "--aws-endpoint", local_stack.aws_endpoint)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is the handler's result only
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["email"] == "alice@shopfast.example"
    assert "START RequestId: " in done.stderr
    assert "END RequestId: " in done.stderr
    assert "Memory Size: 512 MB" in done.stderr  # from template.yaml's Globals


def test_invoke_runs_no_authorizer_the_function_checks_the_token_itself(local_stack):
    done = _invoke(
        "CredentialsFunction", "events/credentials-no-token.json", "--aws-endpoint", local_stack.aws_endpoint
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["status"] == 401  # the service's problem document, not the gateway's


def test_invoke_names_the_functions_when_one_is_unknown(local_stack):
    done = _invoke("NoSuchFunction", "events/health.json", "--aws-endpoint", local_stack.aws_endpoint)
    assert done.returncode == 2
    assert "CredentialsFunction" in done.stderr
    assert "HealthFunction" in done.stderr


def test_invoke_starts_a_temporary_stack_when_none_is_running_and_says_so(tmp_path):
    done = _invoke("HealthFunction", "events/health.json", "--state-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "starting a temporary local stack" in done.stderr
    assert json.loads(json.loads(done.stdout)["body"])["status"] == "ok"


def _closed_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("how", ["ENDPOINT", "LOCAL_AWS_ENDPOINT", "stale stack.json"])
def test_invoke_never_falls_back_from_a_named_stack_that_does_not_answer(tmp_path, how):
    """A stack that was named, or written down by a make run that has since stopped (or by a second make
    run that deleted the first one's file), is an error naming it: never a silent throwaway stack."""
    endpoint = _closed_endpoint()
    args, env = ["--state-dir", str(tmp_path)], {}
    if how == "ENDPOINT":
        args += ["--aws-endpoint", endpoint]
    elif how == "LOCAL_AWS_ENDPOINT":
        env["LOCAL_AWS_ENDPOINT"] = endpoint
    else:
        (tmp_path / "stack.json").write_text(json.dumps({"awsEndpoint": endpoint}))
    done = _invoke("HealthFunction", "events/health.json", *args, env=env)
    assert done.returncode == 2, done.stderr
    assert f"nothing answers at {endpoint}" in done.stderr
    assert "temporary" not in done.stderr and done.stdout == ""


def test_invoke_finds_the_stack_make_run_wrote_down_whatever_its_ports(
    local_stack, tmp_path, monkeypatch, capsys
):
    from local import invoke

    (tmp_path / "stack.json").write_text(json.dumps({"awsEndpoint": local_stack.aws_endpoint}))
    monkeypatch.delenv("LOCAL_AWS_ENDPOINT", raising=False)

    with invoke.local_stack_endpoint(None, tmp_path) as endpoint:
        assert endpoint == local_stack.aws_endpoint
    assert f"using the local stack at {local_stack.aws_endpoint} (make run, " in capsys.readouterr().err
    with invoke.local_stack_endpoint(local_stack.aws_endpoint, tmp_path) as endpoint:  # ENDPOINT=… wins
        assert endpoint == local_stack.aws_endpoint
    assert "(as asked)" in capsys.readouterr().err

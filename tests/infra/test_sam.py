"""The SAM application: the template lints and validates, builds with its dependencies, every Handler
imports, and every file in events/ runs through its function the way `sam local invoke` runs it.

`sam local invoke` needs Docker, which this machine lacks; what it does is reproduced instead: one
fresh process per function (a fresh execution environment), whose environment is only that function's
`Environment` from template.yaml resolved against the local parameter values (by the local gateway's
template reader, so `make run` and this test cannot disagree) plus what the Lambda runtime provides,
pointed at the local emulator. Missing tools fail loudly: run `make tools`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.event_files import event_files, load_event
from local.functions import offline_api
from local.gateway.configuration import DEFAULT_TEMPLATE, load_api, local_environment
from local.gateway.template import Function
from local.package import function_packages, runtime_interpreter
from local.stack import LocalStack

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
# Kept between runs (ignored by git) so that a second `sam build` needs neither PyPI nor much time:
# SAM records which dependency folder belongs to which requirements hash in the build dir itself.
SAM_BUILD_DIR = ROOT / ".aws-sam" / "test-build"
SAM_CACHE_DIR = ROOT / ".aws-sam" / "test-cache"
RUNTIME_PACKAGES = ("aws_lambda_powertools", "boto3", "jwt", "cryptography", "msgspec")

# The answer each event must get (and, for a batch, each item's status). A new file needs an entry.
EXPECTED: dict[str, dict[str, Any]] = {
    "health.json": {"status": 200},
    "me.json": {"status": 200},
    "me-no-token.json": {"status": 401},
    "me-invalid-token.json": {"status": 401},
    "grants.json": {"status": 200},
    "grants-scope.json": {"status": 200},
    "credentials.json": {"status": 200},
    "credentials-credential-process.json": {"status": 200},
    "credentials-denied.json": {"status": 403},
    "credentials-bad-target.json": {"status": 400},
    "credentials-malformed-json.json": {"status": 400},
    "credentials-unknown-field.json": {"status": 400},
    "credentials-duration-out-of-range.json": {"status": 400},
    "credentials-no-token.json": {"status": 401},
    "presign-get.json": {"status": 200},
    "presign-put.json": {"status": 200},
    "presign-denied.json": {"status": 403},
    "presign-batch.json": {"status": 200, "items": [200, 200, 403, 403, 400]},
    "objects.json": {"status": 200},
    "objects-denied.json": {"status": 403},
    "presign-post.json": {"status": 200},
    "uploads-start.json": {"status": 201},
    "uploads-start-denied.json": {"status": 403},
    "uploads-parts-unknown.json": {"status": 404},
    "uploads-complete-unknown.json": {"status": 404},
    "uploads-abort-unknown.json": {"status": 404},
    # Iceberg's protocol: its own caching rule and error model.
    "iceberg-sign.json": {"status": 200, "cache": "private"},
    "iceberg-sign-denied.json": {"status": 403, "iceberg": True},
}

# Runs in the fresh process: import the handler like the Lambda runtime, invoke it once per event.
_CHILD = """
import importlib, json, sys
request = json.load(sys.stdin)
sys.path.insert(0, request["codeDir"])
from local.lambda_context import LambdaContext
module_name, _, attribute = request["handler"].rpartition(".")
handler = getattr(importlib.import_module(module_name), attribute)
results = []
for event in request["events"]:
    context = LambdaContext(request["function"], request["timeout"], request["memory"])
    results.append(handler(event, context))
with open(request["resultFile"], "w", encoding="utf-8") as out:
    json.dump(results, out)
"""


def require_tool(path: Path | str | None, what: str) -> str:
    if path is None or not Path(path).exists():
        pytest.fail(f"{what} is required and was not found ({path}); run `make tools`")
    return str(path)


def python313_dir() -> str:
    """The directory of a working python3.13 (a pyenv shim on PATH may exist without a usable version)."""
    pyenv_versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which("python3.13"), *map(str, sorted(pyenv_versions.glob("3.13*/bin/python3.13")))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.startswith("Python 3.13"):
            return str(Path(candidate).parent)
    pytest.fail(
        "python3.13 (the Lambda runtime, for sam build) is required and was not found; run `make tools`"
    )


def tool_environment() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{python313_dir()}{os.pathsep}{os.environ['PATH']}",
        "SAM_CLI_TELEMETRY": "0",
    }


def run(command: list[str], *, timeout: float, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=tool_environment(), capture_output=True, text=True, timeout=timeout, check=False
    )


def test_cfn_lint_is_clean() -> None:
    cfn_lint = require_tool(shutil.which("cfn-lint", path=str(Path(sys.executable).parent)), "cfn-lint")
    result = run([cfn_lint, str(TEMPLATE)], timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    result = run(
        [require_tool(SAM, "SAM CLI"), "validate", "--lint", "--template-file", str(TEMPLATE)], timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def built_packages() -> Path:
    """`sam build`, then the bytecode step of `make deploy` (local/package.py), as deploy.sh runs them."""
    build_dir = SAM_BUILD_DIR
    result = run(
        [
            require_tool(SAM, "SAM CLI"),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build_dir),
            "--cached",
            "--cache-dir",
            str(SAM_CACHE_DIR),
        ],
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Without src/requirements.txt SAM "continues the build without dependencies": a broken Lambda.
    assert "without dependencies" not in result.stdout + result.stderr
    compiled = run([sys.executable, "-m", "local.package", str(build_dir)], timeout=300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return build_dir


def test_sam_build_packages_every_function_with_its_dependencies(built_packages: Path) -> None:
    for function in offline_api().functions.values():
        artifact = built_packages / function.logical_id
        module_name = function.handler.rpartition(".")[0]
        assert (artifact / (module_name.replace(".", "/") + ".py")).is_file(), function.logical_id
        for package in RUNTIME_PACKAGES:
            assert (artifact / package).is_dir(), f"{function.logical_id} lacks {package}"
        assert not (artifact / "tests").exists() and not (artifact / "local").exists()


# Runs in the runtime's interpreter: which modules of a package that interpreter would compile at import,
# rather than load as they are (bytecode missing, of another Python, checking the source, or stale).
_BYTECODE_PROBLEMS = """
import importlib.util, json, pathlib, sys
problems = []
for source in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    cached = pathlib.Path(importlib.util.cache_from_source(str(source)))
    if not cached.is_file():
        problems.append(f"{source}: no {cached.name}")
        continue
    header = cached.read_bytes()[:16]
    flags = int.from_bytes(header[4:8], "little")
    if header[:4] != importlib.util.MAGIC_NUMBER:
        problems.append(f"{source}: bytecode of another Python")
    elif flags != 0b01:  # hash-based (bit 0), source not checked (bit 1 clear): PEP 552
        problems.append(f"{source}: flags {flags:#b}, not unchecked-hash")
    elif header[8:16] != importlib.util.source_hash(source.read_bytes()):
        problems.append(f"{source}: bytecode of another version of the source")
print(json.dumps(problems))
"""


def test_every_module_of_every_package_ships_the_bytecode_its_runtime_reads(built_packages: Path) -> None:
    """/var/task is read-only: a module without bytecode there compiles at every cold start."""
    packages = function_packages(built_packages)
    assert set(packages) == set(offline_api().functions)
    for logical_id, (package, runtime) in packages.items():
        result = subprocess.run(
            [
                runtime_interpreter(runtime, tool_environment()["PATH"]),
                "-c",
                _BYTECODE_PROBLEMS,
                str(package),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        problems = json.loads(result.stdout)
        assert problems == [], f"{logical_id}: {len(problems)} modules, e.g. {problems[:5]}"


def test_every_handler_in_the_template_imports_without_calling_aws() -> None:
    functions = offline_api().functions
    assert set(functions) >= {
        "HealthFunction",
        "IdentityFunction",
        "CredentialsFunction",
        "PresignFunction",
        "ObjectsFunction",
    }
    for function in functions.values():
        # A closed port as the AWS endpoint: an AWS call at import time would fail the import.
        environment = {**base_environment(), **function.environment, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
        code = (
            "import importlib, sys; sys.path.insert(0, sys.argv[1]); m, _, a = sys.argv[2].rpartition('.'); "
            "assert callable(getattr(importlib.import_module(m), a))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(function.code_dir), function.handler],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{function.logical_id}: {function.handler}\n{result.stderr}"


def base_environment() -> dict[str, str]:
    """What a Lambda process starts with, before the function's own variables (no developer AWS profile)."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    return {name: os.environ[name] for name in keep if name in os.environ} | {"AWS_REGION": "us-east-1"}


def test_every_event_file_has_an_expected_answer_and_a_route() -> None:
    names = {path.name for path in event_files()}
    assert names == set(EXPECTED), "add new events to EXPECTED (and remove stale entries)"
    routes = {route.route_key for route in offline_api().routes}
    covered = set()
    for path in event_files():
        event = json.loads(path.read_text(encoding="utf-8"))
        assert event["version"] == "2.0" and event["routeKey"] == event["requestContext"]["routeKey"]
        assert event["routeKey"] in routes, f"{path.name}: no route {event['routeKey']} in template.yaml"
        covered.add(event["routeKey"])
    assert covered == routes, f"routes without a sample event: {sorted(routes - covered)}"


def test_every_event_runs_through_its_function_like_sam_local_invoke(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    loaded = load_api(DEFAULT_TEMPLATE, local_stack.aws_endpoint, "http://127.0.0.1:0")
    by_route = {route.route_key: route.function for route in loaded.api.routes}
    runtime_environment = local_environment(loaded.config)
    events_by_function: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path in event_files():
        event = load_event(
            path,
            issuer_url=local_stack.issuer_url,
            mint_token=local_stack.token,
            aws_endpoint=local_stack.aws_endpoint,
        )
        assert "{{" not in json.dumps(event), f"{path.name}: a placeholder was left unfilled"
        events_by_function.setdefault(by_route[event["routeKey"]].logical_id, []).append((path.name, event))

    answers: dict[str, dict[str, Any]] = {}
    for logical_id, named_events in events_by_function.items():
        function = loaded.api.functions[logical_id]
        results = invoke_in_fresh_process(
            function,
            [event for _, event in named_events],
            runtime_environment,
            tmp_path / f"{logical_id}.json",
        )
        answers.update({name: result for (name, _), result in zip(named_events, results, strict=True)})

    for name, expected in EXPECTED.items():
        answer = answers[name]
        headers = {key.lower(): value for key, value in answer.get("headers", {}).items()}
        body = json.loads(answer["body"])
        assert answer["statusCode"] == expected["status"], f"{name}: {answer['body']}"
        assert headers.get("cache-control") == expected.get("cache", "no-store"), name
        if answer["statusCode"] >= 400 and expected.get("iceberg"):
            assert headers["content-type"] == "application/json", name
            assert body["error"]["code"] == answer["statusCode"] and body["error"]["type"], name
        elif answer["statusCode"] >= 400:
            assert headers["content-type"] == "application/problem+json", name
            assert body["status"] == answer["statusCode"] and body["code"], name
        if "items" in expected:
            assert [item.get("status", 200) for item in body["results"]] == expected["items"], name
    assert "WWW-Authenticate".lower() in {key.lower() for key in answers["me-no-token.json"]["headers"]}
    assert set(json.loads(answers["credentials-credential-process.json"]["body"])) == {
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    }


def invoke_in_fresh_process(
    function: Function, events: list[dict[str, Any]], runtime_environment: dict[str, str], result_file: Path
) -> list[dict[str, Any]]:
    environment = {**base_environment(), **runtime_environment, **function.environment}
    request = {
        "function": function.logical_id,
        "handler": function.handler,
        "codeDir": str(function.code_dir),
        "timeout": function.timeout_seconds,
        "memory": function.memory_mb,
        "events": events,
        "resultFile": str(result_file),
    }
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(request),
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"{function.logical_id} crashed:\n{completed.stderr[-4000:]}"
    return json.loads(result_file.read_text(encoding="utf-8"))


def test_samconfig_defaults_deploy_the_template_and_leave_parameters_to_make_deploy() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    defaults = config["default"]
    assert defaults["global"]["parameters"]["stack_name"] == "shopfast-vending"
    assert defaults["global"]["parameters"]["region"]
    deploy = defaults["deploy"]["parameters"]
    # The template creates the execution role when Terraform passes none in.
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    # Parameter values come from Terraform's outputs (terraform/deploy.sh), never from a committed file.
    assert "parameter_overrides" not in deploy
    assert defaults["validate"]["parameters"]["lint"] is True
    # Non-interactive (CONFIRM=1 reviews), and one stack per named environment.
    assert deploy["confirm_changeset"] is False
    for environment in ("dev", "prod"):
        section = config[environment]
        assert section["global"]["parameters"]["stack_name"] == f"shopfast-vending-{environment}"
        assert section["deploy"]["parameters"]["confirm_changeset"] is False
        assert f'environment="{environment}"' in section["deploy"]["parameters"]["tags"]

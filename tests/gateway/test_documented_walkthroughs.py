"""The README's walkthrough and docs/uploads.md, run as written by a newcomer: a shell with only the three
lines `make run` prints (`API`, `IDP`, `AWS`, here on ports other than the defaults) and the AWS CLI on
PATH. Every `sh` block runs, in order, in one bash session; every documented answer (the `#` lines right
under a command, `…` standing for anything, a trailing `   (remark)` being prose) must be what the command
printed."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.gateway import RunningGateway, serve
from local.gateway.configuration import REPO_ROOT
from local.stack import LocalStack

pytestmark = pytest.mark.integration

AWS_CLI_BIN = REPO_ROOT / ".tools" / "awscli" / "bin"
BEGIN, END = "@@@ begin {}", "@@@ end {}"


@dataclass(frozen=True)
class Step:
    command: str
    expected: str  # what the doc shows under the command; empty when it shows nothing


def sh_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)


def steps_of(block: str) -> Iterator[Step]:
    """A block as commands (runs of lines that are not comments; a heredoc or a continuation stays
    whole) and the comment lines right under each: a comment after a blank line is prose."""
    command: list[str] = []
    expected: list[str] = []
    heredoc_end: str | None = None
    for line in block.splitlines():
        if heredoc_end is not None:
            command.append(line)
            heredoc_end = None if line.strip() == heredoc_end else heredoc_end
            continue
        if line.startswith("#"):
            if command:
                expected.append(line[1:].strip())
            continue
        if not line.strip():
            if command:
                yield Step("\n".join(command), "\n".join(expected))
            command, expected = [], []
            continue
        if expected:
            yield Step("\n".join(command), "\n".join(expected))
            command, expected = [], []
        command.append(line)
        if opened := re.search(r"<<-?'?(\w+)'?", line):
            heredoc_end = opened.group(1)
    if command:
        yield Step("\n".join(command), "\n".join(expected))


def script_of(steps: list[Step]) -> str:
    lines = []
    for number, step in enumerate(steps):
        lines += [f"echo '{BEGIN.format(number)}'", step.command, f"echo '{END.format(number)}'"]
    return "\n".join(lines) + "\n"


def matches(expected: str, actual: str) -> bool:
    """`…` matches anything; white space is ignored; a trailing `   (remark)` on a line is prose."""
    shown = "".join(re.sub(r"\s{2,}\(.*\)\s*$", "", line) for line in expected.splitlines())
    pattern = ".*?".join(re.escape(part) for part in re.sub(r"\s+", "", shown).split("…"))
    return re.search(pattern, re.sub(r"\s+", "", actual), re.DOTALL) is not None


def run_documented(steps: list[Step], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        ["bash", "-c", script_of(steps)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    for forbidden in ("Traceback", "command not found", "no token from", "No such file"):
        assert forbidden not in output, output[-4000:]
    for number, step in enumerate(steps):
        begin, end = done.stdout.find(BEGIN.format(number)), done.stdout.find(END.format(number))
        assert -1 < begin < end, f"step {number} did not finish:\n{step.command}\n{output[-4000:]}"
        printed = done.stdout[begin + len(BEGIN.format(number)) : end]
        if step.expected:
            # Documented errors (the AWS CLI's) arrive on stderr: look there too, for that step only.
            assert matches(step.expected, printed) or matches(step.expected, done.stderr), (
                f"$ {step.command}\nthe doc shows:\n{step.expected}\nit printed:\n{printed}\n{done.stderr}"
            )


def walkthrough_steps() -> list[Step]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Walkthrough with curl", 1)[1].split("\n## ", 1)[0]
    # The export lines are the banner's, given by the environment here; `make invoke` has tests of its own.
    banner = re.compile(r"^export (API|IDP|AWS)=.*\n?", re.MULTILINE)
    steps = [
        Step(banner.sub("", step.command), step.expected)
        for block in sh_blocks(section)
        for step in steps_of(block)
    ]
    return [step for step in steps if step.command.strip() and not step.command.startswith("make ")]


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, RunningGateway]]:
    """A stack of its own, as a newcomer's first `make run` has: the documented answers (the objects under
    users/) assume no other test wrote there first."""
    state = tmp_path_factory.mktemp("walkthrough")
    with (
        LocalStack(aws_port=0, idp_port=0, state_dir=state) as stack,
        serve(aws_endpoint=stack.aws_endpoint, log_file=state / "gateway.log") as gateway,
    ):
        yield stack, gateway


@pytest.fixture
def newcomers_shell(fresh_stack: tuple[LocalStack, RunningGateway], tmp_path: Path) -> dict[str, str]:
    if not (AWS_CLI_BIN / "aws").exists():
        pytest.fail(f"the walkthrough needs the AWS CLI: `make awscli` installs it in {AWS_CLI_BIN.parent}")
    stack, gateway = fresh_stack
    urls = (gateway.url, stack.issuer_url, stack.aws_endpoint)
    ports = {int(url.rsplit(":", 1)[1]) for url in urls}
    assert not ports & {3000, 3001, 4000}, "the point is ports other than the documented defaults"
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env |= {
        "PATH": f"{AWS_CLI_BIN}{os.pathsep}{env.get('PATH', '')}",
        "API": gateway.url,
        "IDP": stack.issuer_url,
        "AWS": stack.aws_endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    return env


def test_the_readme_walkthrough_runs_as_written_on_other_ports(
    newcomers_shell: dict[str, str], tmp_path: Path
) -> None:
    steps = walkthrough_steps()
    assert any("s3 cp" in step.command for step in steps) and any("presign" in step.command for step in steps)
    run_documented(steps, newcomers_shell, tmp_path)


def test_the_uploads_walkthrough_runs_as_written(newcomers_shell: dict[str, str], tmp_path: Path) -> None:
    token_line = next(step for step in walkthrough_steps() if step.command.startswith("TOKEN="))
    doc = (REPO_ROOT / "docs" / "uploads.md").read_text(encoding="utf-8")
    steps = [token_line, *(step for block in sh_blocks(doc) for step in steps_of(block))]
    commands = "\n".join(step.command for step in steps)
    for route in ("/v1/uploads -H", "/v1/uploads/parts", "/v1/uploads/complete", "/v1/uploads/abort"):
        assert f"$API{route}" in commands, route
    run_documented(steps, newcomers_shell, tmp_path)
    assert (tmp_path / "export.bin").stat().st_size == 11534336


def test_the_token_line_says_why_when_the_issuer_does_not_answer(tmp_path: Path) -> None:
    token_line = next(step for step in walkthrough_steps() if step.command.startswith("TOKEN="))
    done = subprocess.run(
        ["bash", "-c", token_line.command + '\necho "token=[$TOKEN]"'],
        env={"PATH": os.environ["PATH"], "IDP": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "no token from http://127.0.0.1:9: is make run up" in done.stderr
    assert "Traceback" not in done.stderr and "token=[]" in done.stdout


def test_the_step_reader_keeps_heredocs_whole_and_prose_apart() -> None:
    block = "# prose\ncat <<'PY'\n# inside\nPY\n# shown\n\n# more prose\necho hi\n# hi   (a remark)\n"
    steps = list(steps_of(block))
    assert steps == [Step("cat <<'PY'\n# inside\nPY", "shown"), Step("echo hi", "hi   (a remark)")]
    assert matches("hi   (a remark)", "hi\n") and matches('{"a":…,"c":3}', '{"a": 1, "b": 2, "c": 3}')
    assert not matches('{"a":…,"c":4}', '{"a": 1, "c": 3}')

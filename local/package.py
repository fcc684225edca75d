"""`sam build`, completed: every function's package is compiled to the bytecode of its own runtime.

Lambda runs a function from `/var/task`, which is read-only (only `/tmp` is writable): Python cannot
write the `__pycache__` it compiles, so without bytecode in the package every Init phase (and every
module first imported after a SnapStart restore) compiles from source what it imports, ours and
botocore's alike. SAM's `python_pip` build installs the dependencies without compiling them and copies
our sources as they are. On this machine a cold import of `handlers.presign` from such a package takes
~800 ms against ~250 ms with its bytecode.

The bytecode is `unchecked-hash` (PEP 552): the runtime uses it without reading or hashing the source,
and without comparing modification times, which a zip round trip does not keep exactly. A deployed
package never changes, so there is nothing to check. It is compiled by the interpreter named by the
function's `Runtime` (python3.13 → `python3.13` on PATH, which `sam build` needs too): bytecode is only
read by the Python version that wrote it.

    python -m local.package [BUILD_DIR]      # default .aws-sam/build, after `sam build`

Only the standard library's `compileall` does the work; this module finds what to compile with what.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.gateway.cloudformation import TemplateError, load_template

DEFAULT_BUILD_DIR = Path(".aws-sam/build")
_PYTHON_RUNTIME = re.compile(r"^python(3\.\d+)$")


def function_packages(build_dir: Path) -> dict[str, tuple[Path, str]]:
    """Each function of the built template: its package directory and its runtime ("python3.13")."""
    built_template = build_dir / "template.yaml"
    if not built_template.is_file():
        raise TemplateError(f"no built template at {built_template}: run `sam build` first")
    template = load_template(built_template)
    global_runtime = ((template.get("Globals") or {}).get("Function") or {}).get("Runtime")
    packages: dict[str, tuple[Path, str]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties: Mapping[str, Any] = resource.get("Properties") or {}
        runtime = properties.get("Runtime", global_runtime)
        code_uri = properties.get("CodeUri")
        if not isinstance(runtime, str) or not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: the built template names no Runtime or no local CodeUri")
        package = (build_dir / code_uri).resolve()
        if not package.is_dir():
            raise TemplateError(f"{logical_id}: {package} is not a built package; run `sam build` first")
        packages[logical_id] = (package, runtime)
    if not packages:
        raise TemplateError(f"{built_template} declares no function")
    return packages


def runtime_interpreter(runtime: str, search_path: str | None = None) -> str:
    """The interpreter that writes bytecode for `runtime` (found on `search_path`, by default PATH),
    checked to be that version."""
    match = _PYTHON_RUNTIME.match(runtime)
    if match is None:
        raise SystemExit(f"package: runtime {runtime!r} is not a Python runtime")
    name = f"python{match[1]}"
    path = shutil.which(name, path=search_path)
    if path is None:
        raise SystemExit(f"package: {name} (the {runtime} runtime's interpreter) is not on PATH")
    probe = subprocess.run(
        [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != match[1]:
        raise SystemExit(f"package: {path} is not Python {match[1]} ({probe.stdout.strip() or probe.stderr})")
    return path


def compile_tree(directory: Path, interpreter: str = sys.executable) -> None:
    """Write the bytecode of every module under `directory`, as `interpreter` reads it."""
    result = subprocess.run(
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-f",  # SAM may leave an earlier build's bytecode beside changed sources
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"package: compiling {directory} failed:\n{result.stdout}{result.stderr}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.package", description=__doc__.split("\n")[0])
    parser.add_argument("build_dir", nargs="?", type=Path, default=DEFAULT_BUILD_DIR)
    arguments = parser.parse_args(argv)
    try:
        packages = function_packages(arguments.build_dir)
    except TemplateError as error:
        raise SystemExit(f"package: {error}") from None
    interpreters: dict[str, str] = {}
    for logical_id, (package, runtime) in packages.items():
        if runtime not in interpreters:
            interpreters[runtime] = runtime_interpreter(runtime)
        compile_tree(package, interpreters[runtime])
        print(f"package: {logical_id} compiled for {runtime}")


if __name__ == "__main__":
    main()

"""The README's code runs as written, so it cannot drift from the code.

Zig: the three snippets of "Using the core from Zig" are pasted into a project made by `zig init`
(the dependency's path pointed at this checkout), which is built and run. Python: ```pycon blocks
run as doctests; ```python blocks run in order in one interpreter with no key set, offline on the
embedded local model, and, without the local runtime, fail with the typed error the README names.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from environments import keyless_environment

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
# A build from a cold Zig cache compiles the whole core; a loaded 2-core machine takes minutes.
BUILD_TIMEOUT_S = 900
# Four short generations on the 135M local model, on a machine shared with other work.
RUN_TIMEOUT_S = 900

needs_local_runtime = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None and not os.environ.get("CI"),
    reason="the [local] extra is not installed",
)


def blocks(text: str, language: str) -> list[str]:
    return [body for fence, body in FENCE.findall(text) if fence == language]


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


# --- Zig ----------------------------------------------------------------------------------------


def zig_snippets(text: str) -> tuple[str, str, str]:
    """(the build.zig.zon dependency entry, the build.zig lines, src/main.zig), which the README
    shows in this order; no other Zig block is left unchecked."""
    found = blocks(section(text, "Using the core from Zig"), "zig")
    assert len(found) == 3, f"expected the zon entry, the build.zig lines and main.zig; found {len(found)} blocks"
    dependency, build_lines, main = found
    assert ".path =" in dependency and "b.dependency(" in build_lines and "pub fn main" in main
    return dependency, build_lines, main


def zig(arguments: list[str], directory: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ziglang", *arguments],
        check=False, cwd=directory, env=keyless_environment(), capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip


def paste_into_new_project(text: str, project: Path) -> None:
    """What a user does: `zig init`, then each snippet where the README says it goes."""
    dependency, build_lines, main = zig_snippets(text)
    project.mkdir()
    initialized = zig(["init"], project, 120)
    assert initialized.returncode == 0, initialized.stderr
    # Zig takes a dependency's path relative to the project.
    relative = os.path.relpath(ROOT, project)
    dependency = re.sub(r'\.path = "[^"]*"', f'.path = "{relative}"', dependency)
    zon = (project / "build.zig.zon").read_text()
    assert zon.count(".dependencies = .{") == 1
    (project / "build.zig.zon").write_text(zon.replace(".dependencies = .{", ".dependencies = .{\n" + dependency, 1))
    build = (project / "build.zig").read_text()
    install = "    b.installArtifact(exe);\n"
    assert build.count(install) == 1, "zig init's build.zig changed: the README says where the lines go"
    indented = "".join(f"    {line}\n" for line in build_lines.splitlines())
    (project / "build.zig").write_text(build.replace(install, indented + install, 1))
    (project / "src" / "main.zig").write_text(main)


def test_the_zig_snippets_build_and_run_in_a_new_zig_init_project(tmp_path: Path) -> None:
    project = tmp_path / "app"
    paste_into_new_project(README.read_text(encoding="utf-8"), project)
    ran = zig(["build", "run"], project, BUILD_TIMEOUT_S)
    assert ran.returncode == 0, ran.stderr[-4000:]
    # What the README says `zig build run` prints, with no key in the environment.
    assert "local answered: local echoes: What is 2 + 2?" in ran.stderr
    assert '"available_providers":["local"]' in ran.stderr


# --- Python -------------------------------------------------------------------------------------


def test_the_pycon_blocks_hold_as_doctests(monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    found = blocks(text, "pycon")
    assert found, "the quick start's doctest block is gone"
    for name in list(os.environ):
        if name not in keyless_environment():
            monkeypatch.delenv(name)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.REPORT_NDIFF)
    for number, block in enumerate(found):
        test = parser.get_doctest(block, {}, f"README.md pycon block {number}", str(README), 0)
        assert test.examples
        runner.run(test, out=sys.stdout.write)
    assert runner.summarize(verbose=False).failed == 0


def python_program(text: str) -> str:
    found = blocks(text, "python")
    assert len(found) >= 2, "the quick start's infer and ainfer blocks are gone"
    return "\n\n".join(found)


@needs_local_runtime
def test_the_python_blocks_run_offline_on_the_local_model() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", python_program(README.read_text(encoding="utf-8"))],
        check=False, env=keyless_environment(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-4000:]
    provider, answer = ran.stdout.splitlines()[0].split(" ", 1)
    assert provider == "local" and answer.strip()


def test_without_the_local_runtime_the_python_blocks_fail_typed() -> None:
    """The README's other promise for a machine with no key: without the `[local]` extra the
    attempt fails with ProviderUnavailableError saying how to install it, inside the documented
    AllProvidersFailed, not with an ImportError."""
    blocked = "import sys\nsys.modules['llama_cpp'] = None  # as if llama-cpp-python were not installed\n"
    ran = subprocess.run(
        [sys.executable, "-c", blocked + python_program(README.read_text(encoding="utf-8"))],
        check=False, env=keyless_environment(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert ran.returncode == 1
    last_line = ran.stderr.strip().splitlines()[-1]
    assert re.match(r"trinity_hybrid(\.\w+)*\.AllProvidersFailed: ", last_line), last_line
    assert "pip install 'trinity-hybrid[local]'" in last_line
    assert "ImportError" not in ran.stderr and "ModuleNotFoundError" not in ran.stderr

"""`scripts/dev.sh`, run from a copy of the script in a directory of its own: without a command it
prints its usage before it creates anything, and the long first install of llama.cpp is announced
and shown, not run under `pip --quiet`.

The install itself is not run here (`scripts/dev.sh test` is CI's command and takes minutes): a
`.venv/bin/python` stand-in records how the script calls it and answers `import llama_cpp` as a
venv with or without the local runtime would."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 60

# Records its arguments, one call per line; `-c "import llama_cpp"` fails unless told the runtime
# is installed; everything else (pip, the final exec) succeeds.
STAND_IN = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls.log"
if [ "$1" = "-c" ] && [ "$2" = "import llama_cpp" ]; then
    [ -n "${LLAMA_CPP_INSTALLED:-}" ]
    exit $?
fi
exit 0
"""


def project_copy(tmp_path: Path) -> Path:
    """The script where it lives, under a fresh directory: `cd "$(dirname "$0")/.."` lands there."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "dev.sh", project / "scripts" / "dev.sh")
    return project


def run(project: Path, *arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(project / "scripts" / "dev.sh"), *arguments],
        check=False, env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **environment},
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip


@pytest.mark.parametrize("arguments", [(), ("bogus",)])
def test_usage_comes_before_anything_is_created(tmp_path: Path, arguments: tuple[str, ...]) -> None:
    project = project_copy(tmp_path)
    # A Python that would leave a trace if the script ran it.
    tracer = tmp_path / "python"
    tracer.write_text(f'#!/bin/sh\ntouch "{tmp_path}/python-was-run"\nexit 1\n')
    tracer.chmod(tracer.stat().st_mode | stat.S_IXUSR)
    ran = run(project, *arguments, PYTHON=str(tracer))
    assert ran.returncode == 2
    assert ran.stderr.startswith("usage: scripts/dev.sh demo|test [arguments]\n")
    assert ran.stdout == ""
    assert sorted(path.name for path in project.iterdir()) == ["scripts"]  # no .venv
    assert not (tmp_path / "python-was-run").exists()


def test_help_is_the_usage_on_stdout(tmp_path: Path) -> None:
    ran = run(project_copy(tmp_path), "--help")
    assert ran.returncode == 0
    assert ran.stdout.startswith("usage: scripts/dev.sh demo|test [arguments]\n")


def venv_stand_in(project: Path) -> Path:
    bin_directory = project / ".venv" / "bin"
    bin_directory.mkdir(parents=True)
    python = bin_directory / "python"
    python.write_text(STAND_IN)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return bin_directory / "calls.log"


@pytest.mark.parametrize("command", ["demo", "test"])
def test_the_llama_cpp_build_is_announced_and_shown(tmp_path: Path, command: str) -> None:
    project = project_copy(tmp_path)
    calls = venv_stand_in(project)
    ran = run(project, command, "--flag-passed-on")
    assert ran.returncode == 0, ran.stderr
    assert "pip builds llama.cpp from source" in ran.stderr
    assert "minutes" in ran.stderr
    installs = [call for call in calls.read_text().splitlines() if call.startswith("-m pip install") and "[" in call]
    assert len(installs) == 1
    assert "--quiet" not in installs[0]  # pip's progress shows during the long step
    assert calls.read_text().splitlines()[-1].endswith("--flag-passed-on")


def test_an_installed_runtime_keeps_pip_quiet(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    calls = venv_stand_in(project)
    ran = run(project, "demo", LLAMA_CPP_INSTALLED="1")
    assert ran.returncode == 0, ran.stderr
    assert "llama.cpp" not in ran.stderr
    installs = [call for call in calls.read_text().splitlines() if call.startswith("-m pip install") and "[" in call]
    assert len(installs) == 1 and "--quiet" in installs[0]
    assert calls.read_text().splitlines()[-1] == "-m trinity_hybrid demo"

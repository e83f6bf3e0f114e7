"""A command whose optional extra is missing says which pip command installs it, in one line, and
exits 1; never a ModuleNotFoundError traceback. Each case runs the CLI in a process of its own in
which the extra's module cannot be imported (``sys.modules[name] = None``, Python's own way to
block an import), the rest of the environment left as a user's would be."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
from environments import keyless_environment
from trinity_hybrid._extras import EXTRA_MODULES, install_command, missing_module

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120


def cli_without(
    modules: tuple[str, ...], arguments: list[str], directory: Path | None = None, **environment: str
) -> subprocess.CompletedProcess[str]:
    blocking = "".join(f"sys.modules[{module!r}] = None\n" for module in modules)
    program = f"import sys\n{blocking}from trinity_hybrid._cli import main\nmain(prog_name='trinity-hybrid')\n"
    return subprocess.run(
        [sys.executable, "-c", program, *arguments], check=False, cwd=directory,
        env={**keyless_environment(), **environment}, capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip


CASES = [
    pytest.param(("uvicorn",), ["serve"], {}, "gateway", id="serve-uvicorn"),
    pytest.param(("prometheus_client",), ["serve", "--port", "0"], {}, "gateway", id="serve-prometheus"),
    pytest.param(("httptools",), ["serve", "--workers", "2"], {}, "gateway", id="serve-httptools"),
    pytest.param(("rich",), ["demo", "--category", "Math"], {}, "demo", id="demo-rich"),
    pytest.param(("matplotlib",), ["demo", "--plot", "never-written.png"], {}, "plot", id="demo-plot-matplotlib"),
    pytest.param(("llama_cpp",), ["demo", "--category", "Math"], {}, "local", id="demo-offline-llama_cpp"),
    pytest.param(
        ("redis",), ["route", "hello"], {"TRINITY_REDIS_URL": "redis://127.0.0.1:1/0"}, "redis", id="route-redis"
    ),
]


@pytest.mark.parametrize(("blocked", "arguments", "environment", "extra"), CASES)
def test_a_missing_extra_is_one_line_naming_its_pip_command(
    blocked: tuple[str, ...], arguments: list[str], environment: dict[str, str], extra: str, tmp_path: Path
) -> None:
    ran = cli_without(blocked, arguments, tmp_path, **environment)
    assert ran.returncode == 1, ran.stderr
    assert len(ran.stderr.splitlines()) == 1, ran.stderr
    assert ran.stderr.startswith("error: ")
    assert f"pip install 'trinity-hybrid[{extra}]'" in ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
    assert not (tmp_path / "never-written.png").exists()


def test_help_lists_a_command_whose_extra_is_missing_with_its_pip_command() -> None:
    listed = cli_without(("uvicorn",), ["--help"])
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"serve\s+Run the OpenAI-compatible gateway", listed.stdout)
    assert "(needs the [gateway] extra)" in " ".join(listed.stdout.split())
    helped = cli_without(("uvicorn",), ["serve", "--help"])
    assert helped.returncode == 0, helped.stderr
    assert "pip install 'trinity-hybrid[gateway]'" in helped.stdout


def test_missing_module_sees_a_blocked_module(monkeypatch: pytest.MonkeyPatch) -> None:
    assert missing_module("demo") is None  # rich is a test dependency
    monkeypatch.setitem(sys.modules, "rich", None)
    assert missing_module("demo") == "rich"
    assert install_command("demo") == "pip install 'trinity-hybrid[demo]'"
    with pytest.raises(KeyError):
        install_command("nonsense")


def normalized(distribution: str) -> str:
    """A distribution's name as PEP 503 compares them (prometheus_client = prometheus-client)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_each_extras_modules_come_from_that_extra_in_pyproject() -> None:
    """The table of modules follows pyproject.toml: every module it names is installed by a
    distribution that the extra of the same name requires."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    distributions = importlib.metadata.packages_distributions()
    for extra, modules in EXTRA_MODULES.items():
        assert extra in extras, f"pyproject.toml has no extra {extra!r}"
        required = {normalized(re.split(r"[<>=!~; \[]", requirement, maxsplit=1)[0]) for requirement in extras[extra]}
        for module in modules:
            provided_by = {normalized(name) for name in distributions.get(module, [])}
            assert provided_by & required, f"{module} ({provided_by or 'not installed'}) is not in [{extra}]"

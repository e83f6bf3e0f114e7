"""The test environment is what a fresh clone resolves today.

A venv made weeks ago keeps the SDK releases it was made with, and its tests can pass while a
fresh machine's fail (anthropic 2.17 changed which exceptions its streams raise). So: every
test-only requirement has a floor and a ceiling, the venv satisfies them, and for each one the
venv holds the newest release the requirement allows, as pip resolves it now.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _test_extra() -> list[Requirement]:
    document = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [Requirement(text) for text in document["project"]["optional-dependencies"]["test"]]
    return [requirement for requirement in requirements if requirement.marker is None or requirement.marker.evaluate()]


def test_every_test_requirement_has_a_floor_and_a_ceiling() -> None:
    for requirement in _test_extra():
        operators = {specifier.operator for specifier in requirement.specifier}
        if "==" in operators or requirement.name == "packaging":
            continue  # pinned; packaging only reads version strings
        assert operators & {">=", ">"}, f"{requirement.name} has no floor"
        assert operators & {"<", "<="}, f"{requirement.name} has no ceiling"


def test_the_venv_satisfies_every_test_requirement() -> None:
    for requirement in _test_extra():
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{requirement.name} {installed} is installed, the test extra asks for {requirement.specifier}"
        )


def test_the_venv_holds_what_a_fresh_resolve_gives() -> None:
    """pip's own resolver, asked for each test requirement alone (a dry run that installs
    nothing), picks the release a fresh machine would install; the venv must hold that one."""
    requirements = [str(requirement) for requirement in _test_extra()]
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
               "--disable-pip-version-check", "--quiet", "--report", "-", *requirements]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        if "connection" in completed.stderr.lower() or "network" in completed.stderr.lower():
            pytest.skip(f"the package index cannot be reached: {reason}")
        pytest.fail(f"pip cannot resolve the test extra: {reason}")
    report = json.loads(completed.stdout)
    fresh = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}
    stale = {
        name: (metadata.version(name), version)
        for name, version in fresh.items()
        if metadata.version(name) != version
    }
    assert not stale, (
        "the venv is older than a fresh resolve (installed, fresh): "
        f"{stale}; scripts/dev.sh test upgrades it, or remove .venv"
    )

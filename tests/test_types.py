"""The package stays ``mypy --strict`` clean (STYLE.md: type hints on every public function).

mypy runs as a user would run it, from the checkout's root, so ``[tool.mypy]`` in pyproject.toml
applies (cffi's missing types, the generated ``_lib/``). Its cache, ``.mypy_cache/`` in the root
(ignored by git), makes a run after the first take about half a second instead of ten.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_passes_mypy_strict() -> None:
    command = [sys.executable, "-m", "mypy", "--strict", "python/trinity_hybrid"]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, f"mypy --strict reports errors:\n{completed.stdout}{completed.stderr}"

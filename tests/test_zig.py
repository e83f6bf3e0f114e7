"""Runs the Zig test suite (`zig build test`, which also builds and runs the example consumer)
so that the single test command covers both languages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / "build.zig").is_file(), reason="needs a source checkout")
def test_zig_build_test() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ziglang", "build", "test", "--summary", "all"],
        cwd=ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=1_500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    summary = [line for line in result.stderr.splitlines() if line.startswith("Build Summary:")]
    assert summary, result.stderr[-4000:]
    assert "failed" not in summary[0]
    # The example consumer ran and answered its three prompts.
    assert result.stderr.count(" -> ") >= 3

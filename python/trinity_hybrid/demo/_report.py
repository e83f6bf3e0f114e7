"""What the demo shows and writes: the summary figures, the JSON document, and the tables.

The figures are computed once (``summarize``) and shared by the JSON document and the terminal
tables, so the two never disagree. ``rich`` draws the tables; it is imported here only, when the
demo runs (see README: it is kept out of ``import trinity_hybrid``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._runner import PromptResult

if TYPE_CHECKING:
    from rich.console import Console


def summarize(results: Sequence[PromptResult]) -> dict[str, Any]:
    """The run in figures. Throughput is output tokens over the answering attempts' time, summed
    over answered prompts; languages are those our detector gave the prompts."""
    answered = [result for result in results if result.provider is not None]
    tokens_output = sum(result.tokens_output for result in answered)
    generation_s = sum(result.generation_s or 0.0 for result in answered)
    return {
        "prompts": len(results),
        "coherent": sum(1 for result in results if result.coherent),
        "answered": len(answered),
        "skipped": sum(1 for result in results if result.skipped is not None),
        "failed": sum(1 for result in results if result.error is not None),
        "tokens_per_s": round(tokens_output / generation_s, 2) if generation_s > 0 else None,
        "tokens_output": tokens_output,
        "languages": dict(Counter(result.language for result in results).most_common()),
        "providers": dict(Counter(result.provider for result in answered).most_common()),
        "fallbacks": sum(1 for result in results if result.fallback),
    }


def prompt_document(result: PromptResult) -> dict[str, Any]:
    tokens_per_s = result.tokens_per_s
    return {
        "category": result.prompt.category,
        "prompt": result.prompt.prompt_shown,
        "language": result.language,
        "route": list(result.route),
        "provider": result.provider,
        "fallback": result.fallback,
        "latency_s": None if result.latency_s is None else round(result.latency_s, 4),
        "tokens_per_s": None if tokens_per_s is None else round(tokens_per_s, 2),
        "coherent": result.coherent,
        "text": result.text,
        "prompt_chars": len(result.prompt.prompt),
        "tokens_estimated": result.tokens_estimated,
        "tokens_output": result.tokens_output,
        "attempts": [
            {
                "provider": attempt.provider,
                "outcome": attempt.outcome,
                "error_type": attempt.error_type,
                "latency_s": round(attempt.latency_s, 4),
            }
            for attempt in result.attempts
        ],
        "coherence": None if result.coherence is None else result.coherence.as_json(),
        "skipped": result.skipped,
        "error": result.error,
    }


def document(results: Sequence[PromptResult], status: Mapping[str, Any]) -> dict[str, Any]:
    """What ``--json`` writes: every prompt, the summary, and the providers' status after the run
    (keys masked, as the status always has them)."""
    return {"prompts": [prompt_document(result) for result in results], "summary": summarize(results),
            "status": dict(status)}  # fmt: skip


def _verdict(result: PromptResult) -> str:
    if result.skipped is not None:
        return "[yellow]skipped[/]"
    if result.error is not None:
        return "[red]failed[/]"
    assert result.coherence is not None
    if result.coherence.coherent:
        return "[green]coherent[/]"
    return "[red]not coherent[/] (" + ", ".join(result.coherence.failures()) + ")"


def _figure(value: float | None, form: str) -> str:
    return "–" if value is None else format(value, form)


def _answered_by(result: PromptResult) -> str:
    """Who answered; the route too when it held more than that provider."""
    if result.provider is None:
        return " → ".join(result.route) or "no provider's window holds it"
    if result.route == (result.provider,):
        return result.provider
    return f"{result.provider} (route {' → '.join(result.route)})"


ANSWER_INDENT = 6


def print_prompt(console: Console, number: int, total: int, result: PromptResult) -> None:
    """One prompt, printed as soon as it is done: what happened to it, then the start of its
    answer on one line, cut at the console's width with an ellipsis; or why there is no answer,
    in full. Everything wraps or is cut at the console's width (80 columns when piped)."""
    from rich.padding import Padding
    from rich.text import Text

    heading = f"{number:>2}/{total} [bold]{result.prompt.category}[/] · {result.language} · {_answered_by(result)}"
    if result.provider is not None:
        heading += f" · {_figure(result.latency_s, '.2f')} s · {_figure(result.tokens_per_s, '.1f')} tok/s"
    console.print(heading + f" · {_verdict(result)}")
    if result.provider is None:
        reason = Text(result.skipped or result.error or "", style="yellow" if result.skipped else "red")
        console.print(Padding(reason, (0, 0, 0, ANSWER_INDENT)))
        return
    answer = " ".join(result.text.split()) or "(empty answer)"
    console.print(Text(" " * ANSWER_INDENT + answer, style="dim"), no_wrap=True, overflow="ellipsis")


def summary_table(summary: Mapping[str, Any]) -> Any:
    from rich.table import Table

    def counts(values: Mapping[str, int]) -> str:
        return ", ".join(f"{name} {count}" for name, count in values.items()) or "–"

    table = Table(title="Summary", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    answered = summary["answered"]
    rows = (
        (
            "prompts",
            f"{summary['prompts']} ({answered} answered, {summary['skipped']} skipped, {summary['failed']} failed)",
        ),
        ("coherent", f"{summary['coherent']}/{summary['prompts']}"),
        ("throughput", f"{_figure(summary['tokens_per_s'], '.1f')} tok/s ({summary['tokens_output']} output tokens)"),
        ("languages detected", counts(summary["languages"])),
        ("providers used", counts(summary["providers"])),
        ("fallbacks", str(summary["fallbacks"])),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table


def status_table(status: Mapping[str, Any]) -> Any:
    """The providers after the run: breaker state and counters (available providers only)."""
    from rich.table import Table

    # No key column, not even masked: `trinity-hybrid status` shows those.
    table = Table(title="Providers after the run", header_style="bold")
    for heading in ("provider", "breaker", "calls", "ok", "failed", "success", "avg latency"):
        table.add_column(heading, justify="left" if heading in ("provider", "breaker") else "right")
    for name in status["available_providers"]:
        entry = status["providers"][name]
        state = entry["state"]
        shown = {"closed": "[green]closed[/]", "open": "[red]open[/]"}.get(state, f"[yellow]{state}[/]")
        table.add_row(name, shown, str(entry["total_calls"]), str(entry["successful_calls"]), str(entry["failed_calls"]),
                      str(entry["success_rate"]), str(entry["avg_latency"]))  # fmt: skip
    return table


def show(console: Console, results: Sequence[PromptResult], status: Mapping[str, Any]) -> None:
    """After the run (each prompt was shown as it finished): the summary and the providers."""
    console.print(summary_table(summarize(results)))
    console.print(status_table(status))

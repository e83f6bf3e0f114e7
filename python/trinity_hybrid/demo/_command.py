"""``trinity-hybrid demo``: the click command. Imported only when the demo is invoked or listed,
and it imports rich and the rest only when it runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from .._exceptions import TrinityError
from .._extras import install_command, missing_module
from ._plot import require_matplotlib
from ._runner import MAX_TOKENS_DEFAULT
from ._suite import CATEGORIES


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


@click.command()
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write every prompt's result and the summary as JSON to this file.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help=f"Draw latency and tok/s by provider and category as a PNG (needs matplotlib: {install_command('plot')}).",
)
@click.option(
    "--fail",
    "fail_providers",
    metavar="PROVIDER",
    multiple=True,
    help="Make this configured provider unreachable for the run (a closed loopback port), to show "
    "fallback and the breaker. Repeatable.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(1, 4096),
    default=MAX_TOKENS_DEFAULT,
    show_default=True,
    help="Output tokens per answer.",
)
@click.option(
    "--category",
    "categories",
    type=click.Choice(CATEGORIES, case_sensitive=False),
    multiple=True,
    help="Run only the prompts of this category (repeatable); all 24 by default.",
)
def demo(json_path: Path | None, plot_path: Path | None, fail_providers: tuple[str, ...], max_tokens: int,
         categories: tuple[str, ...]) -> None:  # fmt: skip
    """Run the 24-prompt suite through the configured providers and report each answer.

    With no API key set it runs offline on the embedded local model. Coherence is measured per
    answer (non-empty, in the expected language, no degenerate repetition, the known answer
    present); it does not change the exit code, which is 1 only when no prompt was answered or
    the configuration is wrong.
    """
    if missing_module("demo"):
        _fail(
            f"the demo draws its progress bar and tables with rich, which is not installed: {install_command('demo')}"
        )
    try:
        if plot_path is not None:
            require_matplotlib()
        summary = _run(json_path, plot_path, fail_providers, max_tokens, categories)
    except TrinityError as error:
        _fail(str(error))
    if summary["answered"] == 0 and summary["prompts"] > summary["skipped"]:
        _fail("no prompt was answered (see the failures above)")


def _run(
    json_path: Path | None,
    plot_path: Path | None,
    fail_providers: tuple[str, ...],
    max_tokens: int,
    categories: tuple[str, ...],
) -> dict[str, Any]:
    from rich.console import Console
    from rich.logging import RichHandler
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .._local import runtime_installed
    from .._node import TrinityHybridNode
    from ._report import document, print_prompt, show, summarize
    from ._runner import (
        PromptResult,
        check_local_model,
        load_local_model,
        make_unreachable,
        run_suite,
        runs_embedded_model,
    )
    from ._suite import production_suite

    # Every line fits the terminal: rich wraps or cuts at its width, 80 columns when the output
    # is piped or captured.
    console = Console(highlight=False)
    node = TrinityHybridNode.from_env()
    check_local_model(node)
    if runs_embedded_model(node) and runtime_installed():
        from .._llama_log import route_llama_logs

        route_llama_logs()  # llama.cpp's warnings out of the demo's output: see _llama_log
    for provider in fail_providers:
        make_unreachable(node, provider.lower())
    available = node.available_providers
    offline = available == ("local",)
    console.print(
        f"providers: {', '.join(available)}"
        + (" (no key set: offline, on the embedded local model)" if offline else "")
    )
    if fail_providers:
        console.print(f"unreachable for this run: {', '.join(fail_providers)}")
    wanted = frozenset(category.lower() for category in categories)
    prompts = production_suite(frozenset(c for c in CATEGORIES if c.lower() in wanted) if categories else None)
    if offline:
        with console.status("loading the local model"):
            load_local_model(node)

    # Each attempt's failure is logged by the router; shown above the bar, they make the fallback
    # visible while it happens.
    logger = logging.getLogger("trinity_hybrid")
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    logger.addHandler(handler)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:  # fmt: skip
            task = progress.add_task("demo", total=len(prompts))

            def advance(result: PromptResult) -> None:
                done = int(progress.tasks[0].completed) + 1
                print_prompt(progress.console, done, len(prompts), result)
                progress.update(task, advance=1, description=f"{result.prompt.category:<12} {result.provider or '-'}")

            results = run_suite(node, prompts, max_tokens=max_tokens, on_result=advance)
    finally:
        logger.removeHandler(handler)
        node.close()
    status = node.status()
    show(console, results, status)
    if json_path is not None:
        json_path.write_text(
            json.dumps(document(results, status), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        console.print(f"wrote {json_path}")
    if plot_path is not None:
        from ._plot import write_plot

        write_plot(results, plot_path)
        console.print(f"wrote {plot_path}")
    return summarize(results)


__all__ = ["demo"]

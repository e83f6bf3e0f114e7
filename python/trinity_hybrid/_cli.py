"""The `trinity-hybrid` command line: one click group, one small function per subcommand.

Subcommands that pull in heavy dependencies (the gateway's server, the demo's model) are named in
`_LAZY_COMMANDS` and imported only when invoked or when their help is shown, so `trinity-hybrid
route ...` stays as cheap as `import trinity_hybrid`.

Exit codes: 0 success, 1 an error (one line on stderr: a bad configuration, a missing extra, a
busy port, no prompt answered), 2 a usage error (click's own convention). README lists them.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import click

from . import TrinityError, TrinityHybridNode, __version__, detect_language
from ._board import format_status
from ._extras import install_command, missing_module


@dataclass(frozen=True)
class _LazyCommand:
    """A subcommand imported on first use; ``extra`` names the optional extra its module needs
    to be imported at all, and ``summary`` is its help line when that extra is missing."""

    target: str  # "module:attribute" of a click.Command
    summary: str
    extra: str | None = None


_LAZY_COMMANDS: dict[str, _LazyCommand] = {
    "demo": _LazyCommand("trinity_hybrid.demo._command:demo", "Run the 24-prompt suite."),
    "serve": _LazyCommand("trinity_hybrid.gateway._serve:serve", "Run the OpenAI-compatible gateway.", "gateway"),
}

_STRATEGIES = ("rule", "round_robin", "best_performance", "random", "priority", "lowest_latency", "lowest_cost")


class _LazyGroup(click.Group):
    """A group whose heavy subcommands are imported only when needed (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = _LAZY_COMMANDS.get(cmd_name)
        if lazy is None:
            return super().get_command(ctx, cmd_name)
        absent = missing_module(lazy.extra) if lazy.extra else None
        if lazy.extra and absent:
            return _needs_extra(cmd_name, lazy, absent)
        module_name, attribute = lazy.target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{lazy.target} is not a click command")
        return command


def _needs_extra(name: str, lazy: _LazyCommand, absent: str) -> click.Command:
    """Stands in for a command whose extra is not installed: whatever its arguments, it says
    which pip command installs it, on one line, and exits 1 (its module cannot even be imported)."""
    assert lazy.extra is not None
    hint = install_command(lazy.extra)

    def explain() -> None:
        click.echo(
            f"error: `trinity-hybrid {name}` needs the {lazy.extra} extra ({absent} is missing): {hint}", err=True
        )
        raise SystemExit(1)

    return click.Command(
        name,
        callback=explain,
        # \b keeps click from breaking the pip command at its hyphen.
        help=f"{lazy.summary}\n\n\b\nNot installed here: {hint}",
        short_help=f"{lazy.summary} (needs the [{lazy.extra}] extra)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def _fail(error: TrinityError) -> None:
    click.echo(f"error: {error}", err=True)
    raise SystemExit(1)


def _read_text(text: str) -> str:
    """`-` reads the text from standard input, so long prompts need not fit on a command line."""
    return sys.stdin.read() if text == "-" else text


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trinity-hybrid")
def main() -> None:
    """A multi-provider LLM router: language-aware routing, fallback and circuit breaking.

    API keys are read from the environment only (GROQ_API_KEY, ZHIPU_API_KEY, ...); with none set
    the embedded local model is the only provider.
    """


@main.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the detection as JSON.")
def detect(text: str, as_json: bool) -> None:
    """Detect the language of TEXT (`-` reads standard input)."""
    try:
        detection = detect_language(_read_text(text))
    except TrinityError as error:
        _fail(error)
    if as_json:
        _emit_json({"language": detection.language, "confidence": detection.confidence, "scripts": detection.scripts})
        return
    scripts = ", ".join(f"{name} {share:.0%}" for name, share in detection.scripts.items()) or "none"
    click.echo(f"language:   {detection.language}")
    click.echo(f"confidence: {detection.confidence:.2f}")
    click.echo(f"scripts:    {scripts}")


@main.command()
@click.argument("prompt")
@click.option("--quality", is_flag=True, help="Prefer the best-quality provider.")
@click.option("--force", "force_provider", metavar="PROVIDER", help="Route to this provider alone.")
@click.option("--strategy", type=click.Choice(_STRATEGIES), help="How eligible providers are ordered.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def route(prompt: str, quality: bool, force_provider: str | None, strategy: str | None, as_json: bool) -> None:
    """Explain how PROMPT would be routed (`-` reads standard input); sends nothing."""
    try:
        node = TrinityHybridNode.from_env()
        if force_provider is not None:
            node.require_available(force_provider)  # "set GROQ_API_KEY", not a chain that cannot be called
        decision = node.route(_read_text(prompt), quality=quality, force_provider=force_provider, strategy=strategy)
    except TrinityError as error:
        _fail(error)
    detection = decision.detection
    explained = {
        "language": detection.language,
        "confidence": round(detection.confidence, 3),
        "tokens_estimated": decision.tokens_estimated,
        "reason": decision.reason,
        "providers": list(decision.providers),
    }
    if as_json:
        _emit_json(explained)
        return
    click.echo(f"language:  {detection.language} (confidence {detection.confidence:.2f})")
    click.echo(f"tokens:    ~{decision.tokens_estimated}")
    click.echo(f"rule:      {decision.reason}")
    click.echo(f"chain:     {' -> '.join(decision.providers) or '(no provider available)'}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--url", metavar="URL", help="Read the status of the gateway running at URL instead of this environment's.")
@click.option("--api-key", envvar="TRINITY_API_KEY", metavar="KEY", help="Bearer key for --url [env: TRINITY_API_KEY].")
def status(as_json: bool, url: str | None, api_key: str | None) -> None:
    """Show the providers this environment configures (or a running gateway serves), keys masked."""
    try:
        document = _gateway_status(url, api_key) if url else None
        node = None if url else TrinityHybridNode.from_env()
    except TrinityError as error:
        _fail(error)
    if document is None:
        assert node is not None
        document = node.status()
    if as_json:
        _emit_json(document)
    else:
        click.echo(format_status(document))


def _gateway_status(url: str, api_key: str | None) -> dict[str, Any]:
    """GET {url}/status of a running gateway; failures become a ``TrinityError`` naming the URL."""
    import httpx

    from ._exceptions import ConfigurationError

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    target = f"{url.rstrip('/')}/status"
    try:
        response = httpx.get(target, headers=headers, timeout=10.0, trust_env=False)
    except httpx.HTTPError as error:
        raise ConfigurationError(f"cannot reach {target}: {type(error).__name__}") from None
    if response.status_code != 200:
        raise ConfigurationError(f"{target} answered {response.status_code}: {_error_message(response)}")
    document = response.json()
    if not isinstance(document, dict) or not isinstance(document.get("providers"), dict):
        raise ConfigurationError(f"{target} did not answer with a status document")
    return document


def _error_message(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase or "no message"

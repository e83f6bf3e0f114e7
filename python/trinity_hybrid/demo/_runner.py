"""Runs the suite through a node, one prompt at a time, and records what happened to each.

A prompt that no configured provider's context window can hold is not sent: it is reported as
skipped, with the estimate and the largest window there is. A prompt whose every provider fails
is reported with the error; the run goes on.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .._exceptions import AllProvidersFailed, ConfigurationError, TrinityError
from .._extras import install_command
from ._coherence import Coherence, measure
from ._suite import DemoPrompt

if TYPE_CHECKING:
    from .._node import TrinityHybridNode
    from .._results import Attempt

# Enough for a short answer, and for the offline run on the 135M local model to finish in a
# couple of minutes on two cores.
MAX_TOKENS_DEFAULT = 64


@dataclass(frozen=True, slots=True)
class PromptResult:
    """What became of one prompt. ``skipped`` says why it was not sent; ``error`` why no
    provider answered it; otherwise ``provider`` answered and ``coherence`` judges the answer."""

    prompt: DemoPrompt
    language: str
    route: tuple[str, ...]
    tokens_estimated: int
    provider: str | None = None
    latency_s: float | None = None
    tokens_output: int = 0
    generation_s: float | None = None  # the answering attempt alone, without failed ones before it
    text: str = ""
    attempts: tuple[Attempt, ...] = ()
    coherence: Coherence | None = None
    skipped: str | None = None
    error: str | None = None

    @property
    def fallback(self) -> bool:
        """Whether a provider other than the chain's first had to be tried (or was skipped)."""
        return len(self.attempts) > 1

    @property
    def tokens_per_s(self) -> float | None:
        if self.provider is None or not self.generation_s or not self.tokens_output:
            return None
        return self.tokens_output / self.generation_s

    @property
    def coherent(self) -> bool | None:
        return None if self.coherence is None else self.coherence.coherent


def largest_window(node: TrinityHybridNode) -> tuple[str, int] | None:
    """The available provider with the largest context window, and that window in tokens."""
    windows = [(node.provider_info(name)["context_window_tokens"], name) for name in node.available_providers]
    if not windows:
        return None
    tokens, name = max(windows)
    return name, tokens


def skip_reason(node: TrinityHybridNode, tokens_estimated: int) -> str | None:
    """Why a request of ``tokens_estimated`` tokens cannot be sent, if it is too large for every
    available provider's window; None when some window holds it."""
    largest = largest_window(node)
    if largest is None:
        return None
    name, window_tokens = largest
    if tokens_estimated <= window_tokens:
        return None
    return (
        f"about {tokens_estimated:,} tokens; no configured provider's context window holds it "
        f"(largest: {name}, {window_tokens:,})"
    )


def run_prompt(node: TrinityHybridNode, prompt: DemoPrompt, *, max_tokens: int, temperature: float) -> PromptResult:
    route = node.route(prompt.prompt, max_tokens=max_tokens)
    result = PromptResult(prompt, route.language, route.providers, route.tokens_estimated)
    if not route.providers:
        reason = skip_reason(node, route.tokens_estimated)
        if reason is not None:
            return replace(result, skipped=reason)
    try:
        response = node.infer(prompt.prompt, max_tokens=max_tokens, temperature=temperature)
    except AllProvidersFailed as error:
        return replace(result, error=str(error), attempts=tuple(error.attempts))
    except TrinityError as error:
        return replace(result, error=f"{type(error).__name__}: {error}")
    answered = response.attempts[-1]
    return replace(
        result,
        provider=response.provider,
        latency_s=response.latency_s,
        tokens_output=response.usage.completion_tokens,
        generation_s=answered.latency_s,
        text=response.text,
        attempts=response.attempts,
        coherence=measure(prompt, response.text),
    )


def run_suite(
    node: TrinityHybridNode,
    prompts: tuple[DemoPrompt, ...],
    *,
    max_tokens: int = MAX_TOKENS_DEFAULT,
    temperature: float = 0.0,
    on_result: Callable[[PromptResult], None] | None = None,
) -> list[PromptResult]:
    """Every prompt in order; ``on_result`` is called after each (the progress bar)."""
    results = []
    for prompt in prompts:
        result = run_prompt(node, prompt, max_tokens=max_tokens, temperature=temperature)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def runs_embedded_model(node: TrinityHybridNode) -> bool:
    """Whether the local provider is the model run in this process (not a server by URL)."""
    return "local" in node.available_providers and "local" not in node.base_urls


def check_local_model(node: TrinityHybridNode, environ: Mapping[str, str] = os.environ) -> None:
    """Stops the demo before its first prompt, with one line, when the embedded model cannot
    run: a ``LOCAL_MODEL_PATH`` that names no file (whatever other providers there are), or, on
    an offline run, a missing runtime or model. With remote providers configured the local model
    is the last resort, and an attempt that cannot reach it is reported with the prompt."""
    from .._local import default_model_path, runtime_installed

    if not runs_embedded_model(node):
        return
    offline = node.available_providers == ("local",)
    if offline and not runtime_installed():
        raise ConfigurationError(
            "no key is set, so the demo runs on the embedded local model, which needs llama-cpp-python: "
            f"{install_command('local')}"
        )
    if offline or environ.get("LOCAL_MODEL_PATH", "").strip():
        default_model_path(environ)  # raises, naming LOCAL_MODEL_PATH, when it is not a file


def load_local_model(node: TrinityHybridNode) -> bool:
    """Loads the embedded model before an offline run (the local provider alone), so that the
    first prompt's latency is that of an answer, not of reading the GGUF file. With remote
    providers the local model is the last resort and a fallback to it shows its cold start, as it
    would in production. False when there is nothing to load here (remote providers, or a local
    server by URL); a model file that llama.cpp cannot read raises ``ConfigurationError``."""
    if node.available_providers != ("local",) or not runs_embedded_model(node):
        return False
    model = node._local_model()  # the node's own model, the one its transport calls
    try:
        model._loaded()
    except ValueError as error:  # llama-cpp-python's error for a file it cannot load
        raise ConfigurationError(f"the local model {model.model_path} could not be loaded: {error}") from None
    return True


def closed_port_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens: connections to it are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and is closed now; the kernel hands out ephemeral ports in
    # turn, so it is not reused by another socket for a long while.
    return f"http://127.0.0.1:{port}/v1"


def make_unreachable(node: TrinityHybridNode, provider: str) -> None:
    """Points ``provider`` at a closed loopback port for this run, so that every call to it fails
    with a refused connection: the fallback and the breaker then show in the report."""
    if provider not in node.provider_names:
        raise ConfigurationError(
            f"--fail {provider!r} is not a provider; expected one of {', '.join(node.provider_names)}"
        )
    if provider not in node.available_providers:
        available = ", ".join(node.available_providers) or "none"
        raise ConfigurationError(f"--fail {provider}: the provider is not configured here (available: {available})")
    node.base_urls[provider] = closed_port_url()

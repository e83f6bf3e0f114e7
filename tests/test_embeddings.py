"""Embeddings (issue 16, point 7): ``node.embed`` through the OpenAI-compatible, Gemini and Cohere
APIs, routed with fallback among the providers that have an embedding model. The loopback server's
shapes are checked by each provider's official SDK first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import cohere
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from loopback._embeddings import EmbeddingServer, vector_of
from trinity_hybrid import InvalidInputError, TrinityHybridNode

TEXTS = ["the first text", "a second one", "third"]


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as running:
        yield running


def node_for(server: EmbeddingServer, *providers: str, **variables: str) -> TrinityHybridNode:
    bases = {"openai": server.origin + "/v1", "google": server.origin, "cohere": server.origin,
             "groq": server.origin + "/v1"}  # fmt: skip
    # One scripted fault per request shows the fallback; same-provider retries: test_retries.py.
    environment = {"TRINITY_RETRIES": "0", **variables}
    for provider in providers:
        environment[f"{provider.upper()}_API_KEY"] = server.api_key
        environment[f"{provider.upper()}_BASE_URL"] = bases[provider]
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    return node


def test_the_server_speaks_each_api_as_its_sdk_reads_it(server: EmbeddingServer) -> None:
    client = openai.OpenAI(base_url=server.origin + "/v1", api_key=server.api_key, max_retries=0)
    by_openai = client.embeddings.create(model="text-embedding-3-small", input=TEXTS, dimensions=4)
    assert [item.embedding for item in sorted(by_openai.data, key=lambda item: item.index)] == [
        vector_of(text, 4) for text in TEXTS
    ]
    google = genai.Client(api_key=server.api_key, http_options=genai_types.HttpOptions(base_url=server.origin))
    by_gemini = google.models.embed_content(model="gemini-embedding-001", contents=TEXTS)
    assert [embedding.values for embedding in by_gemini.embeddings or []] == [vector_of(text) for text in TEXTS]
    by_cohere = cohere.ClientV2(api_key=server.api_key, base_url=server.origin).embed(
        texts=TEXTS, model="embed-v4.0", input_type="search_document", embedding_types=["float"]
    )
    assert by_cohere.embeddings.float_ == [vector_of(text) for text in TEXTS]


@pytest.mark.parametrize("provider", ["openai", "google", "cohere"])
def test_each_api_embeds_in_order(server: EmbeddingServer, provider: str) -> None:
    node = node_for(server, provider)
    answer = node.embed(TEXTS, force_provider=provider, dimensions=4, input_type="search_query")
    assert answer.vectors == tuple(tuple(vector_of(text, 4)) for text in TEXTS)
    assert answer.provider == provider
    assert answer.usage.prompt_tokens > 0
    path, body = server.requests[-1]
    if provider == "openai":
        assert (path, body["model"], body["dimensions"]) == ("/v1/embeddings", "text-embedding-3-small", 4)
        assert "input_type" not in body  # no such field: dropped by rule
    elif provider == "google":
        assert path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
        assert {item["taskType"] for item in body["requests"]} == {"RETRIEVAL_QUERY"}
    else:
        assert (path, body["input_type"], body["output_dimension"]) == ("/v2/embed", "search_query", 4)
    assert node.stats(provider).calls_successful == 1


def test_falls_back_past_a_failure_and_skips_providers_without_an_embedding_model(server: EmbeddingServer) -> None:
    node = node_for(server, "groq", "openai", "cohere")
    chain = node.route(" ".join(TEXTS)).providers
    embedders = [provider for provider in chain if provider in {"openai", "cohere"}]
    server.statuses.append(500)  # the first embedding provider asked fails
    answer = node.embed(TEXTS)
    outcomes = [(attempt.provider, attempt.outcome) for attempt in answer.attempts]
    assert ("groq", "skipped") in outcomes
    assert (embedders[0], "failure") in outcomes
    assert answer.provider == embedders[1]
    assert answer.vectors[0] == tuple(vector_of(TEXTS[0]))


def test_an_embedding_model_override_and_its_price(server: EmbeddingServer) -> None:
    node = node_for(server, "openai", OPENAI_EMBEDDING_MODEL="text-embedding-3-large")
    answer = node.embed("hello there world")
    assert server.requests[-1][1]["model"] == "text-embedding-3-large"
    assert answer.cost_usd == pytest.approx(answer.usage.prompt_tokens * 0.13 / 1e6)


def test_several_keys_turn_over_as_for_chat_with_the_embedding_model(tmp_path: Path) -> None:
    """Two deployments of openai, each with its own key and a chat model: the server refuses the
    first key (401), the second answers, and both are asked for the embedding model, not the
    deployment's chat model. Then a 429 on the answering key moves back to the other, which the
    server now takes."""
    first, second = "sk-embed-first-0123456789", "sk-embed-second-0123456789"
    with EmbeddingServer(api_key=second) as server:
        config = tmp_path / "trinity.toml"
        config.write_text(
            "".join(
                f'[[providers.openai.deployments]]\nkey_env = "{name}"\nbase_url = "{server.origin}/v1"\n'
                'model = "gpt-4o-mini"\n'
                for name in ("OPENAI_KEY_A", "OPENAI_KEY_B")
            )
        )
        node = TrinityHybridNode.from_env(
            {"TRINITY_CONFIG": str(config), "OPENAI_KEY_A": first, "OPENAI_KEY_B": second, "TRINITY_RETRIES": "0"}
        )
        node.set_unavailable("local")
        answer = node.embed(TEXTS, force_provider="openai")
        assert server.keys == [first, second]
        assert [body["model"] for _, body in server.requests] == ["text-embedding-3-small"] * 2
        assert [(attempt.provider, attempt.outcome) for attempt in answer.attempts] == [
            ("openai", "failure"), ("openai", "success"),
        ]  # fmt: skip
        assert answer.vectors[0] == tuple(vector_of(TEXTS[0]))
        keys = node.status()["providers"]["openai"]["keys"]
        assert [(key["successful_calls"], key["failed_calls"]) for key in keys] == [(0, 1), (1, 0)]
        node.close()


def test_aembed(server: EmbeddingServer) -> None:
    node = node_for(server, "cohere")

    async def run() -> tuple[tuple[float, ...], ...]:
        try:
            return (await node.aembed(TEXTS)).vectors
        finally:
            await node.aclose()

    assert asyncio.run(run()) == tuple(tuple(vector_of(text)) for text in TEXTS)


@pytest.mark.parametrize(
    ("texts", "options", "param"),
    [
        ([], {}, "input"),
        (["ok", ""], {}, "input"),
        (["x"] * 97, {}, "input"),
        ("fine", {"dimensions": 0}, "dimensions"),
        ("fine", {"dimensions": True}, "dimensions"),
        ("fine", {"input_type": "search"}, "input_type"),
    ],
)
def test_bad_input_is_refused_before_any_call(
    server: EmbeddingServer, texts: object, options: dict[str, object], param: str
) -> None:
    node = node_for(server, "openai")
    with pytest.raises(InvalidInputError) as raised:
        node.embed(texts, **options)  # type: ignore[arg-type]
    assert raised.value.param == param
    assert server.requests == []

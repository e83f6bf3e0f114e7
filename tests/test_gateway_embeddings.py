"""``POST /v1/embeddings`` through a running gateway, read by the official openai SDK: the
OpenAI-compatible, Gemini and Cohere embedding APIs behind it (the loopback embedding server),
float and base64 vectors, forcing a provider by model name, fallback, and 400s for bad input."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from gateway_harness import GATEWAY_KEY, running_gateway
from loopback._embeddings import EmbeddingServer, vector_of

TEXTS = ["the first text", "a second one", "third"]


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as running:
        yield running


def environment(server: EmbeddingServer, *providers: str) -> dict[str, str]:
    bases = {"openai": server.origin + "/v1", "google": server.origin, "cohere": server.origin}
    variables: dict[str, str] = {}
    for provider in providers:
        variables[f"{provider.upper()}_API_KEY"] = server.api_key
        variables[f"{provider.upper()}_BASE_URL"] = bases[provider]
    return variables


def client_of(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


@pytest.mark.parametrize("provider", ["openai", "google", "cohere"])
def test_each_provider_embeds_through_the_sdk(server: EmbeddingServer, provider: str) -> None:
    with running_gateway(environment(server, "openai", "google", "cohere")) as gateway:
        client = client_of(gateway.url)
        # The SDK asks for base64 by default and decodes it: the vectors are float32-exact.
        answer = client.embeddings.create(model=provider, input=TEXTS, dimensions=4)
        assert [item.index for item in answer.data] == [0, 1, 2]
        for item, text in zip(answer.data, TEXTS, strict=True):
            assert item.embedding == pytest.approx(vector_of(text, 4), abs=1e-6)
        assert answer.model.startswith(provider + "/")
        assert answer.usage.prompt_tokens > 0
        assert answer.usage.total_tokens == answer.usage.prompt_tokens
        floats = client.embeddings.create(model="auto", input="one text", encoding_format="float")
        assert floats.data[0].embedding == vector_of("one text")
        raw = gateway.request("POST", "/v1/embeddings", json={"model": provider, "input": "x"})
        assert raw.headers["x-trinity-provider"] == provider
        metrics = gateway.request("GET", "/metrics").text
        assert 'endpoint="embeddings"' in metrics


def test_input_type_reaches_cohere(server: EmbeddingServer) -> None:
    with running_gateway(environment(server, "cohere")) as gateway:
        client = client_of(gateway.url)
        answer = client.embeddings.create(
            model="cohere/embed-v4.0", input=["q"], extra_body={"input_type": "search_query"}
        )
        assert answer.data[0].embedding == pytest.approx(vector_of("q"), abs=1e-6)
        assert server.requests[-1][1]["input_type"] == "search_query"


def test_a_failing_provider_falls_back(server: EmbeddingServer) -> None:
    with running_gateway(environment(server, "openai", "google", "cohere")) as gateway:
        server.statuses.append(503)
        answer = gateway.request("POST", "/v1/embeddings", json={"model": "auto", "input": TEXTS})
        assert answer.status_code == 200
        assert answer.headers["x-trinity-attempts"] == "2"
        assert [item["embedding"] for item in answer.json()["data"]] == [vector_of(text) for text in TEXTS]


def test_a_rate_limited_key_is_answered_by_the_next_key(server: EmbeddingServer) -> None:
    """OPENAI_API_KEYS with two keys: a 429 on the first is answered by the second (one 200 for
    the SDK, which retries nothing here), the first is held and skipped by the next call, and
    /status shows each key's counts, masked."""
    first, second = "sk-embed-first-0123456789", "sk-embed-second-0123456789"
    with EmbeddingServer(api_key=second) as keyed:
        variables = {"OPENAI_API_KEYS": f"{first},{second}", "OPENAI_BASE_URL": keyed.origin + "/v1",
                     "TRINITY_RETRIES": "0"}  # fmt: skip
        with running_gateway(variables) as gateway:
            keyed.statuses.append(429)
            keyed.retry_after_s = 30
            client = client_of(gateway.url)
            answer = client.embeddings.create(model="openai", input=TEXTS, encoding_format="float")
            assert [item.embedding for item in answer.data] == [vector_of(text) for text in TEXTS]
            assert keyed.keys == [first, second]
            client.embeddings.create(model="openai", input="again")
            assert keyed.keys == [first, second, second]  # the first is held by its 429
            status = gateway.request("GET", "/status").json()
            keys = status["providers"]["openai"]["keys"]
            assert [key["key"] for key in keys] == [first[:8] + "***", second[:8] + "***"]
            assert [(key["state"], key["successful_calls"], key["failed_calls"]) for key in keys] == [
                ("open", 0, 1), ("closed", 2, 0),
            ]  # fmt: skip
            shown = gateway.request("GET", "/status").text + gateway.request("GET", "/metrics").text
            assert first not in shown and second not in shown


def test_bad_input_is_a_400_naming_the_field(server: EmbeddingServer) -> None:
    with running_gateway(environment(server, "openai")) as gateway:
        client = client_of(gateway.url)
        with pytest.raises(openai.BadRequestError) as empty:
            client.embeddings.create(model="auto", input=[])
        assert empty.value.status_code == 400
        assert empty.value.param == "input"
        with pytest.raises(openai.BadRequestError) as dimensions:
            client.embeddings.create(model="auto", input="x", dimensions=0)
        assert dimensions.value.param == "dimensions"
        for body, param in [
            ({"model": "auto", "input": "x", "encoding_format": "int8"}, "encoding_format"),
            ({"model": "auto", "input": "x", "input_type": "poetry"}, "input_type"),
            ({"model": "auto"}, "input"),
            ({"model": "auto", "input": "x", "colour": 1}, "colour"),
        ]:
            answer = gateway.request("POST", "/v1/embeddings", json=body)
            assert answer.status_code == 400, body
            assert answer.json()["error"]["param"] == param
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="nobody/nothing", input="x")

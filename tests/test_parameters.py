"""Sampling parameters through every wire format (issue 16, point 4): each is carried under the
provider's own name, dropped by the documented rule (``user``, ``metadata``), or the provider
is skipped; never a silent change of meaning. Unknown fields pass on to OpenAI-compatible
providers only."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from gateway_harness import GATEWAY_KEY, provider_environment, running_gateway
from loopback import OpenAIServer
from trinity_hybrid import InvalidInputError, Secret, TrinityHybridNode
from trinity_hybrid.providers import DEFAULT_BASE_URLS, WIRE_FORMATS, ChatRequest, Endpoint

SAMPLING = {"top_p": 0.5, "stop": ["END"], "seed": 7, "presence_penalty": 0.25, "frequency_penalty": -0.5}


def built(provider: str, **parameters: object) -> dict[str, object]:
    endpoint = Endpoint(provider, DEFAULT_BASE_URLS[provider], "some-model", Secret("key-0123456789"))
    request = ChatRequest.of("Hi", **parameters)
    wire_format = WIRE_FORMATS[provider]
    assert wire_format.unsupported(endpoint, request) is None
    body = wire_format.build_request(endpoint, request).json
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("provider", ["openai", "groq", "deepseek", "mistral"])
def test_openai_compatible_carries_them_by_their_own_names(provider: str) -> None:
    body = built(provider, **SAMPLING, user="u-1")
    assert {name: body[name] for name in SAMPLING} == SAMPLING
    # user is OpenAI's; the imitators drop it by rule.
    assert body.get("user") == ("u-1" if provider == "openai" else None)


def test_anthropic_maps_what_it_has() -> None:
    body = built("anthropic", top_p=0.5, stop=["END", "STOP"], user="u-1")
    assert body["top_p"] == 0.5
    assert body["stop_sequences"] == ["END", "STOP"]
    assert body["metadata"] == {"user_id": "u-1"}


def test_gemini_puts_them_in_the_generation_config() -> None:
    body = built("google", **SAMPLING, user="u-1")
    assert body["generationConfig"] == {
        "topP": 0.5, "stopSequences": ["END"], "seed": 7, "presencePenalty": 0.25, "frequencyPenalty": -0.5,
    }  # fmt: skip
    assert "u-1" not in str(body)  # dropped by rule


def test_cohere_uses_its_v2_names() -> None:
    body = built("cohere", **SAMPLING)
    assert (body["p"], body["stop_sequences"], body["seed"]) == (0.5, ["END"], 7)
    assert (body["presence_penalty"], body["frequency_penalty"]) == (0.25, -0.5)


@pytest.mark.parametrize(
    ("provider", "parameters", "missing"),
    [
        ("anthropic", {"seed": 7}, "seed"),
        ("anthropic", {"frequency_penalty": 0.5}, "frequency_penalty"),
        ("google", {"n": 2}, "n"),
        ("cohere", {"logprobs": True}, "logprobs"),
        ("groq", {"n": 2}, "n"),
    ],
)
def test_a_parameter_a_provider_lacks_skips_it(provider: str, parameters: dict[str, object], missing: str) -> None:
    endpoint = Endpoint(provider, DEFAULT_BASE_URLS[provider], "some-model", None)
    assert WIRE_FORMATS[provider].unsupported(endpoint, ChatRequest.of("Hi", **parameters)) == missing


def test_unknown_fields_pass_on_to_openai_compatible_providers_only() -> None:
    request = ChatRequest.from_openai({"messages": [{"role": "user", "content": "Hi"}], "service_tier": "flex"})
    openai_endpoint = Endpoint("openai", DEFAULT_BASE_URLS["openai"], "m", None)
    anthropic_endpoint = Endpoint("anthropic", DEFAULT_BASE_URLS["anthropic"], "m", None)
    assert WIRE_FORMATS["openai"].build_request(openai_endpoint, request).json["service_tier"] == "flex"  # type: ignore[index]
    assert WIRE_FORMATS["anthropic"].unsupported(anthropic_endpoint, request) == "extra:service_tier"


def test_a_request_no_provider_can_take_is_a_clear_400_not_a_silent_change() -> None:
    node = TrinityHybridNode.from_env({"ANTHROPIC_API_KEY": "sk-ant-0123456789"})
    node.set_unavailable("local")
    with pytest.raises(InvalidInputError, match="does not take 'seed'") as raised:
        node.infer("Hello", seed=3)
    assert raised.value.param == "seed"


@pytest.fixture
def upstream() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def test_the_openai_sdk_through_the_gateway_keeps_every_parameter(upstream: OpenAIServer) -> None:
    with running_gateway(provider_environment(groq=upstream)) as gateway:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
        answer = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Hello there"}], **SAMPLING,  # type: ignore[arg-type]
            extra_body={"service_tier": "flex"},
        )  # fmt: skip
        refused = None
        try:
            client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}], n=3)
        except openai.BadRequestError as error:
            refused = error
    assert answer.choices[0].message.content == "echo: Hello there"
    sent = upstream.requests[-1].json
    assert {name: sent[name] for name in SAMPLING} == SAMPLING
    assert sent["service_tier"] == "flex"
    assert refused is not None and refused.body["param"] == "n"  # type: ignore[index]

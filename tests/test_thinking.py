"""Anthropic's extended thinking through the library and the gateway, against the loopback
Anthropic server, which signs its thinking blocks, checks the signatures it gets back and, with
thinking on, wants a tool-using turn's thinking block before its tool calls, as the API does
(tests/loopback/_anthropic.py). The peers' commonest failure here is a lost signature or a
thinking block left out of the next turn: each test below fails on either.

- the library: ``thinking`` sent on, the blocks on ``Response.thinking_blocks`` and in
  ``Response.message``, a tool round trip whole and streamed, a redacted block;
- the gateway's Messages API through the ``anthropic`` SDK, whole and streamed;
- the gateway's chat completions through the ``openai`` SDK (LiteLLM's ``thinking_blocks``);
- the other wire formats drop both by rule and are not skipped; bad input is a clear error;
  the response cache keys on ``thinking``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import given, settings
from json_bodies import JSON_VALUES
from loopback import AnthropicServer, Fault, OpenAIServer
from tools_harness import QUESTION, WEATHER, anthropic_answered, assistant_of, calling, node_for, streamed_calls
from trinity_hybrid import ClientRequestError, InvalidInputError
from trinity_hybrid.providers import WIRE_FORMATS, ChatRequest, Endpoint, ThinkingBlock

THINKING = {"type": "enabled", "budget_tokens": 2048}
PARIS = (("toolu_paris", "get_weather", {"city": "Paris"}),)
REDACTED_TRIGGER = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253"
MODEL = "anthropic/claude-sonnet-4-5"


def result_of(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": '{"sky": "sunny"}'}


# ----------------------------------------------------------------------------------------------
# The library.


def test_thinking_is_sent_and_its_signed_blocks_come_back() -> None:
    with AnthropicServer() as server, node_for("anthropic", server) as node:
        response = node.infer("Is it sunny in Paris?", thinking=THINKING, force_provider="anthropic")
        sent = server.requests[-1].json
    assert sent["thinking"] == THINKING
    assert sent["max_tokens"] > THINKING["budget_tokens"]  # room for the budget, with no max_tokens given
    [block] = response.thinking_blocks
    assert block.type == "thinking" and block.signature and block.thinking == response.reasoning
    assert response.message["thinking_blocks"] == [block.to_json()]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_tool_round_trip_carries_the_thinking_back(stream: bool) -> None:
    """The second turn is refused by the server unless the first turn's signed thinking block
    opens the assistant message before its tool call."""
    with (
        AnthropicServer(responder=calling(PARIS, "", anthropic_answered)) as server,
        node_for("anthropic", server) as node,
    ):
        first = node.infer(QUESTION, tools=[WEATHER], thinking=THINKING, force_provider="anthropic", stream=stream)
        if stream:
            chunks = list(first)
            calls = streamed_calls(chunks)[0]
            blocks = [block for chunk in chunks for block in chunk.thinking_blocks]
            assistant = assistant_of(calls) | {"thinking_blocks": [block.to_json() for block in blocks]}
        else:
            calls, blocks, assistant = list(first.tool_calls), list(first.thinking_blocks), first.message
        assert [call.id for call in calls] == ["toolu_paris"] and len(blocks) == 1 and blocks[0].signature
        second = node.infer(
            [*QUESTION, assistant, result_of("toolu_paris")], tools=[WEATHER], thinking=THINKING,
            force_provider="anthropic",
        )  # fmt: skip
        sent = server.requests[-1].json
    assert second.text == "It is sunny in both."
    assert [block["type"] for block in sent["messages"][1]["content"]] == ["thinking", "tool_use"]
    assert sent["messages"][1]["content"][0] == blocks[0].to_json()


def test_without_its_thinking_block_the_next_turn_is_refused_as_anthropic_refuses_it() -> None:
    """What the peers' users see when the blocks are lost: the test above can fail."""
    with (
        AnthropicServer(responder=calling(PARIS, "", anthropic_answered)) as server,
        node_for("anthropic", server) as node,
    ):
        first = node.infer(QUESTION, tools=[WEATHER], thinking=THINKING, force_provider="anthropic")
        with pytest.raises(ClientRequestError, match="Expected `thinking` or `redacted_thinking`"):
            node.infer(
                [*QUESTION, assistant_of(list(first.tool_calls)), result_of("toolu_paris")], tools=[WEATHER],
                thinking=THINKING, force_provider="anthropic",
            )  # fmt: skip


def test_a_redacted_block_round_trips_unchanged() -> None:
    with AnthropicServer() as server, node_for("anthropic", server) as node:
        question = [{"role": "user", "content": f"Think hard. {REDACTED_TRIGGER}"}]
        first = node.infer(question, thinking=THINKING, force_provider="anthropic")
        kinds = [block.type for block in first.thinking_blocks]
        assert kinds == ["thinking", "redacted_thinking"] and first.thinking_blocks[1].data
        second = node.infer(
            [*question, first.message, {"role": "user", "content": "And now?"}], thinking=THINKING,
            force_provider="anthropic",
        )  # fmt: skip
        sent = server.requests[-1].json
    assert second.text
    assert sent["messages"][1]["content"][:2] == [block.to_json() for block in first.thinking_blocks]


def test_a_tampered_signature_is_anthropics_400_and_no_other_provider_is_asked() -> None:
    with AnthropicServer() as claude, OpenAIServer() as gpt:
        environment = {"OPENAI_API_KEY": gpt.api_key, "OPENAI_BASE_URL": gpt.base_url}
        with node_for("anthropic", claude, **environment) as node:
            first = node.infer("Hi", thinking=THINKING, force_provider="anthropic")
            forged = first.message | {"thinking_blocks": [{**first.thinking_blocks[0].to_json(), "signature": "Zm9v"}]}
            # Anthropic first (quality), whose 400 is the client's mistake: no fallback.
            with pytest.raises(ClientRequestError, match="Invalid `signature` in `thinking` block"):
                node.infer([{"role": "user", "content": "Hi"}, forged, {"role": "user", "content": "Again"}],
                           thinking=THINKING, quality=True)  # fmt: skip
        assert gpt.requests == []


# ----------------------------------------------------------------------------------------------
# Other wire formats: dropped by rule, not skipped.


@pytest.mark.parametrize("provider", ["openai", "google", "cohere"])
def test_other_formats_drop_thinking_and_its_blocks_by_rule(provider: str) -> None:
    block = {"type": "thinking", "thinking": "Hmm.", "signature": "c2ln"}
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello.", "thinking_blocks": [block]},
        {"role": "user", "content": "How are you?"},
    ]
    request = ChatRequest.of(messages, thinking=THINKING)
    wire = WIRE_FORMATS[provider]
    endpoint = Endpoint(provider, "https://api.test", "model-x", None)
    assert wire.unsupported(endpoint, request) is None, "skipped for a hint"
    body = json.dumps(wire.build_request(endpoint, request).json)
    assert "thinking" not in body and "c2ln" not in body and "Hello." in body


def test_a_fallback_provider_answers_without_thinking() -> None:
    with AnthropicServer() as claude, OpenAIServer() as gpt:
        claude.faults.push(Fault.status(529))
        environment = {"OPENAI_API_KEY": gpt.api_key, "OPENAI_BASE_URL": gpt.base_url, "TRINITY_RETRIES": "0"}
        with node_for("anthropic", claude, **environment) as node:
            response = node.infer("Is it sunny?", thinking=THINKING, quality=True)  # Anthropic first
        assert len(claude.requests) == 1 and claude.requests[0].json["thinking"] == THINKING
    assert response.provider == "openai" and response.thinking_blocks == ()
    assert "thinking" not in gpt.requests[-1].json


JSON_MODE = {"type": "json_object"}


@pytest.mark.parametrize(
    "forcing",
    [{"response_format": JSON_MODE}, {"tools": [WEATHER], "tool_choice": "required"}],
    ids=["response_format", "tool_choice"],
)
def test_thinking_beside_a_forced_tool_skips_anthropic_which_refuses_the_pair(forcing: dict[str, Any]) -> None:
    with AnthropicServer() as claude, OpenAIServer() as gpt:
        environment = {"OPENAI_API_KEY": gpt.api_key, "OPENAI_BASE_URL": gpt.base_url}
        with node_for("anthropic", claude, **environment) as node:
            response = node.infer("Is it sunny?", thinking=THINKING, quality=True, **forcing)  # Anthropic first
            with pytest.raises(ClientRequestError, match="does not take 'thinking'"):
                node.infer("Is it sunny?", thinking=THINKING, force_provider="anthropic", **forcing)
            assert node.infer("Is it sunny?", quality=True, **forcing).provider == "anthropic"  # without thinking
    assert response.provider == "openai" and response.attempts[0].outcome == "skipped"
    assert len(claude.requests) == 1  # the call without thinking only


# ----------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    ("thinking", "message"),
    [
        ({"type": "on"}, "thinking must be an object whose type"),
        ({"type": "enabled"}, "budget_tokens must be a positive integer"),
        ({"type": "enabled", "budget_tokens": True}, "budget_tokens must be a positive integer"),
        ("enabled", "thinking must be an object"),
    ],
)
def test_a_bad_thinking_is_refused_naming_it(thinking: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as raised:
        ChatRequest.of("Hi", thinking=thinking)
    assert raised.value.param == "thinking"


@pytest.mark.parametrize(
    "block",
    [
        {"type": "thinking", "thinking": "Hmm."},
        {"type": "thinking", "thinking": 3, "signature": "c2ln"},
        {"type": "redacted_thinking"},
        {"type": "text", "text": "Hmm."},
        "thinking",
    ],
)
def test_a_bad_thinking_block_is_refused_naming_it(block: object) -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hi.", "thinking_blocks": [block]},
                {"role": "user", "content": "Again"}]  # fmt: skip
    with pytest.raises(InvalidInputError, match=r"messages\[1\]\.thinking_blocks\[0\]") as raised:
        ChatRequest.of(messages)
    assert raised.value.param == "messages"


@settings(max_examples=200, deadline=None)
@given(thinking=JSON_VALUES, blocks=JSON_VALUES)
def test_any_json_is_a_request_or_a_clear_error(thinking: object, blocks: object) -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hi.", "thinking_blocks": blocks},
                {"role": "user", "content": "Again"}]  # fmt: skip
    try:
        request = ChatRequest.of(messages, thinking=thinking)
    except InvalidInputError as error:
        assert error.param in ("thinking", "messages")
        return
    body = WIRE_FORMATS["anthropic"].build_request(Endpoint("anthropic", "https://api.test", "m", None), request).json
    json.dumps(body)  # something Anthropic can be sent
    assert all(isinstance(block, ThinkingBlock) for block in request.messages[1].thinking_blocks)


def test_a_cached_answer_keeps_its_signed_blocks() -> None:
    with AnthropicServer() as server, node_for("anthropic", server) as node:
        node.enable_cache(ttl_s=60)
        first = node.infer("Is it sunny?", thinking=THINKING, force_provider="anthropic", cache=True)
        again = node.infer("Is it sunny?", thinking=THINKING, force_provider="anthropic", cache=True)
        assert len(server.requests) == 1
    assert again.cached and again.thinking_blocks == first.thinking_blocks and again.message == first.message


def test_the_cache_keys_on_thinking() -> None:
    from trinity_hybrid._cache import ResponseCache

    def key(**parameters: Any) -> str:
        request = ChatRequest.of("Hi", **parameters)
        return ResponseCache.key(request, force_provider=None, model=None, strategy=None, quality=False)

    assert len({key(), key(thinking=THINKING), key(thinking={"type": "enabled", "budget_tokens": 4096})}) == 3


# ----------------------------------------------------------------------------------------------
# The gateway.


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    """A gateway before an Anthropic server that calls the weather tool until it has the result."""
    with (
        AnthropicServer(responder=calling(PARIS, "", anthropic_answered)) as claude,
        OpenAIServer() as gpt,
        running_gateway(provider_environment(anthropic=claude, openai=gpt)) as running,
    ):
        yield running


ANTHROPIC_TOOL = {"name": "get_weather", "description": "The weather in a city",
                  "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_messages_api_round_trips_signed_thinking(gateway: RunningGateway, stream: bool) -> None:
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)
    question: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    options: dict[str, Any] = {"model": MODEL, "max_tokens": 4096, "tools": [ANTHROPIC_TOOL], "thinking": THINKING}
    if stream:
        with sdk.messages.stream(messages=question, **options) as events:
            first = events.get_final_message()
    else:
        first = sdk.messages.create(messages=question, **options)
    kinds = [block.type for block in first.content]
    assert kinds == ["thinking", "tool_use"], kinds
    thinking = first.content[0]
    assert isinstance(thinking, anthropic.types.ThinkingBlock) and thinking.signature
    # The whole and the streamed answer to the same question carry the same signature.
    assert thinking.signature == sdk.messages.create(messages=question, **options).content[0].signature  # type: ignore[union-attr]
    turn = [*question, {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_paris", "content": "sunny"}]}]  # fmt: skip
    second = sdk.messages.create(messages=turn, **options)
    assert [block.type for block in second.content] == ["thinking", "text"]


def test_chat_completions_carry_thinking_blocks_both_ways(gateway: RunningGateway) -> None:
    """LiteLLM's convention: ``thinking`` on the request, ``thinking_blocks`` on the message."""
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
    tools: Any = [WEATHER]
    question: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = sdk.chat.completions.create(model=MODEL, messages=question, tools=tools, extra_body={"thinking": THINKING})
    message = first.choices[0].message
    blocks = (message.model_extra or {}).get("thinking_blocks")
    assert blocks and blocks[0]["type"] == "thinking" and blocks[0]["signature"]
    assert message.tool_calls and message.tool_calls[0].id == "toolu_paris"
    assistant = message.model_dump(exclude_none=True)
    second = sdk.chat.completions.create(
        model=MODEL, messages=[*question, assistant, result_of("toolu_paris")], tools=tools,
        extra_body={"thinking": THINKING},
    )  # fmt: skip
    assert second.choices[0].message.content == "It is sunny in both."
    stream = sdk.chat.completions.create(
        model=MODEL, messages=question, tools=tools, extra_body={"thinking": THINKING}, stream=True
    )
    streamed = [
        block for chunk in stream for block in (chunk.choices[0].delta.model_extra or {}).get("thinking_blocks") or ()
    ]
    assert streamed == blocks


def test_a_bad_thinking_on_the_messages_api_is_a_400(gateway: RunningGateway) -> None:
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="thinking"):
        sdk.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hi"}],
            thinking={"type": "enabled"},  # type: ignore[typeddict-item]
        )  # fmt: skip

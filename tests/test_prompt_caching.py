"""Anthropic's prompt-caching breakpoints (``cache_control``) carried from every way a client
sends them to the blocks Anthropic reads them on: the Messages API on the gateway (system,
text, image, tool_use and tool_result blocks, tools, the request itself, with their ``ttl``),
OpenAI-shaped messages in LiteLLM's convention (on a content part, a whole message, a tool),
and the library. Other wire formats cache by themselves or not at all: they drop the hint by
rule and are not skipped for it. Peers have dropped the breakpoints on the way (every call then
paid the full price of its prefix) or sent them to providers that refuse them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import given, settings
from hypothesis import strategies as st
from json_bodies import JSON_VALUES
from loopback import AnthropicServer, OpenAIServer
from trinity_hybrid import InvalidInputError
from trinity_hybrid.providers import WIRE_FORMATS, ChatRequest, Endpoint

EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}
LONG_RULES = "You answer questions about the weather. " * 40
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
PIXEL = "data:image/png;base64,iVBORw0KGgo="

# A conversation in OpenAI's shape with a breakpoint at each place one may go in a message (four:
# the API's limit per request), and a plain one for the breakpoints on the prompt's prefix.
MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": [
        {"type": "text", "text": "What is the weather in Paris?"},
        {"type": "image_url", "image_url": {"url": PIXEL}, "cache_control": EPHEMERAL},
    ]},
    {"role": "assistant", "content": None, "tool_calls": [CALL | {"cache_control": EPHEMERAL}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny", "cache_control": EPHEMERAL},
    {"role": "user", "content": "And tomorrow?", "cache_control": HOUR},
]  # fmt: skip
ON_MESSAGES = [
    ("messages[0].content[1]", EPHEMERAL),  # the image block
    ("messages[1].content[0]", EPHEMERAL),  # the tool_use block
    ("messages[2].content[0]", EPHEMERAL),  # the tool_result block
    ("messages[2].content[1]", HOUR),  # "And tomorrow?", in the same user turn
]
SYSTEM = {"role": "system", "content": [{"type": "text", "text": LONG_RULES, "cache_control": HOUR}]}
PREFIXED = [SYSTEM, {"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [
    {"type": "function", "function": {"name": "weather", "parameters": SCHEMA}, "cache_control": HOUR},
]
ON_PREFIX = [("system[0]", HOUR), ("tools[0]", HOUR), ("", EPHEMERAL)]  # "": the request's own


def endpoint(provider: str) -> Endpoint:
    return Endpoint(provider, "https://api.test", "model-x", None)


def anthropic_body(**parameters: Any) -> dict[str, Any]:
    request = ChatRequest.of(parameters.pop("messages", MESSAGES), **parameters)
    wire = WIRE_FORMATS["anthropic"]
    assert wire.unsupported(endpoint("anthropic"), request) is None
    body: dict[str, Any] = wire.build_request(endpoint("anthropic"), request).json
    return body


def sdk_reads(body: dict[str, Any]) -> None:
    """The anthropic SDK's own request types take what we send."""
    from anthropic.types import CacheControlEphemeralParam, MessageParam, TextBlockParam, ToolParam
    from pydantic import TypeAdapter

    for message in body["messages"]:
        TypeAdapter(MessageParam).validate_python(message)
    for tool in body.get("tools", ()):
        TypeAdapter(ToolParam).validate_python(tool)
    if isinstance(body.get("system"), list):
        TypeAdapter(list[TextBlockParam]).validate_python(body["system"])
    if "cache_control" in body:
        TypeAdapter(CacheControlEphemeralParam).validate_python(body["cache_control"])


def breakpoints(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every ``cache_control`` in a JSON document, by where it is."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "cache_control":
                found.append((path, item))
            else:
                found.extend(breakpoints(item, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(breakpoints(item, f"{path}[{index}]"))
    return found


def test_every_breakpoint_reaches_its_block_on_the_anthropic_wire() -> None:
    body = anthropic_body(tools=[{"type": "function", "function": {"name": "weather", "parameters": SCHEMA}}])
    sdk_reads(body)
    assert breakpoints(body) == ON_MESSAGES
    assert body["messages"][1]["content"][0]["type"] == "tool_use"
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    assert body["messages"][2]["content"][1] == {"type": "text", "text": "And tomorrow?", "cache_control": HOUR}
    prefixed = anthropic_body(messages=PREFIXED, tools=TOOLS, cache_control=EPHEMERAL)
    sdk_reads(prefixed)
    assert sorted(breakpoints(prefixed), key=str) == sorted(ON_PREFIX, key=str)
    assert prefixed["system"] == [{"type": "text", "text": LONG_RULES, "cache_control": HOUR}]


def test_without_breakpoints_the_request_is_built_as_before() -> None:
    body = anthropic_body(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert body["system"] == "Be brief." and body["messages"] == [{"role": "user", "content": "Hi"}]
    assert breakpoints(body) == []


@pytest.mark.parametrize("provider", ["openai", "google", "cohere"])
def test_other_formats_drop_the_hint_by_rule_and_are_not_skipped(provider: str) -> None:
    request = ChatRequest.of([SYSTEM, *MESSAGES], cache_control=EPHEMERAL, tools=TOOLS)
    wire = WIRE_FORMATS[provider]
    assert wire.unsupported(endpoint(provider), request) in (None, "images"), "skipped for the hint"
    text_only = ChatRequest.of([SYSTEM, MESSAGES[3]], cache_control=EPHEMERAL, tools=TOOLS)
    assert wire.unsupported(endpoint(provider), text_only) is None
    body = wire.build_request(endpoint(provider), text_only).json
    assert breakpoints(body) == [] and LONG_RULES in json.dumps(body)


@pytest.mark.parametrize(
    "bad",
    [{"type": "persistent"}, {"type": "ephemeral", "ttl": "2h"}, {"type": "ephemeral", "scope": "org"}, "ephemeral",
     []],
)  # fmt: skip
def test_a_bad_breakpoint_is_refused_naming_its_field(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="cache_control") as on_part:
        ChatRequest.of([{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": bad}]}])
    assert on_part.value.param == "messages"
    with pytest.raises(InvalidInputError, match="cache_control") as on_request:
        ChatRequest.of("Hi", cache_control=bad)
    assert on_request.value.param == "cache_control"
    with pytest.raises(InvalidInputError, match="cache_control") as on_tool:
        ChatRequest.of("Hi", tools=[TOOLS[0] | {"cache_control": bad}])
    assert on_tool.value.param == "tools"


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES | st.fixed_dictionaries({"type": st.just("ephemeral")}, optional={"ttl": JSON_VALUES}))
def test_any_json_as_a_breakpoint_is_one_anthropic_takes_or_a_clear_error(value: Any) -> None:
    try:
        request = ChatRequest.of([{"role": "user", "content": "Hi", "cache_control": value}])
    except InvalidInputError as error:
        assert error.param == "messages" and "cache_control" in str(error)
        return
    taken = request.messages[0].cache_control
    assert taken is None or taken in (EPHEMERAL, {"type": "ephemeral", "ttl": "5m"}, HOUR)
    assert breakpoints(anthropic_body(messages=[{"role": "user", "content": "Hi", "cache_control": value}])) == (
        [] if taken is None else [("messages[0].content[0]", taken)]
    )


def test_the_breakpoint_is_part_of_the_cache_key() -> None:
    from trinity_hybrid import ResponseCache

    def key(request: ChatRequest) -> str:
        return ResponseCache.key(request, force_provider=None, model=None, strategy=None, quality=False)

    plain = ChatRequest.of([{"role": "user", "content": "Hi"}])
    marked = [{"role": "user", "content": "Hi", "cache_control": EPHEMERAL}]
    assert key(plain) != key(ChatRequest.of(marked)) and key(ChatRequest.of(marked)) == key(ChatRequest.of(marked))
    hour = [{"role": "user", "content": "Hi", "cache_control": HOUR}]
    assert key(ChatRequest.of(hour)) != key(ChatRequest.of(marked))


# ----------------------------------------------------------------------------------------------
# Through the gateway, with the official SDKs.


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[AnthropicServer, OpenAIServer]]:
    with AnthropicServer() as claude, OpenAIServer() as gpt:
        yield claude, gpt


@pytest.fixture(scope="module")
def gateway(upstreams: tuple[AnthropicServer, OpenAIServer]) -> Iterator[RunningGateway]:
    claude, gpt = upstreams
    with running_gateway(provider_environment(anthropic=claude, openai=gpt)) as running:
        yield running


def messages_client(gateway: RunningGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)


def chat_client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


ANTHROPIC_MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": [
        {"type": "text", "text": "What is the weather in Paris?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
         "cache_control": EPHEMERAL},
    ]},
    {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"},
         "cache_control": EPHEMERAL},
    ]},
    {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny", "cache_control": EPHEMERAL},
        {"type": "text", "text": "And tomorrow?", "cache_control": HOUR},
    ]},
]  # fmt: skip
ASKED = [{"role": "user", "content": "What is the weather in Paris?"}]


def sent_through_messages_api(gateway: RunningGateway, server: Any, **options: Any) -> dict[str, Any]:
    """What ``server`` received for one answered ``/v1/messages`` call of the anthropic SDK."""
    before = len(server.requests)
    answer = messages_client(gateway).messages.create(max_tokens=64, **options)
    assert answer.content
    body: dict[str, Any] = server.requests[before].json
    return body


def test_the_messages_api_carries_each_breakpoint_to_anthropic(
    gateway: RunningGateway, upstreams: tuple[AnthropicServer, OpenAIServer]
) -> None:
    claude, _ = upstreams
    sent = sent_through_messages_api(
        gateway, claude, model="anthropic/claude-sonnet-4-5", messages=ANTHROPIC_MESSAGES,
        tools=[{"name": "weather", "input_schema": SCHEMA}],
    )  # fmt: skip
    sdk_reads(sent)
    assert breakpoints(sent) == ON_MESSAGES
    sent = sent_through_messages_api(
        gateway, claude, model="anthropic/claude-sonnet-4-5", messages=ASKED,
        system=[{"type": "text", "text": LONG_RULES, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        tools=[{"name": "weather", "input_schema": SCHEMA, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        cache_control={"type": "ephemeral"},
    )  # fmt: skip
    sdk_reads(sent)
    assert sorted(breakpoints(sent), key=str) == sorted(ON_PREFIX, key=str)


def test_routed_elsewhere_the_hints_are_dropped_and_the_call_answers(
    gateway: RunningGateway, upstreams: tuple[AnthropicServer, OpenAIServer]
) -> None:
    _, gpt = upstreams
    sent = sent_through_messages_api(
        gateway, gpt, model="openai/gpt-4o-mini", messages=ANTHROPIC_MESSAGES,
        system=[{"type": "text", "text": LONG_RULES, "cache_control": {"type": "ephemeral"}}],
        cache_control={"type": "ephemeral"},
    )  # fmt: skip
    assert breakpoints(sent) == [] and LONG_RULES in json.dumps(sent)


def test_openai_shaped_breakpoints_reach_anthropic_through_chat_completions(
    gateway: RunningGateway, upstreams: tuple[AnthropicServer, OpenAIServer]
) -> None:
    claude, _ = upstreams
    sdk = chat_client(gateway)
    before = len(claude.requests)
    sdk.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=MESSAGES)  # type: ignore[arg-type]
    sdk.chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=PREFIXED, tools=TOOLS,  # type: ignore[arg-type]
        extra_body={"cache_control": EPHEMERAL},
    )  # fmt: skip
    first, second = (claude.requests[before + index].json for index in (0, 1))
    sdk_reads(first)
    sdk_reads(second)
    assert breakpoints(first) == ON_MESSAGES
    assert sorted(breakpoints(second), key=str) == sorted(ON_PREFIX, key=str)


def test_more_breakpoints_than_anthropic_takes_are_its_400_not_a_fallback(
    gateway: RunningGateway, upstreams: tuple[AnthropicServer, OpenAIServer]
) -> None:
    """The gateway adds none and removes none: five are the caller's mistake, answered with
    Anthropic's own error (a client error ends the call: no other provider is asked)."""
    claude, gpt = upstreams
    sdk = chat_client(gateway)
    asked_before = len(gpt.requests)
    with pytest.raises(openai.BadRequestError, match="A maximum of 4 blocks with cache_control"):
        sdk.chat.completions.create(
            model="anthropic/claude-sonnet-4-5", messages=[SYSTEM, *MESSAGES],  # type: ignore[arg-type]
        )  # fmt: skip
    assert sorted(breakpoints(claude.requests[-1].json), key=str) == sorted(
        [("system[0]", HOUR), *ON_MESSAGES], key=str
    )
    assert len(gpt.requests) == asked_before


def test_a_bad_breakpoint_on_the_gateway_is_a_400(gateway: RunningGateway) -> None:
    sdk = messages_client(gateway)
    with pytest.raises(anthropic.BadRequestError, match="cache_control"):
        sdk.messages.create(
            model="anthropic/claude-sonnet-4-5", max_tokens=64,
            messages=[{"role": "user", "content": [{"type": "text", "text": "Hi",
                                                    "cache_control": {"type": "ephemeral", "ttl": "2h"}}]}],  # type: ignore[typeddict-item]
        )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# The answer's usage: cache writes and reads reported apart, in each API's shape.


def rules(nonce: str) -> str:
    """A system prompt no other test has cached on the module's server."""
    return f"{nonce} {LONG_RULES}"


def cached_question(nonce: str, breakpoint: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """The library's messages: a system prompt of `rules(nonce)` with a breakpoint, then a
    three-word question; and the prompt tokens up to the breakpoint."""
    messages = [{"role": "system", "content": rules(nonce), "cache_control": breakpoint},
                {"role": "user", "content": "Is it sunny?"}]  # fmt: skip
    return messages, len(rules(nonce).split())


def claude_node(claude: AnthropicServer) -> Any:  # -> TrinityHybridNode
    from trinity_hybrid import TrinityHybridNode

    return TrinityHybridNode.from_env({"ANTHROPIC_API_KEY": claude.api_key, "ANTHROPIC_BASE_URL": claude.base_url})


def test_cache_writes_then_reads_in_the_messages_api_usage(gateway: RunningGateway) -> None:
    sdk = messages_client(gateway)
    system = [{"type": "text", "text": rules("messages-api"), "cache_control": {"type": "ephemeral"}}]
    prefix_tokens = len(rules("messages-api").split())

    def usage(stream: bool) -> Any:
        options: dict[str, Any] = {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64, "system": system,
                                   "messages": [{"role": "user", "content": "Is it sunny?"}]}  # fmt: skip
        if not stream:
            return sdk.messages.create(**options).usage
        with sdk.messages.stream(**options) as events:
            return events.get_final_message().usage

    first, second, streamed = usage(False), usage(False), usage(True)
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (prefix_tokens, 0)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, prefix_tokens)
    assert (streamed.cache_creation_input_tokens, streamed.cache_read_input_tokens) == (0, prefix_tokens)
    # input_tokens counts what follows the breakpoint, the same whether the prefix was written or read.
    assert first.input_tokens == second.input_tokens == streamed.input_tokens == 3  # "Is it sunny?"


def test_an_hours_writes_are_reported_apart_in_the_messages_api_usage(gateway: RunningGateway) -> None:
    """A 1-hour breakpoint before a 5-minute one: the prompt up to the first is written for an
    hour, the rest up to the second for 5 minutes (``usage.cache_creation``, as Anthropic splits it)."""
    sdk = messages_client(gateway)
    hour_text, minutes_text = rules("an hour"), rules("five minutes")
    system = [{"type": "text", "text": hour_text, "cache_control": HOUR},
              {"type": "text", "text": minutes_text, "cache_control": EPHEMERAL}]  # fmt: skip
    usage = sdk.messages.create(
        model="anthropic/claude-sonnet-4-5", max_tokens=64, system=system,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "Is it sunny?"}],
    ).usage  # fmt: skip
    hour_tokens, minutes_tokens = len(hour_text.split()), len(minutes_text.split())
    assert usage.cache_creation_input_tokens == hour_tokens + minutes_tokens
    assert usage.cache_creation is not None
    assert (usage.cache_creation.ephemeral_1h_input_tokens, usage.cache_creation.ephemeral_5m_input_tokens) == (
        hour_tokens,
        minutes_tokens,
    )


def test_cache_reads_are_cached_tokens_in_chat_completions(gateway: RunningGateway) -> None:
    sdk = chat_client(gateway)
    messages = [{"role": "system", "content": [{"type": "text", "text": rules("chat"), "cache_control": EPHEMERAL}]},
                {"role": "user", "content": "Is it sunny?"}]  # fmt: skip
    prefix_tokens = len(rules("chat").split())
    first = sdk.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=messages)  # type: ignore[arg-type]
    second = sdk.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=messages)  # type: ignore[arg-type]
    assert first.usage is not None and second.usage is not None
    assert first.usage.prompt_tokens == second.usage.prompt_tokens == prefix_tokens + 3  # the whole prompt
    assert second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens == prefix_tokens


def test_the_library_reports_cache_writes_and_reads(upstreams: tuple[AnthropicServer, OpenAIServer]) -> None:
    node = claude_node(upstreams[0])
    messages, prefix_tokens = cached_question("library", EPHEMERAL)
    with node:
        first = node.infer(messages, force_provider="anthropic").usage
        second = node.infer(messages, force_provider="anthropic", stream=False).usage
        chunks = list(node.infer(messages, force_provider="anthropic", stream=True))
    assert (first.cache_write_tokens, first.cached_tokens) == (prefix_tokens, 0)
    assert (second.cache_write_tokens, second.cached_tokens) == (0, prefix_tokens)
    last = chunks[-1].usage
    assert last is not None and (last.cache_write_tokens, last.cached_tokens) == (0, prefix_tokens)
    assert first.prompt_tokens == second.prompt_tokens == last.prompt_tokens == prefix_tokens + 3


# ----------------------------------------------------------------------------------------------
# The cost: cached and cache-written prompt tokens at their own prices, on the answer and on the
# board alike (a budget spends what the status page shows).


def test_cached_and_written_tokens_are_priced_apart() -> None:
    from trinity_hybrid._prices import cost_usd_of, price_of
    from trinity_hybrid.providers import Usage

    sonnet = price_of("anthropic", "claude-sonnet-4-20250514")
    assert sonnet is not None and (sonnet.cached_input_usd_per_mtok, sonnet.cache_write_usd_per_mtok) == (0.3, 3.75)
    usage = Usage(1_000, 100, cached_tokens=600, cache_write_tokens=300)
    # 100 uncached at 3, 600 read at 0.3, 300 written at 3.75, 100 out at 15 (USD per million).
    assert cost_usd_of("anthropic", "claude-sonnet-4-20250514", usage) == pytest.approx(3_105 / 1e6)
    # A model whose provider bills no cache apart: every prompt token at the input's price.
    assert cost_usd_of("groq", "llama-3.3-70b-versatile", Usage(1_000, 0, cached_tokens=600)) == pytest.approx(
        1_000 * 0.59 / 1e6
    )
    assert cost_usd_of("anthropic", "no-such-model", usage) is None


def test_an_hours_cache_writes_are_priced_at_twice_the_input() -> None:
    from trinity_hybrid._prices import cost_usd_of, price_of
    from trinity_hybrid.providers import Usage

    sonnet = price_of("anthropic", "claude-sonnet-4-20250514")
    assert sonnet is not None and sonnet.cache_write_1h_usd_per_mtok == 6.0
    usage = Usage(1_000, 0, cached_tokens=0, cache_write_tokens=900, cache_write_1h_tokens=600)
    # 100 uncached at 3, 300 written for 5 minutes at 3.75, 600 for an hour at 6.
    assert cost_usd_of("anthropic", "claude-sonnet-4-20250514", usage) == pytest.approx(5_025 / 1e6)
    # A provider's count above the writes is held to them.
    more = Usage(1_000, 0, cache_write_tokens=900, cache_write_1h_tokens=5_000)
    assert cost_usd_of("anthropic", "claude-sonnet-4-20250514", more) == pytest.approx((300 + 900 * 6) / 1e6)
    # A model with no hour's price of its own: an hour's write as a 5-minute one.
    assert cost_usd_of("openai", "gpt-4o-mini", usage) == cost_usd_of(
        "openai", "gpt-4o-mini", Usage(1_000, 0, cached_tokens=0, cache_write_tokens=900)
    )


def test_the_answer_and_the_board_spend_the_same_cache_priced_cost(
    upstreams: tuple[AnthropicServer, OpenAIServer],
) -> None:
    node = claude_node(upstreams[0])
    messages, prefix_tokens = cached_question("cost", EPHEMERAL)
    with node:
        written = node.infer(messages, force_provider="anthropic")
        read = node.infer(messages, force_provider="anthropic")
        plain = node.infer("Is it sunny?", force_provider="anthropic")
        stats = node.stats("anthropic")
    output_usd = written.usage.completion_tokens * 15
    assert written.cost_usd == pytest.approx((3 * 3 + prefix_tokens * 3.75 + output_usd) / 1e6)
    assert read.cost_usd == pytest.approx((3 * 3 + prefix_tokens * 0.3 + output_usd) / 1e6)
    assert plain.cost_usd == pytest.approx((3 * 3 + plain.usage.completion_tokens * 15) / 1e6)
    assert stats.cost_usd == pytest.approx(written.cost_usd + read.cost_usd + plain.cost_usd)
    assert stats.tokens_input == 2 * (prefix_tokens + 3) + 3  # every prompt token, read or written or not


def test_an_hours_writes_cost_what_anthropic_bills(upstreams: tuple[AnthropicServer, OpenAIServer]) -> None:
    node = claude_node(upstreams[0])
    messages, prefix_tokens = cached_question("cost of an hour", HOUR)
    with node:
        written = node.infer(messages, force_provider="anthropic")
        streamed = node.infer(
            [{**messages[0], "content": rules("streamed for an hour")}, messages[1]],
            force_provider="anthropic",
            stream=True,
        )
        last = list(streamed)[-1].usage
    assert (written.usage.cache_write_tokens, written.usage.cache_write_1h_tokens) == (prefix_tokens, prefix_tokens)
    assert last is not None and last.cache_write_1h_tokens == len(rules("streamed for an hour").split())
    output_usd = written.usage.completion_tokens * 15
    assert written.cost_usd == pytest.approx((3 * 3 + prefix_tokens * 6 + output_usd) / 1e6)


@pytest.mark.parametrize("cost_usd", [-0.01, float("nan"), float("inf")])
def test_a_cost_that_is_no_price_is_refused(cost_usd: float) -> None:
    from trinity_hybrid import TrinityHybridNode

    node = TrinityHybridNode()
    with pytest.raises(InvalidInputError, match="cost_usd"):
        node._board.record_success("groq", latency_ms=5, tokens_input=1, tokens_output=1, cost_usd=cost_usd)
    assert node.stats("groq").calls_total == 0

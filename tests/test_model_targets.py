"""A request that names its models (issue 17, point 1, the core's part): ``targets`` is the chain
as (provider, model) pairs in order, walked with fallback like the rules' chain; each attempt
asks its own model, priced by that model's listed price."""

from __future__ import annotations

import pytest
from loopback import Fault, OpenAIServer
from trinity_hybrid import AllProvidersFailed, InvalidInputError, NoProviderAvailable, TrinityHybridNode


def node_for(**servers: OpenAIServer) -> TrinityHybridNode:
    # One scripted fault per request shows the fallback; same-provider retries: test_retries.py.
    environment: dict[str, str] = {"TRINITY_RETRIES": "0"}
    for provider, server in servers.items():
        environment[f"{provider.upper()}_API_KEY"] = server.api_key
        environment[f"{provider.upper()}_BASE_URL"] = server.base_url
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    return node


def test_a_named_model_is_asked_and_priced_as_itself() -> None:
    with OpenAIServer() as server, node_for(openai=server) as node:
        default = node.infer("Hello there")
        named = node.infer("Hello there", targets=[("openai", "gpt-4o-mini")])
        assert server.requests[-1].json["model"] == "gpt-4o-mini"
        assert node.provider_info("openai")["model"] == "gpt-4o"  # the configuration is unchanged
    assert named.usage == default.usage
    expected = (named.usage.prompt_tokens * 0.15 + named.usage.completion_tokens * 0.6) / 1e6
    assert named.cost_usd == pytest.approx(expected)
    assert named.cost_usd < default.cost_usd


def test_the_targets_are_walked_in_order_with_fallback_even_within_one_provider() -> None:
    with OpenAIServer() as groq, OpenAIServer() as openai_server, node_for(groq=groq, openai=openai_server) as node:
        groq.faults.push(Fault.status(503))
        openai_server.faults.push(Fault.status(503))
        answer = node.infer(
            "Hello there", targets=[("groq", "llama-3.1-8b-instant"), ("openai", "gpt-4o"), ("openai", "gpt-4o-mini")]
        )
        asked = [groq.requests[-1].json["model"], *(request.json["model"] for request in openai_server.requests)]
    assert asked == ["llama-3.1-8b-instant", "gpt-4o", "gpt-4o-mini"]
    assert [(attempt.provider, attempt.outcome) for attempt in answer.attempts] == [
        ("groq", "failure"), ("openai", "failure"), ("openai", "success"),
    ]  # fmt: skip
    assert answer.route.reason == "named"


def test_unavailable_targets_are_left_out_and_none_left_says_so() -> None:
    with OpenAIServer() as server, node_for(openai=server) as node:
        answer = node.infer("Hello there", targets=[("anthropic", "claude-3-5-haiku-20241022"), ("openai", None)])
        assert answer.provider == "openai"
        assert server.requests[-1].json["model"] == "gpt-4o"  # None: the configured model
        with pytest.raises(NoProviderAvailable):
            node.infer("Hello there", targets=[("anthropic", "claude-3-5-haiku-20241022")])
        with pytest.raises(InvalidInputError, match="unknown model 'acme'"):
            node.infer("Hello there", targets=[("acme", "x")])
        with pytest.raises(InvalidInputError, match="at least one"):
            node.infer("Hello there", targets=[])


def test_the_cache_keeps_answers_of_different_targets_apart() -> None:
    with OpenAIServer() as server, node_for(openai=server) as node:
        node.enable_cache()
        node.infer("Hello there", cache=True, targets=[("openai", "gpt-4o-mini")])
        other = node.infer("Hello there", cache=True, targets=[("openai", "gpt-4o")])
        again = node.infer("Hello there", cache=True, targets=[("openai", "gpt-4o-mini")])
    assert not other.cached
    assert again.cached
    assert [request.json["model"] for request in server.requests] == ["gpt-4o-mini", "gpt-4o"]


def test_a_failing_single_target_fails_with_its_attempt() -> None:
    with OpenAIServer() as server, node_for(openai=server) as node:
        server.faults.push(Fault.status(503))
        with pytest.raises(AllProvidersFailed) as raised:
            node.infer("Hello there", targets=[("openai", "gpt-4o-mini")])
    assert [(attempt.provider, attempt.outcome) for attempt in raised.value.attempts] == [("openai", "failure")]

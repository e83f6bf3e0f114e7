"""A request's ``model`` through the real gateway (issue 17, point 1): ``provider/<any model>``
with the rules' chain behind it, aliases from TRINITY_CONFIG, /v1/models, unknown models as a
404 listing the routable names (OpenAI's shape, and Anthropic's on /v1/messages); and the
``x-trinity-*`` headers of point 6 (timeout, strategy, providers, cache, retries). The official openai
and anthropic SDKs as clients, loopback providers behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import Fault, OpenAIServer
from trinity_hybrid import ConfigurationError, TrinityHybridNode
from trinity_hybrid.gateway import create_app
from trinity_hybrid.gateway._errors import ApiError
from trinity_hybrid.gateway._models import ServedModels, served_models, valid_model_name
from trinity_hybrid.gateway._request_headers import routed
from trinity_hybrid.gateway._validation import parse_chat

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
CONFIG = """
[models.fast]
targets = ["groq/llama-3.1-8b-instant", "openai/gpt-4o-mini"]

[models.spread]
targets = ["groq", "openai"]
strategy = "round_robin"

[models.only]
targets = ["openai/gpt-4o-mini"]

[models.careful]
targets = ["openai/gpt-4o"]
fallback = "rules"
"""


@pytest.fixture
def gateway(groq: OpenAIServer, openai_server: OpenAIServer, tmp_path: Path) -> Iterator[RunningGateway]:
    config = tmp_path / "trinity.toml"
    config.write_text(CONFIG)
    environment = {**provider_environment(groq=groq, openai=openai_server), "TRINITY_CONFIG": str(config)}
    with running_gateway(environment) as running:
        yield running


def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


def asked(server: OpenAIServer) -> list[str]:
    return [request.json["model"] for request in server.requests if request.json]


def test_provider_and_any_model_asks_that_model_and_answers_under_its_name(
    gateway: RunningGateway, openai_server: OpenAIServer, groq: OpenAIServer
) -> None:
    completion = client(gateway).chat.completions.create(model="openai/gpt-4.1-nano-2099", messages=MESSAGES)
    assert asked(openai_server) == ["gpt-4.1-nano-2099"]
    assert groq.requests == []
    assert completion.model == "openai/gpt-4.1-nano-2099"


def test_provider_and_model_falls_back_to_the_rules_chain_without_that_provider(
    gateway: RunningGateway, openai_server: OpenAIServer, groq: OpenAIServer
) -> None:
    openai_server.faults.push(Fault.status(401))  # a credential failure: no same-provider retry
    raw = client(gateway).chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-trinity-provider"] == "groq"
    assert asked(openai_server) == ["gpt-4o-mini"]
    assert asked(groq) == ["llama-3.3-70b-versatile"]  # groq's configured model
    assert raw.parse().model == "groq/llama-3.3-70b-versatile"


def test_an_alias_walks_its_targets_in_order_and_stops_there(
    gateway: RunningGateway, openai_server: OpenAIServer, groq: OpenAIServer
) -> None:
    completion = client(gateway).chat.completions.create(model="fast", messages=MESSAGES)
    assert completion.model == "groq/llama-3.1-8b-instant"
    groq.faults.push(Fault.status(401))
    completion = client(gateway).chat.completions.create(model="fast", messages=MESSAGES)
    assert completion.model == "openai/gpt-4o-mini"
    assert asked(groq) == ["llama-3.1-8b-instant", "llama-3.1-8b-instant"]
    assert asked(openai_server) == ["gpt-4o-mini"]


def test_an_alias_without_fallback_tries_no_other_provider(
    gateway: RunningGateway, openai_server: OpenAIServer, groq: OpenAIServer
) -> None:
    openai_server.faults.push(Fault.status(401))
    with pytest.raises(openai.APIStatusError) as failed:
        client(gateway).chat.completions.create(model="only", messages=MESSAGES)
    assert failed.value.status_code >= 500
    assert asked(openai_server) == ["gpt-4o-mini"] and groq.requests == []


def test_an_alias_with_rules_fallback(gateway: RunningGateway, openai_server: OpenAIServer, groq: OpenAIServer) -> None:
    openai_server.faults.push(Fault.status(401))
    completion = client(gateway).chat.completions.create(model="careful", messages=MESSAGES)
    assert completion.model == "groq/llama-3.3-70b-versatile"


def test_a_round_robin_alias_rotates_its_first_target(gateway: RunningGateway) -> None:
    first = [client(gateway).chat.completions.create(model="spread", messages=MESSAGES).model for _ in range(4)]
    assert first == ["groq/llama-3.3-70b-versatile", "openai/gpt-4o", "groq/llama-3.3-70b-versatile", "openai/gpt-4o"]


def test_models_lists_what_is_routable(gateway: RunningGateway) -> None:
    names = [model.id for model in client(gateway).models.list()]
    assert names[:5] == ["auto", "fast", "spread", "only", "careful"]
    assert {"groq/llama-3.3-70b-versatile", "openai/gpt-4o"} <= set(names)
    assert "groq" not in names  # a bare provider is accepted, listed once with its model
    for name in names:  # every listed name is routable
        assert client(gateway).chat.completions.create(model=name, messages=MESSAGES).choices


@pytest.mark.parametrize("model", ["nope", "acme/gpt-4o", "openai/", "openai/../x", "openai/a b", "x" * 5000])
def test_an_unknown_model_is_a_404_listing_the_routable_names(gateway: RunningGateway, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        client(gateway).chat.completions.create(model=model, messages=MESSAGES)
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    for name in ("auto", "fast", "careful", "openai/gpt-4o", "groq/<any model>"):
        assert name in error["message"]
    assert len(error["message"]) < 1000


def test_messages_api_routes_models_the_same_and_answers_404_in_anthropics_shape(
    gateway: RunningGateway, openai_server: OpenAIServer
) -> None:
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)
    message = claude.messages.create(model="openai/gpt-4o-mini", max_tokens=50, messages=MESSAGES)  # type: ignore[arg-type]
    assert message.model == "openai/gpt-4o-mini"
    assert asked(openai_server) == ["gpt-4o-mini"]
    with pytest.raises(anthropic.NotFoundError) as refused:
        claude.messages.create(model="nope", max_tokens=50, messages=MESSAGES)  # type: ignore[arg-type]
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error" and "fast" in body["error"]["message"]


# ----------------------------------------------------------------------------------------------
# x-trinity-* headers.


def test_the_providers_header_orders_the_chain_with_the_models_named(
    gateway: RunningGateway, openai_server: OpenAIServer, groq: OpenAIServer
) -> None:
    sdk = client(gateway)
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={"x-trinity-providers": "openai, groq"}
    )
    assert raw.headers["x-trinity-provider"] == "openai"
    completion = sdk.chat.completions.create(
        model="fast", messages=MESSAGES, extra_headers={"x-trinity-providers": "openai"}
    )
    assert completion.model == "openai/gpt-4o-mini"  # the alias's model for that provider
    openai_server.faults.push(Fault.status(401))
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={"x-trinity-providers": "openai,groq"}
    )
    assert raw.headers["x-trinity-provider"] == "groq"
    assert groq.requests  # groq only as the fallback


def test_the_timeout_header_bounds_the_whole_call(gateway: RunningGateway, groq: OpenAIServer) -> None:
    groq.faults.push(Fault.hang())
    with pytest.raises(openai.APIStatusError) as failed:
        client(gateway).chat.completions.create(
            model="groq/llama-3.3-70b-versatile",
            messages=MESSAGES,
            extra_headers={"x-trinity-timeout-s": "0.5", "x-trinity-providers": "groq"},
        )
    body = failed.value.body
    assert isinstance(body, dict) and failed.value.status_code == 502
    # Cancelled by the call's total bound (a read timeout, at 120 s, would be a failure).
    assert body["attempts"] == [{"provider": "groq", "outcome": "cancelled", "error_type": None, "status": None}]


def test_the_cache_and_strategy_headers(gateway: RunningGateway, groq: OpenAIServer) -> None:
    sdk = client(gateway)
    headers = {"x-trinity-cache": "always", "x-trinity-strategy": "lowest_cost"}
    first = sdk.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES, extra_headers=headers)
    second = sdk.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES, extra_headers=headers)
    assert (first.headers["x-trinity-cache"], second.headers["x-trinity-cache"]) == ("miss", "hit")
    asked_before = len(groq.requests) + 0
    off = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={"x-trinity-cache": "false"}, extra_body={"cache": True}
    )
    assert "x-trinity-cache" not in off.headers  # the header wins over the body's field
    assert len(groq.requests) >= asked_before


def test_the_retries_header_sets_this_calls_same_provider_retries(
    gateway: RunningGateway, groq: OpenAIServer, openai_server: OpenAIServer
) -> None:
    """The gateway's environment says no retries (TRINITY_RETRIES=0); the header asks for two:
    two 503s from groq are retried on it and groq answers the third try."""
    sdk = client(gateway)
    groq.faults.push(Fault.status(503), Fault.status(503))
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={"x-trinity-retries": "2", "x-trinity-providers": "groq,openai"}
    )
    assert (raw.headers["x-trinity-provider"], raw.headers["x-trinity-attempts"]) == ("groq", "3")
    assert len(groq.requests) == 3 and openai_server.requests == []
    # 0 is a valid value (none for this call): the 503 moves on to openai at once.
    groq.faults.push(Fault.status(503))
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={"x-trinity-retries": "0", "x-trinity-providers": "groq,openai"}
    )
    assert (raw.headers["x-trinity-provider"], raw.headers["x-trinity-attempts"]) == ("openai", "2")
    assert len(groq.requests) == 4 and len(openai_server.requests) == 1


def test_the_retries_field_sets_them_from_the_body_and_the_header_wins(
    gateway: RunningGateway, groq: OpenAIServer, openai_server: OpenAIServer
) -> None:
    """``retries`` in the body (``extra_body``) as the header: through chat completions, the
    Messages API and the Responses API alike; with both, the header's value is the call's."""
    sdk, chain = client(gateway), {"x-trinity-providers": "groq,openai"}
    groq.faults.push(Fault.status(503))
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers=chain, extra_body={"retries": 1}
    )
    assert (raw.headers["x-trinity-provider"], raw.headers["x-trinity-attempts"]) == ("groq", "2")
    groq.faults.push(Fault.status(503))
    messages = anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)
    answer = messages.messages.with_raw_response.create(
        model="auto", max_tokens=32, messages=MESSAGES, extra_headers=chain, extra_body={"retries": 1}
    )
    assert (answer.headers["x-trinity-provider"], answer.headers["x-trinity-attempts"]) == ("groq", "2")
    groq.faults.push(Fault.status(503))
    response = sdk.responses.with_raw_response.create(
        model="auto", input="What is the capital of France?", extra_headers=chain, extra_body={"retries": 1}
    )
    assert (response.headers["x-trinity-provider"], response.headers["x-trinity-attempts"]) == ("groq", "2")
    assert openai_server.requests == []
    groq.faults.push(Fault.status(503))
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={**chain, "x-trinity-retries": "0"}, extra_body={"retries": 2}
    )
    assert (raw.headers["x-trinity-provider"], raw.headers["x-trinity-attempts"]) == ("openai", "2")
    assert "retries" not in json.dumps([request.json for request in groq.requests + openai_server.requests])


@pytest.mark.parametrize("value", [11, -1, 1.5, True, "2", [1]])
def test_a_bad_retries_field_is_a_400_naming_it(gateway: RunningGateway, value: object) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client(gateway).chat.completions.create(model="auto", messages=MESSAGES, extra_body={"retries": value})
    body = refused.value.body
    assert isinstance(body, dict) and body["param"] == "retries" and "0 to 10" in body["message"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-trinity-retries", "11"),
        ("x-trinity-retries", "-1"),
        ("x-trinity-retries", "+3"),
        ("x-trinity-retries", "1.5"),
        ("x-trinity-retries", "1_0"),
        ("x-trinity-retries", "two"),
        ("x-trinity-timeout-s", "0"),
        ("x-trinity-timeout-s", "nan"),
        ("x-trinity-timeout-s", "soon"),
        ("x-trinity-timeout-s", "99999"),
        ("x-trinity-strategy", "fastest-please"),
        ("x-trinity-cache", "sometimes"),
        ("x-trinity-providers", "acme"),
        ("x-trinity-providers", "groq,groq"),
        ("x-trinity-providers", ","),
    ],
)
def test_a_bad_header_is_a_400_naming_it(gateway: RunningGateway, name: str, value: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client(gateway).chat.completions.create(model="auto", messages=MESSAGES, extra_headers={name: value})
    body = refused.value.body
    assert isinstance(body, dict) and body["param"] == name and name in body["message"]


# ----------------------------------------------------------------------------------------------
# The parsers, with any input.


@pytest.fixture(scope="module")
def models() -> ServedModels:
    node = TrinityHybridNode.from_env({"OPENAI_API_KEY": "sk-test-0", "GROQ_API_KEY": "gsk-test-0"})
    node.set_unavailable("local")
    return served_models(node, {"models": {"fast": {"targets": ["groq/llama-3.1-8b-instant", "openai"]}}})


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=st.one_of(st.text(max_size=300), st.sampled_from(["openai/", "groq/x", "fast", "auto", "openai/a/b"])))
def test_any_model_name_is_routed_or_a_404(models: ServedModels, model: str) -> None:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    try:
        params = parse_chat(body, models, ("cost",))
    except ApiError as error:
        assert error.status == 404 and error.code == "model_not_found"
        assert model not in models
        return
    route = routed(params, models, {"headers": []}, ("cost",))
    provider, _, rest = model.partition("/")
    if model in ("auto", "fast") or "/" not in model:
        assert route.rules_fallback is False
    else:
        assert route.targets == ((provider, rest),) and route.rules_fallback
        assert valid_model_name(rest) and ".." not in rest


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(
        [
            b"x-trinity-timeout-s",
            b"x-trinity-strategy",
            b"x-trinity-providers",
            b"x-trinity-cache",
            b"x-trinity-retries",
        ]
    ),
    value=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=50).map(str.encode),
        st.integers(-20, 120).map(lambda number: str(number).encode()),
    ),
)
def test_any_header_value_is_applied_or_a_400_naming_it(models: ServedModels, name: bytes, value: bytes) -> None:
    body = b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}'
    params = parse_chat(body, models, ("cost", "balanced"))
    try:
        route = routed(params, models, {"headers": [(name, value)]}, ("cost", "balanced"))
    except ApiError as error:
        assert error.status == 400 and error.param == name.decode()
        return
    if name == b"x-trinity-timeout-s":
        assert route.timeout_s is not None and 0 < route.timeout_s <= 3600
    elif name == b"x-trinity-providers":
        assert route.targets and {provider for provider, _ in route.targets} <= {"openai", "groq"}
    elif name == b"x-trinity-cache":
        assert route.cache in (True, False, "always")
    elif name == b"x-trinity-retries":
        assert route.retries is not None and 0 <= route.retries <= 10
        assert route.retries == int(value)  # what was sent, not a default
    else:
        assert route.strategy in ("cost", "balanced")


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('[models.auto]\ntargets = ["openai"]', "models.auto"),
        ('[models.openai]\ntargets = ["openai"]', "models.openai"),
        ("[models.x]\ntargets = []", "models.x.targets"),
        ('[models.x]\ntargets = ["acme/gpt"]', "models.x.targets"),
        ('[models.x]\ntargets = ["openai/../etc"]', "models.x.targets"),
        ('[models.x]\ntargets = ["openai"]\nstrategy = "random"', "models.x.strategy"),
        ('[models.x]\ntargets = ["openai"]\nfallback = "maybe"', "models.x.fallback"),
        ('[models.x]\ntargets = ["openai"]\nweight = 1', "models.x.weight"),
        ("models = 3", "models"),
    ],
)
def test_a_bad_alias_table_is_refused_at_startup_naming_the_key(tmp_path: Path, table: str, named: str) -> None:
    config = tmp_path / "trinity.toml"
    config.write_text(table + "\n")
    with pytest.raises(ConfigurationError, match=f"TRINITY_CONFIG {named}[:.]"):
        create_app(environ={"OPENAI_API_KEY": "sk-test-0", "TRINITY_CONFIG": str(config)})


def test_the_responses_api_routes_models_the_same(gateway: RunningGateway, openai_server: OpenAIServer) -> None:
    sdk = client(gateway)
    answer = sdk.responses.create(model="openai/gpt-4o-mini", input="Hello there")
    assert answer.model == "openai/gpt-4o-mini" and asked(openai_server) == ["gpt-4o-mini"]
    assert sdk.responses.create(model="fast", input="Hello there").model == "groq/llama-3.1-8b-instant"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="nope", input="Hello there")
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="auto", input="Hello there", extra_headers={"x-trinity-cache": "maybe"})

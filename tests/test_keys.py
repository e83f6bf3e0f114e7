"""Several keys and deployments per provider (issue 17, point 2), end to end against loopback
providers: each key has its own breaker and stats, the call's strategy spreads calls over the
keys, a failure on one key moves to the next key of the same provider before the next
provider, and keys appear only masked.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import Fault, OpenAIServer
from test_planner import DRIVER_RETRIES, OUTCOMES, next_outcome, outcomes_of, scripted_events
from trinity_hybrid import CircuitOpenError, ConfigurationError, TransientError, TrinityError, TrinityHybridNode
from trinity_hybrid._drive_async import AsyncAttempts, drive_async
from trinity_hybrid._drive_sync import SyncAttempts, drive_sync
from trinity_hybrid._plan_steps import AttemptRun

KEY_1 = "sk-first-key-0123456789abcdef"
KEY_2 = "sk-second-key-0123456789abcdef"
KEY_3 = "sk-third-key-0123456789abcdef"


def keyed_node(server: OpenAIServer, **variables: str) -> TrinityHybridNode:
    node = TrinityHybridNode.from_env({
        "OPENAI_API_KEYS": f"{KEY_1},{KEY_2}", "OPENAI_BASE_URL": server.base_url, "TRINITY_RETRIES": "0",
        **variables,
    })  # fmt: skip
    node.set_unavailable("local")
    return node


def keys_sent(server: OpenAIServer) -> list[str]:
    return [request.headers["authorization"].removeprefix("Bearer ") for request in server.requests]


def outcomes(response: Any) -> list[tuple[str, str]]:
    return [(attempt.provider, attempt.outcome) for attempt in response.attempts]


def test_round_robin_spreads_calls_over_the_keys() -> None:
    with OpenAIServer(api_key="") as server, keyed_node(server) as node:  # keyless: takes any key
        for _ in range(4):
            assert node.infer("Hello", strategy="round_robin").provider == "openai"
        assert keys_sent(server) == [KEY_1, KEY_2, KEY_1, KEY_2]
        keys = node.status()["providers"]["openai"]["keys"]
        assert [entry["successful_calls"] for entry in keys] == [2, 2]
        assert node.status()["providers"]["openai"]["successful_calls"] == 4


def test_a_rate_limited_key_moves_to_the_next_key_and_stays_held() -> None:
    with OpenAIServer(api_key="") as server, keyed_node(server) as node:
        server.faults.push(Fault.status(429, retry_after_s=30))
        response = node.infer("Hello", strategy="priority")
        assert response.provider == "openai"
        assert outcomes(response) == [("openai", "failure"), ("openai", "success")]
        assert keys_sent(server) == [KEY_1, KEY_2]
        status = node.status()["providers"]["openai"]
        first, second = status["keys"]
        assert (first["failed_calls"], first["state"], second["successful_calls"]) == (1, "open", 1)
        # The provider answered: its own entry (routing's) is healthy, one call, no failure.
        assert (status["state"], status["successful_calls"], status["failed_calls"]) == ("closed", 1, 0)
        node.infer("Hello again", strategy="priority")  # the held key is not asked
        assert keys_sent(server) == [KEY_1, KEY_2, KEY_2]


def test_a_server_that_refuses_one_key_is_answered_with_the_other() -> None:
    with OpenAIServer(api_key=KEY_2) as server, keyed_node(server) as node:
        response = node.infer("Hello")
        assert outcomes(response) == [("openai", "failure"), ("openai", "success")]
        assert response.attempts[0].error_type == "CredentialError"
        assert keys_sent(server) == [KEY_1, KEY_2]
        first, second = node.status()["providers"]["openai"]["keys"]
        assert first["last_failure"] == "credential" and second["successful_calls"] == 1


def test_every_key_failing_falls_back_to_the_next_provider_once_recorded() -> None:
    with OpenAIServer(api_key="") as server, OpenAIServer() as backup:
        node = keyed_node(server, GROQ_API_KEY=backup.api_key, GROQ_BASE_URL=backup.base_url,
                          DEFAULT_LLM_PROVIDER="openai")  # fmt: skip
        server.faults.push(Fault.status(503), Fault.status(503))
        response = node.infer("Hello")
        assert response.provider == "groq"
        assert outcomes(response) == [("openai", "failure"), ("openai", "failure"), ("groq", "success")]
        status = node.status()["providers"]["openai"]
        assert [entry["failed_calls"] for entry in status["keys"]] == [1, 1]
        assert status["failed_calls"] == 1  # the provider failed the call once, through both keys
        node.close()


def test_deployments_from_the_config_file_have_their_own_key_url_and_model(tmp_path: Path) -> None:
    with OpenAIServer(api_key=KEY_1) as europe, OpenAIServer(api_key=KEY_3, model_ids=("gpt-4o",)) as america:
        config = tmp_path / "trinity.toml"
        config.write_text(
            "[[providers.openai.deployments]]\n"
            f'key_env = "OPENAI_KEY_EU"\nbase_url = "{europe.base_url}"\nmodel = "gpt-4o-mini"\n'
            "[[providers.openai.deployments]]\n"
            f'key_env = "OPENAI_KEY_US"\nbase_url = "{america.base_url}"\n'
        )
        node = TrinityHybridNode.from_env({"TRINITY_CONFIG": str(config), "OPENAI_KEY_EU": KEY_1,
                                           "OPENAI_KEY_US": KEY_3, "TRINITY_RETRIES": "0"})  # fmt: skip
        node.set_unavailable("local")
        europe.faults.push(Fault.status(503))
        response = node.infer("Hello", force_provider="openai")
        assert outcomes(response) == [("openai", "failure"), ("openai", "success")]
        assert europe.requests[0].json["model"] == "gpt-4o-mini"
        assert america.requests[0].json["model"] == "gpt-4o"
        assert keys_sent(europe) == [KEY_1] and keys_sent(america) == [KEY_3]
        node.close()
        config.write_text('[[providers.openai.deployments]]\nkey_env = "OPENAI_KEY_NOWHERE"\n')
        with pytest.raises(ConfigurationError, match=r"deployments\[0\].key_env: the variable OPENAI_KEY_NOWHERE"):
            TrinityHybridNode.from_env({"TRINITY_CONFIG": str(config), "OPENAI_API_KEY": KEY_2})


def test_keys_appear_only_masked_and_bad_lists_are_named_without_them(capsys: Any) -> None:
    with OpenAIServer(api_key="") as server, keyed_node(server) as node:
        node.infer("Hello")
        node.print_status()
        shown = json.dumps(node.status()) + capsys.readouterr().out
        for key in (KEY_1, KEY_2):
            assert key not in shown
            assert key[:8] + "***" in shown
    for value, message in ((f"{KEY_1},,{KEY_2}", "entry 2 is empty"), (f"{KEY_1},{KEY_1}", "entry 2 repeats")):
        with pytest.raises(ConfigurationError, match=f"OPENAI_API_KEYS: {message}") as raised:
            TrinityHybridNode.from_env({"OPENAI_API_KEYS": value})
        assert KEY_1 not in str(raised.value)


def test_the_single_key_and_the_list_together_and_every_provider_takes_a_list() -> None:
    node = TrinityHybridNode.from_env({"OPENAI_API_KEY": KEY_1, "OPENAI_API_KEYS": f"{KEY_1},{KEY_2}",
                                       "GEMINI_API_KEYS": f"{KEY_2},{KEY_3}"})  # fmt: skip
    assert [entry["key"] for entry in node.status()["providers"]["openai"]["keys"]] == [KEY_1[:8] + "***",
                                                                                       KEY_2[:8] + "***"]  # fmt: skip
    assert len(node.status()["providers"]["google"]["keys"]) == 2
    assert "google" in node.available_providers


def test_a_key_held_by_its_breaker_is_skipped_and_all_held_fails_the_provider() -> None:
    with OpenAIServer(api_key="") as server, keyed_node(server) as node:
        node.configure_breaker(failure_threshold=1)
        server.faults.push(Fault.status(500), Fault.status(500))
        with pytest.raises(TransientError):  # a forced provider fails as itself, through both keys
            node.infer("Hello", force_provider="openai")
        assert [entry["state"] for entry in node.status()["providers"]["openai"]["keys"]] == ["open", "open"]
        with pytest.raises(CircuitOpenError, match="every key of this provider is held"):
            node.infer("Hello", force_provider="openai")
        assert len(server.requests) == 2  # nothing sent while every key is held


# ----------------------------------------------------------------------------------------------
# The plan's turn over keys, scripted (no sockets), and the drivers agreeing on it.

LANES = ("openai/0", "openai/1", "groq")
# Without "429_short": a retry waits for the first key free again, so whether another key's 5 ms
# hold has passed by then depends on the machine's speed, not on the plan.
KEY_OUTCOMES = tuple(outcome for outcome in OUTCOMES if outcome != "429_short")


def lane(attempt: AttemptRun) -> str:
    return attempt.provider if attempt.key is None else f"{attempt.provider}/{attempt.key}"


def scripted_node() -> TrinityHybridNode:
    node = TrinityHybridNode.from_env({"OPENAI_API_KEYS": f"{KEY_1},{KEY_2}", "GROQ_API_KEY": "gsk_keys_0123456789",
                                       "DEFAULT_LLM_PROVIDER": "openai"})  # fmt: skip
    node.set_unavailable("local")
    return node


def through(outcomes: dict[str, list[str]], stream: bool, sync: bool,
            status: list[Any] | None = None) -> tuple[list[Any], list[str]]:  # fmt: skip
    """(the attempts' outcomes and the error raised, if any; the lanes sent, in order);
    ``status`` gets the provider's own status entry after the call."""
    node = scripted_node()
    plan = node.plan("Hello", stream=stream, retries=DRIVER_RETRIES, strategy="round_robin")
    plan.random = random.Random(3)
    remaining = {name: list(sequence) for name, sequence in outcomes.items()}
    sent: list[str] = []

    def events_of(attempt: AttemptRun) -> list[Any]:
        sent.append(lane(attempt))
        return scripted_events(attempt, next_outcome(remaining, lane(attempt)))

    def sync_events(attempt: AttemptRun) -> Iterator[Any]:
        yield from events_of(attempt)

    async def async_events(attempt: AttemptRun) -> AsyncIterator[Any]:
        for event in events_of(attempt):
            yield event

    async def run_async() -> list[Any]:
        items = [item async for item in drive_async(plan, AsyncAttempts(async_events, time.monotonic), None)]
        return items

    try:
        if sync:
            items = list(drive_sync(plan, SyncAttempts(sync_events, node._hedge_executor, time.monotonic), None))
        else:
            items = asyncio.run(run_async())
    except TrinityError as error:
        return [*outcomes_of(getattr(error, "attempts", None) or plan.attempts), type(error).__name__], sent
    finally:
        if status is not None:
            status.append(node.status()["providers"]["openai"])
    return outcomes_of(items[-1].attempts), sent


def test_scripted_a_failing_key_moves_to_the_next_key_before_the_next_provider() -> None:
    result, sent = through({"openai/0": ["500"], "openai/1": ["ok"]}, stream=False, sync=True)
    assert sent == ["openai/0", "openai/1"]
    assert result == [("openai", "failure"), ("openai", "success")]
    # Every key failing: one retry after the backoff (one more try, not another walk over the
    # keys), then the next provider: keys + retries tries, never keys * (1 + retries).
    result, sent = through({"openai/0": ["500"], "openai/1": ["500"]}, stream=False, sync=True)
    assert sent[:3] == ["openai/0", "openai/1", sent[2]] and sent[2].startswith("openai/")
    assert sent[3:] == ["groq"] and result[-1] == ("groq", "success")
    node_status: list[Any] = []
    result, sent = through({"openai/0": ["broken_stream"]}, stream=True, sync=True, status=node_status)
    assert sent == ["openai/0"] and result[-1] == "StreamInterruptedError"
    assert node_status[0]["failed_calls"] == 1  # the provider's own entry records the broken turn
    result, sent = through({"openai/0": ["400"]}, stream=False, sync=True)
    assert sent == ["openai/0"] and result[-1] == "ClientRequestError"  # the request's fault: no other key


@settings(max_examples=30, deadline=None)
@given(outcomes=st.fixed_dictionaries({name: st.lists(st.sampled_from(KEY_OUTCOMES), min_size=1, max_size=3)
                                       for name in LANES}))  # fmt: skip
def test_sync_and_async_drivers_make_the_same_attempts_over_keys(outcomes: dict[str, list[str]]) -> None:
    whole = {name: [outcome if outcome != "broken_stream" else "ok" for outcome in sequence]
             for name, sequence in outcomes.items()}  # fmt: skip
    assert through(whole, stream=False, sync=True) == through(whole, stream=False, sync=False)
    assert through(outcomes, stream=True, sync=True) == through(outcomes, stream=True, sync=False)
    _, sent = through(whole, stream=False, sync=True)
    # Every key of the provider is tried before the next provider is.
    if "groq" in sent:
        assert set(sent[: sent.index("groq")]) == {"openai/0", "openai/1"}


def test_through_the_gateway_a_rate_limited_key_is_answered_by_the_next_and_shown_masked() -> None:
    """The gateway gets several keys from the same library core: a 429 on the first key is
    answered by the second (the client sees one 200); /status shows each key masked with its own
    breaker and counters, /metrics the same per key labelled by position, no key anywhere."""
    import openai
    from gateway_harness import GATEWAY_KEY, running_gateway

    with OpenAIServer(api_key="") as server:
        environment = {"OPENAI_API_KEYS": f"{KEY_1},{KEY_2}", "OPENAI_BASE_URL": server.base_url,
                       "DEFAULT_LLM_PROVIDER": "openai", "TRINITY_RETRIES": "0"}  # fmt: skip
        with running_gateway(environment) as gateway:
            server.faults.push(Fault.status(429, retry_after_s=30))
            sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
            raw = sdk.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "Hello there"}]
            )
            assert raw.parse().choices[0].message.content == "echo: Hello there"
            assert raw.headers["x-trinity-provider"] == "openai"
            assert keys_sent(server) == [KEY_1, KEY_2]
            status = gateway.request("GET", "/status").json()
            keys = status["providers"]["openai"]["keys"]
            assert [entry["key"] for entry in keys] == [KEY_1[:8] + "***", KEY_2[:8] + "***"]
            assert [entry["state"] for entry in keys] == ["open", "closed"]
            # Each key's own counters: key 1 failed once, key 2 answered with the tokens.
            assert [(entry["successful_calls"], entry["failed_calls"]) for entry in keys] == [(0, 1), (1, 0)]
            assert keys[0]["tokens_output"] == 0 and keys[1]["tokens_output"] > 0
            assert keys[0]["cost_usd"] == 0 and keys[1]["cost_usd"] > 0
            metrics = gateway.request("GET", "/metrics").text
            series = key_series(metrics)
            assert series[("trinity_provider_key_breaker_state", "1", "")] == 2.0  # open
            assert series[("trinity_provider_key_breaker_state", "2", "")] == 0.0  # closed
            assert series[("trinity_provider_key_calls_total", "1", "failure")] == 1
            assert series[("trinity_provider_key_calls_total", "1", "success")] == 0
            assert series[("trinity_provider_key_calls_total", "2", "success")] == 1
            assert series[("trinity_provider_key_tokens_total", "2", "output")] == keys[1]["tokens_output"]
            assert series[("trinity_provider_key_cost_usd_total", "2", "")] == pytest.approx(keys[1]["cost_usd"])
            shown = json.dumps(status) + metrics
            assert KEY_1 not in shown and KEY_2 not in shown
            # Not even the mask /status shows: a label is the key's position.
            assert KEY_1[:8] not in metrics and KEY_2[:8] not in metrics


def key_series(metrics: str) -> dict[tuple[str, str, str], float]:
    """The per-key series of an exposition, by (name, key label, outcome or direction)."""
    from prometheus_client.parser import text_string_to_metric_families
    from trinity_hybrid.gateway._metrics import PROVIDER_KEY_METRIC_NAMES

    found: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name in PROVIDER_KEY_METRIC_NAMES:
                assert sample.labels["provider"] == "openai" and sample.labels["key"] in ("1", "2"), sample
                extra = sample.labels.get("outcome") or sample.labels.get("direction") or ""
                found[(sample.name, sample.labels["key"], extra)] = sample.value
    return found

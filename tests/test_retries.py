"""Same-provider retries (issue 17, point 6): a transient failure is tried again on the same
provider, after a full-jitter backoff, before the chain moves on; bounded by the policy, the
breaker and the call's total timeout. One rule per test, driven as ``test_planner`` drives the
plan (scripted events, no sockets, the real native board), then end to end against a loopback
provider. The drivers' agreement with retries is in ``test_planner``'s hypothesis test.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from loopback import Fault, OpenAIServer
from test_planner import Script, new_node, outcomes_of
from trinity_hybrid import AllProvidersFailed, ConfigurationError, InvalidInputError, TrinityHybridNode
from trinity_hybrid._plan_retry import RetryPolicy, full_jitter_s
from trinity_hybrid._results import Timeouts


class Highest(random.Random):
    """Draws the top of every jitter range: the longest backoff the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


def fake_clock(plan: Any) -> None:
    """The plan's clock stands still: each wait's deadline is the delay itself."""
    plan.clock = lambda: 0.0
    plan.started_s = 0.0


@pytest.mark.parametrize("failure", ["500", "reset"])
def test_a_transient_failure_is_tried_again_on_the_same_provider(failure: str) -> None:
    node = new_node()
    plan = node.plan("Hello")
    head = plan.route.providers[0]
    script = Script({head: [failure, "ok"]})
    result = script.run(plan)
    assert result.provider == head
    assert script.sent == [head, head]
    assert outcomes_of(result.attempts) == [(head, "failure"), (head, "success")]
    stats = node.stats(head)
    assert (stats.calls_failed, stats.calls_successful) == (1, 1)  # each try recorded


def test_the_backoff_is_full_jitter_bounded_by_the_policy_and_seeded() -> None:
    """Retry n waits a draw in [0, min(max, base * 2**n)]: the same seed, the same waits."""
    policy = RetryPolicy(attempts=3, backoff_base_s=0.1, backoff_max_s=0.25)
    waits = []
    for _ in range(2):
        node = new_node()
        node.configure_breaker(failure_threshold=10)  # three failures in a row would open it
        plan = node.plan("Hello", retries=policy)
        fake_clock(plan)
        plan.random = random.Random(42)
        head = plan.route.providers[0]
        script = Script({head: ["500", "500", "500", "ok"]})
        assert script.run(plan).provider == head
        waits.append([deadline for deadline in script.waits if deadline is not None])
    assert waits[0] == waits[1]
    seeded = random.Random(42)
    expected = [full_jitter_s(policy, retry, seeded) for retry in range(3)]
    assert waits[0] == pytest.approx(expected)
    for retry, wait in enumerate(waits[0]):
        assert 0 <= wait <= min(0.25, 0.1 * 2**retry)


def test_the_longest_backoff_is_the_cap() -> None:
    policy = RetryPolicy(attempts=4, backoff_base_s=0.1, backoff_max_s=0.25)
    plan = new_node().plan("Hello", retries=policy)
    fake_clock(plan)
    plan.random = Highest()
    head = plan.route.providers[0]
    script = Script({head: ["500", "500", "ok"]})
    script.run(plan)
    assert [deadline for deadline in script.waits if deadline is not None] == pytest.approx([0.1, 0.2])


def test_retries_are_bounded_then_the_chain_moves_on() -> None:
    node = new_node()
    plan = node.plan("Hello", retries=2)
    first, second = plan.route.providers[:2]
    script = Script({first: "500"})
    result = script.run(plan)
    assert script.sent == [first, first, first, second]
    assert result.provider == second
    assert node.stats(first).calls_failed == 3


def test_no_retries_when_asked_for_none() -> None:
    plan = new_node().plan("Hello", retries=0)
    first, second = plan.route.providers[:2]
    script = Script({first: ["500", "ok"]})
    assert script.run(plan).provider == second
    assert script.sent == [first, second]


@pytest.mark.parametrize("failure", ["429", "400"])
def test_what_waiting_does_not_cure_is_not_retried(failure: str) -> None:
    """A 429 whose Retry-After (1 s) is longer than the policy's longest backoff goes to the
    next provider at once; a rejected request ends the call, as without retries."""
    plan = new_node().plan("Hello", retries=RetryPolicy(attempts=3, backoff_max_s=0.5))
    first, second = plan.route.providers[:2]
    script = Script({first: [failure, "ok"]})
    script.run(plan)
    assert script.sent == ([first, second] if failure == "429" else [first])
    assert all(deadline is None for deadline in script.waits)


def test_a_credential_failure_is_not_retried() -> None:
    plan = new_node().plan("Hello", retries=3)
    first, second = plan.route.providers[:2]
    script = Script({first: ["401", "ok"]})
    assert script.run(plan).provider == second
    assert script.sent == [first, second]


def test_a_short_retry_after_is_waited_out_on_the_same_provider() -> None:
    """A 429 with a Retry-After of 5 ms: the breaker holds the provider that long, the retry
    waits at least as long (on the plan's real clock), and is then admitted."""
    node = new_node()
    plan = node.plan("Hello")
    head = plan.route.providers[0]
    script = Script({head: ["429_short", "ok"]})
    result = script.run(plan, real_time=True)
    assert result.provider == head
    assert outcomes_of(result.attempts) == [(head, "failure"), (head, "success")]
    backoff = [deadline for deadline in script.waits if deadline is not None]
    assert len(backoff) == 1 and backoff[0] - plan.started_s >= 0.005
    assert node.stats(head).state == "closed"  # the probe after the hold answered


def test_a_failure_that_opens_the_breaker_is_not_retried() -> None:
    node = new_node()
    node.configure_breaker(failure_threshold=1)
    plan = node.plan("Hello", retries=3)
    first, second = plan.route.providers[:2]
    script = Script({first: ["500", "ok"]})
    assert script.run(plan).provider == second
    assert script.sent == [first, second]
    assert node.stats(first).state == "open"


def test_no_retry_that_could_not_end_before_the_total_timeout() -> None:
    plan = new_node().plan("Hello", timeout=Timeouts(total_s=0.1), retries=RetryPolicy(backoff_base_s=1.0))
    fake_clock(plan)
    plan.total_deadline_s = 0.1
    plan.random = Highest()  # a backoff of 1 s, past the 0.1 s left
    first, second = plan.route.providers[:2]
    script = Script({first: ["500", "ok"]})
    assert script.run(plan).provider == second
    assert script.sent == [first, second]


def test_a_stream_is_retried_before_its_first_token_never_after() -> None:
    node = new_node()
    plan = node.plan("Hello", stream=True)
    head = plan.route.providers[0]
    script = Script({head: ["500", "ok"]})
    result = script.run(plan)
    assert result.provider == head and script.sent == [head, head]
    assert "".join(chunk.text for chunk in script.emitted) == f"answerfrom{head}"  # words, unspaced
    broken = Script({head: ["broken_stream", "ok"]})
    error = broken.run(new_node().plan("Hello", stream=True))
    assert type(error).__name__ == "StreamInterruptedError"
    assert broken.sent == [head]


def test_a_forced_provider_is_retried_and_fails_as_itself() -> None:
    node = new_node()
    script = Script({"openai": ["500", "ok"]})
    assert script.run(node.plan("Hello", force_provider="openai")).provider == "openai"
    assert script.sent == ["openai", "openai"]
    failing = Script({"openai": "500"})
    error = failing.run(node.plan("Hello", force_provider="openai"))
    assert type(error).__name__ == "TransientError" and failing.sent == ["openai", "openai"]


def test_the_policy_comes_from_the_environment_and_the_file(tmp_path: Any) -> None:
    config = tmp_path / "trinity.toml"
    config.write_text("[retries]\nattempts = 2\nbackoff_base_s = 0.5\nbackoff_max_s = 4\n")
    node = TrinityHybridNode.from_env({"TRINITY_CONFIG": str(config)})
    assert node.retries == RetryPolicy(2, 0.5, 4.0)
    node = TrinityHybridNode.from_env({"TRINITY_CONFIG": str(config), "TRINITY_RETRIES": "0"})
    assert node.retries == RetryPolicy(0, 0.5, 4.0)  # the variable overrides the file
    assert TrinityHybridNode.from_env({}).retries is None
    assert new_node().plan("Hello").options.retry == RetryPolicy()  # the default: one retry
    for bad in ("-1", "two", "11"):
        with pytest.raises(ConfigurationError, match="TRINITY_RETRIES"):
            TrinityHybridNode.from_env({"TRINITY_RETRIES": bad})
    config.write_text("[retries]\nattempts = -1\n")
    with pytest.raises(ConfigurationError, match="retries.attempts"):
        TrinityHybridNode.from_env({"TRINITY_CONFIG": str(config)})
    with pytest.raises(InvalidInputError, match="retries"):
        new_node().plan("Hello", retries=True)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# End to end: a loopback provider that fails once.


def loopback_node(server: OpenAIServer, backup: OpenAIServer) -> TrinityHybridNode:
    return TrinityHybridNode.from_env({
        "GROQ_API_KEY": server.api_key, "GROQ_BASE_URL": server.base_url,
        "OPENAI_API_KEY": backup.api_key, "OPENAI_BASE_URL": backup.base_url,
        "TRINITY_RETRIES": "1",
    })  # fmt: skip


@pytest.mark.parametrize("fault", [Fault.status(503), Fault.reset(), Fault.status(429, retry_after_s=0.05)],
                         ids=["503", "reset", "429-short"])  # fmt: skip
def test_the_loopback_provider_answers_its_retry(fault: Fault) -> None:
    with OpenAIServer() as groq, OpenAIServer() as backup, loopback_node(groq, backup) as node:
        node.set_unavailable("local")
        groq.faults.push(fault)
        response = node.infer("Hello there", force_provider=None)
        assert response.provider == "groq"
        assert outcomes_of(response.attempts) == [("groq", "failure"), ("groq", "success")]
        assert len(groq.requests) == 2 and backup.requests == []

        async def again() -> Any:
            groq.faults.push(fault)
            streamed = [chunk async for chunk in node.ainfer("Hello there", stream=True)]
            await node.aclose()
            return streamed[-1]

        last = asyncio.run(again())
        assert outcomes_of(last.attempts) == [("groq", "failure"), ("groq", "success")]
        assert len(groq.requests) == 4 and backup.requests == []


def test_the_loopback_provider_failing_twice_falls_back() -> None:
    with OpenAIServer() as groq, OpenAIServer() as backup, loopback_node(groq, backup) as node:
        node.set_unavailable("local")
        groq.faults.push(Fault.status(500), Fault.status(502))
        response = node.infer("Hello there")
        assert response.provider == "openai"
        assert outcomes_of(response.attempts) == [("groq", "failure"), ("groq", "failure"), ("openai", "success")]
        with pytest.raises(AllProvidersFailed):
            groq.faults.push(*[Fault.status(500)] * 2)
            backup.faults.push(*[Fault.status(500)] * 2)
            node.infer("Hello there")


def test_the_gateway_retries_the_same_provider_before_falling_back() -> None:
    """The gateway walks the same plan: a 503 from the head is retried on it (the openai SDK,
    itself retrying nothing, sees one 200 after two attempts), the backup never asked."""
    import openai
    from gateway_harness import GATEWAY_KEY, running_gateway

    with OpenAIServer() as groq, OpenAIServer() as backup:
        environment = {"GROQ_API_KEY": groq.api_key, "GROQ_BASE_URL": groq.base_url, "OPENAI_API_KEY": backup.api_key,
                       "OPENAI_BASE_URL": backup.base_url, "DEFAULT_LLM_PROVIDER": "groq", "TRINITY_RETRIES": "1"}  # fmt: skip
        with running_gateway(environment) as gateway:
            groq.faults.push(Fault.status(503))
            sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
            raw = sdk.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "Hello there"}]
            )
            assert raw.parse().choices[0].message.content == "echo: Hello there"
            assert (raw.headers["x-trinity-provider"], raw.headers["x-trinity-attempts"]) == ("groq", "2")
            assert len(groq.requests) == 2 and backup.requests == []

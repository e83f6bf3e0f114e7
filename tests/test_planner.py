"""The attempt planner driven directly, as h11's tests drive h11: scripted events in, actions
out, no sockets. The board is the real native one, so admissions and records are the core's.

Then the property the drivers owe the planner: for the same scripted provider outcomes, the
sync and async drivers, whole and streamed, make the same attempts with the same outcomes.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trinity_hybrid import (
    AllProvidersFailed,
    ClientRequestError,
    InvalidInputError,
    StreamInterruptedError,
    TransientError,
    TrinityHybridNode,
)
from trinity_hybrid._drive_async import AsyncAttempts, complete_async, drive_async
from trinity_hybrid._drive_sync import SyncAttempts, drive_sync
from trinity_hybrid._plan_retry import RetryPolicy
from trinity_hybrid._plan_steps import (
    AttemptRun,
    CacheAnswer,
    CacheGet,
    CachePut,
    Close,
    Emit,
    Fail,
    Finish,
    Replied,
    Send,
    StreamEnded,
    StreamEvent,
    TimedOut,
    TransportFailed,
    Wait,
)
from trinity_hybrid._planner import Plan
from trinity_hybrid._results import Timeouts

# Providers that speak OpenAI's wire format, so one scripted body serves all of them.
KEYS = {
    "GROQ_API_KEY": "gsk_planner_0123456789",
    "OPENAI_API_KEY": "sk-planner-0123456789",
    "DEEPSEEK_API_KEY": "sk-deepseek-0123456789",
    "MISTRAL_API_KEY": "mistral-0123456789",
}
REMOTE = ("groq", "openai", "deepseek", "mistral")


def new_node(**variables: str) -> TrinityHybridNode:
    node = TrinityHybridNode.from_env({**KEYS, **variables})
    node.set_unavailable("local")  # only the scripted providers
    return node


def answer_body(text: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }).encode()  # fmt: skip


def error_body(status: int, message: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                 "code": code}}).encode()  # fmt: skip


def stream_events(attempt: AttemptRun, text: str) -> list[StreamEvent]:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    pieces = [
        {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]} for word in text.split(" ")
    ]
    pieces.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})  # fmt: skip
    data = [json.dumps({**chunk, **piece}) for piece in pieces] + ["[DONE]"]
    return [StreamEvent(attempt, "message", item) for item in data]


# What a scripted provider does with an attempt. "429_short": a Retry-After of 5 ms, which a
# same-provider retry waits out; "429" says 1 s, longer than the tests' backoff_max_s.
OUTCOMES = ("ok", "500", "429", "429_short", "reset", "400", "broken_stream")
# A provider's outcome: one for every attempt, or a list consumed one per attempt (the last one
# repeats), for a provider that fails and then answers its retry.
Outcomes = dict[str, "str | list[str]"]


def next_outcome(outcomes: Outcomes, provider: str) -> str:
    outcome = outcomes.get(provider, "ok")
    if isinstance(outcome, list):
        return outcome.pop(0) if len(outcome) > 1 else outcome[0]
    return outcome


def scripted_events(attempt: AttemptRun, outcome: str) -> list[Any]:
    """The events a provider with ``outcome`` sends for ``attempt``, whole or streamed."""
    if outcome == "reset":
        return [TransportFailed(attempt, TransientError("connection failed (ReadError)", provider=attempt.provider))]
    if outcome == "context":
        body = error_body(400, "This model's maximum context length is 10 tokens", "context_length_exceeded")
        return [Replied(attempt, 400, {}, body)]
    if outcome == "429_short":
        return [Replied(attempt, 429, {"retry-after-ms": "5"}, error_body(429, "slow down"))]
    if outcome in ("500", "429", "400", "401"):
        status = int(outcome)
        return [Replied(attempt, status, {"retry-after": "1"} if status == 429 else {}, error_body(status, "no"))]
    text = f"answer from {attempt.provider}"
    if not attempt.stream:
        return [Replied(attempt, 200, {}, answer_body(text))]
    events: list[Any] = stream_events(attempt, text)
    if outcome == "broken_stream":
        return events[:1] + [TransportFailed(attempt, TransientError("connection failed (ReadError)",
                                                                      provider=attempt.provider))]  # fmt: skip
    return [*events, StreamEnded(attempt)]


class Script:
    """Runs a plan by hand: every sent attempt answers with its provider's scripted outcome,
    attempts in the order they were sent; a wait with a deadline and nothing pending times out
    (at once, or with ``real_time`` once the plan's clock has reached the deadline)."""

    def __init__(self, outcomes: Outcomes) -> None:
        self.outcomes = outcomes
        self.sent: list[str] = []
        self.closed: list[str] = []
        self.emitted: list[Any] = []
        self.pending: list[Any] = []
        self.waits: list[float | None] = []
        self.cache_asked: list[str] = []
        self.cache_stored: list[tuple[str, dict[str, Any]]] = []

    def run(self, plan: Plan, cache_answer: dict[str, Any] | None = None, *, hold: tuple[str, ...] = (),
            real_time: bool = False) -> Any:  # fmt: skip
        """The plan's end: its result, or its error (returned, not raised). Attempts of the
        providers in ``hold`` stay silent until a wait times out (a slow provider)."""
        steps = plan.run()
        event: Any = None
        held: list[Any] = []
        while True:
            action = steps.send(event)
            event = None
            if isinstance(action, Send):
                self.sent.append(action.attempt.provider)
                outcome = next_outcome(self.outcomes, action.attempt.provider)
                (held if action.attempt.provider in hold else self.pending).extend(
                    scripted_events(action.attempt, outcome)
                )
            elif isinstance(action, Wait):
                self.waits.append(action.deadline_s)
                if self.pending:
                    event = self.pending.pop(0)
                elif action.deadline_s is not None:
                    if real_time:
                        time.sleep(max(0.0, action.deadline_s - plan.clock()))
                    event = TimedOut()
                else:
                    self.pending, held = held, []
                    event = self.pending.pop(0)
            elif isinstance(action, Close):
                self.closed.append(action.attempt.provider)
                self.pending = [item for item in self.pending if item.attempt is not action.attempt]
                held = [item for item in held if item.attempt is not action.attempt]
            elif isinstance(action, Emit):
                self.emitted.append(action.chunk)
            elif isinstance(action, CacheGet):
                self.cache_asked.append(action.key)
                event = CacheAnswer(cache_answer)
            elif isinstance(action, CachePut):
                self.cache_stored.append((action.key, action.answer))
            elif isinstance(action, Finish):
                return action.result
            elif isinstance(action, Fail):
                return action.error


def outcomes_of(attempts: Any) -> list[tuple[str, str]]:
    return [(attempt.provider, attempt.outcome) for attempt in attempts]


# ----------------------------------------------------------------------------------------------
# One rule each.


def test_the_head_of_the_chain_answers() -> None:
    node = new_node()
    plan = node.plan("Hello")
    script = Script({})
    result = script.run(plan)
    head = plan.route.providers[0]
    assert result.text == f"answer from {head}"
    assert script.sent == [head]
    assert outcomes_of(result.attempts) == [(head, "success")]
    assert node.stats(head).calls_successful == 1
    assert script.waits == [None]  # no hedge asked: no deadline


@pytest.mark.parametrize("failure", ["500", "429", "reset"])
def test_a_transient_failure_moves_to_the_next_provider(failure: str) -> None:
    node = new_node()
    plan = node.plan("Hello", retries=0)  # same-provider retries: tests/test_retries.py
    first, second = plan.route.providers[:2]
    result = Script({first: failure}).run(plan)
    assert result.provider == second
    assert outcomes_of(result.attempts) == [(first, "failure"), (second, "success")]
    assert node.stats(first).calls_failed == 1


def test_a_rejected_request_ends_the_call() -> None:
    node = new_node()
    plan = node.plan("Hello")
    first = plan.route.providers[0]
    script = Script({first: "400"})
    error = script.run(plan)
    assert isinstance(error, ClientRequestError)
    assert script.sent == [first]


def test_every_provider_failing_raises_with_every_attempt() -> None:
    node = new_node()
    plan = node.plan("Hello", retries=0)
    error = Script(dict.fromkeys(REMOTE, "500")).run(plan)
    assert isinstance(error, AllProvidersFailed)
    assert outcomes_of(error.attempts) == [(provider, "failure") for provider in plan.route.providers]


def test_an_open_breaker_is_skipped_and_said() -> None:
    """A breaker that opens between routing and the attempt (another call's failures): the
    core's chain leaves open providers out, so the plan's admission is what catches it."""
    node = new_node()
    plan = node.plan("Hello")
    head = plan.route.providers[0]
    for _ in range(3):
        node.record_failure(head, "transient")
    script = Script({})
    result = script.run(plan)
    assert head not in script.sent
    assert (head, "skipped") in outcomes_of(result.attempts)


def test_a_forced_provider_fails_as_itself() -> None:
    node = new_node()
    plan = node.plan("Hello", force_provider="openai", retries=0)
    script = Script({"openai": "500"})
    error = script.run(plan)
    assert type(error).__name__ == "TransientError"
    assert error.provider == "openai"
    assert script.sent == ["openai"]


def test_a_context_length_error_tries_only_larger_windows() -> None:
    node = new_node()
    first, second, third = node.route("Hello").providers[:3]
    node.set_provider_info(first, context_window_tokens=8_000)
    node.set_provider_info(second, context_window_tokens=4_000)  # smaller: not worth asking
    node.set_provider_info(third, context_window_tokens=16_000)
    plan = node.plan("Hello")
    assert plan.route.providers[:3] == (first, second, third)
    script = Script({first: "context"})
    result = script.run(plan)
    assert script.sent == [first, third]
    assert result.provider == third


def test_a_stream_that_breaks_after_its_first_token_is_not_spliced() -> None:
    node = new_node()
    plan = node.plan("Hello", stream=True)
    first = plan.route.providers[0]
    script = Script({first: "broken_stream"})
    error = script.run(plan)
    assert isinstance(error, StreamInterruptedError)
    assert script.sent == [first]  # no other provider's answer is spliced onto the first
    assert [chunk.provider for chunk in script.emitted] == [first]
    assert outcomes_of(error.attempts) == [(first, "failure")]


def test_a_hedge_starts_the_next_provider_after_the_p95() -> None:
    node = new_node()
    head = node.route("Hello").providers[0]
    for _ in range(20):
        node.record_success(head, latency_ms=5)
    plan = node.plan("Hello", hedge=True)
    second = plan.route.providers[1]
    script = Script({})
    result = script.run(plan, hold=(head,))
    assert script.sent == [head, second]
    assert script.waits[0] is not None  # the head's p95 is the deadline
    assert result.provider == second
    assert outcomes_of(result.attempts) == [(head, "cancelled"), (second, "success")]
    assert head in script.closed


def test_the_cache_is_asked_first_and_a_hit_sends_nothing() -> None:
    node = new_node()
    node.enable_cache()
    plan = node.plan("Hello", cache=True)
    script = Script({})
    first = script.run(plan)
    assert script.cache_asked and script.cache_stored
    hit_plan = node.plan("Hello", cache=True)
    hit_script = Script({})
    hit = hit_script.run(hit_plan, cache_answer=script.cache_stored[0][1])
    assert hit.cached and hit.text == first.text
    assert hit_script.sent == []


def test_a_feature_no_provider_carries_is_the_callers_error() -> None:
    node = new_node()
    plan = node.plan("Hello", seed=7, top_p=0.5, n=3)
    script = Script({})
    error = script.run(plan)
    if isinstance(error, InvalidInputError):
        assert error.param in {"n", "seed", "top_p"}
        assert script.sent == []
    else:  # every wire format carries them: the call is answered
        assert error.text.startswith("answer from")


# ----------------------------------------------------------------------------------------------
# The drivers agree.


def sync_events(outcomes: Outcomes) -> Any:
    def events(attempt: AttemptRun) -> Iterator[Any]:
        yield from scripted_events(attempt, next_outcome(outcomes, attempt.provider))

    return events


def async_events(outcomes: Outcomes) -> Any:
    async def events(attempt: AttemptRun) -> AsyncIterator[Any]:
        for event in scripted_events(attempt, next_outcome(outcomes, attempt.provider)):
            yield event

    return events


# Retries in the drivers' tests: one, after at most 2 ms; a 429's Retry-After of 1 s is too long
# to wait for, its 5 ms one is waited out (the breaker holds the provider that long).
DRIVER_RETRIES = RetryPolicy(attempts=1, backoff_base_s=0.001, backoff_max_s=0.5)


def driven_plan(outcomes: Outcomes, stream: bool) -> tuple[Plan, Outcomes]:
    """A plan with seeded retries, and a copy of ``outcomes`` for its attempts to consume."""
    plan = new_node().plan("Hello", stream=stream, retries=DRIVER_RETRIES)
    plan.random = random.Random(7)
    return plan, {provider: list(outcome) if isinstance(outcome, list) else outcome
                  for provider, outcome in outcomes.items()}  # fmt: skip


def through_sync(outcomes: Outcomes, stream: bool) -> list[tuple[str, str]]:
    plan, outcomes = driven_plan(outcomes, stream)
    try:
        executor = TrinityHybridNode()._hedge_executor
        items = list(drive_sync(plan, SyncAttempts(sync_events(outcomes), executor, time.monotonic), None))
    except (AllProvidersFailed, StreamInterruptedError) as error:
        return [*outcomes_of(error.attempts), ("raised", type(error).__name__)]
    except ClientRequestError:
        return [*outcomes_of(plan.attempts), ("raised", "ClientRequestError")]
    return outcomes_of(items[-1].attempts)


def through_async(outcomes: Outcomes, stream: bool) -> list[tuple[str, str]]:
    async def run() -> list[tuple[str, str]]:
        plan, consumed = driven_plan(outcomes, stream)
        attempts = AsyncAttempts(async_events(consumed), time.monotonic)
        try:
            if stream:
                items = [item async for item in drive_async(plan, attempts, None)]
                return outcomes_of(items[-1].attempts)
            return outcomes_of((await complete_async(plan, attempts, None)).attempts)
        except (AllProvidersFailed, StreamInterruptedError) as error:
            return [*outcomes_of(error.attempts), ("raised", type(error).__name__)]
        except ClientRequestError:
            return [*outcomes_of(plan.attempts), ("raised", "ClientRequestError")]

    return asyncio.run(run())


@settings(max_examples=40, deadline=None)
@given(
    outcomes=st.fixed_dictionaries(
        {provider: st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=3) for provider in REMOTE}
    )
)
def test_sync_and_async_drivers_make_the_same_attempts(outcomes: dict[str, list[str]]) -> None:
    """Each provider's attempts take its outcomes in turn, so a provider that fails and then
    answers shows the same-provider retry (and its backoff, waited by each driver)."""
    whole: Outcomes = {provider: [outcome if outcome != "broken_stream" else "ok" for outcome in sequence]
                       for provider, sequence in outcomes.items()}  # fmt: skip
    assert through_sync(whole, stream=False) == through_async(whole, stream=False)
    assert through_sync(dict(outcomes), stream=True) == through_async(dict(outcomes), stream=True)
    # A stream that never broke walks the chain as the whole answer does.
    if not any("broken_stream" in sequence for sequence in outcomes.values()):
        assert through_sync(dict(outcomes), stream=True) == through_sync(dict(outcomes), stream=False)


class Unexpected(Exception):
    """Not an HTTP error: what a reader's bug (or an unmapped library error) would raise."""


def test_a_reader_that_raises_or_fails_to_close_never_escapes_untyped() -> None:
    """An attempt whose reader raises something unexpected is that attempt's typed failure (the
    next provider answers); an error while closing a finished attempt is not the call's."""
    node = new_node()
    first, second = node.route("Hello").providers[:2]

    def sync_reader(attempt: AttemptRun) -> Iterator[Any]:
        if attempt.provider == first:
            raise Unexpected("boom")
        try:
            yield from scripted_events(attempt, "ok")
        finally:
            raise Unexpected("while closing")

    async def async_reader(attempt: AttemptRun) -> AsyncIterator[Any]:
        if attempt.provider == first:
            raise Unexpected("boom")
        try:
            for event in scripted_events(attempt, "ok"):
                yield event
        finally:
            raise Unexpected("while closing")

    plan = node.plan("Hello", retries=0)  # the next provider, not the same reader again
    items = list(drive_sync(plan, SyncAttempts(sync_reader, node._hedge_executor, lambda: 0.0), None))

    async def run_async() -> Any:
        return await complete_async(node.plan("Hello", retries=0), AsyncAttempts(async_reader, lambda: 0.0), None)

    answered = asyncio.run(run_async())
    for result in (items[-1], answered):
        assert result.provider == second
        assert outcomes_of(result.attempts) == [(first, "failure"), (second, "success")]
        assert result.attempts[0].error_type == "TransientError"


def test_the_total_timeout_ends_the_call_and_gives_up_what_runs() -> None:
    """Past the call's total timeout, the running attempt is given up (cancelled, not the
    provider's failure) and no further provider is started."""
    node = new_node()
    plan = node.plan("Hello", timeout=Timeouts(total_s=5.0))
    head = plan.route.providers[0]
    assert plan.total_deadline_s is not None
    script = Script({})
    # The call's clock: past its deadline once the plan has waited.
    plan.clock = lambda: plan.started_s + (6.0 if script.waits else 0.0)
    error = script.run(plan, hold=(head,))
    assert isinstance(error, AllProvidersFailed)
    assert script.sent == [head]
    assert script.waits[0] == pytest.approx(plan.started_s + 5.0)
    assert outcomes_of(error.attempts) == [(head, "cancelled")]
    assert "total timeout of 5 s" in (error.attempts[0].error or "")
    assert node.stats(head).calls_failed == 0


def test_without_a_total_timeout_a_plain_call_waits_without_a_deadline() -> None:
    plan = new_node().plan("Hello")
    assert plan.total_deadline_s is None
    script = Script({})
    script.run(plan)
    assert script.waits == [None]

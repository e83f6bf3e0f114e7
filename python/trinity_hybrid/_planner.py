"""The chain walk, once: a sans-I/O state machine that the sync, async and stream drivers run.

A ``Plan`` is one call. Its ``run()`` generator yields actions and is sent events back, as h11
does with bytes: it never touches a socket or a clock other than the one it was given.

    actions (plan → driver)            events (driver → plan)
    CacheGet(key)                      CacheAnswer(payload | None)
    Send(attempt)    start it          -
    Wait(deadline_s) wait for news     Replied | TransportFailed | StreamEvent | StreamEnded
                                       of any running attempt, or TimedOut at the deadline
    Close(attempt)   stop reading it   -
    CachePut(key, answer)              -
    Emit(chunk)      hand to caller    -
    Finish(result) / Fail(error)       (the end)

Every rule lives here: admission by the breaker, skipping a provider that lacks a feature the
request uses, what each failure means (next provider, larger window, raise), hedging (a
provider slower than its own p95 gets the next one started beside it; a stream only before its
first token), same-provider retries of transient failures (``_plan_retry``), the response cache,
and recording each outcome on the board (``_plan_record``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from random import Random
from typing import Any, Protocol

from ._exceptions import (
    AllProvidersFailed,
    CircuitOpenError,
    ClientRequestError,
    ContextLengthExceededError,
    ProviderError,
    StreamInterruptedError,
    TransientError,
    TrinityError,
)
from ._plan_answers import cache_payload, cached_completion
from ._plan_keys import KeyTurns
from ._plan_record import Recording
from ._plan_retry import RETRY_DEFAULT, Retries, RetryPolicy
from ._plan_steps import (
    Action,
    AttemptRun,
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
    Wait,
)
from ._results import TIMEOUTS_DEFAULT, Attempt, EmbeddingResponse, Response, StreamChunk, Timeouts
from .providers._features import request_field
from .providers._types import ChatRequest, Completion, Embeddings, Endpoint, StreamDelta, Usage

__all__ = ["Plan", "PlanOptions"]

# One record per provider attempt, with its fields in `extra` for structured handlers (JSON
# logging): provider, outcome, latency_ms, error_type. Messages come from our own errors, whose
# provider text has already had any key scrubbed out.
logger = logging.getLogger("trinity_hybrid")

# The draws of the retries' jitter, unless a plan is given its own (a test's seeded one).
RANDOM = Random()
# A provider's p95 means little before this many successes; until then a hedge waits for it.
HEDGE_SAMPLES_MIN = 10


class Board(Protocol):
    """The breaker and stats board the plan admits and records through (``_board.Board``)."""

    def admit(self, provider: str) -> str: ...
    def release_probe(self, provider: str) -> None: ...
    def record_success(self, provider: str, *, latency_ms: int, tokens_input: int, tokens_output: int) -> float: ...
    def record_failure(self, provider: str, kind: str, *, latency_ms: int, retry_after_ms: int) -> None: ...
    def stats(self, provider: str) -> Any: ...
    def context_window_tokens(self, provider: str) -> int: ...
    def hold_s(self, provider: str) -> float: ...


class Providers(Protocol):
    """Where each provider is and what it speaks (``_directory.Directory``)."""

    def endpoint(self, provider: str) -> Endpoint: ...
    def wire_format(self, provider: str) -> Any: ...
    def lacks(self, provider: str, endpoint: Endpoint, request: ChatRequest) -> str | None:
        """The first feature of ``request`` that ``provider`` cannot take, or None."""
        ...

    # provider -> its keys, for a provider with several (``_keyring.Keyring``)
    keyrings: dict[str, Any]


# Not frozen: a frozen __init__ sets each field through object.__setattr__, on every call; the
# options are still treated as values (hashable, never changed after the plan is made).
@dataclass(slots=True, unsafe_hash=True)
class PlanOptions:
    """How one call walks its chain. ``forced``: the one provider alone, its failure raised."""

    forced: bool = False
    hedge: bool = False
    timeouts: Timeouts = TIMEOUTS_DEFAULT
    cache_key: str | None = None
    # The model to ask of the chain's provider at the same position (None: its configured one),
    # for a request that names its models (``provider/model``, an alias's targets).
    models: tuple[str | None, ...] = ()
    # Same-provider retries of transient failures (``_plan_retry``).
    retry: RetryPolicy = RETRY_DEFAULT
    # The call's strategy (None: the node's), which also orders a provider's keys.
    strategy: str | None = None


# ----------------------------------------------------------------------------------------------
# The plan.

Steps = Generator[Action, Any, None]


class Plan(Recording, KeyTurns):
    """One call's walk along ``route.providers``; see the module docstring."""

    def __init__(self, request: ChatRequest, route: Any, options: PlanOptions, board: Board, providers: Providers,
                 clock: Callable[[], float], random: Random = RANDOM) -> None:  # fmt: skip
        self.request = request
        self.route = route
        self.options = options
        self.board = board
        self.providers = providers
        self.clock = clock
        self.attempts: list[Attempt] = []
        self.started_s = clock()
        total_s = options.timeouts.total_s
        self.total_deadline_s: float | None = None if total_s is None else self.started_s + total_s
        # After a context-length error only larger windows are worth trying.
        self.window_min_tokens = 0
        self.running: dict[AttemptRun, None] = {}  # insertion-ordered set
        self.newest: AttemptRun | None = None
        self.more = True
        self.winner: AttemptRun | None = None  # a stream whose answer has started
        # The feature each provider skipped for lacking it (``providers._features``).
        self.missing: list[str] = []
        self._candidates: Iterator[AttemptRun] = self._tickets()
        # Retries (``_plan_retry``), made at the first failure: the draws of their jitter, when
        # the one that waits starts, whether the provider just tried goes again, and why.
        self.random = random
        self.retries: Retries | None = None
        self.backoff_until_s: float | None = None
        self.again = False
        self.retry_error: ProviderError | None = None
        self.keys_tried: dict[str, set[int]] = {}

    # -- the walk ---------------------------------------------------------------------------

    def run(self) -> Steps:
        # One generator for the whole walk (no ``yield from`` into helpers on the common path):
        # each step through a nested generator costs every call of the gateway's hot path.
        try:
            if self.options.cache_key is not None:
                answer = yield CacheGet(self.options.cache_key)
                hit = self._cached(answer.payload)
                if hit is not None:
                    yield Finish(hit)
                    return
            attempt = self._launch()
            if attempt is not None:
                yield Send(attempt)
            while self.running or self.backoff_until_s is not None:
                event = yield Wait(self._deadline())
                if type(event) is TimedOut:
                    if self._out_of_time():
                        reason = f"the call's total timeout of {self.options.timeouts.total_s:g} s passed"
                        yield from self._give_up_others(None, reason)
                        yield Fail(AllProvidersFailed(self.attempts))
                        return
                    self.backoff_until_s = None  # a retry's wait is over, or a hedge is due
                    attempt = self._launch()
                    if attempt is not None:
                        yield Send(attempt)
                    continue
                attempt = event.attempt
                if attempt not in self.running:
                    continue  # news of an attempt already given up
                kind = type(event)
                if kind is Replied:
                    outcome = self._on_reply(attempt, event)
                elif kind is StreamEvent:
                    outcome = yield from self._on_stream_event(attempt, event)
                elif kind is StreamEnded:
                    outcome = self._on_stream_end(attempt)
                else:
                    outcome = event.error
                if outcome is None:
                    continue
                if not isinstance(outcome, ProviderError):
                    yield from self._on_success(attempt, outcome)
                    return
                ended = yield from self._on_failure(attempt, outcome)
                if ended:
                    return
            yield Fail(self._exhausted())
        except TrinityError as error:  # a forced provider refused before anything was sent
            yield Fail(error)
        finally:
            # The plan and its candidates' generator refer to each other: closed here, the pair
            # is freed by reference counting instead of waiting for the cyclic collector
            # (gen-0 collections 723 -> 92 per 30,000 gateway requests; bench/results/architecture.md).
            self._candidates.close()  # type: ignore[attr-defined]

    def _deadline(self) -> float | None:
        """When to wake without news: to start the next provider beside the running ones (a
        hedge), for a retry's backoff to end, or at the call's total timeout; None: not before
        the next event."""
        if self.backoff_until_s is not None:
            return self.backoff_until_s  # before the total timeout: see ``_plan_retry``
        total = self.total_deadline_s
        if not self.options.hedge or not self.more or self.winner is not None or self.newest is None:
            return total
        delay_s = self.hedge_delay_s(self.newest.provider)
        hedge = None if delay_s is None else self.newest.started_s + delay_s
        return hedge if total is None else total if hedge is None else min(hedge, total)

    def _out_of_time(self) -> bool:
        return self.total_deadline_s is not None and self.clock() >= self.total_deadline_s

    def hedge_delay_s(self, provider: str) -> float | None:
        """How long ``provider`` may take before the next one starts beside it: its own p95
        latency, once it has enough successes for a p95 to mean something."""
        stats = self.board.stats(provider)
        if stats.calls_successful < HEDGE_SAMPLES_MIN or stats.latency_ms_p95 <= 0:
            return None
        return float(stats.latency_ms_p95) / 1000

    def _launch(self) -> AttemptRun | None:
        """The next provider of the chain to start (the caller sends it), if one is left and
        there is time for it."""
        attempt = None if self._out_of_time() else next(self._candidates, None)
        if attempt is None:
            self.more = False
            return None
        self.running[attempt] = None
        self.newest = attempt
        return attempt

    def _tickets(self) -> Iterator[AttemptRun]:
        """Each provider worth calling now, with the request to send it."""
        request = self.request
        models = self.options.models
        for position, provider in enumerate(self.route.providers):
            if self.window_min_tokens and self.board.context_window_tokens(provider) <= self.window_min_tokens:
                continue
            try:
                endpoint = self.providers.endpoint(provider)
                if position < len(models) and models[position] is not None and models[position] != endpoint.model:
                    endpoint = dataclasses.replace(endpoint, model=models[position])
            except ProviderError as error:
                self._record_failure(provider, self.clock(), error)
                if self.options.forced:
                    raise
                continue
            wire_format = self.providers.wire_format(provider)
            missing = self.providers.lacks(provider, endpoint, request)
            if missing is not None:
                reason = f"this provider's API does not take {request_field(missing)!r}"
                self.attempts.append(Attempt(provider, "skipped", reason, "UnsupportedFeature"))
                self.missing.append(missing)
                if self.options.forced:
                    raise ClientRequestError(reason, provider=provider)
                continue
            ring = self.providers.keyrings.get(provider)
            while True:  # once, and again for each retry or next key (``_retry`` sets ``again``)
                if ring is None:
                    admission, target, key = self.board.admit(provider), endpoint, None
                else:
                    admission, target, key = self._admit_key(ring, provider, endpoint)
                if admission.startswith("denied"):
                    self.attempts.append(
                        Attempt(provider, "skipped", f"circuit breaker: {admission}", "CircuitOpenError")
                    )
                    if self.options.forced:
                        raise self.retry_error or CircuitOpenError(
                            f"circuit breaker refused the call ({admission})", provider=provider
                        )
                    break
                try:
                    http = wire_format.build_request(target, request)
                except ProviderError as error:
                    if admission == "allowed_probe":
                        (self.board if ring is None else ring).release_probe(provider if ring is None else key)
                    self.attempts.append(Attempt(provider, "skipped", str(error), type(error).__name__))
                    if self.options.forced:
                        raise
                    break
                attempt = AttemptRun(provider, wire_format, target, http, request.stream, self.clock(), admission)
                attempt.key = key
                if request.stream:
                    attempt.parser = wire_format.new_stream_parser(target, request)
                    attempt.first_token_deadline_s = attempt.started_s + self.options.timeouts.first_token_s
                yield attempt
                if not self.again:
                    break
                self.again = False

    # -- what each event means ----------------------------------------------------------------

    def _on_reply(self, attempt: AttemptRun, event: Replied) -> Completion | ProviderError:
        try:
            if event.status >= 300:
                return attempt.wire_format.classify_error(attempt.endpoint, event.status, event.headers, event.body)  # type: ignore[no-any-return]
            return attempt.wire_format.parse_response(attempt.endpoint, self.request, event.body)  # type: ignore[no-any-return]
        except ProviderError as error:
            return error

    def _on_stream_event(self, attempt: AttemptRun, event: StreamEvent) -> Generator[Action, Any, Any]:
        if not attempt.started and self.clock() > attempt.first_token_deadline_s:
            return TransientError(
                f"no first token within {self.options.timeouts.first_token_s:g} s", provider=attempt.provider
            )
        try:
            deltas: list[StreamDelta] = attempt.parser.feed(event.event, event.data)
        except ProviderError as error:
            return error
        for delta in deltas:
            if delta.usage is not None:
                attempt.usage = delta.usage
            if delta.finish_reason is not None:
                attempt.finish_reason = delta.finish_reason
            if delta.done:
                attempt.done = True
            if not delta.started:
                # With n > 1 each choice ends on its own: its finish reason is a chunk of its own.
                if delta.finish_reason is not None and attempt.started and (self.request.n or 1) > 1:
                    yield Emit(StreamChunk("", attempt.provider, finish_reason=delta.finish_reason, index=delta.index))
                continue
            if not attempt.started:
                attempt.started = True
                self.winner = attempt
                yield from self._give_up_others(attempt)
            yield Emit(StreamChunk(delta.text, attempt.provider, finish_reason=delta.finish_reason,
                                   tool_calls=delta.tool_calls, reasoning=delta.reasoning, index=delta.index,
                                   logprobs=delta.logprobs, thinking_blocks=delta.thinking_blocks))  # fmt: skip
        if attempt.done:
            return self._on_stream_end(attempt)
        return None

    def _on_stream_end(self, attempt: AttemptRun) -> Any:
        if not attempt.done:
            return TransientError("the stream ended before the answer was complete", provider=attempt.provider)
        return attempt  # a finished stream: its usage and finish reason are on it

    def _on_success(self, attempt: AttemptRun, result: Any) -> Steps:
        del self.running[attempt]
        yield Close(attempt)
        if self.running:  # a hedge's other attempts
            yield from self._give_up_others(attempt)
        if attempt.stream:
            cost_usd, usage = self._record_success(attempt, attempt.usage)
            yield Finish(StreamChunk("", attempt.provider, usage, attempt.finish_reason, True, cost_usd,
                                     tuple(self.attempts)))  # fmt: skip
            return
        if type(result) is Embeddings:
            # The board counts the call and its latency; its prices are the chat model's, so the
            # tokens and cost go on the answer, priced by the embedding model's own price.
            self._record_success(attempt, Usage(0, 0))
            tokens = self.route.tokens_estimated if result.prompt_tokens is None else result.prompt_tokens
            cost_usd = attempt.wire_format.cost_usd(attempt.endpoint, tokens)
            yield Finish(EmbeddingResponse(result.vectors, attempt.provider, result.model, Usage(tokens, 0),
                                           self.clock() - self.started_s, cost_usd, tuple(self.attempts)))  # fmt: skip
            return
        completion: Completion = result
        cost_usd, usage = self._record_success(attempt, completion.usage)
        response = self._response(attempt.provider, completion, cost_usd, usage)
        if self.options.cache_key is not None:
            yield CachePut(self.options.cache_key, cache_payload(response))
        yield Finish(response)

    def _on_failure(self, attempt: AttemptRun, error: ProviderError) -> Generator[Action, Any, bool]:
        """Records the failure; ends the call (returns True) unless another provider may make
        up for it, in which case the next one is started when none runs."""
        del self.running[attempt]
        yield Close(attempt)
        self._record_failure(attempt.provider, attempt.started_s, error, attempt.key)
        if attempt.started:
            # After the first token no other provider may answer: the caller would get two
            # answers spliced together, so the failure is raised, typed.
            interrupted = StreamInterruptedError(
                f"stream failed after its first token: {error}", provider=attempt.provider, cause=error
            )
            interrupted.attempts = tuple(self.attempts)
            if attempt.key is not None:
                self._end_turn(attempt, error)
            yield Fail(interrupted)
            return True
        if not self.running and attempt is self.newest and self._retry(attempt, error):
            if self.backoff_until_s is None:  # the provider's next key, at once
                launched = self._launch()
                if launched is not None:
                    yield Send(launched)
            return False  # else the same provider again, once its backoff has passed
        if attempt.key is not None:
            self._end_turn(attempt, error)
        final = self._final(attempt.provider, error)
        if final is not None:
            yield from self._give_up_others(None)
            yield Fail(final)
            return True
        if not self.running:
            launched = self._launch()
            if launched is not None:
                yield Send(launched)
        return False

    def _retry(self, attempt: AttemptRun, error: ProviderError) -> bool:
        """Whether the provider is tried again after ``error``: its next key at once
        (``_plan_keys``), or after a backoff (``_plan_retry``; the plan waits until
        ``backoff_until_s``), then ``_tickets`` sends it again."""
        if self._next_key(attempt, error):
            return True
        if self.options.retry.attempts == 0:
            return False
        provider = attempt.provider
        ring = self.providers.keyrings.get(provider) if attempt.key is not None else None
        if self.retries is None:
            self.retries = Retries(self.options.retry, self.random)
        now_s = self.clock()
        time_left_s = None if self.total_deadline_s is None else self.total_deadline_s - now_s
        hold_s = ring.hold_s if ring is not None else lambda: self.board.hold_s(provider)
        delay_s = self.retries.delay_s(provider, error, hold_s, time_left_s)
        if delay_s is None:
            return False
        if ring is not None:
            self.keys_tried[provider].clear()  # after the backoff, every key may be tried again
        self.again = True
        self.retry_error = error
        self.backoff_until_s = now_s + delay_s
        logger.info("%s: trying again in %.0f ms", provider, delay_s * 1000,
                    extra={"provider": provider, "outcome": "retry", "latency_ms": round(delay_s * 1000)})  # fmt: skip
        return True

    def _final(self, provider: str, error: ProviderError) -> ProviderError | None:
        """The error that ends the call, or None when the chain goes on."""
        if self.options.forced:
            return error
        if isinstance(error, ContextLengthExceededError):
            self.window_min_tokens = self.board.context_window_tokens(provider)
            return None
        if isinstance(error, ClientRequestError):
            return error
        return None

    def _give_up_others(self, keep: AttemptRun | None, reason: str = "another provider answered first") -> Steps:
        """Every other attempt still running is given up (lost the race, or the call ran out of
        time): closed, recorded as cancelled, not as the provider's failure."""
        for other in [attempt for attempt in self.running if attempt is not keep]:
            del self.running[other]
            yield Close(other)
            if other.admission == "allowed_probe":
                if other.key is None:
                    self.board.release_probe(other.provider)
                else:
                    self.providers.keyrings[other.provider].release_probe(other.key)
            latency_s = self.clock() - other.started_s
            self.attempts.append(Attempt(other.provider, "cancelled", reason, None, latency_s))
            logger.info(
                "%s cancelled after %.0f ms: %s", other.provider, latency_s * 1000, reason,
                extra={"provider": other.provider, "outcome": "cancelled", "latency_ms": round(latency_s * 1000)},
            )  # fmt: skip

    # -- answers ------------------------------------------------------------------------------

    def _response(self, provider: str, completion: Completion, cost_usd: float, usage: Usage) -> Response:
        first = completion.choices[0]
        return Response(
            text=first.text, provider=provider, model=completion.model, usage=usage,
            latency_s=self.clock() - self.started_s, cost_usd=cost_usd, attempts=tuple(self.attempts),
            route=self.route, finish_reason=first.finish_reason, tool_calls=first.tool_calls,
            reasoning=first.reasoning, choices=completion.choices, thinking_blocks=first.thinking_blocks,
        )  # fmt: skip

    def _cached(self, answer: dict[str, Any] | None) -> Response | None:
        """The cached answer as a Response, or None on a miss."""
        if answer is None:
            return None
        provider, completion = cached_completion(answer)
        response = self._response(provider, completion, 0.0, completion.usage)  # type: ignore[arg-type]
        return dataclasses.replace(response, attempts=(), cached=True)

"""The native breaker and stats against a plain Python reference model (tests/breaker_model.py).

Hypothesis drives both with the same random sequences of admissions, successes, failures of
every kind, Retry-After values and time jumps (including jumps that land exactly on the open
deadline and on the probe lease's end, where off-by-one errors live), and requires that they
never diverge.
"""

from __future__ import annotations

from breaker_model import FAILURE_KINDS, BreakerModel
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from trinity_hybrid import TrinityHybridNode

PROVIDER = "groq"
U32_MAX = 2**32 - 1


class BreakerComparison(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.node = TrinityHybridNode.from_env({"GROQ_API_KEY": "gsk_state_machine_test_key"})
        self.model = BreakerModel()
        self.now_ms = 1_000

    @initialize(
        failure_threshold=st.integers(1, 5),
        cooldown_ms=st.integers(1, 120_000),
        credential_cooldown_ms=st.integers(1, 2_000_000),
        quota_cooldown_ms=st.integers(1, 5_000_000),
        probe_lease_ms=st.integers(1, 200_000),
        ewma_alpha=st.sampled_from([0.2, 0.5, 1.0, 0.05]),
        start_ms=st.integers(0, 2**40),
    )
    def configure(self, failure_threshold: int, cooldown_ms: int, credential_cooldown_ms: int,
                  quota_cooldown_ms: int, probe_lease_ms: int, ewma_alpha: float, start_ms: int) -> None:
        self.node.configure_breaker(
            failure_threshold=failure_threshold,
            cooldown_s=cooldown_ms / 1000,
            credential_cooldown_s=credential_cooldown_ms / 1000,
            quota_cooldown_s=quota_cooldown_ms / 1000,
            probe_lease_s=probe_lease_ms / 1000,
            ewma_alpha=ewma_alpha,
        )
        self.model = BreakerModel(failure_threshold, cooldown_ms, credential_cooldown_ms, quota_cooldown_ms,
                                  probe_lease_ms, ewma_alpha)
        self.now_ms = start_ms

    @rule(step_ms=st.integers(0, 200_000))
    def advance(self, step_ms: int) -> None:
        self.now_ms += step_ms

    @precondition(lambda self: self.model.circuit_open)
    @rule(offset_ms=st.sampled_from([-1, 0, 1]))
    def jump_to_open_deadline(self, offset_ms: int) -> None:
        self.now_ms = max(0, self.model.open_until_ms + offset_ms)

    @precondition(lambda self: self.model.probe_in_flight)
    @rule(offset_ms=st.sampled_from([-1, 0, 1]))
    def jump_to_probe_lease_end(self, offset_ms: int) -> None:
        self.now_ms = max(0, self.model.probe_started_ms + self.model.probe_lease_ms + offset_ms)

    @rule()
    def admit(self) -> None:
        assert self.node.admit(PROVIDER, now_ms=self.now_ms) == self.model.admit(self.now_ms)

    @rule(latency_ms=st.integers(0, 120_000), tokens_input=st.integers(0, 10**6), tokens_output=st.integers(0, 10**5))
    def succeed(self, latency_ms: int, tokens_input: int, tokens_output: int) -> None:
        cost_usd = self.node.record_success(PROVIDER, latency_ms=latency_ms, tokens_input=tokens_input,
                                            tokens_output=tokens_output, now_ms=self.now_ms)
        self.model.record_success(self.now_ms, latency_ms, tokens_input, tokens_output, cost_usd)

    @rule(kind=st.sampled_from(FAILURE_KINDS), latency_ms=st.integers(0, 60_000),
          retry_after_ms=st.one_of(st.just(0), st.integers(1, 10_000_000)))
    def fail(self, kind: str, latency_ms: int, retry_after_ms: int) -> None:
        self.node.record_failure(PROVIDER, kind, latency_ms=latency_ms, retry_after_ms=retry_after_ms, now_ms=self.now_ms)
        self.model.record_failure(self.now_ms, kind, latency_ms, retry_after_ms)

    @rule(offset_ms=st.integers(-200_000, 200_000))
    def remote_open(self, offset_ms: int) -> None:
        until_ms = max(1, self.now_ms + offset_ms)
        self.node.apply_remote_open(PROVIDER, until_ms)
        self.model.open_until(until_ms)

    @rule()
    def remote_close(self) -> None:
        self.node.apply_remote_close(PROVIDER)
        self.model.close()

    @rule()
    def release_probe(self) -> None:
        self.node.release_probe(PROVIDER)
        self.model.release_probe()

    @rule()
    def reset(self) -> None:
        self.node.reset(PROVIDER)
        self.model.reset()

    @invariant()
    def native_matches_model(self) -> None:
        stats = self.node.stats(PROVIDER, now_ms=self.now_ms)
        model = self.model
        assert stats.state == model.state(self.now_ms)
        assert stats.healthy == model.healthy(self.now_ms)
        assert stats.calls_total == model.calls_total
        assert stats.calls_successful == model.calls_successful
        assert stats.calls_failed == model.calls_failed
        assert stats.calls_client_error == model.calls_client_error
        assert stats.failures_consecutive == model.failures_consecutive
        assert stats.open_until_ms == model.open_until_ms
        assert stats.tokens_input == model.tokens_input
        assert stats.tokens_output == model.tokens_output
        assert stats.last_failure_kind == model.last_failure_kind
        assert stats.success_rate == model.success_rate()
        assert stats.latency_ms_average == model.latency_ms_average()
        assert stats.latency_ms_ewma == model.latency_ms_ewma
        assert stats.latency_ms_p95 == model.latency_ms_percentile(0.95)
        assert stats.cost_usd == model.cost_usd
        # Routing agrees with eligibility: a provider the model calls ineligible is left out.
        chain = self.node.route("Hello there, how are you today?", now_ms=self.now_ms).providers
        assert (PROVIDER in chain) == model.is_eligible(self.now_ms)
        # The stats always add up.
        assert stats.calls_total == stats.calls_successful + stats.calls_failed


BreakerComparison.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestBreakerMatchesModel = BreakerComparison.TestCase

"""Reference model of one provider's circuit breaker and stats, mirroring zig/health.zig (with health_breaker.zig and health_stats.zig).

The native ``Board`` keeps one entry per provider; this model is one entry, written as plainly
as possible so that a stateful property test can drive both with the same events and expect
identical answers. Keep it in step with the module comment of zig/health.zig:

- Only "closed" and "open" are stored. "half_open" is derived: open and ``now_ms >=
  open_until_ms``. Reading never changes anything.
- A probe is live while one is in flight and ``now_ms < probe_started_ms + probe_lease_ms``.
- Every failure clears the probe; a success closes the circuit whatever its state.
- Opening for ``hold_ms`` sets ``open_until_ms = now_ms + hold_ms`` (saturating at 2**64 - 1),
  but while already open the deadline only ever moves later.
- Tokens, the latency sum and ``failures_consecutive`` saturate (u64, u64, u32).

Floating-point results (EWMA, average, percentiles, success rate) are computed with the same
operations in the same order as the Zig code, so they agree bit for bit.
"""

from __future__ import annotations

from typing import Literal

State = Literal["closed", "open", "half_open"]
Admission = Literal["allowed", "allowed_probe", "denied_open", "denied_probe_in_flight"]
FailureKind = Literal["transient", "rate_limited", "credential", "client", "quota_exhausted"]

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

FAILURE_KINDS: tuple[FailureKind, ...] = (
    "transient",
    "rate_limited",
    "credential",
    "client",
    "quota_exhausted",
)

# Inclusive upper bounds; the last bucket is unbounded (same as health.latency_bucket_upper_ms).
LATENCY_BUCKET_UPPER_MS: tuple[int, ...] = (
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    U32_MAX,
)


def _add_u64(a: int, b: int) -> int:
    return min(a + b, U64_MAX)


class BreakerModel:
    """One provider's breaker and counters, with the semantics of ``health.Board``."""

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown_ms: int = 60_000,
        credential_cooldown_ms: int = 900_000,
        quota_cooldown_ms: int = 3_600_000,
        probe_lease_ms: int = 120_000,
        ewma_alpha: float = 0.2,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if min(cooldown_ms, credential_cooldown_ms, quota_cooldown_ms) <= 0:
            raise ValueError("cooldowns must be positive")
        if probe_lease_ms <= 0:
            raise ValueError("probe_lease_ms must be positive")
        if not (0.0 < ewma_alpha <= 1.0):
            raise ValueError("ewma_alpha must be in (0, 1]")
        self.failure_threshold = failure_threshold
        self.cooldown_ms = cooldown_ms
        self.credential_cooldown_ms = credential_cooldown_ms
        self.quota_cooldown_ms = quota_cooldown_ms
        self.probe_lease_ms = probe_lease_ms
        self.ewma_alpha = ewma_alpha
        self.reset()

    def reset(self) -> None:
        """Forget everything: closed, no probe, every counter zero (``Board.reset``)."""
        self.circuit_open = False
        self.open_until_ms = 0
        self.failures_consecutive = 0
        self.probe_in_flight = False
        self.probe_started_ms = 0
        self.calls_total = 0
        self.calls_successful = 0
        self.calls_failed = 0
        self.calls_client_error = 0
        self.latency_ms_sum = 0
        self.latency_ms_ewma = 0.0
        self.latency_histogram = [0] * len(LATENCY_BUCKET_UPPER_MS)
        self.tokens_input = 0
        self.tokens_output = 0
        self.cost_usd = 0.0
        self.last_failure_kind: FailureKind | None = None

    # Breaker.

    def state(self, now_ms: int) -> State:
        if not self.circuit_open:
            return "closed"
        return "open" if now_ms < self.open_until_ms else "half_open"

    def _probe_live(self, now_ms: int) -> bool:
        if not self.probe_in_flight:
            return False
        return now_ms < _add_u64(self.probe_started_ms, self.probe_lease_ms)

    def is_eligible(self, now_ms: int) -> bool:
        state = self.state(now_ms)
        if state == "closed":
            return True
        if state == "open":
            return False
        return not self._probe_live(now_ms)

    def admit(self, now_ms: int) -> Admission:
        state = self.state(now_ms)
        if state == "closed":
            return "allowed"
        if state == "open":
            return "denied_open"
        if self._probe_live(now_ms):
            return "denied_probe_in_flight"
        self.probe_in_flight = True
        self.probe_started_ms = now_ms
        return "allowed_probe"

    def _open(self, until_ms: int) -> None:
        if self.circuit_open:
            self.open_until_ms = max(self.open_until_ms, until_ms)
        else:
            self.circuit_open = True
            self.open_until_ms = until_ms

    # Events from other replicas (shared state): no call is counted.

    def open_until(self, until_ms: int) -> None:
        assert until_ms > 0
        self._open(until_ms)

    def close(self) -> None:
        self.failures_consecutive = 0
        self.circuit_open = False
        self.open_until_ms = 0
        self.probe_in_flight = False
        self.probe_started_ms = 0

    def release_probe(self) -> None:
        self.probe_in_flight = False
        self.probe_started_ms = 0

    def record_success(
        self,
        now_ms: int,
        latency_ms: int,
        tokens_input: int = 0,
        tokens_output: int = 0,
        cost_usd: float = 0.0,
    ) -> None:
        del now_ms  # A success closes at any time; kept for the same shape as Board.
        self.calls_total += 1
        self.calls_successful += 1
        self.latency_ms_sum = _add_u64(self.latency_ms_sum, latency_ms)
        latency = float(latency_ms)
        if self.calls_successful == 1:
            self.latency_ms_ewma = latency
        else:
            alpha = self.ewma_alpha
            self.latency_ms_ewma = alpha * latency + (1.0 - alpha) * self.latency_ms_ewma
        self.latency_histogram[_bucket_index(latency_ms)] += 1
        self.tokens_input = _add_u64(self.tokens_input, tokens_input)
        self.tokens_output = _add_u64(self.tokens_output, tokens_output)
        self.cost_usd += cost_usd
        self.failures_consecutive = 0
        self.circuit_open = False
        self.open_until_ms = 0
        self.probe_in_flight = False
        self.probe_started_ms = 0

    def record_failure(
        self, now_ms: int, kind: FailureKind, latency_ms: int = 0, retry_after_ms: int = 0
    ) -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind: {kind!r}")
        del latency_ms  # Failures do not count towards latency statistics.
        half_open = self.state(now_ms) == "half_open"
        self.calls_total += 1
        self.calls_failed += 1
        self.last_failure_kind = kind
        self.probe_in_flight = False
        self.probe_started_ms = 0

        if kind == "client":
            self.calls_client_error += 1
            return
        self.failures_consecutive = min(self.failures_consecutive + 1, U32_MAX)
        at_threshold = half_open or self.failures_consecutive >= self.failure_threshold
        if kind == "transient":
            if at_threshold:
                self._open(_add_u64(now_ms, self.cooldown_ms))
        elif kind == "rate_limited":
            hold_ms = max(retry_after_ms, self.cooldown_ms if at_threshold else 0)
            if hold_ms > 0:
                self._open(_add_u64(now_ms, hold_ms))
        elif kind == "credential":
            self._open(_add_u64(now_ms, max(self.credential_cooldown_ms, retry_after_ms)))
        else:  # quota_exhausted
            self._open(_add_u64(now_ms, max(self.quota_cooldown_ms, retry_after_ms)))

    # Statistics (the fields of health.Snapshot that are not plain counters).

    def healthy(self, now_ms: int) -> bool:
        return self.state(now_ms) == "closed"

    def success_rate(self) -> float | None:
        if self.calls_total == 0:
            return None  # no rate to show before the first call, not 100 %
        calls_answerable = self.calls_successful + (self.calls_failed - self.calls_client_error)
        if calls_answerable == 0:
            return 1.0
        return float(self.calls_successful) / float(calls_answerable)

    def latency_ms_average(self) -> float:
        if self.calls_successful == 0:
            return 0.0
        return float(self.latency_ms_sum) / float(self.calls_successful)

    def latency_ms_percentile(self, quantile: float) -> float:
        """Linear interpolation inside the bucket; the unbounded bucket gives its lower bound."""
        if not (0.0 < quantile <= 1.0):
            raise ValueError("quantile must be in (0, 1]")
        samples_total = sum(self.latency_histogram)
        if samples_total == 0:
            return 0.0
        rank = quantile * float(samples_total)
        samples_below = 0
        for bucket, samples_bucket in enumerate(self.latency_histogram):
            samples_through = samples_below + samples_bucket
            if float(samples_through) >= rank:
                lower_ms = 0.0 if bucket == 0 else float(LATENCY_BUCKET_UPPER_MS[bucket - 1])
                if bucket == len(LATENCY_BUCKET_UPPER_MS) - 1:
                    return lower_ms
                upper_ms = float(LATENCY_BUCKET_UPPER_MS[bucket])
                fraction = (rank - float(samples_below)) / float(samples_bucket)
                return lower_ms + (upper_ms - lower_ms) * fraction
            samples_below = samples_through
        raise AssertionError("unreachable: the last bucket reaches every rank")


def _bucket_index(latency_ms: int) -> int:
    for bucket, upper_ms in enumerate(LATENCY_BUCKET_UPPER_MS):
        if latency_ms <= upper_ms:
            return bucket
    raise ValueError(f"latency_ms out of u32 range: {latency_ms}")

"""The gateway's Prometheus metrics, through ``prometheus_client``.

Counters and histograms are updated once per request, after the answer is known; the breaker
state, the shared state's mode and counts, and the response cache's counts are read from the node
only when Prometheus scrapes, so they cost the hot path nothing.
With several workers (``--workers N``), prometheus_client's multiprocess mode adds up the
counters and histograms of every worker at each scrape (``serve`` sets it up); the gauges read
at scrape time (breakers, shared state, cache, memory) are then those of the worker scraped.
No label ever holds a key or a prompt:
labels are provider names, outcomes, error class names and directions.

``METRIC_NAMES`` lists every series name exported, for the Grafana dashboard's test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .._node import TrinityHybridNode

__all__ = ["METRIC_NAMES", "GatewayMetrics"]

# The `_created` timestamp series double the exposition and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds. The gateway's own share of a request is sub-millisecond; a provider's answer takes
# from tens of milliseconds to minutes.
OVERHEAD_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
# The shared state's modes (``_shared.SharedState.status``), and "local" when no Redis is configured.
SHARED_STATE_MODES = ("local", "connecting", "shared", "degraded")

METRIC_NAMES = (
    "trinity_gateway_requests_total",
    "trinity_gateway_request_duration_seconds",
    "trinity_gateway_overhead_seconds",
    "trinity_provider_attempts_total",
    "trinity_provider_latency_seconds",
    "trinity_fallbacks_total",
    "trinity_tokens_total",
    "trinity_cost_usd_total",
    "trinity_breaker_state",
    "trinity_provider_available",
    "trinity_shared_state_mode",
    "trinity_shared_state_connected",
    "trinity_shared_state_outages_total",
    "trinity_shared_state_resyncs_total",
    "trinity_shared_state_redis_errors_total",
    "trinity_shared_state_events_total",
    "trinity_cache_lookups_total",
    "trinity_cache_stores_total",
    "trinity_cache_evictions_total",
    "trinity_cache_entries",
    "process_resident_memory_bytes",
)


class _BreakerCollector(Collector):
    """Each provider's breaker state (0 closed, 1 half-open, 2 open), read at scrape time."""

    def __init__(self, node: TrinityHybridNode) -> None:
        self._node = node

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = GaugeMetricFamily(
            "trinity_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", labels=["provider"]
        )
        available = GaugeMetricFamily(
            "trinity_provider_available", "1 when the provider is configured and enabled.", labels=["provider"]
        )
        for provider in self._node.provider_names:
            stats = self._node.stats(provider)
            available.add_metric([provider], 1.0 if stats.available else 0.0)
            if stats.available:
                state.add_metric([provider], float(BREAKER_STATES[stats.state]))
        yield state
        yield available


class _ScalingCollector(Collector):
    """Shared state (Redis) and the response cache, read at scrape time from the node's own
    status sections. Without Redis the mode is ``local``; the other families are then empty."""

    def __init__(self, node: TrinityHybridNode) -> None:
        self._node = node

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        shared = self._node.shared_state()
        mode = GaugeMetricFamily(
            "trinity_shared_state_mode",
            "1 for the current mode: local (no Redis), connecting, shared, degraded (Redis unreachable).",
            labels=["mode"],
        )
        current = "local" if shared is None else shared["mode"]
        for name in SHARED_STATE_MODES:
            mode.add_metric([name], 1.0 if name == current else 0.0)
        connected = GaugeMetricFamily(
            "trinity_shared_state_connected", "1 while this replica is connected to Redis, 0 while it is not."
        )
        outages = CounterMetricFamily("trinity_shared_state_outages", "Times the connection to Redis was lost.")
        resyncs = CounterMetricFamily(
            "trinity_shared_state_resyncs", "Resynchronisations with Redis after (re)connecting."
        )
        errors = CounterMetricFamily("trinity_shared_state_redis_errors", "Redis operations that failed.")
        events = CounterMetricFamily(
            "trinity_shared_state_events",
            "Breaker events published to, received from and applied from the other replicas.",
            labels=["direction"],
        )
        if shared is not None:
            connected.add_metric([], 1.0 if shared["connected"] else 0.0)
            outages.add_metric([], shared["outages"])
            resyncs.add_metric([], shared["resyncs"])
            errors.add_metric([], shared["redis_errors"])
            for direction in ("published", "received", "applied"):
                events.add_metric([direction], shared[f"events_{direction}"])
        yield from (mode, connected, outages, resyncs, errors, events)
        yield from self._cache_families()

    def _cache_families(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        lookups = CounterMetricFamily(
            "trinity_cache_lookups", "Response cache lookups: hit or miss.", labels=["result"]
        )
        stores = CounterMetricFamily("trinity_cache_stores", "Answers stored in the response cache.")
        evictions = CounterMetricFamily(
            "trinity_cache_evictions", "Entries evicted from the in-process cache to stay in its bounds."
        )
        entries = GaugeMetricFamily("trinity_cache_entries", "Entries in this process's cache.")
        cache = self._node.cache
        if cache is not None:
            counts = cache.status()
            lookups.add_metric(["hit"], counts["hits"])
            lookups.add_metric(["miss"], counts["misses"])
            stores.add_metric([], counts["stores"])
            evictions.add_metric([], counts["evictions"])
            entries.add_metric([], counts["entries"])
        yield from (lookups, stores, evictions, entries)


class GatewayMetrics:
    """One registry per gateway, so that several gateways in one process (tests) stay apart."""

    def __init__(self, node: TrinityHybridNode) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Label sets are few (providers x outcomes x error classes), so the cache stays small.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        registry = self.registry
        self.requests = Counter(
            "trinity_gateway_requests",
            "Requests answered, by endpoint, the provider that answered (none if none did) and outcome.",
            ["endpoint", "provider", "outcome"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "trinity_gateway_request_duration_seconds",
            "Time from the request's arrival to its answer (to the first byte for a stream).",
            ["endpoint"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.overhead = Histogram(
            "trinity_gateway_overhead_seconds",
            "The gateway's own time per request: total minus the time spent in provider calls.",
            buckets=OVERHEAD_BUCKETS_S,
            registry=registry,
        )
        self.attempts = Counter(
            "trinity_provider_attempts",
            "Provider calls: success, failure or skipped (breaker open), with the error class.",
            ["provider", "outcome", "error_type"],
            registry=registry,
        )
        self.provider_latency = Histogram(
            "trinity_provider_latency_seconds",
            "Duration of each provider call, successful or not.",
            ["provider"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.fallbacks = Counter(
            "trinity_fallbacks",
            "Times a provider failed or was skipped and the next one of the chain was tried.",
            ["from_provider"],
            registry=registry,
        )
        self.tokens = Counter(
            "trinity_tokens",
            "Tokens by provider and direction (input, output).",
            ["provider", "direction"],
            registry=registry,
        )
        self.cost = Counter(
            "trinity_cost_usd", "Cost in USD at the catalogue's prices.", ["provider"], registry=registry
        )
        # What a scrape shows: this registry, or with several workers every worker's files.
        self._exposed = registry
        if multiprocess_mode():
            from prometheus_client.multiprocess import MultiProcessCollector

            self._exposed = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self._exposed)  # type: ignore[no-untyped-call]
        self._exposed.register(_BreakerCollector(node))
        self._exposed.register(_ScalingCollector(node))
        ProcessCollector(registry=self._exposed)

    def record_request(self, endpoint: str, provider: str | None, outcome: str, duration_s: float) -> None:
        self._child(self.requests, endpoint, provider or "none", outcome).inc()
        self._child(self.request_duration, endpoint).observe(duration_s)

    def record_attempts(self, attempts: Iterable[Any]) -> None:
        """Every attempt of one request; each one not last fell through to the next."""
        attempts = tuple(attempts)
        for position, attempt in enumerate(attempts):
            self._child(self.attempts, attempt.provider, attempt.outcome, attempt.error_type or "").inc()
            if attempt.outcome != "skipped":
                self._child(self.provider_latency, attempt.provider).observe(attempt.latency_s)
            if attempt.outcome != "success" and position + 1 < len(attempts):
                self._child(self.fallbacks, attempt.provider).inc()

    def record_interrupted_attempt(self, provider: str, error_type: str) -> None:
        """A stream's attempt that failed after its first token (the request ends there)."""
        self._child(self.attempts, provider, "failure", error_type).inc()

    def record_usage(self, provider: str, tokens_input: int, tokens_output: int, cost_usd: float) -> None:
        self._child(self.tokens, provider, "input").inc(tokens_input)
        self._child(self.tokens, provider, "output").inc(tokens_output)
        self._child(self.cost, provider).inc(cost_usd)

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per label set: ``labels`` itself checks and
        locks on every call, which showed in the gateway's profile."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def exposition(self) -> bytes:
        return generate_latest(self._exposed)


def multiprocess_mode() -> bool:
    """Whether prometheus_client keeps its values in the multiprocess files: decided when it was
    first imported, by ``PROMETHEUS_MULTIPROC_DIR`` in the environment then."""
    return values.ValueClass is not values.MutexValue

"""The gateway's Prometheus metrics, through ``prometheus_client``.

Counters and histograms are updated once per request, after the answer is known: as plain
numbers exported at scrape time (``_Tally``), or through prometheus_client's metric objects when
several workers share files. The breaker state, the shared state's mode and counts, and the
response cache's counts are read from the node only when Prometheus scrapes, so they cost the hot
path nothing. With several workers (``--workers N``), prometheus_client's multiprocess mode adds up the
counters and histograms of every worker at each scrape (``serve`` sets it up); the gauges read
at scrape time (breakers, shared state, cache, memory) are then those of the worker scraped.
No label ever holds a key or a prompt:
labels are provider names, outcomes, error class names and directions. A provider with several
keys (``_keyring``) has series per key, labelled by the key's position in its declared order
(``key="1"`` is the first, as in the configuration's error messages): not even a masked key,
whose first characters would still be key material.

``METRIC_NAMES`` lists every series name exported, for the Grafana dashboard's test;
``PROVIDER_KEY_METRIC_NAMES`` the per-key ones.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from .._node import TrinityHybridNode

__all__ = ["METRIC_NAMES", "PROVIDER_KEY_METRIC_NAMES", "GatewayMetrics"]

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
PROVIDER_KEY_METRIC_NAMES = (
    "trinity_provider_key_breaker_state",
    "trinity_provider_key_calls_total",
    "trinity_provider_key_tokens_total",
    "trinity_provider_key_cost_usd_total",
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


class _KeyCollector(Collector):
    """Each key of a several-key provider: its breaker state, calls by outcome, tokens and cost,
    read at scrape time from the node's status (``providers.<name>.keys``, one native board per
    key). Labels: the provider and the key's position from 1, never the key nor its mask."""

    def __init__(self, node: TrinityHybridNode) -> None:
        self._node = node

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["provider", "key"]
        state = GaugeMetricFamily(
            "trinity_provider_key_breaker_state",
            "Each key's circuit breaker: 0 closed, 1 half-open, 2 open (key: its position, from 1).",
            labels=labels,
        )
        calls = CounterMetricFamily(
            "trinity_provider_key_calls", "Calls through each key, by outcome (success, failure).",
            labels=[*labels, "outcome"],
        )  # fmt: skip
        tokens = CounterMetricFamily(
            "trinity_provider_key_tokens", "Tokens through each key by direction (input, output).",
            labels=[*labels, "direction"],
        )  # fmt: skip
        cost = CounterMetricFamily(
            "trinity_provider_key_cost_usd", "Cost through each key in USD at its model's price.", labels=labels
        )
        for provider, entry in self._node.status()["providers"].items():
            for position, key in enumerate(entry.get("keys") or (), start=1):
                series = [provider, str(position)]
                state.add_metric(series, float(BREAKER_STATES[key["state"]]))
                calls.add_metric([*series, "success"], key["successful_calls"])
                calls.add_metric([*series, "failure"], key["failed_calls"])
                tokens.add_metric([*series, "input"], key["tokens_input"])
                tokens.add_metric([*series, "output"], key["tokens_output"])
                cost.add_metric(series, key["cost_usd"])
        yield from (state, calls, tokens, cost)


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


@dataclass(frozen=True, eq=False)  # hashed by identity: it keys a dictionary on every update
class _Spec:
    """One counter or histogram the gateway updates per request."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] | None = None  # a histogram's upper bounds; None for a counter


REQUESTS = _Spec(
    "trinity_gateway_requests",
    "Requests answered, by endpoint, the provider that answered (none if none did) and outcome.",
    ("endpoint", "provider", "outcome"),
)
REQUEST_DURATION = _Spec(
    "trinity_gateway_request_duration_seconds",
    "Time from the request's arrival to its answer (to the first byte for a stream).",
    ("endpoint",),
    LATENCY_BUCKETS_S,
)
OVERHEAD = _Spec(
    "trinity_gateway_overhead_seconds",
    "The gateway's own time per request: total minus the time spent in provider calls.",
    (),
    OVERHEAD_BUCKETS_S,
)
ATTEMPTS = _Spec(
    "trinity_provider_attempts",
    "Provider calls: success, failure or skipped (breaker open), with the error class.",
    ("provider", "outcome", "error_type"),
)
PROVIDER_LATENCY = _Spec(
    "trinity_provider_latency_seconds",
    "Duration of each provider call, successful or not.",
    ("provider",),
    LATENCY_BUCKETS_S,
)
FALLBACKS = _Spec(
    "trinity_fallbacks",
    "Times a provider failed or was skipped and the next one of the chain was tried.",
    ("from_provider",),
)
TOKENS = _Spec("trinity_tokens", "Tokens by provider and direction (input, output).", ("provider", "direction"))
COST = _Spec("trinity_cost_usd", "Cost in USD at the catalogue's prices.", ("provider",))
SPECS = (REQUESTS, REQUEST_DURATION, OVERHEAD, ATTEMPTS, PROVIDER_LATENCY, FALLBACKS, TOKENS, COST)


class _Tally(Collector):
    """The per-request series as plain numbers, exported at scrape time under the names, help,
    labels and buckets prometheus_client's own metrics would give them (a test compares the two).
    Measured here, a prometheus_client update (a lock and two checks) cost about 2 µs, eight per
    request, a tenth of the gateway's own CPU per request; a dictionary update, 0.2 µs. The
    gateway runs in one event loop thread, so no lock is needed. One process only: with several
    workers the metrics go through prometheus_client's files instead (``_PrometheusSeries``)."""

    def __init__(self) -> None:
        self._counters: dict[_Spec, dict[tuple[str, ...], float]] = {}
        self._histograms: dict[_Spec, dict[tuple[str, ...], list[Any]]] = {}
        self._bounds: dict[_Spec, tuple[float, ...]] = {}
        for spec in SPECS:
            if spec.buckets is None:
                self._counters[spec] = {}
            else:
                self._histograms[spec] = {}
                self._bounds[spec] = (*spec.buckets, math.inf)
                if not spec.labels:
                    self.observe(spec, (), None)  # a series without labels is shown from the start

    def inc(self, spec: _Spec, labels: tuple[str, ...], amount: float = 1.0) -> None:
        series = self._counters[spec]
        series[labels] = series.get(labels, 0.0) + amount

    def observe(self, spec: _Spec, labels: tuple[str, ...], value: float | None) -> None:
        series = self._histograms[spec]
        entry = series.get(labels)
        if entry is None:
            entry = series[labels] = [[0] * len(self._bounds[spec]), 0.0]
        if value is not None:
            # The first bucket whose upper bound is at least the value, as prometheus_client counts.
            entry[0][bisect_left(self._bounds[spec], value)] += 1
            entry[1] += value

    def collect(self) -> Iterable[CounterMetricFamily | HistogramMetricFamily]:
        for spec, counts in self._counters.items():
            family = CounterMetricFamily(spec.name, spec.documentation, labels=spec.labels)
            for labels, total in counts.items():
                family.add_metric(labels, total)
            yield family
        for spec, observed in self._histograms.items():
            histogram = HistogramMetricFamily(spec.name, spec.documentation, labels=spec.labels)
            # prometheus_client leaves floatToGoString unannotated (it takes a float, returns a str).
            bounds = [floatToGoString(bound) for bound in self._bounds[spec]]  # type: ignore[no-untyped-call]
            for labels, (buckets, total) in observed.items():
                histogram.add_metric(labels, list(zip(bounds, accumulate(buckets))), total)
            yield histogram


class _PrometheusSeries:
    """The same updates through prometheus_client's metric objects: what its multiprocess mode
    reads from every worker's files."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._metrics: dict[_Spec, Any] = {}
        for spec in SPECS:
            if spec.buckets is None:
                self._metrics[spec] = Counter(spec.name, spec.documentation, spec.labels, registry=registry)
            else:
                self._metrics[spec] = Histogram(
                    spec.name, spec.documentation, spec.labels, buckets=spec.buckets, registry=registry
                )
        # Label sets are few (providers x outcomes x error classes), so the cache stays small.
        self._children: dict[tuple[_Spec, tuple[str, ...]], Any] = {}

    def inc(self, spec: _Spec, labels: tuple[str, ...], amount: float = 1.0) -> None:
        self._child(spec, labels).inc(amount)

    def observe(self, spec: _Spec, labels: tuple[str, ...], value: float) -> None:
        self._child(spec, labels).observe(value)

    def _child(self, spec: _Spec, labels: tuple[str, ...]) -> Any:
        """``metric.labels(*labels)``, looked up once per label set: ``labels`` itself checks and
        locks on every call."""
        child = self._children.get((spec, labels))
        if child is None:
            metric = self._metrics[spec]
            child = self._children[(spec, labels)] = metric.labels(*labels) if labels else metric
        return child


class GatewayMetrics:
    """One registry per gateway, so that several gateways in one process (tests) stay apart.
    ``files`` (default: prometheus_client's multiprocess mode is on) chooses prometheus_client's
    metric objects over the in-process tally."""

    def __init__(self, node: TrinityHybridNode, *, files: bool | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if files is None:
            files = multiprocess_mode()
        series: _Tally | _PrometheusSeries
        if files:
            series = _PrometheusSeries(self.registry)
        else:
            series = _Tally()
            self.registry.register(series)
        self._inc = series.inc
        self._observe = series.observe
        # What a scrape shows: this registry, or with several workers every worker's files.
        self._exposed = self.registry
        if multiprocess_mode():
            from prometheus_client.multiprocess import MultiProcessCollector

            self._exposed = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self._exposed)  # type: ignore[no-untyped-call]
        self._exposed.register(_BreakerCollector(node))
        self._exposed.register(_KeyCollector(node))
        self._exposed.register(_ScalingCollector(node))
        ProcessCollector(registry=self._exposed)

    def add_collector(self, collector: Collector) -> None:
        """A collector read at scrape time (the request log's counts)."""
        self._exposed.register(collector)

    def record_request(self, endpoint: str, provider: str | None, outcome: str, duration_s: float) -> None:
        self._inc(REQUESTS, (endpoint, provider or "none", outcome))
        self._observe(REQUEST_DURATION, (endpoint,), duration_s)

    def record_overhead(self, overhead_s: float) -> None:
        self._observe(OVERHEAD, (), overhead_s)

    def record_attempts(self, attempts: Iterable[Any]) -> None:
        """Every attempt of one request; each one not last fell through to the next."""
        attempts = tuple(attempts)
        for position, attempt in enumerate(attempts):
            self._inc(ATTEMPTS, (attempt.provider, attempt.outcome, attempt.error_type or ""))
            if attempt.outcome != "skipped":
                self._observe(PROVIDER_LATENCY, (attempt.provider,), attempt.latency_s)
            if attempt.outcome != "success" and position + 1 < len(attempts):
                self._inc(FALLBACKS, (attempt.provider,))

    def record_usage(self, provider: str, tokens_input: int, tokens_output: int, cost_usd: float) -> None:
        self._inc(TOKENS, (provider, "input"), tokens_input)
        self._inc(TOKENS, (provider, "output"), tokens_output)
        self._inc(COST, (provider,), cost_usd)

    def exposition(self) -> bytes:
        return generate_latest(self._exposed)


def multiprocess_mode() -> bool:
    """Whether prometheus_client keeps its values in the multiprocess files: decided when it was
    first imported, by ``PROMETHEUS_MULTIPROC_DIR`` in the environment then."""
    return values.ValueClass is not values.MutexValue

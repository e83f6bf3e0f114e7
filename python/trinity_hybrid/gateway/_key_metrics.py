"""Virtual keys' Prometheus series, read at scrape time: admissions by outcome and the Redis
link's state from ``VirtualKeys.status()`` (no I/O), and each key's spend and counters from the
last ``VirtualKeys.usage()`` (the app refreshes it before a scrape: ``await keys.usage()``).

Labels are key names (checked to ``[A-Za-z0-9._-]{1,64}``), windows and outcomes: never a
secret nor a digest. ``VIRTUAL_KEY_METRIC_NAMES`` lists the series, for the dashboard's test.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ._virtual_keys import VirtualKeys

__all__ = ["VIRTUAL_KEY_METRIC_NAMES", "VirtualKeysCollector"]

OUTCOMES = ("admitted", "unknown", "model", "rpm", "tpm", "budget_day", "budget_month", "unavailable")
MODES = ("local", "shared", "degraded")
VIRTUAL_KEY_METRIC_NAMES = (
    "trinity_virtual_key_admissions_total",
    "trinity_virtual_key_degraded_admissions_total",
    "trinity_virtual_keys_mode",
    "trinity_virtual_keys_redis_errors_total",
    "trinity_virtual_keys_settles_pending",
    "trinity_virtual_key_spend_usd",
    "trinity_virtual_key_reserved_usd",
    "trinity_virtual_key_budget_usd",
    "trinity_virtual_key_requests_minute",
    "trinity_virtual_key_tokens_minute",
)


class VirtualKeysCollector(Collector):
    """``registry.register(VirtualKeysCollector(keys))``."""

    def __init__(self, keys: VirtualKeys) -> None:
        self._keys = keys

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        status = self._keys.status()
        admissions = CounterMetricFamily(
            "trinity_virtual_key_admissions",
            "Admissions by outcome: admitted or the rule that refused.",
            labels=["outcome"],
        )
        for outcome in OUTCOMES:
            admissions.add_metric([outcome], status["admitted" if outcome == "admitted" else f"refused_{outcome}"])
        degraded = CounterMetricFamily(
            "trinity_virtual_key_degraded_admissions", "Admissions decided locally while Redis was unreachable."
        )
        degraded.add_metric([], status["degraded_admits"])
        mode = GaugeMetricFamily(
            "trinity_virtual_keys_mode", "1 for the current mode: local (no Redis), shared, degraded.", labels=["mode"]
        )
        for name in MODES:
            mode.add_metric([name], 1.0 if name == status["mode"] else 0.0)
        errors = CounterMetricFamily("trinity_virtual_keys_redis_errors", "Virtual keys' Redis operations that failed.")
        errors.add_metric([], status["redis_errors"])
        pending = GaugeMetricFamily(
            "trinity_virtual_keys_settles_pending", "Settles waiting for Redis to come back, to be replayed."
        )
        pending.add_metric([], status["settles_pending"])
        yield from (admissions, degraded, mode, errors, pending)
        yield from self._usage_families()

    def _usage_families(self) -> Iterable[GaugeMetricFamily]:
        spend = GaugeMetricFamily(
            "trinity_virtual_key_spend_usd", "Settled spend in the current UTC day or month.", labels=["key", "window"]
        )
        reserved = GaugeMetricFamily(
            "trinity_virtual_key_reserved_usd",
            "Reserved by requests in flight, not yet settled.",
            labels=["key", "window"],
        )
        budget = GaugeMetricFamily("trinity_virtual_key_budget_usd", "The key's budget.", labels=["key", "window"])
        requests = GaugeMetricFamily(
            "trinity_virtual_key_requests_minute", "Requests admitted in the current UTC minute.", labels=["key"]
        )
        tokens = GaugeMetricFamily(
            "trinity_virtual_key_tokens_minute",
            "Tokens in the current UTC minute: used or reserved.",
            labels=["key", "state"],
        )
        usage = self._keys.last_usage
        for line in usage["keys"] if usage is not None else ():
            name = line["name"]
            for window in ("day", "month"):
                spend.add_metric([name, window], line[f"spend_{window}_usd"])
                reserved.add_metric([name, window], line[f"reserved_{window}_usd"])
                if line[f"budget_{window}_usd"] is not None:
                    budget.add_metric([name, window], line[f"budget_{window}_usd"])
            requests.add_metric([name], line["requests_minute"])
            tokens.add_metric([name, "used"], line["tokens_used_minute"])
            tokens.add_metric([name, "reserved"], line["tokens_reserved_minute"])
        yield from (spend, reserved, budget, requests, tokens)

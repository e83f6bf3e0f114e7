"""The native board: the core's per-provider table, behind the C ABI.

One ``Board`` owns one native node handle: the provider catalogue (model, window, prices), who
is available, each provider's circuit breaker and stats, and the status document. Routing reads
the same handle (``_route.Router``). This module only converts between Python values and the C
ABI; nothing here knows about HTTP, the planner or the node façade.

With shared state (``_shared``), the board tells the other replicas what they must know: a
breaker that opened or closed, a half-open probe to claim, counters. ``Replicas`` is that small
interface; the board never imports the Redis module.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import _native
from ._exceptions import ConfigurationError, InvalidInputError

__all__ = ["Board", "ProviderStats", "Replicas", "format_status", "now_ms"]

U64_MAX = 2**64 - 1
ADMISSIONS = ("allowed", "allowed_probe", "denied_open", "denied_probe_in_flight")
STATES = ("closed", "open", "half_open")
FAILURE_KINDS = ("transient", "rate_limited", "credential", "client", "quota_exhausted")
_INFO_FIELDS = frozenset({
    "context_window_tokens", "quality_tier", "speed_tokens_per_s", "price_input_usd_per_mtok",
    "price_output_usd_per_mtok", "strengths", "priority",
})  # fmt: skip
STATUS_BUFFER_BYTES = 8192
logger = logging.getLogger("trinity_hybrid")
STATUS_BUFFER_TOO_SMALL = 4


@dataclass(frozen=True, slots=True)
class ProviderStats:
    """One provider's breaker state and counters, as the native core keeps them.
    ``success_rate`` is None before the first call (no rate to show, not 100 %)."""

    provider: str
    state: str
    available: bool
    healthy: bool
    calls_total: int
    calls_successful: int
    calls_failed: int
    calls_client_error: int
    failures_consecutive: int
    success_rate: float | None
    latency_ms_average: float
    latency_ms_ewma: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    tokens_input: int
    tokens_output: int
    cost_usd: float
    open_until_ms: int
    last_failure_kind: str | None


class Replicas(Protocol):
    """What the other replicas must hear of this one's outcomes (``_shared.SharedState``)."""

    def on_opened(self, provider: str, open_until_ms: int) -> None: ...
    def on_closed(self, provider: str) -> None: ...
    def on_outcome(self, provider: str, deltas: dict[str, int]) -> None: ...
    def acquire_probe(self, provider: str, lease_ms: int) -> bool | None: ...
    def release_probe(self, provider: str) -> None: ...


def now_ms() -> int:
    """The monotonic clock the breaker runs on, in whole milliseconds."""
    return int(_native.load()[1].th_monotonic_ms())


def non_negative(value: object, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{argument} must be an int, not {type(value).__name__}")
    if not 0 <= value <= U64_MAX:
        raise InvalidInputError(f"{argument} must be between 0 and 2**64-1, got {value}")
    return value


class Board:
    """The native provider table. Thread-safe: the core serialises access to its node."""

    def __init__(self) -> None:
        ffi, lib = _native.load()
        self.ffi = ffi
        self.lib = lib
        handle = ffi.new("th_node **")
        _native.check(lib.th_node_create(handle), "th_node_create")
        self.handle = ffi.gc(handle[0], lib.th_node_destroy)
        # ``now_ms``'s clock, bound once: admit and record_success read it on every call.
        self._clock_ms = lib.th_monotonic_ms
        self.provider_names: tuple[str, ...] = _native.names("th_provider_name")
        self.strategy_names: tuple[str, ...] = _native.names("th_strategy_name")
        self.reason_names: tuple[str, ...] = _native.names("th_reason_name")
        self._provider_index = {name: index for index, name in enumerate(self.provider_names)}
        self._strategy_index = {name: index for index, name in enumerate(self.strategy_names)}
        # Set by ``_shared.SharedState`` while this replica shares its state.
        self.replicas: Replicas | None = None
        # Providers whose model has no listed price (``set_model``).
        self.prices_unknown: set[str] = set()

    def _now(self, value: int | None) -> int:
        """``value`` checked, or the breaker's clock now (``now_ms``)."""
        return self._clock_ms() if value is None else non_negative(value, "now_ms")

    # ------------------------------------------------------------------------------------------
    # Names.

    def index(self, name: object, argument: str = "provider") -> int:
        if not isinstance(name, str):
            raise InvalidInputError(f"{argument} must be a provider name, not {type(name).__name__}")
        index = self._provider_index.get(name)
        if index is None:
            raise InvalidInputError(f"unknown {argument} {name!r}; expected one of {', '.join(self.provider_names)}")
        return index

    def strategy_index(self, name: object) -> int:
        if name is None:
            return int(self.lib.TH_STRATEGY_NODE_DEFAULT)
        if not isinstance(name, str) or name not in self._strategy_index:
            raise InvalidInputError(f"unknown strategy {name!r}; expected one of {', '.join(self.strategy_names)}")
        return self._strategy_index[name]

    def variables(self, provider: str) -> tuple[tuple[str, ...], str, str]:
        """(key variables, base URL variable, model variable) of ``provider``, from the core."""
        index, ffi, lib = self.index(provider), self.ffi, self.lib
        keys: list[str] = []
        for position in range(4):
            pointer = lib.th_provider_key_variable(index, position)
            if pointer == ffi.NULL:
                break
            keys.append(ffi.string(pointer).decode("ascii"))
        base_url = ffi.string(lib.th_provider_base_url_variable(index)).decode("ascii")
        model = ffi.string(lib.th_provider_model_variable(index)).decode("ascii")
        return tuple(keys), base_url, model

    # ------------------------------------------------------------------------------------------
    # Configuration.

    def set_available(self, provider: str, key: str | None) -> None:
        """Makes ``provider`` usable (``key`` is seen by the core only to build its mask), or
        unusable with ``key=None``."""
        index = self.index(provider)
        if key is None:
            status = self.lib.th_node_set_available(self.handle, index, 0, self.ffi.NULL, 0)
        else:
            data = key.encode("utf-8", "surrogatepass")
            status = self.lib.th_node_set_available(self.handle, index, 1, data, len(data))
        _native.check(status, "set_available")

    def set_default_provider(self, provider: str | None) -> None:
        index = -1 if provider is None else self.index(provider)
        _native.check(self.lib.th_node_set_preferred_provider(self.handle, index), "set_default_provider")

    def set_strategy(self, strategy: str) -> None:
        _native.check(self.lib.th_node_set_strategy_default(self.handle, self.strategy_index(strategy)), "set_strategy")

    def set_seed(self, seed: int) -> None:
        _native.check(self.lib.th_node_set_seed(self.handle, seed & U64_MAX), "set_seed")

    def set_long_context_threshold(self, tokens: int) -> None:
        if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 < tokens <= U64_MAX:
            raise ConfigurationError(f"long_context_threshold_tokens must be a positive integer, got {tokens!r}")
        _native.check(self.lib.th_node_set_long_context_threshold(self.handle, tokens), "set_long_context_threshold")

    def breaker_config(self) -> Any:
        config = self.ffi.new("th_breaker_config *")
        _native.check(self.lib.th_node_get_breaker_config(self.handle, config), "get_breaker_config")
        return config

    def configure_breaker(self, **changes: float | None) -> None:
        """failure_threshold, cooldown_s, credential_cooldown_s, quota_cooldown_s,
        probe_lease_s, ewma_alpha; unspecified ones keep their value."""
        config = self.breaker_config()
        threshold = changes.pop("failure_threshold", None)
        if threshold is not None:
            if not 1 <= threshold <= 0xFFFF_FFFF:
                raise ConfigurationError("failure_threshold must be at least 1")
            config.failure_threshold = threshold
        alpha = changes.pop("ewma_alpha", None)
        if alpha is not None:
            config.ewma_alpha = alpha
        for name, seconds in changes.items():
            if seconds is None:
                continue
            field = f"{name.removesuffix('_s')}_ms"
            if not hasattr(config, field) or not name.endswith("_s"):
                raise ConfigurationError(f"unknown breaker setting {name!r}")
            # Checked as whole milliseconds: float rounding can push a value past the limit.
            # (and the product checked as a float first: a huge one is infinite, which round refuses).
            if not (seconds > 0 and seconds * 1000 <= U64_MAX and round(seconds * 1000) <= U64_MAX):
                raise ConfigurationError(f"{name} must be a positive number of seconds, got {seconds!r}")
            setattr(config, field, max(1, round(seconds * 1000)))
        _native.check(self.lib.th_node_configure_breaker(self.handle, config), "configure_breaker")

    def provider_info(self, provider: str) -> dict[str, Any]:
        info = self._info(self.index(provider))
        return {
            "model": self.ffi.string(info.model).decode("utf-8"),
            "context_window_tokens": info.context_window_tokens,
            "quality_tier": info.quality_tier,
            "speed_tokens_per_s": info.speed_tokens_per_s,
            "price_input_usd_per_mtok": info.price_input_usd_per_mtok,
            "price_output_usd_per_mtok": info.price_output_usd_per_mtok,
            "strengths": info.strengths,
            "local": bool(info.local),
            "priority": info.priority,
        }

    def context_window_tokens(self, provider: str) -> int:
        return int(self._info(self.index(provider)).context_window_tokens)

    def model(self, provider: str) -> str:
        return str(self.ffi.string(self._info(self.index(provider)).model).decode("utf-8"))

    def _info(self, index: int) -> Any:
        info = self.ffi.new("th_provider_info *")
        _native.check(self.lib.th_node_get_provider(self.handle, index, info), "get_provider")
        return info

    def set_provider_info(self, provider: str, **changes: Any) -> None:
        """Overrides catalogue fields of ``provider`` (model, context_window_tokens, prices, ...)."""
        index = self.index(provider)
        if "model" in changes:
            self.set_model(provider, changes["model"])
        info = self._info(index)
        for field, value in changes.items():
            if field == "model":
                continue
            if field == "local":
                info.local = bool(value)
            elif field in _INFO_FIELDS:
                try:
                    setattr(info, field, value)
                except (TypeError, OverflowError) as error:
                    raise ConfigurationError(f"{provider}.{field}: {error}") from None
            else:
                raise ConfigurationError(f"unknown provider field {field!r}")
        # The catalogue stores speed as float32: a positive double can round to zero there.
        if "speed_tokens_per_s" in changes and not info.speed_tokens_per_s > 0:
            raise ConfigurationError(
                f"providers.{provider}.speed_tokens_per_s: must be positive, got {changes['speed_tokens_per_s']!r}"
            )
        fields = ", ".join(f"providers.{provider}.{field}" for field in changes)
        _native.check(self.lib.th_node_set_provider(self.handle, index, info), fields)

    def set_model(self, provider: str, model: str, *, variable: str | None = None) -> None:
        """Sets ``provider``'s model and prices it from ``data/prices.json`` (``_prices``): a
        model with no listed price costs 0 and is shown as ``price_known: false``, never billed
        at the previous model's price. Setting the model it already has changes nothing."""
        index = self.index(provider)
        encoded = model.encode("utf-8", "surrogatepass") if isinstance(model, str) else None
        limit = int(self.lib.TH_MODEL_BYTES_MAX) - 1
        if encoded is None or not encoded or len(encoded) > limit or b"\x00" in encoded:
            where = variable or f"{provider} model"
            raise ConfigurationError(f"{where} must be a model name of 1 to {limit} bytes")
        info = self._info(index)
        if self.ffi.string(info.model) == encoded:
            return
        from ._prices import price_of

        price = price_of(provider, model)
        info.model = encoded
        info.price_input_usd_per_mtok = 0.0 if price is None else price.input_usd_per_mtok
        info.price_output_usd_per_mtok = 0.0 if price is None else price.output_usd_per_mtok
        _native.check(self.lib.th_node_set_provider(self.handle, index, info), "set_model")
        if price is None:
            self.prices_unknown.add(provider)
            logger.warning("no price is known for %s model %r: its calls cost 0 here (see data/prices.json)",
                           provider, model)  # fmt: skip
        else:
            self.prices_unknown.discard(provider)

    # ------------------------------------------------------------------------------------------
    # Outcomes.

    def admit(self, provider: str, *, now_ms: int | None = None) -> str:
        """Asks the breaker whether a call may start now: ``allowed``, ``allowed_probe``,
        ``denied_open`` or ``denied_probe_in_flight``. An admitted probe is reserved."""
        out = self.ffi.new("uint32_t *")
        _native.check(self.lib.th_node_admit(self.handle, self.index(provider), self._now(now_ms), out), "admit")
        if out[0] == 1 and self.replicas is not None:
            return self._admit_shared_probe(provider, self.replicas)
        return ADMISSIONS[out[0]]

    def _admit_shared_probe(self, provider: str, replicas: Replicas) -> str:
        won = replicas.acquire_probe(provider, int(self.breaker_config().probe_lease_ms))
        if won is False:
            _native.check(self.lib.th_node_release_probe(self.handle, self.index(provider)), "release_probe")
            return "denied_probe_in_flight"
        # Ours, or Redis did not answer: the local decision stands (no request waits on Redis).
        return "allowed_probe"

    def release_probe(self, provider: str) -> None:
        """Gives back a half-open probe admitted here that will not be sent."""
        _native.check(self.lib.th_node_release_probe(self.handle, self.index(provider)), "release_probe")
        if self.replicas is not None:
            self.replicas.release_probe(provider)

    def record_success(
        self, provider: str, *, latency_ms: int, tokens_input: int = 0, tokens_output: int = 0,
        now_ms: int | None = None, cost_usd: float | None = None,
    ) -> float:  # fmt: skip
        """Records a successful call; returns its cost in USD at the catalogue's prices, or
        ``cost_usd`` when the caller priced it (prompt caching's prices, ``_prices.cost_usd_of``)."""
        moment = self._now(now_ms)
        replicas = self.replicas
        # With shared state, a success that closes an open breaker is news for the other replicas.
        closed_before = replicas is None or self.stats(provider, now_ms=moment).state == "closed"
        latency_ms = min(non_negative(latency_ms, "latency_ms"), 0xFFFF_FFFF)
        tokens_input = non_negative(tokens_input, "tokens_input")
        tokens_output = non_negative(tokens_output, "tokens_output")
        if cost_usd is None:
            cost = self.ffi.new("double *")
            _native.check(
                self.lib.th_node_record_success(self.handle, self.index(provider), moment, latency_ms, tokens_input,
                                                tokens_output, cost),
                "record_success",
            )  # fmt: skip
            cost_usd = float(cost[0])
        else:
            if not (isinstance(cost_usd, (int, float)) and math.isfinite(cost_usd) and cost_usd >= 0):
                raise InvalidInputError(f"cost_usd must be a finite number of at least 0, got {cost_usd!r}")
            _native.check(
                self.lib.th_node_record_success_priced(self.handle, self.index(provider), moment, latency_ms,
                                                       tokens_input, tokens_output, float(cost_usd)),
                "record_success_priced",
            )  # fmt: skip
            cost_usd = float(cost_usd)
        if replicas is not None:
            if not closed_before:
                replicas.on_closed(provider)
            replicas.on_outcome(provider, {
                "calls_total": 1, "calls_successful": 1, "latency_ms_sum": latency_ms,
                "tokens_input": tokens_input, "tokens_output": tokens_output, "cost_nano_usd": round(cost_usd * 1e9),
            })  # fmt: skip
        return cost_usd

    def record_failure(
        self, provider: str, kind: str, *, latency_ms: int = 0, retry_after_ms: int = 0, now_ms: int | None = None
    ) -> None:
        """Records a failed call of ``kind``: transient, rate_limited, credential, client or
        quota_exhausted. A Retry-After holds the breaker open at least that long."""
        if kind not in FAILURE_KINDS:
            raise InvalidInputError(f"unknown failure kind {kind!r}; expected one of {', '.join(FAILURE_KINDS)}")
        moment = self._now(now_ms)
        replicas = self.replicas
        open_until_before_ms = 0 if replicas is None else self.stats(provider, now_ms=moment).open_until_ms
        _native.check(
            self.lib.th_node_record_failure(
                self.handle, self.index(provider), moment, FAILURE_KINDS.index(kind),
                min(non_negative(latency_ms, "latency_ms"), 0xFFFF_FFFF), non_negative(retry_after_ms, "retry_after_ms"),
            ),
            "record_failure",
        )  # fmt: skip
        if replicas is not None:
            open_until_ms = self.stats(provider, now_ms=moment).open_until_ms
            if open_until_ms > open_until_before_ms:
                # Opened, or held longer (a Retry-After): every replica holds it as long.
                replicas.on_opened(provider, open_until_ms)
            replicas.on_outcome(provider, {"calls_total": 1, "calls_failed": 1,
                                           "calls_client_error": 1 if kind == "client" else 0})  # fmt: skip

    def open_until(self, provider: str, until_ms: int) -> None:
        """Another replica opened ``provider``'s breaker until ``until_ms`` (our monotonic clock)."""
        _native.check(self.lib.th_node_open_until(self.handle, self.index(provider), max(1, until_ms)), "open_until")

    def close_breaker(self, provider: str) -> None:
        """Another replica's probe succeeded: close ``provider``'s breaker, counting no call."""
        _native.check(self.lib.th_node_close_breaker(self.handle, self.index(provider)), "close_breaker")

    def reset(self, provider: str) -> None:
        """Closes ``provider``'s breaker and clears its counters."""
        _native.check(self.lib.th_node_reset(self.handle, self.index(provider)), "reset")

    def stats(self, provider: str, *, now_ms: int | None = None) -> ProviderStats:
        out = self.ffi.new("th_provider_stats *")
        _native.check(self.lib.th_node_stats(self.handle, self.index(provider), self._now(now_ms), out), "stats")
        return ProviderStats(
            provider=provider,
            state=STATES[out.state],
            available=bool(out.available),
            healthy=bool(out.healthy),
            calls_total=out.calls_total,
            calls_successful=out.calls_successful,
            calls_failed=out.calls_failed,
            calls_client_error=out.calls_client_error,
            failures_consecutive=out.failures_consecutive,
            success_rate=out.success_rate if out.calls_total else None,
            latency_ms_average=out.latency_ms_average,
            latency_ms_ewma=out.latency_ms_ewma,
            latency_ms_p50=out.latency_ms_p50,
            latency_ms_p95=out.latency_ms_p95,
            latency_ms_p99=out.latency_ms_p99,
            tokens_input=out.tokens_input,
            tokens_output=out.tokens_output,
            cost_usd=out.cost_usd,
            open_until_ms=out.open_until_ms,
            last_failure_kind=None if out.last_failure_kind < 0 else FAILURE_KINDS[out.last_failure_kind],
        )

    def hold_s(self, provider: str) -> float:
        """How much longer ``provider``'s breaker holds it open (0 when it admits a call or a
        probe), in seconds on the breaker's clock."""
        moment = now_ms()
        open_until_ms = self.stats(provider, now_ms=moment).open_until_ms
        return max(0, open_until_ms - moment) / 1000 if open_until_ms else 0.0

    def status(self, *, now_ms: int | None = None) -> dict[str, Any]:
        """The core's status document: per-provider counters and breaker state, total calls,
        available providers. Keys appear only masked. A provider with no call yet shows its
        success rate as None."""
        capacity = STATUS_BUFFER_BYTES
        length = self.ffi.new("size_t *")
        moment = self._now(now_ms)
        while True:
            buffer = self.ffi.new("uint8_t[]", capacity)
            status = self.lib.th_node_status_json(self.handle, moment, buffer, capacity, length)
            if status == STATUS_BUFFER_TOO_SMALL:
                capacity = int(length[0])
                continue
            _native.check(status, "status")
            document: dict[str, Any] = json.loads(bytes(self.ffi.buffer(buffer, length[0])))
            for name, entry in document.get("providers", {}).items():
                entry["price_known"] = name not in self.prices_unknown
            return _without_rate_before_calls(document)

    @property
    def available_providers(self) -> tuple[str, ...]:
        return tuple(self.status()["available_providers"])


def _without_rate_before_calls(document: dict[str, Any]) -> dict[str, Any]:
    providers: Mapping[str, Any] = document.get("providers", {})
    for entry in providers.values():
        if entry.get("total_calls") == 0:
            entry["success_rate"] = None
    return document


def format_status(status: Mapping[str, Any]) -> str:
    """The status document as a table; a provider with no call yet shows no success rate."""
    header = f"{'provider':<10} {'state':<9} {'calls':>6} {'ok':>6} {'failed':>6} {'success':>8} {'avg':>8} {'key':<12} model"
    lines = [header, "-" * len(header)]
    for name, entry in status["providers"].items():
        rate = entry["success_rate"] if entry["success_rate"] is not None else "-"
        lines.append(
            f"{name:<10} {entry['state']:<9} {entry['total_calls']:>6} {entry['successful_calls']:>6} "
            f"{entry['failed_calls']:>6} {rate:>8} {entry['avg_latency']:>8} "
            f"{entry['key'] or '-':<12} {entry['model']}"
        )
        for key in entry.get("keys", ()):  # a provider's several keys (``_keyring``), each its own breaker
            rate = key["success_rate"] if key["success_rate"] is not None else "-"
            lines.append(
                f"{'  key':<10} {key['state']:<9} {key['total_calls']:>6} {key['successful_calls']:>6} "
                f"{key['failed_calls']:>6} {rate:>8} {key['avg_latency']:>8} {key['key'] or '-':<12} {key['model']}"
            )
    lines.append(
        f"total calls: {status['total_calls']}; available: {', '.join(status['available_providers']) or 'none'}"
    )
    return "\n".join(lines)

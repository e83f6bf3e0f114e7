"""``TrinityHybridNode``: the Python face of the native router.

Request features and the ordered provider chain come from the native core; outcomes go back to
it. This module only converts between Python values and the C ABI, and reads the environment.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from . import _native
from ._exceptions import ConfigurationError, InvalidInputError
from ._text import Detection, detect_language_bytes, encode_text, estimate_bytes

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

__all__ = ["ProviderStats", "Route", "Secret", "TrinityHybridNode", "mask_key"]

Message = Mapping[str, Any]
Prompt = str | Sequence[Message]

U64_MAX = 2**64 - 1
ADMISSIONS = ("allowed", "allowed_probe", "denied_open", "denied_probe_in_flight")
STATES = ("closed", "open", "half_open")
FAILURE_KINDS = ("transient", "rate_limited", "credential", "client", "quota_exhausted")


def mask_key(key: str) -> str:
    """``key[:8]***``: the only form in which a key is ever shown (shorter keys show less)."""
    ffi, lib = _native.load()
    data = key.encode("utf-8", "surrogatepass")
    out = ffi.new("uint8_t[]", 16)
    length = ffi.new("size_t *")
    _native.check(lib.th_mask_key(data, len(data), out, 16, length), "mask_key")
    return bytes(ffi.buffer(out, length[0])).decode("utf-8", "replace")


class Secret:
    """Holds an API key so that it never shows up in a repr, str, log line or traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask_key(self._value)!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


# th_node_route_packed: the options word's fields and the result word's layout (see the header).
ROUTE_OPTION_FORCE_SHIFT = 32
ROUTE_OPTION_STRATEGY_SHIFT = 40
ROUTE_OPTION_QUALITY = 1 << 48
ROUTE_TOKENS_RESERVED_MAX = (1 << 32) - 1
ROUTE_PACKED_ERROR_LEN = 15
ROUTE_PACKED_PROVIDERS_SHIFT = 16
NOW_MS_CLOCK = (1 << 64) - 1
# Threads for hedged sync attempts, shared by the node's calls: a hedged request runs two or
# three attempts at once, and a loser keeps its thread until its reply comes (it cannot be
# interrupted), so a few more than one request needs.
HEDGE_THREADS = 8
# Distinct route words are few (chains × reasons), so their decoding is cached; the
# bound keeps a long run of the random strategy from growing the cache without limit.
ROUTE_CACHE_ENTRIES_MAX = 4096


class Route:
    """The ordered provider chain for one request, and why. ``detection`` and
    ``tokens_estimated`` are computed on first use: most callers only need the chain.

    Made by ``TrinityHybridNode.route`` only, which sets the slots itself: a class without
    ``__init__`` is created by ``Route()`` for about 900 instructions fewer than a call of an
    ``__init__`` with three arguments (callgrind), a tenth of a route."""

    __slots__ = ("_decoded", "_detection", "_text", "_tokens", "_tokens_reserved")
    # Set by the node: the decoded route word, shared between routes: (providers, reason).
    _decoded: tuple[tuple[str, ...], str]
    _text: bytes
    _tokens_reserved: int

    @property
    def providers(self) -> tuple[str, ...]:
        """Provider names, in the order to try them."""
        return self._decoded[0]

    @property
    def reason(self) -> str:
        """The rule that chose the head of the chain."""
        return self._decoded[1]

    @property
    def language(self) -> str:
        """The prompt's language (ISO 639-1, or ``und``), detected on first use: the chain
        itself needs only the prompt's scripts."""
        return self.detection.language

    @property
    def tokens_estimated(self) -> int:
        """Estimated tokens of the prompt plus the reserved output (``max_tokens``)."""
        try:
            return self._tokens
        except AttributeError:
            self._tokens: int = estimate_bytes(self._text) + self._tokens_reserved
            return self._tokens

    @property
    def detection(self) -> Detection:
        try:
            return self._detection
        except AttributeError:
            self._detection: Detection = detect_language_bytes(self._text)
            return self._detection

    def __repr__(self) -> str:
        return (
            f"Route(providers={self.providers!r}, reason={self.reason!r}, language={self.language!r}, "
            f"tokens_estimated={self.tokens_estimated})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Route):
            return NotImplemented
        return (self._decoded, self._text, self._tokens_reserved) == (other._decoded, other._text, other._tokens_reserved)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ProviderStats:
    """One provider's breaker state and counters, as the native core keeps them."""

    provider: str
    state: str
    available: bool
    healthy: bool
    calls_total: int
    calls_successful: int
    calls_failed: int
    calls_client_error: int
    failures_consecutive: int
    success_rate: float
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


def now_ms() -> int:
    """The monotonic clock the breaker runs on, in whole milliseconds."""
    return int(_native.load()[1].th_monotonic_ms())


def prompt_text(prompt: object) -> str:
    """The text a prompt's language and size are judged on: the string itself, or the contents
    of an OpenAI-style message list joined by newlines."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        parts: list[str] = []
        for position, message in enumerate(prompt):
            if not isinstance(message, Mapping):
                raise InvalidInputError(f"messages[{position}] must be a mapping with role and content")
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                # OpenAI content parts: only text parts count towards language and size.
                parts.extend(part["text"] for part in content if isinstance(part, Mapping) and isinstance(part.get("text"), str))
            elif content is not None:
                raise InvalidInputError(f"messages[{position}].content must be str or a list of parts")
        return "\n".join(parts)
    raise InvalidInputError(f"prompt must be str or a list of messages, not {type(prompt).__name__}")


class TrinityHybridNode:
    """The router. ``TrinityHybridNode.from_env()`` reads keys and overrides from the environment;
    ``route`` gives the ordered provider chain for a prompt; outcomes are recorded back."""

    # Shared state with other replicas (a ``_shared.SharedState``) and the response cache (a
    # ``_cache.ResponseCache``); both off unless configured (see ``enable_shared_state``).
    _shared: Any = None
    _cache: Any = None

    def __init__(self) -> None:
        ffi, lib = _native.load()
        self._ffi = ffi
        self._lib = lib
        handle = ffi.new("th_node **")
        _native.check(lib.th_node_create(handle), "th_node_create")
        self._handle = ffi.gc(handle[0], lib.th_node_destroy)
        self.provider_names: tuple[str, ...] = _native.names("th_provider_name")
        self.strategy_names: tuple[str, ...] = _native.names("th_strategy_name")
        self.reason_names: tuple[str, ...] = _native.names("th_reason_name")
        self._provider_index = {name: index for index, name in enumerate(self.provider_names)}
        self._strategy_index = {name: index for index, name in enumerate(self.strategy_names)}
        self._keys: dict[str, Secret] = {}
        # Decoded route words; dict reads and writes are atomic, so threads may share it.
        self._routes: dict[int, tuple[tuple[str, ...], str]] = {}
        self._route_packed = lib.th_node_route_packed
        self._route_default = lib.th_node_route_default
        self._route_text = lib.th_node_route_text
        # Overrides of the providers' default base URLs (`<PROVIDER>_BASE_URL`).
        self.base_urls: dict[str, str] = {}
        # provider -> (the base URL override it was built with, Endpoint); see ``endpoint``.
        self._endpoints: dict[str, tuple[str | None, Any]] = {}
        self._wire_formats: dict[str, Any] = {}
        self._client_sync: Any = None
        self._client_async: Any = None
        self._hedge_threads: Any = None
        self._local: Any = None
        # Providers the config file turned off, whatever keys the environment holds.
        self.disabled: set[str] = set()
        # Default timeouts of infer (an ``_inference.Timeouts``); None means the built-in ones.
        self.timeouts: Any = None

    # ------------------------------------------------------------------------------------------
    # Configuration.

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrinityHybridNode:
        """A node configured from the environment: every provider whose key variable is set,
        ``<PROVIDER>_MODEL`` and ``<PROVIDER>_BASE_URL`` overrides, ``DEFAULT_LLM_PROVIDER``,
        ``TRINITY_STRATEGY``, and the TOML file named by ``TRINITY_CONFIG`` (which the variables
        override). The local provider needs no key and is available unless the file disables it."""
        source = os.environ if environ is None else environ
        node = cls()
        ffi, lib = node._ffi, node._lib
        config_path = source.get("TRINITY_CONFIG", "").strip()
        document: dict[str, Any] = {}
        if config_path:
            # The file first: environment variables are more specific and override it.
            from ._config import apply_config, load_config

            document = load_config(config_path)
            apply_config(node, document)
        for index, name in enumerate(node.provider_names):
            for position in range(4):
                variable_pointer = lib.th_provider_key_variable(index, position)
                if variable_pointer == ffi.NULL:
                    break
                key = source.get(ffi.string(variable_pointer).decode("ascii"), "").strip()
                if key:
                    node.set_available(name, key)
                    break
            base_url_variable = ffi.string(lib.th_provider_base_url_variable(index)).decode("ascii")
            base_url = source.get(base_url_variable, "").strip()
            if base_url:
                if not base_url.startswith(("http://", "https://")):
                    raise ConfigurationError(f"{base_url_variable} must be an http:// or https:// URL")
                node.base_urls[name] = base_url
                if name == "custom" and node.key("custom") is None:
                    # A custom endpoint is defined by its URL; many self-hosted servers take no key.
                    node.set_available(name, "")
            model_variable = ffi.string(lib.th_provider_model_variable(index)).decode("ascii")
            model = source.get(model_variable, "").strip()
            if model:
                node.set_model(name, model, variable=model_variable)
        node.set_available("local", "")
        for name in node.disabled:
            node.set_unavailable(name)
        node._configure_scaling(source, document.get("shared_state", {}), document.get("cache", {}))
        preferred = source.get("DEFAULT_LLM_PROVIDER", "").strip().lower()
        if preferred:
            if preferred not in node._provider_index:
                raise ConfigurationError(
                    f"DEFAULT_LLM_PROVIDER={preferred!r} is not a provider; expected one of {', '.join(node.provider_names)}"
                )
            node.set_default_provider(preferred)
        strategy = source.get("TRINITY_STRATEGY", "").strip().lower()
        if strategy:
            if strategy not in node._strategy_index:
                raise ConfigurationError(
                    f"TRINITY_STRATEGY={strategy!r} is not a strategy; expected one of {', '.join(node.strategy_names)}"
                )
            node.set_strategy(strategy)
        return node

    def _provider(self, name: object, argument: str = "provider") -> int:
        if not isinstance(name, str):
            raise InvalidInputError(f"{argument} must be a provider name, not {type(name).__name__}")
        index = self._provider_index.get(name)
        if index is None:
            raise InvalidInputError(f"unknown {argument} {name!r}; expected one of {', '.join(self.provider_names)}")
        return index

    def _strategy(self, name: object) -> int:
        if name is None:
            return int(self._lib.TH_STRATEGY_NODE_DEFAULT)
        if not isinstance(name, str) or name not in self._strategy_index:
            raise InvalidInputError(f"unknown strategy {name!r}; expected one of {', '.join(self.strategy_names)}")
        return self._strategy_index[name]

    def set_available(self, provider: str, key: str) -> None:
        """Makes ``provider`` usable with ``key`` (kept in a ``Secret``; the core sees it only to
        build its mask)."""
        index = self._provider(provider)
        data = key.encode("utf-8", "surrogatepass")
        _native.check(self._lib.th_node_set_available(self._handle, index, 1, data, len(data)), "set_available")
        if key:
            self._keys[provider] = Secret(key)

    def set_unavailable(self, provider: str) -> None:
        index = self._provider(provider)
        _native.check(self._lib.th_node_set_available(self._handle, index, 0, self._ffi.NULL, 0), "set_unavailable")
        self._keys.pop(provider, None)

    def key(self, provider: str) -> Secret | None:
        self._provider(provider)
        return self._keys.get(provider)

    def set_default_provider(self, provider: str | None) -> None:
        index = -1 if provider is None else self._provider(provider)
        _native.check(self._lib.th_node_set_preferred_provider(self._handle, index), "set_default_provider")

    def set_strategy(self, strategy: str) -> None:
        _native.check(self._lib.th_node_set_strategy_default(self._handle, self._strategy(strategy)), "set_strategy")

    def set_seed(self, seed: int) -> None:
        """Seeds the ``random`` strategy, for reproducible chains."""
        _native.check(self._lib.th_node_set_seed(self._handle, seed & 0xFFFF_FFFF_FFFF_FFFF), "set_seed")

    def set_long_context_threshold(self, tokens: int) -> None:
        if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 < tokens <= U64_MAX:
            raise ConfigurationError(f"long_context_threshold_tokens must be a positive integer, got {tokens!r}")
        _native.check(self._lib.th_node_set_long_context_threshold(self._handle, tokens), "set_long_context_threshold")

    def configure_breaker(
        self,
        *,
        failure_threshold: int | None = None,
        cooldown_s: float | None = None,
        credential_cooldown_s: float | None = None,
        quota_cooldown_s: float | None = None,
        probe_lease_s: float | None = None,
        ewma_alpha: float | None = None,
    ) -> None:
        """Changes the breaker's settings; unspecified ones keep their value."""
        config = self._ffi.new("th_breaker_config *")
        _native.check(self._lib.th_node_get_breaker_config(self._handle, config), "get_breaker_config")
        if failure_threshold is not None:
            if not 1 <= failure_threshold <= 0xFFFF_FFFF:
                raise ConfigurationError("failure_threshold must be at least 1")
            config.failure_threshold = failure_threshold
        for field, seconds in (
            ("cooldown_ms", cooldown_s),
            ("credential_cooldown_ms", credential_cooldown_s),
            ("quota_cooldown_ms", quota_cooldown_s),
            ("probe_lease_ms", probe_lease_s),
        ):
            if seconds is not None:
                # Checked as whole milliseconds: float rounding can push a value past the limit.
                if not (seconds > 0 and math.isfinite(seconds) and round(seconds * 1000) <= U64_MAX):
                    raise ConfigurationError(f"{field[:-3]}_s must be a positive number of seconds, got {seconds!r}")
                setattr(config, field, max(1, round(seconds * 1000)))
        if ewma_alpha is not None:
            config.ewma_alpha = ewma_alpha
        _native.check(self._lib.th_node_configure_breaker(self._handle, config), "configure_breaker")

    def provider_info(self, provider: str) -> dict[str, Any]:
        info = self._ffi.new("th_provider_info *")
        _native.check(self._lib.th_node_get_provider(self._handle, self._provider(provider), info), "get_provider")
        return {
            "model": self._ffi.string(info.model).decode("utf-8"),
            "context_window_tokens": info.context_window_tokens,
            "quality_tier": info.quality_tier,
            "speed_tokens_per_s": info.speed_tokens_per_s,
            "price_input_usd_per_mtok": info.price_input_usd_per_mtok,
            "price_output_usd_per_mtok": info.price_output_usd_per_mtok,
            "strengths": info.strengths,
            "local": bool(info.local),
            "priority": info.priority,
        }

    def set_provider_info(self, provider: str, **changes: Any) -> None:
        """Overrides catalogue fields of ``provider`` (model, context_window_tokens, prices, ...)."""
        index = self._provider(provider)
        info = self._ffi.new("th_provider_info *")
        _native.check(self._lib.th_node_get_provider(self._handle, index, info), "get_provider")
        for field, value in changes.items():
            if field == "model":
                self.set_model(provider, value)
                _native.check(self._lib.th_node_get_provider(self._handle, index, info), "get_provider")
            elif field == "local":
                info.local = bool(value)
            elif field in {"context_window_tokens", "quality_tier", "speed_tokens_per_s", "price_input_usd_per_mtok",
                           "price_output_usd_per_mtok", "strengths", "priority"}:
                try:
                    setattr(info, field, value)
                except (TypeError, OverflowError) as error:
                    raise ConfigurationError(f"{provider}.{field}: {error}") from None
            else:
                raise ConfigurationError(f"unknown provider field {field!r}")
        # The catalogue stores speed as float32: a positive double can round to zero there.
        if "speed_tokens_per_s" in changes and not info.speed_tokens_per_s > 0:
            raise ConfigurationError(f"providers.{provider}.speed_tokens_per_s: must be positive, got {changes['speed_tokens_per_s']!r}")
        fields = ", ".join(f"providers.{provider}.{field}" for field in changes)
        _native.check(self._lib.th_node_set_provider(self._handle, index, info), fields)

    def set_model(self, provider: str, model: str, *, variable: str | None = None) -> None:
        index = self._provider(provider)
        encoded = model.encode("utf-8", "surrogatepass") if isinstance(model, str) else None
        limit = int(self._lib.TH_MODEL_BYTES_MAX) - 1
        if encoded is None or not encoded or len(encoded) > limit or b"\x00" in encoded:
            where = variable or f"{provider} model"
            raise ConfigurationError(f"{where} must be a model name of 1 to {limit} bytes")
        info = self._ffi.new("th_provider_info *")
        _native.check(self._lib.th_node_get_provider(self._handle, index, info), "get_provider")
        info.model = encoded
        _native.check(self._lib.th_node_set_provider(self._handle, index, info), "set_model")
        self._endpoints.pop(provider, None)

    @property
    def available_providers(self) -> tuple[str, ...]:
        return tuple(self.status()["available_providers"])

    # ------------------------------------------------------------------------------------------
    # Routing and outcomes.

    def route(
        self,
        prompt: Prompt,
        # Meant to be passed by keyword, but not keyword-only: CPython fills a missing
        # keyword-only argument by a dict lookup in __kwdefaults__ and a positional one from a
        # tuple, and the five lookups were 745 instructions, 8 % of a route (callgrind).
        quality: bool = False,
        force_provider: str | None = None,
        strategy: str | None = None,
        max_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> Route:
        """The ordered chain of eligible providers for ``prompt`` and the rule that chose it.
        Pass the options by keyword."""
        if type(prompt) is str:
            # encode_text inlined for the common case: the call alone was 5 % of a route's
            # instructions (about 500 of 10,700, callgrind).
            try:
                data = prompt.encode()
            except UnicodeEncodeError:
                data = prompt.encode("utf-8", "surrogatepass")
            if (
                quality is False
                and force_provider is None
                and strategy is None
                and max_tokens is None
                and now_ms is None
                and "\0" not in prompt
            ):
                # The common call, in two arguments: cffi passes the NUL that ends every bytes
                # object, and each argument through cffi's ABI mode costs about 650 instructions,
                # more than the NUL search (callgrind).
                word = self._route_text(self._handle, data)
                route = Route()
                try:
                    route._decoded = self._routes[word]
                except KeyError:
                    route._decoded = self._decode_route(word)
                route._text = data
                route._tokens_reserved = 0
                return route
        else:
            data = encode_text(prompt_text(prompt), "prompt")
        options = 0
        if max_tokens is not None:
            options = min(_non_negative(max_tokens, "max_tokens"), ROUTE_TOKENS_RESERVED_MAX)
        if force_provider is not None:
            options |= (self._provider(force_provider, "force_provider") + 1) << ROUTE_OPTION_FORCE_SHIFT
        if strategy is not None:
            options |= (self._strategy(strategy) + 1) << ROUTE_OPTION_STRATEGY_SHIFT
        if quality:
            options |= ROUTE_OPTION_QUALITY
        if options == 0 and now_ms is None:
            word = self._route_default(self._handle, data, len(data))
        else:
            moment = NOW_MS_CLOCK if now_ms is None else _non_negative(now_ms, "now_ms")
            word = self._route_packed(self._handle, data, len(data), options, moment)
        route = Route()
        route._decoded = self._routes.get(word) or self._decode_route(word)
        route._text = data
        route._tokens_reserved = max_tokens or 0
        return route

    def _decode_route(self, word: int) -> tuple[tuple[str, ...], str]:
        length = word & 0xF
        if length == ROUTE_PACKED_ERROR_LEN:
            _native.check(word >> 32, "route")
        chain = tuple(self.provider_names[word >> (ROUTE_PACKED_PROVIDERS_SHIFT + 4 * position) & 0xF] for position in range(length))
        decoded = (chain, self.reason_names[word >> 4 & 0xF])
        if len(self._routes) < ROUTE_CACHE_ENTRIES_MAX:
            self._routes[word] = decoded
        return decoded

    def admit(self, provider: str, *, now_ms: int | None = None) -> str:
        """Asks the breaker whether a call may start now: ``allowed``, ``allowed_probe``,
        ``denied_open`` or ``denied_probe_in_flight``. An admitted probe is reserved."""
        out = self._ffi.new("uint32_t *")
        _native.check(self._lib.th_node_admit(self._handle, self._provider(provider), _now(now_ms), out), "admit")
        if out[0] == 1 and self._shared is not None:
            return self._admit_shared_probe(provider)
        return ADMISSIONS[out[0]]

    def record_success(
        self,
        provider: str,
        *,
        latency_ms: int,
        tokens_input: int = 0,
        tokens_output: int = 0,
        now_ms: int | None = None,
    ) -> float:
        """Records a successful call; returns its cost in USD at the catalogue's prices."""
        moment = _now(now_ms)
        # With shared state, a success that closes an open breaker is news for the other replicas.
        closed_before = self._shared is None or self.stats(provider, now_ms=moment).state == "closed"
        cost = self._ffi.new("double *")
        _native.check(
            self._lib.th_node_record_success(
                self._handle,
                self._provider(provider),
                moment,
                min(_non_negative(latency_ms, "latency_ms"), 0xFFFF_FFFF),
                _non_negative(tokens_input, "tokens_input"),
                _non_negative(tokens_output, "tokens_output"),
                cost,
            ),
            "record_success",
        )
        if self._shared is not None:
            self._share_success(provider, closed_before, latency_ms, tokens_input, tokens_output, float(cost[0]))
        return float(cost[0])

    def record_failure(
        self,
        provider: str,
        kind: str,
        *,
        latency_ms: int = 0,
        retry_after_ms: int = 0,
        now_ms: int | None = None,
    ) -> None:
        """Records a failed call of ``kind``: transient, rate_limited, credential, client or
        quota_exhausted. A Retry-After holds the breaker open at least that long."""
        if kind not in FAILURE_KINDS:
            raise InvalidInputError(f"unknown failure kind {kind!r}; expected one of {', '.join(FAILURE_KINDS)}")
        moment = _now(now_ms)
        open_until_before_ms = 0 if self._shared is None else self.stats(provider, now_ms=moment).open_until_ms
        _native.check(
            self._lib.th_node_record_failure(
                self._handle,
                self._provider(provider),
                moment,
                FAILURE_KINDS.index(kind),
                min(_non_negative(latency_ms, "latency_ms"), 0xFFFF_FFFF),
                _non_negative(retry_after_ms, "retry_after_ms"),
            ),
            "record_failure",
        )
        if self._shared is not None:
            self._share_failure(provider, kind, open_until_before_ms, moment)

    def stats(self, provider: str, *, now_ms: int | None = None) -> ProviderStats:
        out = self._ffi.new("th_provider_stats *")
        _native.check(self._lib.th_node_stats(self._handle, self._provider(provider), _now(now_ms), out), "stats")
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
            success_rate=out.success_rate,
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

    def reset(self, provider: str) -> None:
        """Closes ``provider``'s breaker and clears its counters."""
        _native.check(self._lib.th_node_reset(self._handle, self._provider(provider)), "reset")

    def status(self, *, now_ms: int | None = None) -> dict[str, Any]:
        """The status document: per-provider counters and breaker state, total calls, and the
        available providers. Keys appear only masked."""
        capacity = 8192
        length = self._ffi.new("size_t *")
        moment = _now(now_ms)
        while True:
            buffer = self._ffi.new("uint8_t[]", capacity)
            status = self._lib.th_node_status_json(self._handle, moment, buffer, capacity, length)
            if status == 4:
                capacity = int(length[0])
                continue
            _native.check(status, "status")
            document: dict[str, Any] = json.loads(bytes(self._ffi.buffer(buffer, length[0])))
            document.update(self._scaling_status())
            return document

    def print_status(self, file: TextIO | None = None) -> None:
        """Prints the status as a table (to stdout by default)."""
        print(format_status(self.status()), file=file or sys.stdout)

    # ------------------------------------------------------------------------------------------
    # Calling providers.

    def endpoint(self, provider: str) -> Any:
        """Where and as whom to call ``provider`` (a ``providers.Endpoint``)."""
        # Built once per configuration: the cached one stands while the base URL override and the
        # key are the very objects it was built from (``set_model`` drops it), since reading the
        # model back from the core costs more than the rest of a gateway's request.
        base_url_override = self.base_urls.get(provider)
        cached = self._endpoints.get(provider)
        if cached is not None and cached[0] is base_url_override and cached[1].key is self._keys.get(provider):
            return cached[1]
        endpoint = self._new_endpoint(provider)
        self._endpoints[provider] = (base_url_override, endpoint)
        return endpoint

    def _new_endpoint(self, provider: str) -> Any:
        from ._exceptions import ProviderUnavailableError
        from .providers import DEFAULT_BASE_URLS, Endpoint

        self._provider(provider)
        model = self.provider_info(provider)["model"]
        if provider == "local":
            base_url = self.base_urls.get("local")
            if base_url is None:
                from ._local import LOCAL_BASE_URL, require_runtime

                require_runtime()
                base_url = LOCAL_BASE_URL
            return Endpoint(provider, base_url, model, self._keys.get(provider))
        base_url = self.base_urls.get(provider) or DEFAULT_BASE_URLS.get(provider)
        if base_url is None:
            raise ProviderUnavailableError("set CUSTOM_BASE_URL to the OpenAI-compatible endpoint", provider=provider)
        return Endpoint(provider, base_url, model, self._keys.get(provider))

    def wire_format(self, provider: str) -> Any:
        """The wire format ``provider`` speaks (a local server speaks OpenAI's)."""
        wire_format = self._wire_formats.get(provider)
        if wire_format is None:
            from .providers import WIRE_FORMATS, openai_compatible

            if provider in {"local", "custom"}:
                wire_format = openai_compatible.WIRE_FORMAT
            else:
                wire_format = WIRE_FORMATS[provider]
            self._wire_formats[provider] = wire_format  # fixed per provider: looked up once
        return wire_format

    def _start_call(self, prompt: Any, options: dict[str, Any]) -> Any:
        from ._inference import _Call

        return _Call(self, prompt, options)

    def infer(
        self,
        prompt: Prompt,
        *,
        quality: bool = False,
        force_provider: str | None = None,
        strategy: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        timeout: float | None = None,
        cache: bool | str | None = None,
        hedge: bool = False,
    ) -> Any:
        """Answers ``prompt`` (a string or OpenAI-style messages) through the best available
        provider, falling back through the chain. Returns a ``Response``, or with ``stream=True``
        an iterator of ``StreamChunk`` whose last chunk carries usage and cost. ``cache=True``
        answers a repeated non-stream request from the response cache (``"always"``: even with
        ``temperature > 0``; ``None``: as configured). ``hedge=True`` (non-stream): as in
        ``ainfer``, on the node's threads."""
        from ._inference import infer_sync, stream_sync

        options = {"quality": quality, "force_provider": force_provider, "strategy": strategy, "max_tokens": max_tokens,
                   "temperature": temperature, "stream": stream, "timeout": timeout, "cache": cache, "hedge": hedge}
        call = self._start_call(prompt, options)
        if stream:
            return stream_sync(self._sync_client(), call)
        return infer_sync(self._sync_client(), call, self._hedge_executor)

    async def ainfer(
        self,
        prompt: Prompt,
        *,
        quality: bool = False,
        force_provider: str | None = None,
        strategy: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        timeout: float | None = None,
        cache: bool | str | None = None,
        hedge: bool = False,
    ) -> Any:
        """``infer`` for asyncio: returns a ``Response``, or an async iterator of chunks. With
        ``hedge=True`` (non-stream), a provider slower than its own p95 latency gets the next
        one started beside it; the first answer wins, the other is cancelled."""
        from ._inference import httpx_post, infer_async, stream_async

        options = {"quality": quality, "force_provider": force_provider, "strategy": strategy, "max_tokens": max_tokens,
                   "temperature": temperature, "stream": stream, "timeout": timeout, "cache": cache, "hedge": hedge}
        call = self._start_call(prompt, options)
        if stream:
            return stream_async(self._async_client(), call)
        return await infer_async(httpx_post(self._async_client()), call)

    def _local_model(self) -> Any:
        if self._local is None:
            from ._local import LocalModel

            self._local = LocalModel(context_tokens=self.provider_info("local")["context_window_tokens"])
        return self._local

    def _sync_client(self) -> Any:
        if self._client_sync is None:
            from ._http import sync_client

            self._client_sync = sync_client(self._local_model())
        return self._client_sync

    def _async_client(self) -> Any:
        if self._client_async is None:
            from ._http import async_client

            self._client_async = async_client(self._local_model())
        return self._client_async

    def _hedge_executor(self) -> Any:
        """The threads that send hedged sync attempts, started on first use."""
        if self._hedge_threads is None:
            from concurrent.futures import ThreadPoolExecutor

            self._hedge_threads = ThreadPoolExecutor(max_workers=HEDGE_THREADS, thread_name_prefix="trinity-hedge")
        return self._hedge_threads

    def close(self) -> None:
        """Closes the sync HTTP client and the hedging threads (``aclose`` closes the async client)."""
        if self._hedge_threads is not None:
            self._hedge_threads.shutdown(wait=False, cancel_futures=True)
            self._hedge_threads = None
        if self._client_sync is not None:
            self._client_sync.close()
            self._client_sync = None

    async def aclose(self) -> None:
        if self._client_async is not None:
            await self._client_async.aclose()
            self._client_async = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrinityHybridNode(available={list(self.available_providers)!r})"

    # ------------------------------------------------------------------------------------------
    # Scaling past one process: shared state with other replicas, the response cache.

    def _configure_scaling(self, source: Mapping[str, str], shared_file: Mapping[str, Any],
                           cache_file: Mapping[str, Any]) -> None:
        """``TRINITY_REDIS_URL`` (shared state), ``TRINITY_CACHE`` (off, memory or redis; on
        by default for every request when set), ``TRINITY_CACHE_TTL_S``, ``TRINITY_CACHE_ENTRIES_MAX``,
        each over the ``[shared_state]`` and ``[cache]`` tables of the configuration file."""
        redis_url = source.get("TRINITY_REDIS_URL", "").strip() or shared_file.get("url", "")
        if redis_url:
            shared_options = {key: value for key, value in shared_file.items() if key != "url"}
            self.enable_shared_state(redis_url, **shared_options)
        backend_variable = source.get("TRINITY_CACHE", "").strip().lower()
        backend = backend_variable or cache_file.get("backend", "off")
        if backend == "off":
            return
        if backend not in {"memory", "redis"}:
            raise ConfigurationError(f"TRINITY_CACHE={backend!r}: expected off, memory or redis")
        # Set by the variable, the cache serves every request; the file says so with `default`.
        options: dict[str, Any] = {"default": True if backend_variable else cache_file.get("default", False)}
        options |= {key: cache_file[key] for key in ("ttl_s", "entries_max", "bytes_max") if key in cache_file}
        for variable, option, kind in (("TRINITY_CACHE_TTL_S", "ttl_s", float),
                                       ("TRINITY_CACHE_ENTRIES_MAX", "entries_max", int)):
            text = source.get(variable, "").strip()
            if text:
                try:
                    options[option] = kind(text)
                except ValueError:
                    raise ConfigurationError(f"{variable}={text!r} is not a number") from None
        self.enable_cache(backend=backend, **options)

    def enable_shared_state(self, url: str, *, namespace: str = "trinity", op_timeout_s: float = 0.05,
                            replica_id: str | None = None) -> None:
        """Shares breaker events, the half-open probe and counters with every replica using the
        same Redis ``url`` and ``namespace``. Local state still decides; Redis failures never
        fail a request (see ``_shared``)."""
        from ._shared import SharedState

        if self._shared is not None:
            self._shared.close()
        self._shared = SharedState(self, url, namespace=namespace, op_timeout_s=op_timeout_s, replica_id=replica_id)

    def enable_cache(self, *, backend: str = "memory", ttl_s: float = 300.0, entries_max: int = 1024,
                     bytes_max: int = 64 * 1024 * 1024, default: bool = False) -> None:
        """Turns the response cache on: ``infer(..., cache=True)`` then uses it, and every
        request does when ``default`` is set. ``backend="redis"`` needs shared state enabled."""
        from ._cache import ResponseCache

        if backend == "redis" and self._shared is None:
            raise ConfigurationError("the redis cache backend needs TRINITY_REDIS_URL (enable_shared_state)")
        if backend not in {"memory", "redis"}:
            raise ConfigurationError(f"cache backend must be memory or redis, got {backend!r}")
        self._cache = ResponseCache(ttl_s=ttl_s, entries_max=entries_max, bytes_max=bytes_max,
                                    shared=self._shared if backend == "redis" else None, default=default)

    @property
    def cache(self) -> Any:
        """The response cache (``_cache.ResponseCache``), or None when off."""
        return self._cache

    def shared_state(self) -> dict[str, Any] | None:
        """The ``shared_state`` status section (connected or degraded, events, errors), or None
        when this node runs alone. For /status and metrics."""
        return None if self._shared is None else self._shared.status()

    def shared_counters(self, provider: str) -> dict[str, int] | None:
        """``provider``'s counters summed over every replica, as Redis holds them; None when
        shared state is off or Redis is unreachable."""
        self._provider(provider)
        return None if self._shared is None else self._shared.counters(provider)

    def flush_shared_state(self, timeout_s: float = 5.0) -> bool:
        """Waits until this replica's counters and events are in Redis (tests, shutdown)."""
        return True if self._shared is None else self._shared.flush(timeout_s)

    def apply_remote_open(self, provider: str, until_ms: int) -> None:
        """Another replica opened ``provider``'s breaker until ``until_ms`` (our monotonic clock)."""
        _native.check(self._lib.th_node_open_until(self._handle, self._provider(provider), max(1, until_ms)), "open_until")

    def apply_remote_close(self, provider: str) -> None:
        """Another replica's probe succeeded: close ``provider``'s breaker, counting no call."""
        _native.check(self._lib.th_node_close_breaker(self._handle, self._provider(provider)), "close_breaker")

    def release_probe(self, provider: str) -> None:
        """Gives back a half-open probe admitted here that will not be sent."""
        _native.check(self._lib.th_node_release_probe(self._handle, self._provider(provider)), "release_probe")
        if self._shared is not None:
            self._shared.release_probe(provider)

    def _admit_shared_probe(self, provider: str) -> str:
        lease_ms = self._ffi.new("th_breaker_config *")
        _native.check(self._lib.th_node_get_breaker_config(self._handle, lease_ms), "get_breaker_config")
        won = self._shared.acquire_probe(provider, int(lease_ms.probe_lease_ms))
        if won is False:
            _native.check(self._lib.th_node_release_probe(self._handle, self._provider(provider)), "release_probe")
            return "denied_probe_in_flight"
        # Ours, or Redis did not answer: the local decision stands (no request waits on Redis).
        return "allowed_probe"

    def _share_success(self, provider: str, closed_before: bool, latency_ms: int, tokens_input: int,
                       tokens_output: int, cost_usd: float) -> None:
        if not closed_before:
            self._shared.on_closed(provider)
        self._shared.on_outcome(provider, {
            "calls_total": 1, "calls_successful": 1, "latency_ms_sum": min(latency_ms, 0xFFFF_FFFF),
            "tokens_input": tokens_input, "tokens_output": tokens_output, "cost_nano_usd": round(cost_usd * 1e9),
        })

    def _share_failure(self, provider: str, kind: str, open_until_before_ms: int, moment: int) -> None:
        open_until_ms = self.stats(provider, now_ms=moment).open_until_ms
        if open_until_ms > open_until_before_ms:
            # Opened, or held longer (a Retry-After): every replica holds it as long.
            self._shared.on_opened(provider, open_until_ms)
        self._shared.on_outcome(provider, {"calls_total": 1, "calls_failed": 1,
                                           "calls_client_error": 1 if kind == "client" else 0})

    def _scaling_status(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        if self._shared is not None:
            sections["shared_state"] = self._shared.status()
        if self._cache is not None:
            sections["cache"] = self._cache.status()
        return sections

    def close_shared_state(self) -> None:
        """Flushes what is pending to Redis and stops the shared-state thread."""
        if self._shared is not None:
            self._shared.close()
            self._shared = None


def format_status(status: Mapping[str, Any]) -> str:
    header = f"{'provider':<10} {'state':<9} {'calls':>6} {'ok':>6} {'failed':>6} {'success':>8} {'avg':>8} {'key':<12} model"
    lines = [header, "-" * len(header)]
    for name, entry in status["providers"].items():
        lines.append(
            f"{name:<10} {entry['state']:<9} {entry['total_calls']:>6} {entry['successful_calls']:>6} "
            f"{entry['failed_calls']:>6} {entry['success_rate']:>8} {entry['avg_latency']:>8} "
            f"{entry['key'] or '-':<12} {entry['model']}"
        )
    lines.append(f"total calls: {status['total_calls']}; available: {', '.join(status['available_providers']) or 'none'}")
    return "\n".join(lines)


def _now(value: int | None) -> int:
    if value is None:
        return now_ms()
    return _non_negative(value, "now_ms")


def _non_negative(value: object, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{argument} must be an int, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFF_FFFF_FFFF_FFFF:
        raise InvalidInputError(f"{argument} must be between 0 and 2**64-1, got {value}")
    return value



"""``TrinityHybridNode``: the façade a program holds.

It assembles the rooms and lends them its name; it decides nothing itself:

    environment  ``_environment`` (variables) and ``_config`` (the TOML file)
    board        ``_board.Board``: the native provider table, breakers and stats
    routing      ``_route.Router``: features and the ordered chain, from the core
    directory    ``_directory.Directory``: keys, endpoints, wire formats
    planner      ``_planner.Plan``: one call's walk of the chain (fallback, hedging, cache)
    drivers      ``_drive_sync`` / ``_drive_async``: the plan's I/O
    scaling      ``_shared.SharedState`` (other replicas) and ``_cache.ResponseCache``

Data flows one way: request → features and chain (native) → plan → provider call → outcome
recorded on the board (native). No room below imports this one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ._board import Board, ProviderStats, format_status
from ._clients import Clients
from ._directory import Directory
from ._environment import UPSTREAM_BYTES_MAX_DEFAULT, Environment, ProviderVariables, read_environment
from ._exceptions import ConfigurationError, InvalidInputError, NoProviderAvailable
from ._keyring import configure_keyrings, keyring_status
from ._plan_retry import RetryPolicy, retry_policy
from ._planner import Plan, PlanOptions
from ._request import ChatRequest
from ._results import TIMEOUTS_DEFAULT, EmbeddingResponse, Response, Timeouts
from ._route import Prompt, Route, Router
from ._scaling import configure_scaling
from ._secret import Secret, mask_key

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

    from ._cache import ResponseCache
    from ._shared import SharedState

__all__ = ["ProviderStats", "Route", "Secret", "TrinityHybridNode", "mask_key"]


class TrinityHybridNode:
    """The router. ``TrinityHybridNode.from_env()`` reads keys and overrides from the environment;
    ``route`` gives the ordered provider chain for a prompt; ``infer`` / ``ainfer`` answer it,
    falling back along the chain; outcomes are recorded on the native board."""

    def __init__(self) -> None:
        board = Board()
        self._board = board
        self._router = Router(board)
        self._directory = Directory(board)
        self.provider_names = board.provider_names
        self.strategy_names = board.strategy_names
        self.reason_names = board.reason_names
        self._handle = board.handle
        # The hot calls go straight to the room that answers them: a forwarding method would
        # cost a Python frame per call (route is about 1.5 µs in all).
        self.route = self._router.route
        self.admit = board.admit
        self.record_success = board.record_success
        self.record_failure = board.record_failure
        self.stats = board.stats
        self.set_default_provider = board.set_default_provider
        self.set_strategy = board.set_strategy
        self.set_seed = board.set_seed  # seeds the random strategy, for reproducible chains
        self.set_long_context_threshold = board.set_long_context_threshold
        self.endpoint = self._directory.endpoint
        self.wire_format = self._directory.wire_format
        self.base_urls = self._directory.base_urls
        self.disabled = self._directory.disabled
        # <PROVIDER>_EMBEDDING_MODEL overrides of providers.embeddings.EMBEDDING_MODELS.
        self.embedding_models: dict[str, str] = {}
        # Default timeouts and same-provider retries of infer; None means the built-in ones.
        self.timeouts: Timeouts | None = None
        self.retries: RetryPolicy | None = None
        self.upstream_bytes_max = UPSTREAM_BYTES_MAX_DEFAULT  # a whole answer's body (TRINITY_MAX_UPSTREAM_BYTES)
        self._shared: SharedState | None = None
        self._cache: ResponseCache | None = None
        self._clients = Clients(lambda: board.context_window_tokens("local"))
        self._local_model = self._clients.local_model
        self._sync_client = self._clients.sync_client
        self._async_client = self._clients.async_client
        self._hedge_executor = self._clients.hedge_executor

    # ------------------------------------------------------------------------------------------
    # Configuration.

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrinityHybridNode:
        """A node configured from the environment: every provider whose key variable is set,
        ``<PROVIDER>_MODEL`` and ``<PROVIDER>_BASE_URL`` overrides, ``DEFAULT_LLM_PROVIDER``,
        ``TRINITY_STRATEGY``, and the TOML file named by ``TRINITY_CONFIG`` (which the variables
        override). The local provider needs no key and is available unless the file disables it.
        Every variable is checked first; a bad one raises ``ConfigurationError`` naming it."""
        node, source = cls(), os.environ if environ is None else environ
        board = node._board
        variables = {name: ProviderVariables(*board.variables(name)) for name in board.provider_names}
        environment = read_environment(source, variables, board.strategy_names)
        document: dict[str, Any] = {}
        if environment.config_path:
            # The file first: environment variables are more specific and override it.
            from ._config import apply_config, load_config

            document = load_config(environment.config_path)
            node.timeouts = apply_config(board, node._directory, document)
        node._apply_environment(environment)
        configure_keyrings(node, environment, document, source)  # several keys per provider
        node.retries = retry_policy(environment.retries, document.get("retries", {}))
        configure_scaling(node, environment, document.get("shared_state", {}), document.get("cache", {}))
        return node

    def _apply_environment(self, environment: Environment) -> None:
        for name, key in environment.keys.items():
            self.set_available(name, key)
        for name, base_url in environment.base_urls.items():
            self.base_urls[name] = base_url
            if name == "custom" and self.key("custom") is None:
                # A custom endpoint is defined by its URL; many self-hosted servers take no key.
                self.set_available(name, "")
        for name, (model, variable) in environment.models.items():
            self.set_model(name, model, variable=variable)
        self.embedding_models.update(environment.embedding_models)
        self.upstream_bytes_max = environment.upstream_bytes_max
        self.set_available("local", "")
        for name in self.disabled:
            self.set_unavailable(name)
        if environment.default_provider:
            self.set_default_provider(environment.default_provider)
        if environment.strategy:
            self.set_strategy(environment.strategy)

    def set_available(self, provider: str, key: str) -> None:
        """Makes ``provider`` usable with ``key`` (kept in a ``Secret``; the core sees it only to
        build its mask)."""
        self._board.set_available(provider, key)
        self._directory.set_key(provider, key)

    def set_unavailable(self, provider: str) -> None:
        self._board.set_available(provider, None)
        self._directory.set_key(provider, None)

    def key(self, provider: str) -> Secret | None:
        self._board.index(provider)
        return self._directory.key(provider)

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
        self._board.configure_breaker(
            failure_threshold=failure_threshold, cooldown_s=cooldown_s, credential_cooldown_s=credential_cooldown_s,
            quota_cooldown_s=quota_cooldown_s, probe_lease_s=probe_lease_s, ewma_alpha=ewma_alpha,
        )  # fmt: skip
        for ring in self._directory.keyrings.values():
            ring.configure_breaker(self._board.breaker_config())

    def provider_info(self, provider: str) -> dict[str, Any]:
        return self._board.provider_info(provider)

    def set_provider_info(self, provider: str, **changes: Any) -> None:
        """Overrides catalogue fields of ``provider`` (model, context_window_tokens, prices, ...)."""
        self._board.set_provider_info(provider, **changes)
        self._directory.forget(provider)

    def set_model(self, provider: str, model: str, *, variable: str | None = None) -> None:
        self._board.set_model(provider, model, variable=variable)
        self._directory.forget(provider)

    def require_available(self, provider: str) -> None:
        """Raises ``NoProviderAvailable`` saying what to set (``set GROQ_API_KEY``) when
        ``provider`` cannot be called; ``InvalidInputError`` for an unknown name."""
        self._board.index(provider, "force_provider")
        self._directory.require_available(provider)

    @property
    def available_providers(self) -> tuple[str, ...]:
        return self._board.available_providers

    # ------------------------------------------------------------------------------------------
    # Outcomes and status (the board's; see ``_board``).

    def reset(self, provider: str) -> None:
        """Closes ``provider``'s breaker and clears its counters."""
        self._board.reset(provider)

    def release_probe(self, provider: str) -> None:
        """Gives back a half-open probe admitted here that will not be sent."""
        self._board.release_probe(provider)

    def apply_remote_open(self, provider: str, until_ms: int) -> None:
        """Another replica opened ``provider``'s breaker until ``until_ms`` (our monotonic clock)."""
        self._board.open_until(provider, until_ms)

    def apply_remote_close(self, provider: str) -> None:
        """Another replica's probe succeeded: close ``provider``'s breaker, counting no call."""
        self._board.close_breaker(provider)

    def status(self, *, now_ms: int | None = None) -> dict[str, Any]:
        """The status document: per-provider counters and breaker state, total calls, the
        available providers, and the shared state's and cache's sections when they are on.
        Keys appear only masked; a provider with no call yet has no success rate (None)."""
        document = keyring_status(self._board.status(now_ms=now_ms), self._directory.keyrings)
        if self._shared is not None:
            document["shared_state"] = self._shared.status()
        if self._cache is not None:
            document["cache"] = self._cache.status()
        return document

    def print_status(self, file: TextIO | None = None) -> None:
        """Prints the status as a table (to stdout by default)."""
        print(format_status(self.status()), file=file or sys.stdout)

    # ------------------------------------------------------------------------------------------
    # Calls.

    def plan(
        self,
        prompt: Prompt | ChatRequest,
        *,
        quality: bool = False,
        force_provider: str | None = None,
        strategy: str | None = None,
        timeout: float | Timeouts | None = None,
        cache: bool | str | None = None,
        hedge: bool = False,
        targets: Sequence[tuple[str, str | None]] | None = None,
        retries: int | RetryPolicy | None = None,
        **parameters: Any,
    ) -> Plan:
        """One call's plan (see ``_planner``): the request checked, routed, the cache asked.
        Raises ``InvalidInputError`` or ``NoProviderAvailable`` before any provider is called.
        ``parameters`` are Chat Completions parameters in OpenAI's names (``max_tokens``,
        ``temperature``, ``stream``, ``tools``, ``response_format``, ...). ``targets``: the
        chain named by the caller, (provider, model or None) in order, instead of the rules'.
        ``retries``: same-provider retries of a transient failure (a count, or a ``RetryPolicy``;
        None: the node's, from ``TRINITY_RETRIES`` / ``[retries]``, else 1)."""
        if isinstance(prompt, ChatRequest):
            request = prompt
        else:
            request = ChatRequest.of(prompt, **parameters)
        if type(hedge) is not bool:
            raise InvalidInputError(f"hedge must be a bool, not {type(hedge).__name__}")
        timeouts = Timeouts.of(timeout) if timeout is not None else self.timeouts or TIMEOUTS_DEFAULT
        if force_provider is not None:
            self.require_available(force_provider)
        models: tuple[str | None, ...] = ()
        if targets is not None:
            route, models = self._router.route_targets(request.text, targets, "named", request.max_tokens)
        else:
            route = self._router.route(
                request.text, quality=quality, force_provider=force_provider, strategy=strategy,
                max_tokens=request.max_tokens,
            )  # fmt: skip
        if not route.providers:
            raise NoProviderAvailable(
                f"no available provider can take this request (about {route.tokens_estimated} tokens; "
                f"available: {', '.join(self.available_providers) or 'none'})",
                reason=route.reason,
            )
        cache_key = self._cache_key(request, cache, force_provider, strategy, quality, targets)
        retry = RetryPolicy.of(retries, self.retries)
        options = PlanOptions(force_provider is not None, hedge, timeouts, cache_key, models, retry, strategy)
        return Plan(request, route, options, self._board, self._directory, time.monotonic)

    def _cache_key(
        self, request: ChatRequest, cache: bool | str | None, force_provider: str | None, strategy: str | None,
        quality: bool, targets: Sequence[tuple[str, str | None]] | None = None,
    ) -> str | None:  # fmt: skip
        if cache is None and self._cache is None:
            return None  # the common case, decided without importing the cache
        from ._cache import cache_mode

        mode = cache_mode(cache)
        if mode and self._cache is None:
            self.enable_cache()
        response_cache = self._cache
        if response_cache is None or not response_cache.wants(mode, request):
            return None
        model = self._board.model(force_provider) if force_provider else None
        if targets is not None:
            model = ",".join(f"{provider}/{name or self._board.model(provider)}" for provider, name in targets)
        return response_cache.key(
            request, force_provider=force_provider, model=model, strategy=strategy, quality=quality
        )

    def infer(
        self,
        prompt: Prompt | ChatRequest,
        *,
        quality: bool = False,
        force_provider: str | None = None,
        strategy: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        timeout: float | Timeouts | None = None,
        cache: bool | str | None = None,
        hedge: bool = False,
        **parameters: Any,
    ) -> Any:
        """Answers ``prompt`` (a string or OpenAI-style messages) through the best available
        provider, falling back through the chain. Returns a ``Response``, or with ``stream=True``
        an iterator of ``StreamChunk`` whose last chunk carries usage and cost.

        ``cache=True`` answers a repeated non-stream request from the response cache
        (``"always"``: even with ``temperature > 0``; ``None``: as configured). ``hedge=True``:
        a provider slower than its own p95 latency gets the next one started beside it; the
        first answer wins (a stream: the first to send a token). Other Chat Completions
        parameters (``tools``, ``response_format``, ``top_p``, ...) go in ``parameters``."""
        from ._drive_sync import SyncAttempts, drive_sync

        plan = self.plan(
            prompt, quality=quality, force_provider=force_provider, strategy=strategy, timeout=timeout, cache=cache,
            hedge=hedge, max_tokens=max_tokens, temperature=temperature, stream=stream, **parameters,
        )  # fmt: skip
        events = self._clients.sync_events(plan.options.timeouts, self.upstream_bytes_max)
        attempts = SyncAttempts(events, self._hedge_executor, time.monotonic)
        steps = drive_sync(plan, attempts, self._cache)
        if stream:
            return steps
        with contextlib.closing(steps):
            result = next(steps)
        assert type(result) is Response, "a non-stream plan finishes with a Response"
        return result

    def ainfer(
        self,
        prompt: Prompt | ChatRequest,
        *,
        quality: bool = False,
        force_provider: str | None = None,
        strategy: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        timeout: float | Timeouts | None = None,
        cache: bool | str | None = None,
        hedge: bool = False,
        **parameters: Any,
    ) -> Any:
        """``infer`` for asyncio. ``await node.ainfer(prompt)`` gives a ``Response``;
        ``async for chunk in node.ainfer(prompt, stream=True)`` reads a streamed answer (the
        stream may be awaited first as well, which gives the same iterator). A stream's request
        is checked and routed at the call, so a bad one raises there."""
        options = {
            "quality": quality, "force_provider": force_provider, "strategy": strategy, "timeout": timeout,
            "cache": cache, "hedge": hedge, "max_tokens": max_tokens, "temperature": temperature, "stream": stream,
            **parameters,
        }  # fmt: skip
        if stream:
            from ._drive_async import AsyncChunks, drive_async

            plan = self.plan(prompt, **options)
            return AsyncChunks(drive_async(plan, self._async_attempts(plan), self._cache))
        return self._complete_async(prompt, options)

    async def _complete_async(self, prompt: Prompt | ChatRequest, options: dict[str, Any]) -> Response:
        from ._drive_async import complete_async

        plan = self.plan(prompt, **options)
        return await complete_async(plan, self._async_attempts(plan), self._cache)

    def _async_attempts(self, plan: Plan) -> Any:
        from ._drive_async import AsyncAttempts

        events, whole = self._clients.async_readers(plan.options.timeouts, self.upstream_bytes_max)
        return AsyncAttempts(events, time.monotonic, whole)

    def embedding_plan(
        self, texts: str | list[str], *, dimensions: int | None = None, input_type: str | None = None,
        force_provider: str | None = None, timeout: float | Timeouts | None = None,
    ) -> Plan:  # fmt: skip
        """An embeddings call's plan: the chain routed as for chat, each provider asked for its
        embedding model (``providers.embeddings``); one without is skipped. ``input_type``:
        search_document, search_query, classification or clustering."""
        from ._directory import EmbeddingDirectory
        from .providers.embeddings import EMBEDDING_MODELS, embedding_request

        request = embedding_request(texts, dimensions=dimensions, input_type=input_type)
        if force_provider is not None:
            self.require_available(force_provider)
        route = self._router.route(request.text, force_provider=force_provider)
        timeouts = Timeouts.of(timeout) if timeout is not None else self.timeouts or TIMEOUTS_DEFAULT
        options = PlanOptions(
            forced=force_provider is not None, timeouts=timeouts, retry=RetryPolicy.of(None, self.retries)
        )
        providers = EmbeddingDirectory(self._directory, {**EMBEDDING_MODELS, **self.embedding_models})
        return Plan(request, route, options, self._board, providers, time.monotonic)  # type: ignore[arg-type]

    def embed(self, texts: str | list[str], **options: Any) -> EmbeddingResponse:
        """Embeds ``texts`` (a string or up to 96) with the first provider of the chain that has
        an embedding model, falling back like ``infer``. ``options``: see ``embedding_plan``."""
        from ._drive_sync import SyncAttempts, drive_sync

        plan = self.embedding_plan(texts, **options)
        events = self._clients.sync_events(plan.options.timeouts, self.upstream_bytes_max)
        steps = drive_sync(plan, SyncAttempts(events, self._hedge_executor, time.monotonic), None)
        with contextlib.closing(steps):
            result = next(steps)
        assert type(result) is EmbeddingResponse, "an embeddings plan finishes with an EmbeddingResponse"
        return result

    async def aembed(self, texts: str | list[str], **options: Any) -> EmbeddingResponse:
        """``embed`` for asyncio."""
        from ._drive_async import complete_async

        plan = self.embedding_plan(texts, **options)
        return await complete_async(plan, self._async_attempts(plan), None)  # type: ignore[return-value]

    # ------------------------------------------------------------------------------------------
    # Resources.

    def close(self) -> None:
        """Closes the sync HTTP client and the hedging threads (``aclose`` closes the async client)."""
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrinityHybridNode(available={list(self.available_providers)!r})"

    # ------------------------------------------------------------------------------------------
    # Scaling past one process: shared state with other replicas, the response cache.

    def enable_shared_state(self, url: str, *, namespace: str = "trinity", op_timeout_s: float = 0.05,
                            replica_id: str | None = None) -> None:  # fmt: skip
        """Shares breaker events, the half-open probe and counters with every replica using the
        same Redis ``url`` and ``namespace``. Local state still decides; Redis failures never
        fail a request (see ``_shared``)."""
        from ._shared import SharedState

        self.close_shared_state()
        self._shared = SharedState(self._board, url, namespace=namespace, op_timeout_s=op_timeout_s,
                                   replica_id=replica_id)  # fmt: skip
        self._board.replicas = self._shared
        self._shared.share_keyrings(self._directory.keyrings)

    def enable_cache(self, *, backend: str = "memory", ttl_s: float = 300.0, entries_max: int = 1024,
                     bytes_max: int = 64 * 1024 * 1024, default: bool = False) -> None:  # fmt: skip
        """Turns the response cache on: ``infer(..., cache=True)`` then uses it, and every
        request does when ``default`` is set. ``backend="redis"`` needs shared state enabled."""
        from ._cache import ResponseCache

        if backend == "redis" and self._shared is None:
            raise ConfigurationError("the redis cache backend needs TRINITY_REDIS_URL (enable_shared_state)")
        if backend not in {"memory", "redis"}:
            raise ConfigurationError(f"cache backend must be memory or redis, got {backend!r}")
        self._cache = ResponseCache(ttl_s=ttl_s, entries_max=entries_max, bytes_max=bytes_max,
                                    shared=self._shared if backend == "redis" else None, default=default)  # fmt: skip

    @property
    def cache(self) -> ResponseCache | None:
        """The response cache (``_cache.ResponseCache``), or None when off."""
        return self._cache

    def shared_state(self) -> dict[str, Any] | None:
        """The ``shared_state`` status section (connected or degraded, events, errors), or None
        when this node runs alone. For /status and metrics."""
        return None if self._shared is None else self._shared.status()

    def shared_counters(self, provider: str) -> dict[str, int] | None:
        """``provider``'s counters summed over every replica, as Redis holds them; None when
        shared state is off or Redis is unreachable."""
        self._board.index(provider)
        return None if self._shared is None else self._shared.counters(provider)

    def flush_shared_state(self, timeout_s: float = 5.0) -> bool:
        """Waits until this replica's counters and events are in Redis (tests, shutdown)."""
        return True if self._shared is None else self._shared.flush(timeout_s)

    def close_shared_state(self) -> None:
        """Flushes what is pending to Redis and stops the shared-state thread."""
        if self._shared is not None:
            self._board.replicas = None
            self._shared.close()
            self._shared = None

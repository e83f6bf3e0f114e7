"""Virtual keys: each team's or app's own gateway key, with allowed models, rpm and tpm limits
and USD budgets per day and per month, enforced exactly across replicas through Redis (or in
this process's memory when no Redis is configured).

How the app calls it (sans-ASGI: nothing here reads a socket or a request):

    keys = VirtualKeys.from_config(document, redis_url)      # at startup; document: TRINITY_CONFIG
    # per request, after the body is parsed, before any provider is called:
    decision = await keys.admit(secret, body_model, estimated_tokens, estimated_cost_usd)
    if not decision.allowed:
        raise ApiError(decision.status, decision.message, decision.type, None, decision.code,
                       retry_after_s=decision.retry_after_s)
    try:
        ... call the providers ...
    finally:  # on success, failure and cancellation alike (0 and 0.0 when nothing was spent)
        await keys.settle(decision.reservation, tokens_used, cost_usd)

``secret`` is the Bearer token (or ``x-api-key``) as sent; only its SHA-256 is kept.
``estimated_tokens`` is the prompt's token estimate plus ``max_tokens`` (or a default), and
``estimated_cost_usd`` their price at the dearest model the request may reach: the estimate is
*reserved*, then replaced by what the call really used. Refusals: 401 unknown key, 403 model not
allowed (``decision.models`` lists the allowed ones), 429 ``rpm`` / ``tpm``, 402 ``budget_day`` /
``budget_month`` (``decision.limit`` names it), each with ``retry_after_s`` until the window
resets; 503 when Redis is unreachable and the failure mode is ``closed``.

``await keys.usage()`` gives /status its plain numbers per key (spend and reservations in USD,
requests and tokens this minute; no secret, no digest), ``keys.status()`` the counters (admitted,
refused per limit, Redis errors, degraded admissions) without I/O; ``_key_metrics`` turns both
into Prometheus series, and ``_admin`` is the admin API. Create the object once per worker
process; the Redis client is made on first use in the running loop.

Without Redis the counters are this process's: with several workers (``--workers N``) each
enforces the limits on its own, so exact limits need Redis. Windows follow each replica's UTC
clock (keep them NTP-synchronised). A call that outlives ``reservation_ttl_s`` loses its hold but
still settles what it used.

When Redis is unreachable (an error, or no answer within ``op_timeout_s``), Redis is left alone
for ``RETRY_INTERVAL_S`` and then tried again. Meanwhile, with ``failure_mode = "open"`` (the
default: the gateway does not go down with Redis) each replica enforces every limit on its own,
in memory, for the keys it knows (configured ones, and admin-created ones it has already seen;
an unknown secret gets 503, never a free pass); its settled spend is queued and replayed into
Redis when it is back (idempotently), so the day's and the month's spend stay whole. The limits
can then be exceeded by up to the number of replicas times the limit, for the outage's length;
every such admission is counted (``degraded_admits``) and the outage logged once. With
``failure_mode = "closed"`` every request is refused with 503 while Redis is away.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from .._exceptions import ConfigurationError
from ._key_decisions import Decision, Reservation, key_usage, refusal
from ._key_definitions import (
    NANO_PER_USD,
    KeyDefinition,
    VirtualKeysSettings,
    digest_of,
    parse_virtual_keys,
)
from ._limits import Hold, MemoryLimits, RedisLimits, Usage, Verdict, Windows

__all__ = ["Decision", "Reservation", "VirtualKeys"]

logger = logging.getLogger("trinity_hybrid.gateway.virtual_keys")
T = TypeVar("T")

RETRY_INTERVAL_S = 1.0
# Bounds: settles waiting for Redis to come back, and admin-created keys remembered locally.
PENDING_SETTLES_MAX = 100_000
MIRROR_KEYS_MAX = 10_000
# Costs are kept below 2**53 nano-USD (9 million USD), where Lua's doubles are exact.
COST_NANO_USD_MAX = 2**53 // 4


class VirtualKeys:
    """The keys, their counters, and what to do when Redis is away."""

    def __init__(
        self,
        settings: VirtualKeysSettings,
        redis_url: str | None = None,
        *,
        namespace: str = "trinity",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError("virtual keys: the Redis URL must be a redis://, rediss:// or unix:// URL")
        self.settings = settings
        self.namespace = settings.namespace or namespace
        self._redis_url = redis_url
        self._clock = clock
        self._configured = {definition.digest: definition for definition in settings.keys}
        self._configured_names = {definition.name for definition in settings.keys}
        self._local = MemoryLimits(settings.reservation_ttl_s)
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._shared: RedisLimits | None = None
        self._mirror: collections.OrderedDict[str, KeyDefinition] = collections.OrderedDict()
        # Settles (hold, tokens, cost, charge) waiting for Redis.
        self._pending: collections.deque[tuple[Hold, int, int, bool]] = collections.deque()
        self._flush_lock: asyncio.Lock | None = None
        self._flush_task: asyncio.Future[bool] | None = None
        self._down_until_s = 0.0
        self.degraded = False
        self.last_error: str | None = None
        self.counts: collections.Counter[str] = collections.Counter()
        # What the last ``usage()`` found, for /metrics (read at scrape time, without I/O).
        self.last_usage: dict[str, Any] | None = None

    @classmethod
    def from_config(
        cls, document: Mapping[str, Any], redis_url: str | None = None, *, clock: Callable[[], float] = time.time
    ) -> VirtualKeys:
        """From a TRINITY_CONFIG document (its ``[virtual_keys]``; ``[shared_state]`` gives the
        namespace when ``virtual_keys.namespace`` does not)."""
        shared = document.get("shared_state", {})
        namespace = shared.get("namespace", "trinity") if isinstance(shared, dict) else "trinity"
        return cls(parse_virtual_keys(document), redis_url, namespace=namespace, clock=clock)

    @property
    def backend(self) -> str:
        return "memory" if self._redis_url is None else "redis"

    def __repr__(self) -> str:
        return f"VirtualKeys(backend={self.backend!r}, keys_configured={len(self._configured)})"

    # ------------------------------------------------------------------------------------------
    # The request path.

    async def admit(self, secret: str, model: str, estimated_tokens: int, estimated_cost_usd: float) -> Decision:
        digest = digest_of(secret)
        now_s = self._clock()
        windows = Windows.at(now_s)
        tokens = max(int(estimated_tokens), 0)
        cost = nano_usd_of(estimated_cost_usd)
        expires_ms = int((now_s + self.settings.reservation_ttl_s) * 1000)
        hold = Hold(uuid.uuid4().hex, "", tokens, cost, expires_ms, windows.minute, windows.day, windows.month)
        configured = self._configured.get(digest)
        now_ms = int(now_s * 1000)
        if self._redis_url is None:
            verdict = self._local.admit_now(configured, digest, model, hold, now_ms)
            return self._decide(verdict, hold, shared=False, model=model, windows=windows)
        tried = time.monotonic() >= self._down_until_s
        known = configured or self._mirror.get(digest)
        try:
            verdict_shared = await self._call(lambda limits: limits.admit(configured, digest, model, hold, now_ms))
        except asyncio.CancelledError:
            # The client went away while Redis was deciding: what the script held is given back.
            if known is not None:
                self._queue(replace(hold, key_name=known.name), 0, 0, charge=False)
            raise
        if verdict_shared is not None:
            self._remember(digest, verdict_shared)
            return self._decide(verdict_shared, hold, shared=True, model=model, windows=windows)
        if tried and known is not None:
            # The script may have run before its answer was lost: release what it may hold.
            self._queue(replace(hold, key_name=known.name), 0, 0, charge=False)
        if self.settings.failure_mode == "closed" or known is None:
            self.counts["refused_unavailable"] += 1
            why = "" if known is not None else " (this key cannot be checked without it)"
            return Decision(
                False,
                known.name if known else None,
                None,
                503,
                "server_error",
                "limits_unavailable",
                "unavailable",
                f"the gateway's key store is unreachable{why}; try again shortly",
                1,
            )
        self.counts["degraded_admits"] += 1
        local_hold = replace(hold, id=uuid.uuid4().hex)
        verdict = self._local.admit_now(known, digest, model, local_hold, now_ms)
        return self._decide(verdict, local_hold, shared=False, model=model, windows=windows)

    async def settle(self, reservation: Reservation | None, tokens_used: int, cost_usd: float) -> None:
        """Replaces the reservation by what the request used. Never raises for Redis: a settle
        that cannot reach it now is replayed later (``flush``), counted once."""
        if reservation is None:
            return
        tokens = max(int(tokens_used), 0)
        cost = nano_usd_of(cost_usd)
        hold = reservation.hold
        if not reservation.shared:
            self._local.settle_now(hold, tokens, cost)
            if self._redis_url is None:
                return
            # Spent while Redis was away: charged to the shared windows when Redis is back.
            self._queue(hold, tokens, cost, charge=True)
            self._schedule_flush()
            return
        try:
            settled = await self._call(settling(hold, tokens, cost, False))
        except asyncio.CancelledError:
            self._queue(hold, tokens, cost, charge=False)
            raise
        if settled is None:
            self._queue(hold, tokens, cost, charge=False)

    async def flush(self) -> bool:
        """Replays queued settles into Redis; True when none is left."""
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            while self._pending:
                if await self._call(settling(*self._pending[0]), flushing=True) is None:
                    return False
                self._pending.popleft()
                self.counts["settles_replayed"] += 1
        return True

    # ------------------------------------------------------------------------------------------
    # Keys: what the admin API calls.

    async def create(self, definition: KeyDefinition) -> bool | None:
        """Stores an admin-created key: True, False when its name is taken, None when Redis is away."""
        if definition.name in self._configured_names or definition.digest in self._configured:
            return False
        if self._redis_url is None:
            return await self._local.create(definition)
        return await self._call(lambda limits: limits.create(definition))

    async def delete(self, name: str) -> KeyDefinition | None:
        if self._redis_url is None:
            return await self._local.delete(name)
        deleted = await self._call(lambda limits: limits.delete(name))
        if deleted is not None:
            self._mirror.pop(deleted.digest, None)
        return deleted

    def is_configured(self, name: str) -> bool:
        return name in self._configured_names

    async def definitions(self) -> list[KeyDefinition] | None:
        """Every key, configured first; None when Redis is away (admin keys unknown)."""
        if self._redis_url is None:
            created = await self._local.definitions()
        else:
            found = await self._call(lambda limits: limits.definitions())
            if found is None:
                return None
            created = found
        return [*self.settings.keys, *sorted(created, key=lambda definition: definition.name)]

    async def usage(self) -> dict[str, Any]:
        """The /status section: per key, its limits and its counters in the current windows, as
        plain numbers (USD, requests, tokens). Degraded: this replica's own counters."""
        definitions = await self.definitions()
        source = "shared" if self._redis_url is not None else "memory"
        if definitions is None:
            definitions, source = [*self.settings.keys, *self._mirror.values()], "local"
        names = [definition.name for definition in definitions]
        windows = Windows.at(self._clock())
        found: dict[str, Usage] | None = None
        if source == "shared":
            found = await self._call(lambda limits: limits.usage(names, windows))
        if found is None:
            found = await self._local.usage(names, windows)
            source = "local" if self._redis_url is not None else "memory"
        self.last_usage = {
            "backend": self.backend,
            "mode": self.mode,
            "counters": source,
            "keys": [key_usage(definition, found[definition.name]) for definition in definitions],
        }
        return self.last_usage

    @property
    def mode(self) -> str:
        if self._redis_url is None:
            return "local"
        return "degraded" if self.degraded else "shared"

    def status(self) -> dict[str, Any]:
        """Counters for /metrics and /status, read without I/O."""
        return {
            "backend": self.backend,
            "mode": self.mode,
            "failure_mode": self.settings.failure_mode,
            "keys_configured": len(self._configured),
            "last_error": self.last_error,
            "settles_pending": len(self._pending),
            **{
                name: self.counts[name]
                for name in (
                    "admitted",
                    "refused_unknown",
                    "refused_model",
                    "refused_rpm",
                    "refused_tpm",
                    "refused_budget_day",
                    "refused_budget_month",
                    "refused_unavailable",
                    "degraded_admits",
                    "redis_errors",
                    "outages",
                    "settles_replayed",
                    "settles_dropped",
                )
            },
        }

    async def close(self) -> None:
        """Replays what it can of the queued settles, then closes the connection."""
        if self._pending and self._redis_url is not None:
            await self.flush()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._shared = None

    # ------------------------------------------------------------------------------------------

    def _decide(self, verdict: Verdict, hold: Hold, *, shared: bool, model: str, windows: Windows) -> Decision:
        definition = verdict.definition
        if verdict.outcome == "ok":
            assert definition is not None, "an admission names its key"
            self.counts["admitted"] += 1
            return Decision(True, definition.name, Reservation(replace(hold, key_name=definition.name), shared))
        self.counts[f"refused_{verdict.outcome}"] += 1
        if definition is None:
            return Decision(
                False, None, None, 401, "invalid_request_error", "invalid_api_key", "key", "invalid API key"
            )
        return refusal(definition, verdict, model, hold, windows)

    def _remember(self, digest: str, verdict: Verdict) -> None:
        """Admin-created keys seen in Redis, for the failure mode; forgotten once Redis says unknown."""
        if verdict.definition is None:
            self._mirror.pop(digest, None)
        elif digest not in self._configured:
            self._mirror[digest] = verdict.definition
            self._mirror.move_to_end(digest)
            while len(self._mirror) > MIRROR_KEYS_MAX:
                self._mirror.popitem(last=False)

    def _queue(self, hold: Hold, tokens: int, cost: int, *, charge: bool) -> None:
        if len(self._pending) >= PENDING_SETTLES_MAX:
            self._pending.popleft()
            self.counts["settles_dropped"] += 1
        self._pending.append((hold, tokens, cost, charge))

    def _limits(self) -> RedisLimits:
        """The Redis client of the running loop (redis-py's asyncio connections belong to one)."""
        loop = asyncio.get_running_loop()
        if self._shared is None or self._client_loop is not loop:
            import redis.asyncio as redis_asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            assert self._redis_url is not None, "only called with a Redis URL"
            timeout_s = self.settings.op_timeout_s
            # No retries inside redis-py: the failure mode decides at once.
            self._client = redis_asyncio.from_url(
                self._redis_url,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
            self._client_loop = loop
            self._shared = RedisLimits(self._client, self.namespace, self.settings.reservation_ttl_s)
        return self._shared

    async def _call(self, operation: Callable[[RedisLimits], Awaitable[T]], *, flushing: bool = False) -> T | None:
        """One Redis operation within the bound, or None (Redis counted as away for a while)."""
        if time.monotonic() < self._down_until_s:
            return None
        try:
            result = await asyncio.wait_for(operation(self._limits()), self.settings.op_timeout_s)
        except Exception as error:  # noqa: BLE001 - Redis must never fail a request by itself
            self._note_down(error)
            return None
        if self.degraded:
            self.degraded = False
            logger.info("virtual keys: Redis reachable again; %d settles to replay", len(self._pending))
        if self._pending and not flushing:
            self._schedule_flush()
        return result

    def _schedule_flush(self) -> None:
        """Replays queued settles in the background: a backlog never delays a request."""
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.ensure_future(self.flush())

    def _note_down(self, error: BaseException) -> None:
        self.counts["redis_errors"] += 1
        # The type only: a Redis error's text can quote the URL, password included.
        self.last_error = type(error).__name__
        self._down_until_s = time.monotonic() + RETRY_INTERVAL_S
        if not self.degraded:
            self.degraded = True
            self.counts["outages"] += 1
            logger.warning(
                "virtual keys: Redis unreachable (%s); failure mode %s", self.last_error, self.settings.failure_mode
            )


def settling(hold: Hold, tokens: int, cost_nano_usd: int, charge: bool) -> Callable[[RedisLimits], Awaitable[bool]]:
    return lambda limits: limits.settle(hold, tokens, cost_nano_usd, charge)


def nano_usd_of(usd: float) -> int:
    """A cost in nano-USD: negative or NaN counts as nothing, an infinite one as beyond any budget."""
    if math.isnan(usd) or usd <= 0:
        return 0
    return min(round(usd * NANO_PER_USD), COST_NANO_USD_MAX) if math.isfinite(usd) else COST_NANO_USD_MAX

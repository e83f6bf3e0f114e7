"""Shared state between replicas, over Redis: breaker events, the half-open probe lease, counters.

Each replica's native breaker stays the source of truth for its own decisions; Redis only carries
what the others must know, and nothing on a request's path waits on Redis for more than
``op_timeout_s``. Design (the README's "Shared state, cache and hedging" says why):

- An opening (threshold reached, Retry-After, credential or quota hold) is published at once on
  one pub/sub channel as a hold in milliseconds, and written as the key ``<ns>:open:<provider>``
  that expires when the hold ends (a Lua script keeps the longer hold). Subscribers apply it to
  their native breaker (``th_node_open_until``): open everywhere one round trip after the
  failure. The keys are what a replica that starts, or comes back from an outage, reads (their
  remaining time to live) to catch up. Only durations travel, so replicas' clocks need not agree.
- A closing (a probe that succeeded) is published and the key deleted; others close too.
- A several-key provider's keys are breakers of their own (``_keyring``), shared the same way
  under their breaker names (``share_keyrings``, ``_shared_keys``).
- The half-open probe is a lease ``SET <ns>:probe:<provider> <token> NX PX <lease>``: the local
  breaker grants a probe, then Redis decides which replica sends it. A replica that loses gives
  its local probe back (``th_node_release_probe``) and skips the provider.
- Counters are added into ``<ns>:counters:<provider>`` hashes by a Lua script that first claims
  the batch's token (``SET NX``): a batch whose reply was lost is retried with the same token
  and never counted twice, so the sum over replicas is exact.

Redis runs on a background thread with its own asyncio loop (redis-py's asyncio client), so
sync and async callers share one connection pool and a slow Redis never blocks their loop for
more than the bounded wait. When Redis is unreachable the replica carries on alone, reports
``degraded``, keeps its counter deltas, and on reconnection flushes them, republishes its open
breakers and applies the others'.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ._exceptions import ConfigurationError
from ._shared_keys import NamedReplicas
from ._shared_scripts import COUNTERS_SCRIPT, OPEN_SCRIPT, RELEASE_SCRIPT

if TYPE_CHECKING:
    from ._board import Board

__all__ = ["SharedState", "mask_url"]

logger = logging.getLogger("trinity_hybrid.shared")
T = TypeVar("T")

NAMESPACE_DEFAULT = "trinity"
# A request may wait this long for Redis (a probe lease, a cache read) before deciding alone.
OP_TIMEOUT_S_DEFAULT = 0.05
FLUSH_INTERVAL_S = 0.05
RECONNECT_DELAY_S_MIN = 0.1
RECONNECT_DELAY_S_MAX = 2.0
# Bounds: events queued while Redis is away (the keys resynchronise whatever is dropped), and
# counter batches' idempotency tokens kept in Redis.
OUTBOX_EVENTS_MAX = 1024
BATCH_TOKEN_TTL_S = 3600
COUNTER_FIELDS = (
    "calls_total",
    "calls_successful",
    "calls_failed",
    "calls_client_error",
    "latency_ms_sum",
    "tokens_input",
    "tokens_output",
    "cost_nano_usd",
)

def mask_url(url: str) -> str:
    """The URL without its password (``redis://user:***@host``), for status pages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class SharedState:
    """One replica's link to the others. Created by ``TrinityHybridNode.enable_shared_state``, over the node's board."""

    def __init__(
        self,
        board: Board,
        url: str,
        *,
        namespace: str = NAMESPACE_DEFAULT,
        op_timeout_s: float = OP_TIMEOUT_S_DEFAULT,
        replica_id: str | None = None,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "TRINITY_REDIS_URL needs redis-py: pip install 'trinity-hybrid[redis]'"
            ) from None
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError("TRINITY_REDIS_URL must be a redis://, rediss:// or unix:// URL")
        if not (0 < op_timeout_s <= 5):
            raise ConfigurationError(f"the Redis operation timeout must be in (0, 5] s, got {op_timeout_s!r}")
        self._board = board
        # Each breaker shared, by the name its events carry: the board's providers under their
        # own names, a several-key provider's keys under ``Keyring.breakers``' names.
        self._breakers: dict[str, tuple[Board, str]] = {name: (board, name) for name in board.provider_names}
        self._key_boards: list[Board] = []
        self._url = url
        self.namespace = namespace
        self.op_timeout_s = op_timeout_s
        self.replica_id = replica_id or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.channel = f"{namespace}:events"
        self._lock = threading.Lock()
        self._pending: dict[str, collections.Counter[str]] = {}
        self._batch: tuple[str, dict[str, dict[str, int]]] | None = None
        self._batch_numbers = itertools.count()
        self._outbox: collections.deque[dict[str, Any]] = collections.deque(maxlen=OUTBOX_EVENTS_MAX)
        self._probe_tokens: dict[str, str] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.connected = False
        self.degraded_since_wall_ms: int | None = None
        self.last_error: str | None = None
        self._client: Any = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"trinity-shared-{self.replica_id}", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    # ------------------------------------------------------------------------------------------
    # Called by the node, from any thread. None of these waits on Redis beyond op_timeout_s.

    def on_opened(self, provider: str, open_until_ms: int) -> None:
        """Our breaker opened (or its deadline moved later) until ``open_until_ms`` (monotonic)."""
        self._send({"type": "open", "provider": provider, "until_ms": open_until_ms})

    def on_closed(self, provider: str) -> None:
        self._send({"type": "close", "provider": provider})

    def on_outcome(self, provider: str, deltas: dict[str, int]) -> None:
        """A call's outcome: its counter increments, and the end of our probe if we held it."""
        with self._lock:
            self._pending.setdefault(provider, collections.Counter()).update(deltas)
            token = self._probe_tokens.pop(provider, None)
        if token is not None:
            self._send({"type": "release_probe", "provider": provider, "token": token})
        # Counters wait for the next flush tick (FLUSH_INTERVAL_S): batching is the point.

    def acquire_probe(self, provider: str, lease_ms: int) -> bool | None:
        """Asks Redis for the provider's probe lease: True (ours), False (another replica's, or
        Redis too slow to say: the lease may have gone to someone), or None when Redis is
        known to be unreachable (the local decision then stands)."""
        if not self.connected:
            return None
        token = f"{self.replica_id}:{uuid.uuid4().hex[:8]}"

        async def take(client: Any) -> bool:
            # SET NX answers OK or nil; nil means another replica holds the lease.
            return bool(await client.set(self._key("probe", provider), token, nx=True, px=lease_ms))

        won = self._call(take)
        if won:
            with self._lock:
                self._probe_tokens[provider] = token
            self.counts["probe_leases_won"] += 1
            return True
        self.counts["probe_leases_lost"] += 1
        return False

    def release_probe(self, provider: str) -> None:
        """Gives the shared probe lease back, if this replica holds it (a cancelled probe)."""
        with self._lock:
            token = self._probe_tokens.pop(provider, None)
        if token is not None:
            self._send({"type": "release_probe", "provider": provider, "token": token})

    def share_keyrings(self, keyrings: Mapping[str, Any]) -> None:
        """Shares each key's breaker of ``keyrings`` (``_keyring.Keyring``) as the provider's are:
        a key's 429 or credential failure holds that key on every replica, not the provider."""
        for ring in keyrings.values():
            for name, board in ring.breakers():
                self._breakers[name] = (board, ring.provider)
                board.replicas = NamedReplicas(self, name)
                self._key_boards.append(board)

    def cache_get(self, key: str) -> bytes | None:
        value = self._call(lambda client: client.get(self._key("cache", key)))
        return value if isinstance(value, bytes) else None

    async def cache_get_async(self, key: str) -> bytes | None:
        value = await self._call_async(lambda client: client.get(self._key("cache", key)))
        return value if isinstance(value, bytes) else None

    def cache_set(self, key: str, value: bytes, ttl_ms: int) -> None:
        """Stores in the background: a cache write never delays an answer."""
        self._send({"type": "cache_set", "key": self._key("cache", key), "value": value, "ttl_ms": ttl_ms})

    def counters(self, provider: str) -> dict[str, int] | None:
        """Every replica's counters for ``provider`` added up (what Redis holds; this replica's
        unflushed deltas are not in it yet), or None when Redis is unreachable."""
        raw = self._call(lambda client: client.hgetall(self._key("counters", provider)), timeout_s=1.0)
        if raw is None:
            return None
        return {field: int(raw.get(field.encode(), 0)) for field in COUNTER_FIELDS}

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Waits until every counter delta recorded so far is in Redis; False if it could not be."""
        deadline_s = time.monotonic() + timeout_s
        while time.monotonic() < deadline_s:
            with self._lock:
                idle = self._batch is None and not any(self._pending.values())
            if idle and not self._outbox:
                return True
            self._poke()
            time.sleep(0.01)
        return False

    def status(self) -> dict[str, Any]:
        """The ``shared_state`` section of the node's status document."""
        with self._lock:
            pending = sum(1 for deltas in self._pending.values() if deltas) + (self._batch is not None)
        return {
            "backend": "redis",
            "url": mask_url(self._url),
            "replica_id": self.replica_id,
            # "connecting" until the first connection or failure; "degraded" while Redis is away.
            "mode": "shared" if self.connected else ("degraded" if self.counts["outages"] else "connecting"),
            "connected": self.connected,
            "degraded_since_unix_ms": self.degraded_since_wall_ms,
            "last_error": self.last_error,
            "counter_batches_pending": pending,
            "events_queued": len(self._outbox),
            **{name: self.counts[name] for name in (
                "events_published", "events_received", "events_applied", "probe_leases_won",
                "probe_leases_lost", "counter_batches_flushed", "redis_errors", "outages", "resyncs",
            )},
        }

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        for board in self._key_boards:
            board.replicas = None
        self._poke()
        self._thread.join(5.0)

    # ------------------------------------------------------------------------------------------
    # Plumbing between the callers' threads and the Redis loop.

    def _key(self, kind: str, name: str) -> str:
        return f"{self.namespace}:{kind}:{name}"

    def _send(self, event: dict[str, Any]) -> None:
        self._outbox.append(event)
        self._poke()

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop is closing
                pass

    def _call(self, operation: Callable[[Any], Awaitable[T]], timeout_s: float | None = None) -> T | None:
        """Runs one Redis operation from a caller's thread, waiting at most the bound."""
        if not self.connected:
            return None
        future = asyncio.run_coroutine_threadsafe(self._run_operation(operation), self._loop)
        try:
            return future.result(timeout=timeout_s or self.op_timeout_s)
        except (concurrent.futures.TimeoutError, Exception) as error:  # noqa: BLE001 - Redis must never fail a request
            future.cancel()
            self._note_error(error)
            return None

    async def _call_async(self, operation: Callable[[Any], Awaitable[T]]) -> T | None:
        if not self.connected:
            return None
        future = asyncio.run_coroutine_threadsafe(self._run_operation(operation), self._loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.op_timeout_s)
        except (asyncio.TimeoutError, Exception) as error:  # noqa: BLE001 - Redis must never fail a request
            future.cancel()
            self._note_error(error)
            return None

    async def _run_operation(self, operation: Callable[[Any], Awaitable[T]]) -> T:
        return await operation(self._client)

    def _note_error(self, error: BaseException) -> None:
        self.counts["redis_errors"] += 1
        # The type only: a Redis error message can quote the URL, password included.
        self.last_error = type(error).__name__

    # ------------------------------------------------------------------------------------------
    # The Redis loop: connect, resynchronise, then publish, flush and listen until an error.

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._supervise())
        finally:
            self._loop.close()

    async def _supervise(self) -> None:
        import redis.asyncio as redis_asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._wake = asyncio.Event()
        self._ready.set()
        delay_s = RECONNECT_DELAY_S_MIN
        # No retries inside redis-py: a failed call is reported at once and the loop reconnects.
        self._client = redis_asyncio.from_url(
            self._url,
            socket_timeout=max(self.op_timeout_s, 0.5),
            socket_connect_timeout=max(self.op_timeout_s, 0.5),
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        try:
            while not self._closing:
                try:
                    await self._session()
                    delay_s = RECONNECT_DELAY_S_MIN
                except Exception as error:  # noqa: BLE001 - any Redis failure means: go on alone
                    self._set_degraded(error)
                    await self._sleep(delay_s)
                    delay_s = min(delay_s * 2, RECONNECT_DELAY_S_MAX)
        finally:
            self.connected = False
            await self._client.aclose()

    def _set_degraded(self, error: BaseException) -> None:
        if self.connected or self.degraded_since_wall_ms is None:
            self.counts["outages"] += 1
            self.degraded_since_wall_ms = wall_ms()
            logger.warning("shared state: Redis unreachable (%s); carrying on with local state", type(error).__name__)
        self.connected = False
        self._note_error(error)

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _session(self) -> None:
        client = self._client
        await client.ping()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            await self._resync()
            self.connected = True
            self.degraded_since_wall_ms = None
            logger.info("shared state: connected to %s as %s", mask_url(self._url), self.replica_id)
            listener = asyncio.ensure_future(self._listen(pubsub))
            try:
                while not self._closing:
                    await self._publish_outbox()
                    await self._flush_counters()
                    if listener.done():
                        listener.result()  # raises the listener's error, ending the session
                    await self._sleep(FLUSH_INTERVAL_S)
                # Closing: what this replica recorded goes out before the connection does.
                await self._publish_outbox()
                await self._flush_counters()
            finally:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
        finally:
            self.connected = False
            # The connection may already be gone; closing it is only tidying up.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), 0.5)

    async def _resync(self) -> None:
        """After (re)connecting: our open breakers go to Redis, theirs come to us."""
        self.counts["resyncs"] += 1
        now_monotonic_ms = monotonic_ms()
        for name, (board, provider) in list(self._breakers.items()):
            stats = board.stats(provider, now_ms=now_monotonic_ms)
            if stats.state != "closed" and stats.open_until_ms > now_monotonic_ms:
                self.on_opened(name, stats.open_until_ms)
        await self._publish_outbox()
        async for key in self._client.scan_iter(match=self._key("open", "*"), count=100):
            hold_ms = await self._client.pttl(key)
            if hold_ms > 0:
                self._apply({"type": "open", "provider": key.decode().rsplit(":", 1)[1], "hold_ms": hold_ms})

    async def _listen(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            self.counts["events_received"] += 1
            try:
                event = json.loads(message["data"])
            except (TypeError, ValueError):
                continue
            if isinstance(event, dict) and event.get("replica") != self.replica_id:
                self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        """Applies another replica's breaker event to our native breaker (a provider's or a key's)."""
        name = event.get("provider")
        breaker = self._breakers.get(name) if isinstance(name, str) else None
        if breaker is None:
            return
        board, provider = breaker
        if event.get("type") == "open":
            hold_ms = event.get("hold_ms")
            if isinstance(hold_ms, int) and hold_ms > 0:
                board.open_until(provider, monotonic_ms() + hold_ms)
                self.counts["events_applied"] += 1
        elif event.get("type") == "close":
            board.close_breaker(provider)
            self.counts["events_applied"] += 1

    async def _publish_outbox(self) -> None:
        client = self._client
        while self._outbox:
            event = self._outbox[0]
            kind = event["type"]
            if kind == "open":
                # The hold left now: an event that waited out an outage is not held longer.
                hold_ms = event["until_ms"] - monotonic_ms()
                if hold_ms > 0:
                    message = json.dumps({"type": "open", "provider": event["provider"], "hold_ms": hold_ms,
                                          "replica": self.replica_id})
                    await client.eval(OPEN_SCRIPT, 1, self._key("open", event["provider"]), hold_ms, self.channel,
                                      message)
                    self.counts["events_published"] += 1
            elif kind == "close":
                async with client.pipeline(transaction=True) as pipe:
                    pipe.delete(self._key("open", event["provider"]))
                    pipe.publish(self.channel, json.dumps({**event, "replica": self.replica_id}))
                    await pipe.execute()
                self.counts["events_published"] += 1
            elif kind == "release_probe":
                await client.eval(RELEASE_SCRIPT, 1, self._key("probe", event["provider"]), event["token"])
            elif kind == "cache_set":
                await client.set(event["key"], event["value"], px=event["ttl_ms"])
            self._outbox.popleft()

    async def _flush_counters(self) -> None:
        """Sends one batch of counter deltas; a batch whose reply was lost keeps its token."""
        with self._lock:
            if self._batch is None:
                deltas = {provider: dict(counter) for provider, counter in self._pending.items() if counter}
                if not deltas:
                    return
                self._pending.clear()
                self._batch = (f"{self.replica_id}:{next(self._batch_numbers)}", deltas)
            token, deltas = self._batch
        keys = [self._key("batch", token)] + [self._key("counters", provider) for provider in deltas]
        arguments: list[Any] = [BATCH_TOKEN_TTL_S]
        for provider_deltas in deltas.values():
            arguments.append(len(provider_deltas))
            for field, increment in provider_deltas.items():
                arguments.extend((field, increment))
        await self._client.eval(COUNTERS_SCRIPT, len(keys), *keys, *arguments)
        with self._lock:
            self._batch = None
        self.counts["counter_batches_flushed"] += 1

"""The response cache: exact-match answers to repeated non-stream requests.

A key is the SHA-256 of the normalised request (the messages after normalisation, max_tokens,
temperature) and of the routing choice (forced provider and its model, strategy, quality), so two
requests share an entry only when every provider would have been asked exactly the same thing.
Entries live in an in-process LRU bounded by count and bytes, with a TTL; with a Redis backend
the LRU is a first level in front of Redis, which every replica shares. Only successful answers
are stored; a request with ``temperature > 0`` is cached only when the caller asks for it
(``cache="always"``), since its answers are meant to differ.
"""

from __future__ import annotations

import collections
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from ._environment import CACHE_TTL_S_LIMIT
from ._exceptions import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from ._request import ChatRequest
    from ._shared import SharedState

__all__ = ["CacheMode", "ResponseCache"]

# True: cache deterministic requests (temperature unset or 0); "always": also temperature > 0.
CacheMode = Union[bool, str, None]  # noqa: UP007 - a runtime alias, and Python 3.10 is supported
TTL_S_DEFAULT = 300.0
ENTRIES_MAX_DEFAULT = 1024
BYTES_MAX_DEFAULT = 64 * 1024 * 1024
KEY_VERSION = "2"


@dataclass(frozen=True, slots=True)
class _Entry:
    payload: bytes
    expires_s: float


def cache_mode(value: object) -> CacheMode:
    if value is None or isinstance(value, bool) or value == "always":
        return value
    raise InvalidInputError(f"cache must be None, True, False or 'always', got {value!r}")


class ResponseCache:
    """Exact-match cache of answers; thread-safe. Counters in ``counts`` feed the metrics."""

    def __init__(
        self,
        *,
        ttl_s: float = TTL_S_DEFAULT,
        entries_max: int = ENTRIES_MAX_DEFAULT,
        bytes_max: int = BYTES_MAX_DEFAULT,
        shared: SharedState | None = None,
        default: bool = False,
    ) -> None:
        if not (ttl_s > 0 and ttl_s < CACHE_TTL_S_LIMIT):
            raise ConfigurationError(f"cache TTL must be a positive number of seconds, got {ttl_s!r}")
        if entries_max < 1 or bytes_max < 1:
            raise ConfigurationError("cache bounds must be at least 1 entry and 1 byte")
        self.ttl_s = float(ttl_s)
        self.entries_max = entries_max
        self.bytes_max = bytes_max
        self.shared = shared
        # Whether a request that says nothing (cache=None) uses the cache.
        self.default = default
        self._entries: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    @property
    def backend(self) -> str:
        return "redis" if self.shared is not None else "memory"

    def wants(self, mode: CacheMode, request: ChatRequest) -> bool:
        """Whether this request is looked up and stored, given the caller's ``cache`` argument."""
        if request.stream:
            return False
        use = self.default if mode is None else bool(mode)
        if not use:
            return False
        if request.temperature is not None and request.temperature > 0 and mode != "always":
            self.counts["skipped_temperature"] += 1
            return False
        return True

    @staticmethod
    def key(request: ChatRequest, *, force_provider: str | None, model: str | None, strategy: str | None,
            quality: bool) -> str:
        """The request's fingerprint: every field it carries (messages with their images and tool
        calls, tools, response_format, every parameter, unknown fields), so that an answer is
        never served for a request that differs in anything a provider would see."""
        document = {
            "v": KEY_VERSION,
            "request": request.fingerprint(),
            "force_provider": force_provider,
            "model": model,
            "strategy": strategy,
            "quality": quality,
        }
        encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
        return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        payload = self._get_local(key)
        if payload is None and self.shared is not None:
            payload = self.shared.cache_get(key)
            if payload is not None:
                self._put_local(key, payload)
        return self._count(payload)

    async def aget(self, key: str) -> dict[str, Any] | None:
        payload = self._get_local(key)
        if payload is None and self.shared is not None:
            payload = await self.shared.cache_get_async(key)
            if payload is not None:
                self._put_local(key, payload)
        return self._count(payload)

    def put(self, key: str, answer: dict[str, Any]) -> None:
        payload = json.dumps(answer, separators=(",", ":")).encode()
        self._put_local(key, payload)
        if self.shared is not None:
            self.shared.cache_set(key, payload, round(self.ttl_s * 1000))
        self.counts["stores"] += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def status(self) -> dict[str, Any]:
        with self._lock:
            entries, stored_bytes = len(self._entries), self._bytes
        return {
            "backend": self.backend,
            "default": self.default,
            "ttl_s": self.ttl_s,
            "entries": entries,
            "bytes": stored_bytes,
            **{name: self.counts[name] for name in ("hits", "misses", "stores", "evictions", "expired",
                                                     "skipped_temperature")},
        }

    def _count(self, payload: bytes | None) -> dict[str, Any] | None:
        if payload is None:
            self.counts["misses"] += 1
            return None
        self.counts["hits"] += 1
        answer: dict[str, Any] = json.loads(payload)
        return answer

    def _get_local(self, key: str) -> bytes | None:
        now_s = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires_s <= now_s:
                self._drop(key)
                self.counts["expired"] += 1
                return None
            self._entries.move_to_end(key)
            return entry.payload

    def _put_local(self, key: str, payload: bytes) -> None:
        with self._lock:
            # The older answer goes even when the new one is too large to keep: a later lookup
            # must never find an answer older than the last one stored.
            if key in self._entries:
                self._drop(key)
            if len(payload) > self.bytes_max:
                return
            self._entries[key] = _Entry(payload, time.monotonic() + self.ttl_s)
            self._bytes += len(payload)
            while len(self._entries) > self.entries_max or self._bytes > self.bytes_max:
                self._drop(next(iter(self._entries)))
                self.counts["evictions"] += 1

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.payload)

"""The node's I/O resources, each made on first use: the sync and async HTTP clients (both with
the in-process local model mounted), and the threads that read hedged sync attempts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["HEDGE_THREADS", "Clients"]

# Threads that read hedged sync attempts, per node.
HEDGE_THREADS = 8


class Clients:
    def __init__(self, local_context_tokens: Callable[[], int]) -> None:
        self._local_context_tokens = local_context_tokens
        self._sync: Any = None
        self._async: Any = None
        self._hedge_threads: Any = None
        self._local: Any = None
        self._async_readers: tuple[Any, ...] | None = None
        self._sync_events: tuple[Any, ...] | None = None

    def local_model(self) -> Any:
        if self._local is None:
            from ._local import LocalModel

            self._local = LocalModel(context_tokens=self._local_context_tokens())
        return self._local

    def sync_client(self) -> Any:
        if self._sync is None:
            from ._http import sync_client

            self._sync = sync_client(self.local_model())
        return self._sync

    def async_client(self) -> Any:
        if self._async is None:
            from ._http import async_client

            self._async = async_client(self.local_model())
        return self._async

    def async_readers(self, timeouts: Any, bytes_max: int) -> tuple[Any, Any]:
        """The async client's readers (``_drive_async``: a stream's events, a whole answer) for
        ``timeouts`` and ``bytes_max``, made once for each rather than on every call: they are two
        closures and an httpx Timeout built for each ``ainfer``."""
        client = self.async_client()
        readers = self._async_readers
        if readers is None or readers[0] is not client or readers[1] is not timeouts or readers[2] != bytes_max:
            from ._drive_async import httpx_async_events, httpx_async_whole

            whole = httpx_async_whole(client, timeouts, bytes_max)
            events = httpx_async_events(client, timeouts, bytes_max, whole)
            readers = self._async_readers = (client, timeouts, bytes_max, events, whole)
        return readers[3], readers[4]

    def sync_events(self, timeouts: Any, bytes_max: int) -> Any:
        """The sync client's reader (``_drive_sync.httpx_events``), made once for each
        ``timeouts`` and ``bytes_max`` as ``async_readers``."""
        client = self.sync_client()
        events = self._sync_events
        if events is None or events[0] is not client or events[1] is not timeouts or events[2] != bytes_max:
            from ._drive_sync import httpx_events

            events = self._sync_events = (client, timeouts, bytes_max, httpx_events(client, timeouts, bytes_max))
        return events[3]

    def hedge_executor(self) -> Any:
        if self._hedge_threads is None:
            from concurrent.futures import ThreadPoolExecutor

            self._hedge_threads = ThreadPoolExecutor(max_workers=HEDGE_THREADS, thread_name_prefix="trinity-hedge")
        return self._hedge_threads

    def close(self) -> None:
        """Closes the sync client and the hedging threads (``aclose``: the async client)."""
        if self._hedge_threads is not None:
            self._hedge_threads.shutdown(wait=False, cancel_futures=True)
            self._hedge_threads = None
        self._sync_events = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        self._async_readers = None
        if self._async is not None:
            await self._async.aclose()
            self._async = None

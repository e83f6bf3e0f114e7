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
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None

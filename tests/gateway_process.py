"""`trinity-hybrid serve` in its own process, with every library log record on stderr.

    python gateway_process.py serve --port 8123 [...]

The same click command as the `trinity-hybrid` script; the only addition is a handler that writes
each record of the `trinity_hybrid` loggers with all its structured fields, so that a test can
scan everything the gateway logged for keys (uvicorn configures only its own loggers).
``GatewayProcess`` starts it from a test (its pid is the serving process: one worker).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from gateway_harness import GATEWAY_KEY, free_port
from prometheus_client.parser import text_string_to_metric_families
from trinity_hybrid._cli import main

STARTUP_TIMEOUT_S = 60.0
HERE = Path(__file__).resolve().parent


class GatewayProcess:
    """One `trinity-hybrid serve` process; its stdout and stderr go to files for the leak scan."""

    def __init__(self, directory: Path, name: str, environment: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / f"{name}.log"
        base = {variable: os.environ[variable] for variable in ("PATH", "HOME", "LANG") if variable in os.environ}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "gateway_process.py"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "info",
                ],
                env={**base, **environment},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        deadline_s = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline_s, "the gateway did not start"
            time.sleep(0.1)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers={"Authorization": f"Bearer {GATEWAY_KEY}"}, timeout=10.0)

    def status(self) -> dict[str, Any]:
        return self.get("/status").json()  # type: ignore[no-any-return]

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = self.get("/metrics").text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def rss_kib(self) -> int:
        """The serving process's resident memory (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class EveryField(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname} {record.name} {record.getMessage()} {record.__dict__!r}"


if __name__ == "__main__":
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EveryField())
    library_logger = logging.getLogger("trinity_hybrid")
    library_logger.addHandler(handler)
    library_logger.setLevel(logging.DEBUG)
    main(sys.argv[1:])

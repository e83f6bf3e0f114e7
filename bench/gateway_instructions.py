"""The gateway's non-I/O path per request, for instruction counts: a diagnostic beside gateway_cpu.py.

The gateway's ASGI app (``create_app``, as served) answers ``POST /v1/chat/completions`` with a
one-message body, one request after another on one event loop; the upstream pool's ``post``
is replaced by a coroutine returning nginx's canned completion (bench/servers.py), so no socket
is touched and everything else runs: the body's checks, routing, the plan and its walk, the
answer's parsing, the breaker and stats, metrics, the request log and the answer's document.

Run under callgrind twice, with N and N + 1000 requests; the difference of the totals divided by
1,000 is the instructions per request, start-up and warm-up cancelled out:

    valgrind --tool=callgrind --callgrind-out-file=cg.%p python bench/gateway_instructions.py 100
    valgrind --tool=callgrind --callgrind-out-file=cg.%p python bench/gateway_instructions.py 1100
    callgrind_annotate cg.<pid> | head   # "PROGRAM TOTALS"

Without valgrind it prints the CPU µs per request (``time.process_time``), best of 5 rounds.
Works on any tree whose gateway has ``ChatService.pool()`` (554f0fc and later).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from gateway_cpu import BODY, scope  # the same request as gateway_cpu.py's
from servers import CANNED_COMPLETION, GATEWAY_API_KEY, UPSTREAM_API_KEY

ANSWER = json.dumps(CANNED_COMPLETION, separators=(",", ":")).encode()
ANSWER_HEADERS = {"content-type": "application/json", "content-length": str(len(ANSWER))}
UPSTREAM = "http://127.0.0.1:9/v1"  # never connected to


class CannedPool:
    """Stands in for ``gateway._upstream.UpstreamPool``: every post answers nginx's completion."""

    async def post(self, url: str, headers: Any, body: bytes, *, connect_s: float, read_s: float) -> Any:
        return 200, dict(ANSWER_HEADERS), ANSWER

    def close(self) -> None:
        pass


def gateway() -> Any:
    from trinity_hybrid import TrinityHybridNode
    from trinity_hybrid.gateway import create_app

    environment = {"OPENAI_API_KEY": UPSTREAM_API_KEY, "OPENAI_BASE_URL": UPSTREAM, "OPENAI_MODEL": "gpt-4o-mini",
                   "TRINITY_API_KEYS": GATEWAY_API_KEY}  # fmt: skip
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    app = create_app(node, environ=environment)
    app.chat._pool = CannedPool()
    return app


async def requests(app: Any, count: int) -> None:
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(count):
        await app(scope(), receive, send)
    if set(statuses) != {200}:
        raise SystemExit(f"gateway_instructions: answers other than 200: {sorted(set(statuses))}")


async def main(count: int | None) -> None:
    app = gateway()
    await requests(app, 50)  # warm-up: imports, caches
    if count is not None:
        await requests(app, count)
        return
    best_s = float("inf")
    for _ in range(5):
        started_s = time.process_time()
        await requests(app, 2000)
        best_s = min(best_s, (time.process_time() - started_s) / 2000)
    print(f"gateway non-I/O path: {best_s * 1e6:.1f} µs CPU per request (best of 5 x 2000)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else None))

"""The gateway's own CPU time per request, in one process: a diagnostic, not a figure of SUMMARY.md.

The gateway's ASGI app and two raw ASGI pass-throughs (the body forwarded and the upstream's
bytes returned: one over an aiohttp session, one over the gateway's own upstream client when the
installed gateway has it) are called directly, without a server, by 32 concurrent callers against
nginx answering a canned completion; batches of each alternate, and the best batch of each is
kept, which this shared machine's load disturbs less than a mean. The gateway minus the raw
pass-through over its own client is what routing, validation, accounting and metrics cost per
request. Run it on two checkouts (`PYTHONPATH=...`) to see what a change bought.

    .venv-bench/bin/python bench/gateway_cpu.py [--batches 15]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from servers import GATEWAY_API_KEY, UPSTREAM_API_KEY, Server, free_port, nginx_command, running

CONCURRENCY = 32
BATCH_REQUESTS = 640
BODY = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "Say hello."}]}).encode()


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "path": "/v1/chat/completions",
        "method": "POST",
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {GATEWAY_API_KEY}".encode()),
            (b"content-length", str(len(BODY)).encode()),
        ],
    }


def raw_upstream_app(upstream: str) -> Any:
    """The raw pass-through over the gateway's upstream client (``gateway._upstream``)."""
    from trinity_hybrid.gateway._upstream import UpstreamPool

    pool = UpstreamPool(connections_max=200, idle_max=50, idle_s=30.0)
    url = f"{upstream}/chat/completions"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = (await receive())["body"]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_API_KEY}"}
        status, _, content = await pool.post(url, headers, body, connect_s=10.0, read_s=120.0)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"%d" % len(content))]})  # fmt: skip
        await send({"type": "http.response.body", "body": content})

    async def aclose() -> None:
        pool.close()

    app.aclose = aclose  # type: ignore[attr-defined]
    return app


def raw_app(upstream: str) -> Any:
    session: list[aiohttp.ClientSession] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not session:
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        body = (await receive())["body"]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_API_KEY}"}
        async with session[0].post(f"{upstream}/chat/completions", data=body, headers=headers) as answer:
            content = await answer.read()
        start = {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [(b"content-length", b"%d" % len(content))],
        }
        await send(start)
        await send({"type": "http.response.body", "body": content})

    async def aclose() -> None:
        for opened in session:
            await opened.close()

    app.aclose = aclose  # type: ignore[attr-defined]
    return app


async def batch(app: Any, statuses: list[int]) -> float:
    """CPU seconds per request over one batch."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def caller() -> None:
        for _ in range(BATCH_REQUESTS // CONCURRENCY):
            await app(scope(), receive, send)

    started_s = time.process_time()
    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    return (time.process_time() - started_s) / BATCH_REQUESTS


async def measure(upstream: str, batches: int) -> dict[str, float]:
    from trinity_hybrid import TrinityHybridNode
    from trinity_hybrid.gateway import create_app

    environment = {"OPENAI_API_KEY": UPSTREAM_API_KEY, "OPENAI_BASE_URL": upstream, "OPENAI_MODEL": "gpt-4o-mini",
                   "TRINITY_API_KEYS": GATEWAY_API_KEY}  # fmt: skip
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    apps = {"raw": raw_app(upstream), "gateway": create_app(node, environ=environment)}
    if importlib.util.find_spec("trinity_hybrid.gateway._upstream") is not None:
        apps["raw_upstream"] = raw_upstream_app(upstream)
    statuses: list[int] = []
    for app in apps.values():
        await batch(app, statuses)  # warm-up: connections, caches
    best = {name: float("inf") for name in apps}
    for _ in range(batches):
        for name, app in apps.items():
            best[name] = min(best[name], await batch(app, statuses))
    await apps.pop("gateway").chat.aclose()
    for app in apps.values():
        await app.aclose()
    if set(statuses) != {200}:
        raise SystemExit(f"gateway_cpu: answers other than 200: {sorted(set(statuses))}")
    return {f"{name}_us": seconds * 1e6 for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=15)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gateway-cpu-") as temporary:
        directory, port = Path(temporary), free_port()
        upstream = f"http://127.0.0.1:{port}/v1"
        environment = {"PATH": os.environ.get("PATH", "")}
        with running(Server("nginx", nginx_command(directory, port), environment, directory / "nginx.log")) as nginx:
            nginx.ready(f"{upstream}/chat/completions", {"model": "m", "messages": []}, timeout_s=10.0)
            try:
                import uvloop

                uvloop.install()
            except ImportError:
                pass
            figures = asyncio.run(measure(upstream, options.batches))
    import trinity_hybrid

    print(f"trinity_hybrid from {Path(trinity_hybrid.__file__).parent}")
    floor_us = figures.get("raw_upstream_us", figures["raw_us"])
    print(f"CPU per request, best of {options.batches} batches of {BATCH_REQUESTS} at {CONCURRENCY} concurrent: "
          f"raw pass-through over aiohttp {figures['raw_us']:.0f} µs, over the gateway's upstream client "
          f"{figures.get('raw_upstream_us', float('nan')):.0f} µs, gateway {figures['gateway_us']:.0f} µs, "
          f"gateway's own {figures['gateway_us'] - floor_us:.0f} µs")  # fmt: skip


if __name__ == "__main__":
    main()

"""The floor for the gateway benchmark: the least an ASGI gateway can do per request.

A bare Starlette app that forwards the body of `POST /v1/chat/completions` to the upstream with one
shared aiohttp session and returns the upstream's bytes as they came: no parsing, no routing, no
metrics. Served by uvicorn with the settings `trinity-hybrid serve` uses (one worker, httptools
parser, uvloop event loop, no access log, no Server or Date header).

    python bench/passthrough_app.py --port 8101 --upstream http://127.0.0.1:8100/v1

With ``--static`` it calls no upstream and answers the canned completion itself from a raw ASGI
app: the server's own hop, a reference figure of the benchmark (what uvicorn costs alone).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def build_app(upstream_base_url: str) -> Starlette:
    completions_url = upstream_base_url.rstrip("/") + "/chat/completions"
    session: aiohttp.ClientSession | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal session
        # No connection limit: the pool should never be what the benchmark measures.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await session.close()

    async def chat_completions(request: Request) -> Response:
        assert session is not None
        headers = {"Content-Type": "application/json"}
        authorization = request.headers.get("authorization")
        if authorization:
            headers["Authorization"] = authorization
        async with session.post(completions_url, data=await request.body(), headers=headers) as upstream:
            content = await upstream.read()
            return Response(content, status_code=upstream.status, media_type="application/json")

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [Route("/v1/chat/completions", chat_completions, methods=["POST"]), Route("/health", health)]
    return Starlette(routes=routes, lifespan=lifespan)


def static_app() -> object:
    """A raw ASGI app answering every request with the canned completion, no upstream."""
    from servers import CANNED_COMPLETION

    body = json.dumps(CANNED_COMPLETION, separators=(",", ":")).encode()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to set up
        while (await receive()).get("more_body"):
            pass
        await send(start)
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL, ending in /v1")
    parser.add_argument("--static", action="store_true", help="answer without the upstream (the server's own hop)")
    options = parser.parse_args()
    uvicorn.run(
        static_app() if options.static else build_app(options.upstream),
        host=options.host,
        port=options.port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="off" if options.static else "on",
    )


if __name__ == "__main__":
    main()

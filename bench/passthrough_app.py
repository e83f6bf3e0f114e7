"""The floor for the gateway benchmark: the least an ASGI gateway can do per request.

A bare Starlette app that forwards the body of `POST /v1/chat/completions` to the upstream with one
shared aiohttp session and returns the upstream's bytes as they came: no parsing, no routing, no
metrics. Served by uvicorn with the settings `trinity-hybrid serve` uses (one worker, httptools
parser, uvloop event loop, no access log, no Server or Date header).

    python bench/passthrough_app.py --port 8101 --upstream http://127.0.0.1:8100/v1
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL, ending in /v1")
    options = parser.parse_args()
    uvicorn.run(
        build_app(options.upstream),
        host=options.host,
        port=options.port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()

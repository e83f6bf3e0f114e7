"""Embeddings on the wire, three APIs on one loopback origin: OpenAI ``POST /v1/embeddings``,
Gemini ``POST /v1beta/models/{model}:batchEmbedContents``, Cohere ``POST /v2/embed``.

Vectors are deterministic (from a hash of the text), so a test can check that vector ``i`` is the
one of text ``i``. ``statuses`` scripts errors (each provider's error shape) for the next calls.
The shapes are checked by the official SDKs in tests/test_embeddings.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["EmbeddingServer", "vector_of"]

DIMENSIONS_DEFAULT = 8


def vector_of(text: str, dimensions: int = DIMENSIONS_DEFAULT) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[index % len(digest)] - 128) / 128, 6) for index in range(dimensions)]


class EmbeddingServer:
    def __init__(self, api_key: str = "loopback-embedding-key") -> None:
        self.api_key = api_key
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, body)
        self.keys: list[str] = []  # the key each request came with, in order
        self.statuses: list[int] = []  # answered with these errors first, in order
        self.retry_after_s: int | None = None  # a Retry-After header on those errors, when set
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"loopback-embeddings-{self.port}")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the embedding server did not start")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/embeddings", self._openai)
        app.router.add_post("/{version}/models/{call}", self._gemini)
        app.router.add_post("/v2/embed", self._cohere)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.SockSite(runner, self._socket)
        await site.start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _read(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        self.requests.append((request.path, body))
        self.keys.append(self._key(request))
        return body

    @staticmethod
    def _key(request: web.Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Bearer ") or request.headers.get(
            "x-goog-api-key", ""
        )

    def _authorized(self, request: web.Request) -> bool:
        return self._key(request) == self.api_key

    def _scripted(self, error: dict[str, Any]) -> web.Response | None:
        if not self.statuses:
            return None
        headers = {} if self.retry_after_s is None else {"Retry-After": str(self.retry_after_s)}
        return web.json_response(error, status=self.statuses.pop(0), headers=headers)

    async def _openai(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        failed = self._scripted({"error": {"message": "The server had an error", "type": "server_error",
                                           "param": None, "code": None}})  # fmt: skip
        if failed is not None:
            return failed
        if not self._authorized(request):
            return web.json_response({"error": {"message": "Incorrect API key provided.", "type":
                                                "invalid_request_error", "param": None, "code": "invalid_api_key"}},
                                     status=401)  # fmt: skip
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        dimensions = body.get("dimensions", DIMENSIONS_DEFAULT)
        data = [{"object": "embedding", "index": index, "embedding": vector_of(text, dimensions)}
                for index, text in enumerate(texts)]  # fmt: skip
        tokens = sum(len(text.split()) for text in texts)
        return web.json_response({"object": "list", "data": list(reversed(data)), "model": body["model"],
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})  # fmt: skip

    async def _gemini(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        failed = self._scripted(
            {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
        )
        if failed is not None:
            return failed
        if not request.match_info["call"].endswith(":batchEmbedContents"):
            return web.json_response(
                {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}, status=404
            )
        embeddings = [
            {"values": vector_of(item["content"]["parts"][0]["text"], item.get("outputDimensionality", 8))}
            for item in body["requests"]
        ]
        return web.json_response({"embeddings": embeddings})

    async def _cohere(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        failed = self._scripted({"message": "internal server error"})
        if failed is not None:
            return failed
        dimensions = body.get("output_dimension", DIMENSIONS_DEFAULT)
        vectors = [vector_of(text, dimensions) for text in body["texts"]]
        tokens = sum(len(text.split()) for text in body["texts"])
        return web.json_response({
            "id": "loopback", "embeddings": {"float": vectors}, "texts": body["texts"],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type",
        })  # fmt: skip

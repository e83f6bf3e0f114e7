"""The gateway as a plain ASGI application: routing, bodies, headers, and the answer's shape.

No web framework: a request passes through one dictionary lookup on its path and one handler,
which keeps the gateway's own time per request small (the choice was measured; see the README's
Gateway section). Any ASGI server runs it; ``trinity-hybrid serve`` uses uvicorn.

Every handler answers or raises ``ApiError``; a ``TrinityError`` becomes one through
``api_error_for``; anything else is logged here (type only in the answer) and becomes a 500.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._config import load_config
from .._environment import BODY_BYTES_MAX_DEFAULT, read_body_bytes_max
from .._exceptions import TrinityError
from .._node import TrinityHybridNode
from .._request import ChatRequest
from .._results import Attempt, Response
from . import _anthropic_api, _embeddings_api, _shapes
from ._admission import ADMIN_PREFIX, Admission
from ._anthropic_api import COUNT_TOKENS_PATH, MESSAGES_PATH, MessageStream, anthropic_error_body, message_document
from ._anthropic_request import parse_messages_request
from ._asgi import (
    JSON_HEADERS,
    SSE_HEADERS,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_body,
    send_whole,
    trinity_headers,
)
from ._auth import Authenticator
from ._autonomous import plan_document, plan_messages
from ._chat import ChatService
from ._embeddings_api import EMBEDDINGS_PATH
from ._errors import ApiError, api_error_for
from ._metrics import GatewayMetrics
from ._models import ServedModels, served_models
from ._observe import EXCHANGE, Exchange, Observer
from ._request_headers import routed
from ._request_log import REQUEST_ID_HEADER
from ._responses_api import ResponseStream, response_document
from ._responses_request import RESPONSES_PATH, parse_responses_request
from ._stream import ChatStream
from ._validation import ChatParams, parse_chat, parse_goal

__all__ = ["BODY_BYTES_MAX_DEFAULT", "Gateway", "app_from_env", "create_app"]

logger = logging.getLogger("trinity_hybrid.gateway")


@dataclass(frozen=True, slots=True)
class _Api:
    """What differs between the chat APIs the gateway answers: the body's parser, the answer's
    document, the stream's events (``opening``, ``chunk``, ``closing``, ``error``) and the
    metrics' endpoint label."""

    endpoint: str
    parse: Callable[[bytes, dict[str, str | None], tuple[str, ...]], ChatParams]  # (body, models, strategies)
    document: Callable[[str, Response, ChatParams], bytes]  # (model id, answer, request)
    stream: Callable[[str, ChatParams], Any]  # (model id, request) -> the stream's events


_ENDPOINTS = {"/v1/chat/completions": "chat", MESSAGES_PATH: "messages", COUNT_TOKENS_PATH: "messages",
              "/autonomous/plan": "plan", EMBEDDINGS_PATH: "embeddings", RESPONSES_PATH: "responses"}  # fmt: skip
# The endpoints with a request log record and a span.
_LOGGED = {"/v1/chat/completions": "chat", MESSAGES_PATH: "messages", EMBEDDINGS_PATH: "embeddings",
           RESPONSES_PATH: "responses"}  # fmt: skip
_CHAT = _Api("chat", parse_chat, lambda model, response, params: _shapes.completion_of(model, response),
             lambda model, params: ChatStream(model, params.include_usage))  # fmt: skip
_MESSAGES = _Api("messages", parse_messages_request, lambda model, response, params: message_document(model, response),
                 lambda model, params: MessageStream(model))  # fmt: skip
_RESPONSES = _Api("responses", parse_responses_request, response_document, ResponseStream)


class Gateway:
    """The ASGI callable. Build it with ``create_app``."""

    def __init__(
        self,
        node: TrinityHybridNode,
        authenticator: Authenticator,
        body_bytes_max: int,
        chat: ChatService | None = None,
        observer: Observer | None = None,
        models: ServedModels | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.node = node
        self.authenticator = authenticator
        self.body_bytes_max = body_bytes_max
        self.chat = chat or ChatService(node)
        self.metrics = GatewayMetrics(node)
        self.observer = observer or Observer.from_env({}, {}, node)
        self.metrics.add_collector(self.observer.log.prometheus_collector())
        self.admission = admission or Admission(authenticator)
        self.admission.add_collectors(self.metrics)
        self.models = models if models is not None else served_models(node)
        self._embedding_models = _embeddings_api.embedding_models(node, self.models)
        self._model_ids = {provider: name for name, provider in self.models.items() if provider and "/" in name}
        self.routes: dict[tuple[str, str], Callable[[Scope, Receive, Send], Awaitable[None]]] = {
            ("POST", "/v1/chat/completions"): self.chat_completions,
            ("POST", MESSAGES_PATH): functools.partial(self.chat_completions, api=_MESSAGES),
            ("POST", RESPONSES_PATH): functools.partial(self.chat_completions, api=_RESPONSES),
            ("POST", COUNT_TOKENS_PATH): self.count_tokens,
            ("POST", EMBEDDINGS_PATH): self.embeddings,
            ("GET", "/v1/models"): self.list_models,
            ("GET", "/health"): self.health,
            ("GET", "/status"): self.status,
            ("GET", "/metrics"): self.prometheus,
            ("POST", "/autonomous/plan"): self.plan,
            ("GET", "/autonomous/status"): self.autonomous_status,
        }
        self._paths = {path for _, path in self.routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: not served
        started_s = time.perf_counter()
        path, method = scope["path"], scope["method"]
        exchange, span = self.observer.open(
            send, header(scope, REQUEST_ID_HEADER), method, path, _LOGGED.get(path), scope
        )
        scope[EXCHANGE] = exchange  # type: ignore[index]  # (cast() would build dict[str, Any] per request)
        with span:
            try:
                status, outcome, error_type = await self._answer(scope, receive, exchange.send, started_s)
            except BaseException as error:  # cancelled (the client left mid-stream): still one record
                exchange.close(499, "client_gone", type(error).__name__)
                raise
            exchange.close(status, outcome, error_type)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, started_s: float
    ) -> tuple[int, str | None, str | None]:
        """Runs the handler; the status, outcome and error type answered (None: what the
        handler told the request's Exchange)."""
        path, method = scope["path"], scope["method"]
        try:
            handler = self.routes.get((method, path))
            if handler is None:
                if not path.startswith(ADMIN_PREFIX):  # /admin/*: the admin key, checked by _admin
                    raise self._no_route(path, method)
                handler = functools.partial(self.admission.admin_route, body_bytes_max=self.body_bytes_max)
            elif path != "/health":  # operators' keys (TRINITY_API_KEYS), or a virtual key
                self.admission.authorize(scope, path)
            await handler(scope, receive, send)
            return 200, None, None
        except ApiError as error:
            await self._send_error(send, error, scope, started_s)
            return error.status, error.outcome, error.code or error.type
        except TrinityError as error:
            answer = api_error_for(error)
            await self._send_error(send, answer, scope, started_s)
            return answer.status, answer.outcome, type(error).__name__
        except OSError:
            logger.debug("client went away during %s %s", method, path)
            return 499, "client_gone", "OSError"
        except Exception as error:  # a bug: logged here, answered without details
            logger.exception("unhandled %s on %s %s", type(error).__name__, method, path)
            await self._send_error(send, api_error_for(TrinityError()), scope, started_s)
            return 500, "internal_error", type(error).__name__
        finally:  # a virtual key's hold, replaced by what was used: on every path, cancelled too
            if scope[EXCHANGE].ticket is not None:
                await self.admission.settle(scope[EXCHANGE])

    # ------------------------------------------------------------------------------------------
    # Chat completions.

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send, api: _Api = _CHAT) -> None:
        """A chat request in ``api``'s shapes: Chat Completions, or Anthropic's Messages
        (``_MESSAGES``): the same request model, route and fallback."""
        started_s = time.perf_counter()
        exchange: Exchange = scope[EXCHANGE]
        # read_body and chat.complete awaited here, not through _body and _complete: a coroutine
        # less each on every request.
        params = api.parse(await read_body(scope, receive, self.body_bytes_max), self.models, self.node.strategy_names)
        params = routed(params, self.models, scope, self.node.strategy_names)
        stream = params.stream
        exchange.requested(params.model, stream=stream)
        call = self.chat.start(params)
        await self.admission.admit(scope, exchange, params.model, call, self.node)
        exchange.upstream()
        if stream:
            await self._stream(call, api, params, send, started_s, exchange)
            return
        try:
            response = await self.chat.complete(call)
        except TrinityError:
            self._record_attempts_failed(call, exchange)
            raise
        model_id = self._model_id(response.provider, params.targets)
        exchange.answered(response, model_id, cache_hit=response.cached if call.options.cache_key is not None else None)
        body = api.document(model_id, response, params)
        duration_s = time.perf_counter() - started_s
        overhead_s = overhead_of(duration_s, response.attempts)
        headers = JSON_HEADERS + trinity_headers(response.provider, len(response.attempts), overhead_s)
        if call.options.cache_key is not None:  # the request went through the response cache
            headers.append((b"x-trinity-cache", b"hit" if response.cached else b"miss"))
        await send_whole(send, 200, body, headers)
        self._record_chat(api.endpoint, response.provider, response.attempts, duration_s, overhead_s)
        self.metrics.record_usage(
            response.provider, response.usage.prompt_tokens, response.usage.completion_tokens, response.cost_usd
        )

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await self._body(scope, receive)
        await self.admission.known(scope)
        params = parse_messages_request(body, self.models, self.node.strategy_names, counting=True)
        await send_whole(send, 200, _anthropic_api.token_count(params.request), JSON_HEADERS)

    async def embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/embeddings`` (``_embeddings_api``): routed and fallen back like chat."""
        started_s = time.perf_counter()
        exchange: Exchange = scope[EXCHANGE]
        params = _embeddings_api.parse_embeddings(await self._body(scope, receive), self._embedding_models)
        exchange.requested(params.model)
        plan = _embeddings_api.plan_embeddings(self.node, params)
        await self.admission.admit(scope, exchange, params.model, plan, self.node)
        exchange.upstream()
        try:
            response = await _embeddings_api.run_embeddings(self.node, plan)
        except TrinityError:
            self._record_attempts_failed(plan, exchange)
            raise
        exchange.answered(response, f"{response.provider}/{response.model}", traced=False)
        body = _embeddings_api.embeddings_document(params, response)
        duration_s = time.perf_counter() - started_s
        overhead_s = overhead_of(duration_s, response.attempts)
        headers = JSON_HEADERS + trinity_headers(response.provider, len(response.attempts), overhead_s)
        await send_whole(send, 200, body, headers)
        self._record_chat("embeddings", response.provider, response.attempts, duration_s, overhead_s)
        self.metrics.record_usage(response.provider, response.usage.prompt_tokens, 0, response.cost_usd)

    async def _stream(
        self, call: Any, api: _Api, params: ChatParams, send: Send, started_s: float, exchange: Exchange
    ) -> None:
        """The API's events (``_stream.ChatStream``, ``_anthropic_api.MessageStream``), sent as
        the chunks come."""
        chunks = self.chat.stream(call)
        # The first chunk is awaited before any byte is sent, so that a request no provider can
        # answer still gets its error status rather than a broken stream.
        waited_from_s = time.perf_counter()
        try:
            first = await chunks.__anext__()
        except BaseException:
            self._record_attempts_failed(call, exchange)
            raise
        first_byte_s = time.perf_counter()
        overhead_s = waited_from_s - started_s  # a stream's overhead: everything before the first upstream wait
        attempts_count = len(first.attempts) if first.done else len(call.attempts) + 1
        model_id = self._model_id(first.provider, params.targets)
        events, endpoint = api.stream(model_id, params), api.endpoint
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": SSE_HEADERS + trinity_headers(first.provider, attempts_count, overhead_s),
            }
        )
        await send_body(send, events.opening())
        chunk = first
        try:
            while not chunk.done:
                body = events.chunk(chunk)
                if body:
                    await send_body(send, body)
                chunk = await chunks.__anext__()
        except TrinityError as error:
            # Mid-stream the status is already sent: the error goes out as the last event.
            await send_body(send, events.error(api_error_for(error)), more=False)
            self.metrics.record_request(endpoint, first.provider, "upstream_error", first_byte_s - started_s)
            # The call's attempts end with the one that failed after its first token.
            self._record_attempts_failed(call, exchange)
            exchange.outcome, exchange.error_type = "upstream_error", type(error).__name__
            return
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        await send_body(send, events.closing(chunk), more=False)
        exchange.answered(chunk, model_id)
        self._record_chat(endpoint, chunk.provider, chunk.attempts, first_byte_s - started_s, overhead_s)
        if chunk.usage is not None:
            self.metrics.record_usage(
                chunk.provider, chunk.usage.prompt_tokens, chunk.usage.completion_tokens, chunk.cost_usd
            )

    async def _complete(self, call: Any, exchange: Exchange | None = None) -> Response:
        """The whole answer; when none comes, the attempts made are still counted."""
        try:
            return await self.chat.complete(call)
        except TrinityError:
            self._record_attempts_failed(call, exchange)
            raise

    def _record_chat(
        self, endpoint: str, provider: str, attempts: tuple[Any, ...], duration_s: float, overhead_s: float
    ) -> None:
        self.metrics.record_request(endpoint, provider, "success", duration_s)
        self.metrics.record_overhead(overhead_s)
        self.metrics.record_attempts(attempts)

    def _record_attempts_failed(self, call: Any, exchange: Exchange | None = None) -> None:
        self.metrics.record_attempts(call.attempts)
        if exchange is not None:
            exchange.failed(call.attempts)

    def _model_id(self, provider: str, targets: tuple[tuple[str, str | None], ...] | None = None) -> str:
        for named, model in targets or ():  # the model the request named for this provider
            if named == provider and model is not None:
                return f"{provider}/{model}"
        known = self._model_ids.get(provider)
        return known if known is not None else f"{provider}/{self.node.provider_info(provider)['model']}"

    # ------------------------------------------------------------------------------------------
    # Everything else.

    async def list_models(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.admission.known(scope)
        if header(scope, b"anthropic-version") is not None:  # Anthropic's clients: their page shape
            await send_whole(send, 200, _anthropic_api.model_list(self.models), JSON_HEADERS)
            return
        await send_whole(send, 200, _shapes.model_list(self.models), JSON_HEADERS)

    async def health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_whole(send, 200, b'{"status":"ok"}', JSON_HEADERS)

    async def status(self, scope: Scope, receive: Receive, send: Send) -> None:
        document = self.node.status()
        keys = await self.admission.status()  # per virtual key: limits and spend, by name only
        if keys is not None:
            document["virtual_keys"] = keys
        await send_whole(send, 200, json.dumps(document).encode(), JSON_HEADERS)

    async def prometheus(self, scope: Scope, receive: Receive, send: Send) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST

        await self.admission.refresh()
        await send_whole(send, 200, self.metrics.exposition(), [(b"content-type", CONTENT_TYPE_LATEST.encode())])

    async def plan(self, scope: Scope, receive: Receive, send: Send) -> None:
        started_s = time.perf_counter()
        goal, quality, strategy = parse_goal(await self._body(scope, receive))
        if strategy is not None and strategy not in self.node.strategy_names:
            raise ApiError(400, f"strategy must be one of {', '.join(self.node.strategy_names)}", param="strategy")
        call = self.chat.start(ChatParams("auto", ChatRequest.of(plan_messages(goal)), None, quality, strategy))
        await self.admission.admit(scope, scope[EXCHANGE], "auto", call, self.node)
        response = await self._complete(call)
        scope[EXCHANGE].answered(response, "auto")  # for the virtual key's spend
        body = json.dumps(plan_document(goal, response, call.route.reason), ensure_ascii=False).encode()
        duration_s = time.perf_counter() - started_s
        overhead_s = overhead_of(duration_s, response.attempts)
        await send_whole(
            send, 200, body, JSON_HEADERS + trinity_headers(response.provider, len(response.attempts), overhead_s)
        )
        self.metrics.record_request("plan", response.provider, "success", duration_s)
        self.metrics.record_attempts(response.attempts)
        self.metrics.record_usage(
            response.provider, response.usage.prompt_tokens, response.usage.completion_tokens, response.cost_usd
        )

    async def autonomous_status(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.admission.known(scope)
        status = self.node.status()
        document = {
            "status": "ok",
            "llm_providers": status["providers"],
            "available_providers": status["available_providers"],
            "strategy": status["strategy"],
            "total_calls": status["total_calls"],
        }
        await send_whole(send, 200, json.dumps(document).encode(), JSON_HEADERS)

    # ------------------------------------------------------------------------------------------
    # Plumbing.

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        return await read_body(scope, receive, self.body_bytes_max)

    def _no_route(self, path: str, method: str) -> ApiError:
        if path in self._paths:
            return ApiError(405, f"{method} is not allowed on {path}", code="method_not_allowed")
        return ApiError(404, f"no such endpoint: {method} {path}", code="not_found")

    async def _send_error(self, send: Send, error: ApiError, scope: Scope, started_s: float) -> None:
        endpoint = _ENDPOINTS.get(scope["path"], "other")
        self.metrics.record_request(endpoint, None, error.outcome, time.perf_counter() - started_s)
        body = anthropic_error_body(error) if endpoint == "messages" else error.body()
        try:
            await send_whole(send, error.status, body, JSON_HEADERS + error.headers())
        except RuntimeError:
            pass  # the response had already started (a stream): nothing more can be said

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The HTTP stacks load now, not during the first request.
                self.chat.pool()
                self.node._async_client()
                # What is loaded by now lives as long as the process: frozen out of the collector's
                # view, a full collection (27 ms here over ~46,000 objects, about one per 3,000
                # requests) no longer walks it.
                gc.collect()
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.chat.aclose()
                await self.admission.close()
                self.observer.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def overhead_of(duration_s: float, attempts: tuple[Attempt, ...]) -> float:
    """The gateway's own share of a whole answer's time: the duration less its attempts' waits."""
    return max(0.0, duration_s - sum(attempt.latency_s for attempt in attempts))


def create_app(
    node: TrinityHybridNode | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    body_bytes_max: int | None = None,
    chat: ChatService | None = None,
) -> Gateway:
    """A gateway over ``node`` (by default one configured from the environment); API keys from
    ``TRINITY_API_KEYS`` and the body limit from ``TRINITY_MAX_BODY_BYTES`` in ``environ``."""
    source = os.environ if environ is None else environ
    if body_bytes_max is None:
        body_bytes_max = read_body_bytes_max(source)
    node = node or TrinityHybridNode.from_env(source)
    document = load_config(source["TRINITY_CONFIG"]) if source.get("TRINITY_CONFIG", "").strip() else {}
    observer = Observer.from_env(source, document, node)
    models = served_models(node, document)
    admission = Admission.from_config(Authenticator.from_env(source), document, source)
    return Gateway(node, admission.authenticator, body_bytes_max, chat, observer, models, admission)


def app_from_env() -> Gateway:
    """The factory each server worker calls (``uvicorn --factory``)."""
    return create_app()

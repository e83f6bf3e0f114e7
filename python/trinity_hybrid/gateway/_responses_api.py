"""OpenAI's Responses API answer shapes for ``POST /v1/responses``: the Response, its stream events.

Field for field what the ``openai`` SDK's ``types/responses`` declare, so its clients (and its
``responses.stream`` accumulator, which checks that every item added is done before the
response completes) read them as OpenAI's own. The request side is ``_responses_request``;
routing, fallback and I/O are those of chat completions. Sans-I/O: values in, bytes out.

- A Response (``object: "response"``): ``output`` items in the order the model produced them: a
  ``reasoning`` item (``reasoning_text`` content) when the provider gave its reasoning, a
  ``message`` item with one ``output_text`` part when there is text (or nothing else), then a
  ``function_call`` item per tool call (``call_id``, ``name``, ``arguments`` as JSON text).
  ``status`` is ``completed``, or ``incomplete`` with ``incomplete_details.reason``
  ``max_output_tokens`` / ``content_filter`` from the finish reason. ``usage`` counts
  ``input_tokens`` (cached ones in ``input_tokens_details``), ``output_tokens`` and
  ``total_tokens``. The request's tools, tool choice, text format and sampling are echoed.
- A stream: ``response.created`` and ``response.in_progress``; per item ``output_item.added``,
  for text and reasoning ``content_part.added``, the deltas (``output_text.delta``,
  ``reasoning_text.delta``, ``function_call_arguments.delta``), then the ``.done`` events with
  the whole text or arguments, ``content_part.done`` and ``output_item.done``; a new kind of
  piece closes the open item, as OpenAI streams one item after another. The last event is
  ``response.completed`` (or ``response.incomplete``) carrying the whole Response, every item
  in it. Every event has its ``sequence_number``, counted from 0.
- An error after the stream began: an ``error`` event, then ``response.failed`` with the
  Response's ``error`` set and the items so far.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from .._request import ChatRequest, Tool
from .._results import Response, StreamChunk
from ..providers import Usage
from ._errors import ApiError
from ._validation import ChatParams

__all__ = ["ResponseStream", "response_document"]

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
# ResponseError.code by HTTP status; anything else is a server_error.
ERROR_CODES = {429: "rate_limit_exceeded", 400: "invalid_prompt"}


def _identifier(prefix: str) -> str:
    # An identifier, not a secret (as completion_id).
    return f"{prefix}_{random.getrandbits(96):024x}"


def response_document(model: str, response: Response, params: ChatParams) -> bytes:
    """The Response for a whole answer."""
    output: list[dict[str, Any]] = []
    if response.reasoning:
        output.append(_reasoning_item(_identifier("rs"), response.reasoning, "completed"))
    if response.text or not response.tool_calls:
        output.append(_message_item(_identifier("msg"), response.text, "completed"))
    output.extend(
        _call_item(_identifier("fc"), call.id, call.name, call.arguments, "completed") for call in response.tool_calls
    )
    document = _response(_identifier("resp"), int(time.time()), model, params, output, response.usage,
                         response.finish_reason)  # fmt: skip
    return json.dumps(document, ensure_ascii=False).encode()


def usage_json(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        usage = Usage(0, 0)
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def _response(
    identifier: str,
    created_at: int,
    model: str,
    params: ChatParams,
    output: list[dict[str, Any]],
    usage: Usage | None,
    finish_reason: str | None,
    status: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Response document; ``status`` None: completed or incomplete by the finish reason."""
    reason = INCOMPLETE_REASONS.get(finish_reason or "")
    if status is None:
        status = "incomplete" if reason is not None else "completed"
    request = params.request
    document: dict[str, Any] = {
        "id": identifier,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "instructions": getattr(params, "instructions", None),
        "max_output_tokens": request.max_tokens,
        "model": model,
        "output": output,
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": None,
        "reasoning": None,
        "temperature": request.temperature,
        "text": {"format": _text_format(request)},
        "tool_choice": _tool_choice(request),
        "tools": [_tool_json(tool) for tool in request.tools],
        "top_p": request.top_p,
        "truncation": "disabled",
        "usage": usage_json(usage) if status != "in_progress" else None,
        "user": request.user,
        "metadata": dict(request.metadata or {}),
    }
    return document


def _tool_json(tool: Tool) -> dict[str, Any]:
    return {"type": "function", "name": tool.name, "description": tool.description, "parameters": tool.parameters,
            "strict": tool.strict}  # fmt: skip


def _text_format(request: ChatRequest) -> dict[str, Any]:
    response_format = request.response_format
    if response_format is None:
        return {"type": "text"}
    if response_format.type == "json_object":
        return {"type": "json_object"}
    return {"type": "json_schema", "name": response_format.name, "schema": response_format.schema,
            "strict": response_format.strict, "description": response_format.description}  # fmt: skip


def _tool_choice(request: ChatRequest) -> Any:
    choice = request.tool_choice
    if choice is None:
        return "auto"
    if choice.mode == "function":
        return {"type": "function", "name": choice.name}
    return choice.mode


def _message_item(identifier: str, text: str, status: str) -> dict[str, Any]:
    content = [_text_part(text)] if status == "completed" else []
    return {"id": identifier, "type": "message", "role": "assistant", "status": status, "content": content}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _reasoning_item(identifier: str, text: str, status: str) -> dict[str, Any]:
    content = [{"type": "reasoning_text", "text": text}] if status == "completed" else []
    return {"id": identifier, "type": "reasoning", "summary": [], "content": content, "status": status}


def _call_item(identifier: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {"id": identifier, "type": "function_call", "call_id": call_id, "name": name, "arguments": arguments,
            "status": status}  # fmt: skip


class _Item:
    """An output item being streamed: its kind, id, and the text or arguments so far."""

    __slots__ = ("call_id", "identifier", "kind", "name", "text")

    def __init__(self, kind: str, identifier: str, call_id: str = "", name: str = "") -> None:
        self.kind, self.identifier, self.call_id, self.name = kind, identifier, call_id, name
        self.text = ""

    def document(self, status: str) -> dict[str, Any]:
        if self.kind == "message":
            return _message_item(self.identifier, self.text, status)
        if self.kind == "reasoning":
            return _reasoning_item(self.identifier, self.text, status)
        return _call_item(self.identifier, self.call_id, self.name, self.text, status)


class ResponseStream:
    """One stream's events: ``opening`` once, ``chunk`` per chunk, then ``closing`` (with the
    last, ``done`` chunk) or ``error``. Only the first choice is streamed (Responses has no n)."""

    __slots__ = ("_calls", "_items", "_open", "_sequence", "created_at", "identifier", "model", "params")

    def __init__(self, model: str, params: ChatParams) -> None:
        self.identifier = _identifier("resp")
        self.created_at = int(time.time())
        self.model = model
        self.params = params
        self._sequence = 0
        self._items: list[_Item] = []  # every item started, in output order
        self._open: _Item | None = None  # the item deltas go to, until another kind starts
        self._calls: dict[int, _Item] = {}  # a tool call's index in the stream -> its item

    def opening(self) -> bytes:
        response = self._document([], None, None, "in_progress")
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def chunk(self, chunk: StreamChunk) -> bytes:
        if chunk.index != 0:
            return b""
        events: list[bytes] = []
        if chunk.reasoning:
            events += self._piece("reasoning", chunk.reasoning)
        if chunk.text:
            events += self._piece("message", chunk.text)
        for piece in chunk.tool_calls:
            item = self._calls.get(piece.index)
            if item is None or piece.id is not None:  # a new call: its own function_call item
                call_id = piece.id or f"call_{self.identifier[5:]}_{piece.index}"
                item = self._calls[piece.index] = _Item("function_call", _identifier("fc"), call_id, piece.name or "")
                events += self._start(item)
            if piece.arguments:
                item.text += piece.arguments
                events.append(self._event("response.function_call_arguments.delta", item_id=item.identifier,
                                          output_index=self._items.index(item), delta=piece.arguments))  # fmt: skip
        return b"".join(events)

    def closing(self, last: StreamChunk) -> bytes:
        # An answer with nothing in it still has its (empty) message, as a whole answer has.
        events = self._close() if self._items else self._start(_Item("message", _identifier("msg"))) + self._close()
        response = self._document([item.document("completed") for item in self._items], last.usage,
                                  last.finish_reason)  # fmt: skip
        name = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        events.append(self._event(name, response=response))
        return b"".join(events)

    def error(self, error: ApiError) -> bytes:
        code = ERROR_CODES.get(error.status, "server_error")
        failure = self._event("error", code=code, message=error.message, param=error.param)
        output = [item.document("incomplete") for item in self._items]
        response = self._document(output, None, None, "failed", {"code": code, "message": error.message})
        return failure + self._event("response.failed", response=response)

    def _document(self, output: list[dict[str, Any]], usage: Usage | None, finish_reason: str | None,
                  status: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        return _response(self.identifier, self.created_at, self.model, self.params, output, usage, finish_reason,
                         status, error)  # fmt: skip

    def _piece(self, kind: str, text: str) -> list[bytes]:
        """A text or reasoning piece: into the open item of its kind, else into a new one."""
        events: list[bytes] = []
        item = self._open
        if item is None or item.kind != kind:
            item = _Item(kind, _identifier("msg" if kind == "message" else "rs"))
            events += self._start(item)
        item.text += text
        name = "response.output_text.delta" if kind == "message" else "response.reasoning_text.delta"
        extra: dict[str, Any] = {"logprobs": []} if kind == "message" else {}
        events.append(self._event(name, item_id=item.identifier, output_index=len(self._items) - 1, content_index=0,
                                  delta=text, **extra))  # fmt: skip
        return events

    def _start(self, item: _Item) -> list[bytes]:
        """Closes the open item, then adds ``item`` (and its content part)."""
        events = self._close()
        self._items.append(item)
        index = len(self._items) - 1
        events.append(self._event("response.output_item.added", output_index=index, item=item.document("in_progress")))
        if item.kind != "function_call":
            events.append(self._event("response.content_part.added", item_id=item.identifier, output_index=index,
                                      content_index=0, part=self._part(item, "")))  # fmt: skip
        self._open = item
        return events

    def _close(self) -> list[bytes]:
        item = self._open
        if item is None:
            return []
        self._open = None
        index = self._items.index(item)
        at = {"item_id": item.identifier, "output_index": index}
        events: list[bytes] = []
        if item.kind == "function_call":
            events.append(self._event("response.function_call_arguments.done", **at, arguments=item.text))
        else:
            done = "response.output_text.done" if item.kind == "message" else "response.reasoning_text.done"
            extra: dict[str, Any] = {"logprobs": []} if item.kind == "message" else {}
            events.append(self._event(done, **at, content_index=0, text=item.text, **extra))
            events.append(self._event("response.content_part.done", **at, content_index=0,
                                      part=self._part(item, item.text)))  # fmt: skip
        events.append(self._event("response.output_item.done", output_index=index, item=item.document("completed")))
        return events

    @staticmethod
    def _part(item: _Item, text: str) -> dict[str, Any]:
        return _text_part(text) if item.kind == "message" else {"type": "reasoning_text", "text": text}

    def _event(self, name: str, **fields: Any) -> bytes:
        data = {"type": name, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + name.encode() + b"\ndata: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"

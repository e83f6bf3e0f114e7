"""A streamed answer as OpenAI's ``chat.completion.chunk`` events (sans-I/O: chunks in, bytes out).

``ChatStream`` turns the library's ``StreamChunk`` values into SSE events the way OpenAI streams
them: a first chunk with the role, then ``delta.content``, ``delta.reasoning_content`` and
``delta.tool_calls`` pieces (``index`` on every piece; ``id``, ``type`` and ``function.name`` on
the first piece of a call only, ``function.arguments`` fragments after it, absent fields left out
rather than sent as null, which some clients' accumulators take as a new value), the closing
chunk of each choice with its ``finish_reason``, and the usage chunk when the client asked for it.
A text piece of the first choice, nearly every event of nearly every stream, comes from a
template made once per stream.

The gateway's ASGI handler (``_app.Gateway._stream``) sends what these methods return; the
Anthropic Messages stream (``_anthropic_api.MessageStream``) has the same four methods.
"""

from __future__ import annotations

import time
from json.encoder import encode_basestring as _string
from typing import Any

from .._results import StreamChunk
from ._errors import ApiError
from ._shapes import DONE_EVENT, completion_id, error_event, stream_chunk

__all__ = ["ChatStream", "tool_call_delta_json"]


class ChatStream:
    """One stream's events. ``opening`` once, ``chunk`` per chunk, then ``closing`` (the last,
    ``done`` chunk) or ``error``."""

    __slots__ = ("_choices", "_finished", "_reasons", "_text_head", "created", "identifier", "include_usage", "model")

    def __init__(self, model: str, include_usage: bool) -> None:
        self.identifier = completion_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self._choices = {0}  # the choices opened (their role sent); the opening chunk opens choice 0
        self._finished: set[int] = set()  # the choices closed with their own finish reason (n > 1)
        self._reasons: dict[int, str] = {}  # finish reasons that came with a choice's last piece
        self._text_head = (
            f'data: {{"id":{_string(self.identifier)},"object":"chat.completion.chunk","created":{self.created},'
            f'"model":{_string(model)},"system_fingerprint":null,"choices":[{{"index":0,"delta":{{"content":'
        ).encode()

    def opening(self) -> bytes:
        return self._event({"role": "assistant", "content": ""})

    def chunk(self, chunk: StreamChunk) -> bytes:
        if (
            chunk.index == 0
            and not chunk.tool_calls
            and not chunk.reasoning
            and chunk.logprobs is None
            and not chunk.thinking_blocks
        ):
            if not chunk.text:
                return b"" if chunk.finish_reason is None else self._finish(chunk)
            return self._text_head + _string(chunk.text).encode() + b'},"logprobs":null,"finish_reason":null}]}\n\n'
        delta: dict[str, Any] = {}
        if chunk.index not in self._choices:
            self._choices.add(chunk.index)
            delta["role"] = "assistant"
        if chunk.reasoning:
            delta["reasoning_content"] = chunk.reasoning
        if chunk.thinking_blocks:
            delta["thinking_blocks"] = [block.to_json() for block in chunk.thinking_blocks]
        if chunk.text:
            delta["content"] = chunk.text
        if chunk.tool_calls:
            delta["tool_calls"] = [tool_call_delta_json(piece) for piece in chunk.tool_calls]
        logprobs = None if chunk.logprobs is None else dict(chunk.logprobs)
        if chunk.finish_reason is not None:
            if not delta and logprobs is None:
                return self._finish(chunk)
            self._reasons[chunk.index] = chunk.finish_reason
        return self._event(delta, index=chunk.index, logprobs=logprobs)

    def closing(self, last: StreamChunk) -> bytes:
        """The closing chunk of each choice not closed yet, the usage chunk if asked for, and
        ``[DONE]``. With n > 1 a choice's own finish reason came as a chunk of its own when it
        ended (``_finish``); any other closes with the stream's last one."""
        finish_reason = last.finish_reason or "stop"
        events = b"".join(self._event({}, self._reasons.get(index, finish_reason), index=index)
                          for index in sorted(self._choices - self._finished))  # fmt: skip
        if self.include_usage and last.usage is not None:
            events += stream_chunk(self.identifier, self.created, self.model, None, usage=last.usage)
        return events + DONE_EVENT

    def _finish(self, chunk: StreamChunk) -> bytes:
        """A choice's own end (n > 1): its closing chunk, sent once."""
        if chunk.index in self._finished:
            return b""
        self._finished.add(chunk.index)
        delta: dict[str, Any] = {} if chunk.index in self._choices else {"role": "assistant"}
        self._choices.add(chunk.index)
        return self._event(delta, chunk.finish_reason, index=chunk.index)

    def error(self, error: ApiError) -> bytes:
        """An error after the stream began: OpenAI sends its error object as one more event."""
        return error_event(error.body())

    def _event(
        self, delta: dict[str, Any], finish_reason: str | None = None, *, index: int = 0, logprobs: Any = None
    ) -> bytes:
        return stream_chunk(self.identifier, self.created, self.model, delta, finish_reason, index=index,
                            logprobs=logprobs)  # fmt: skip


def tool_call_delta_json(piece: Any) -> dict[str, Any]:
    """One ``delta.tool_calls`` entry: the call's ``index`` always; ``id``, ``type`` and the name
    on the piece that starts the call; the arguments fragment (possibly empty) on every piece."""
    entry: dict[str, Any] = {"index": piece.index}
    function: dict[str, Any] = {}
    if piece.id is not None:
        entry["id"] = piece.id
        entry["type"] = "function"
    if piece.name is not None:
        function["name"] = piece.name
    function["arguments"] = piece.arguments
    entry["function"] = function
    return entry

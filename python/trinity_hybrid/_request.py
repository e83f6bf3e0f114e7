"""The one request model: everything a client sends, checked once, carried to every wire format.

``ChatRequest`` holds a Chat Completions request as OpenAI defines it: messages with text and
image parts, assistant tool calls and tool results, tools and ``tool_choice``,
``response_format``, and the sampling parameters. The library (``node.infer(messages, ...)``)
and the gateway (``POST /v1/chat/completions``, and the Anthropic and Responses APIs after their
own translation) build it through ``parse_messages`` and ``ChatRequest.of``, so both check a
request the same way and name the same field when it is wrong (``InvalidInputError.param``).

Nothing is dropped here: a field the model does not know goes into ``extra`` and is passed on
to OpenAI-compatible providers only (the planner skips the others for it, see
``providers.WireFormat.unsupported``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._exceptions import InvalidInputError

__all__ = [
    "ChatRequest",
    "ImagePart",
    "Message",
    "Part",
    "ResponseFormat",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "joined_text",
    "parse_messages",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")
# OpenAI's rule for function and schema names; every provider we translate to accepts it.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STOP_SEQUENCES_MAX = 4
TOP_LOGPROBS_MAX = 20
N_MAX = 16
TEMPERATURE_MAX = 2.0
PENALTY_ABS_MAX = 2.0
METADATA_PAIRS_MAX = 16
# A JSON schema nested deeper than this is refused before any provider sees it (Gemini refuses
# deep schemas itself, with a message naming no field).
SCHEMA_DEPTH_MAX = 32


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by URL: ``https://...`` or ``data:<media type>;base64,<data>``."""

    url: str
    detail: str | None = None

    @property
    def inline(self) -> tuple[str, str] | None:
        """(media type, base64 data) of a ``data:`` URL; None for a web URL."""
        if not self.url.startswith("data:"):
            return None
        header, _, data = self.url[5:].partition(",")
        return header.removesuffix(";base64"), data


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the assistant made: ``arguments`` is the JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``content`` is a string for plain text (the common case, kept as it
    came) or a tuple of parts; an assistant message may have ``tool_calls`` and no content; a
    tool message answers the call ``tool_call_id``."""

    role: Role
    content: str | tuple[Part, ...]
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        """The text parts joined by newlines (images left out)."""
        if type(self.content) is str:
            return self.content
        return "\n".join(part.text for part in self.content if type(part) is TextPart)  # type: ignore[union-attr]

    @property
    def images(self) -> tuple[ImagePart, ...]:
        if type(self.content) is str:
            return ()
        return tuple(part for part in self.content if type(part) is ImagePart)


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """``auto``, ``none``, ``required`` (some tool), or ``function`` with ``name``."""

    mode: Literal["auto", "none", "required", "function"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """``json_object``, or ``json_schema`` with its ``schema`` (``name``, ``strict``)."""

    type: Literal["json_object", "json_schema"]
    schema: Mapping[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat call, valid by construction (build it with ``ChatRequest.of`` or
    ``ChatRequest.from_openai``). ``None`` means "not set": the provider's default applies."""

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    metadata: Mapping[str, str] | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    # Usage in the last chunk of a stream (``stream_options.include_usage``): for the gateway's
    # answer shape; the library always gets usage.
    include_usage: bool = False
    # Fields this model does not know, passed on as they are to OpenAI-compatible providers.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, prompt: object, **parameters: Any) -> ChatRequest:
        """A request for a prompt string or OpenAI-style messages and keyword parameters in
        OpenAI's names (``tools``, ``response_format`` as OpenAI's JSON, or already parsed)."""
        document = {name: value for name, value in parameters.items() if value is not None}
        return _build(parse_messages(prompt), document, extra_allowed=False)

    @classmethod
    def from_prompt(
        cls, prompt: object, *, max_tokens: int | None = None, temperature: float | None = None, stream: bool = False
    ) -> ChatRequest:
        """A request for a prompt string or OpenAI-style messages (``of`` with the three
        parameters every provider takes)."""
        return cls.of(prompt, max_tokens=max_tokens, temperature=temperature, stream=stream)

    @classmethod
    def from_openai(cls, document: Mapping[str, Any]) -> ChatRequest:
        """A Chat Completions body (its ``messages`` and parameters; ``model`` and the
        gateway's own fields are the caller's to remove first)."""
        if "messages" not in document or document["messages"] is None:
            raise _invalid("messages", "missing required parameter: 'messages'")
        body = {name: value for name, value in document.items() if name != "messages" and value is not None}
        return _build(parse_messages(document["messages"]), body, extra_allowed=True)

    @property
    def text(self) -> str:
        """The text language and size are judged on: every message's text, joined."""
        return joined_text(self.messages)

    @property
    def has_images(self) -> bool:
        return any(message.images for message in self.messages if type(message.content) is not str)

    def fingerprint(self) -> dict[str, Any]:
        """Everything a provider would see of this request, as plain JSON values (for the
        response cache's key); ``stream`` is left out, since a stream is never cached."""
        document = dataclasses.asdict(self)
        del document["stream"], document["include_usage"]
        return document

    @property
    def uses_tools(self) -> bool:
        """Tools offered, or tool calls and results in the conversation."""
        return bool(self.tools) or any(m.tool_calls or m.role == "tool" for m in self.messages)


def joined_text(messages: Sequence[Message]) -> str:
    return "\n".join(message.text for message in messages)


# ----------------------------------------------------------------------------------------------
# Messages.

_SEQUENCES = (list, tuple)


def _invalid(param: str, message: str, code: str | None = None) -> InvalidInputError:
    error = InvalidInputError(message)
    error.param = param
    error.code = code
    return error


def parse_messages(prompt: object) -> tuple[Message, ...]:
    """A prompt string (one user message) or OpenAI-style messages, checked and converted.
    At least one message that is not a system message is required, and every tool message must
    answer a tool call made earlier in the conversation."""
    if isinstance(prompt, str):
        return (Message("user", prompt),)
    # Lists and tuples skip the abstract-class checks, which cost more than the rest on the gateway's path.
    if type(prompt) not in _SEQUENCES and (
        isinstance(prompt, (bytes, bytearray, memoryview, Mapping)) or not isinstance(prompt, Sequence)
    ):
        raise _invalid("messages", f"prompt must be a str or a sequence of messages, not {type(prompt).__name__}")
    messages = tuple(_message(position, item) for position, item in enumerate(prompt))
    if not any(message.role not in ("system", "developer") for message in messages):
        raise _invalid("messages", "messages need at least one user or assistant message")
    called: set[str] = set()
    for position, message in enumerate(messages):
        called.update(call.id for call in message.tool_calls)
        if message.role == "tool" and message.tool_call_id not in called:
            raise _invalid(
                "messages",
                f"messages[{position}]: a tool message must answer a tool call made before it "
                f"(no assistant tool_calls entry has id {message.tool_call_id!r})",
            )
    return messages


def _message(position: int, item: object) -> Message:
    where = f"messages[{position}]"
    if type(item) is not dict and not isinstance(item, Mapping):
        raise _invalid("messages", f"{where} must be an object with role and content, not {type(item).__name__}")
    role = item.get("role")
    if role not in ROLES:
        hint = "; the function role is replaced by tool" if role == "function" else ""
        raise _invalid("messages", f"{where}.role must be one of {', '.join(ROLES)}, got {role!r}{hint}")
    content = item.get("content")
    name = _optional_string(item, "name", where)
    if role == "assistant":
        tool_calls = _tool_calls(item.get("tool_calls"), where)
        if content is None:
            if not tool_calls:
                raise _invalid("messages", f"{where}: an assistant message needs content or tool_calls")
            return Message("assistant", "", name, tool_calls)
        return Message("assistant", _content(content, where, role), name, tool_calls)
    if role == "tool":
        call_id = item.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise _invalid("messages", f"{where}: a tool message needs tool_call_id")
        return Message("tool", _content(content, where, role), None, (), call_id)
    if type(content) is str:
        return Message(role, content, name)
    return Message(role, _content(content, where, role), name)


def _optional_string(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid("messages", f"{where}.{key} must be a string")
    return value


def _content(content: object, where: str, role: str) -> str | tuple[Part, ...]:
    if type(content) is str:
        return content
    if not isinstance(content, _SEQUENCES):
        raise _invalid("messages", f"{where}.content must be a string or an array of parts, not {_json_type(content)}")
    parts = tuple(_part(f"{where}.content[{index}]", part, role) for index, part in enumerate(content))
    if all(type(part) is TextPart for part in parts):
        return "\n".join(part.text for part in parts)  # type: ignore[union-attr]
    return parts


def _part(where: str, part: object, role: str) -> Part:
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind == "text" and isinstance(part.get("text"), str):  # type: ignore[union-attr]
        return TextPart(part["text"])  # type: ignore[index]
    if kind == "refusal" and role == "assistant" and isinstance(part.get("refusal"), str):  # type: ignore[union-attr]
        return TextPart(part["refusal"])  # type: ignore[index]
    if kind == "image_url":
        if role not in ("user", "system", "developer"):
            raise _invalid("messages", f"{where}: image parts are allowed in user messages only")
        return _image(where, part.get("image_url"))  # type: ignore[union-attr]
    if kind in ("input_audio", "file"):
        raise _invalid("messages", f"{where}: {kind} parts are not supported by this router")
    shown = kind if kind is not None else _json_type(part)
    raise _invalid("messages", f"{where} must be a text or image_url part, got {shown!r}")


def _image(where: str, image: object) -> ImagePart:
    if isinstance(image, str):  # a shorthand some clients send
        image = {"url": image}
    url = image.get("url") if isinstance(image, Mapping) else None
    if not isinstance(url, str):
        raise _invalid("messages", f"{where}.image_url.url must be a string")
    if url.startswith("data:"):
        header, comma, data = url[5:].partition(",")
        if not comma or not header.endswith(";base64") or not header.startswith("image/") or not data:
            raise _invalid("messages", f"{where}.image_url.url: a data URL must be data:image/<type>;base64,<data>")
    elif not url.startswith(("https://", "http://")):
        raise _invalid("messages", f"{where}.image_url.url must be an http(s) URL or a data: URL")
    detail = image.get("detail")  # type: ignore[union-attr]
    if detail is not None and detail not in ("auto", "low", "high"):
        raise _invalid("messages", f"{where}.image_url.detail must be auto, low or high")
    return ImagePart(url, detail)


def _tool_calls(value: object, where: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, _SEQUENCES):
        raise _invalid("messages", f"{where}.tool_calls must be an array")
    calls: list[ToolCall] = []
    for index, call in enumerate(value):
        at = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or call.get("type", "function") != "function":  # type: ignore[union-attr]
            raise _invalid(
                "messages", f"{at} must be a function call: {{id, type: function, function: {{name, arguments}}}}"
            )
        identifier, name, arguments = call.get("id"), function.get("name"), function.get("arguments", "")  # type: ignore[union-attr]
        if not isinstance(identifier, str) or not identifier:
            raise _invalid("messages", f"{at}.id must be a non-empty string")
        if not isinstance(name, str) or not name:
            raise _invalid("messages", f"{at}.function.name must be a non-empty string")
        if not isinstance(arguments, str):
            raise _invalid("messages", f"{at}.function.arguments must be a string of JSON")
        calls.append(ToolCall(identifier, name, arguments))
    return tuple(calls)


# ----------------------------------------------------------------------------------------------
# Parameters.

_KNOWN = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "stream",
        "stream_options",
        "top_p",
        "stop",
        "seed",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "user",
        "metadata",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
    }
)


def _build(messages: tuple[Message, ...], document: dict[str, Any], *, extra_allowed: bool) -> ChatRequest:
    unknown = {name: value for name, value in document.items() if name not in _KNOWN}
    if unknown and not extra_allowed:
        raise _invalid(next(iter(unknown)), f"unknown parameter {next(iter(unknown))!r}")
    stream = _typed(document, "stream", bool) or False
    tools = _tools(document.get("tools"))
    return ChatRequest(
        messages=messages,
        max_tokens=_max_tokens(document),
        temperature=_number(document, "temperature", 0.0, TEMPERATURE_MAX),
        stream=stream,
        top_p=_number(document, "top_p", 0.0, 1.0),
        stop=_stop(document.get("stop")),
        seed=_integer(document, "seed", -(2**63), 2**63 - 1),
        n=_integer(document, "n", 1, N_MAX),
        presence_penalty=_number(document, "presence_penalty", -PENALTY_ABS_MAX, PENALTY_ABS_MAX),
        frequency_penalty=_number(document, "frequency_penalty", -PENALTY_ABS_MAX, PENALTY_ABS_MAX),
        logprobs=_typed(document, "logprobs", bool),
        top_logprobs=_top_logprobs(document),
        user=_typed(document, "user", str),
        metadata=_metadata(document.get("metadata")),
        tools=tools,
        tool_choice=_tool_choice(document.get("tool_choice"), tools),
        parallel_tool_calls=_typed(document, "parallel_tool_calls", bool),
        response_format=_response_format(document.get("response_format")),
        include_usage=_include_usage(document.get("stream_options"), stream),
        extra=unknown,
    )


def _typed(document: Mapping[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if value is None:
        return None
    # bool is an int in Python, but not in JSON: true is no token count.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise _invalid(
            name, f"{name} must be {_KIND_NAMES.get(kind, kind.__name__)}, not {_json_type(value)}", "invalid_type"
        )
    return value


_KIND_NAMES = {str: "a string", list: "an array", dict: "an object", bool: "a boolean", int: "an integer"}


def _number(document: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(name, f"{name} must be a number, not {_json_type(value)}", "invalid_type")
    if not (math.isfinite(value) and low <= value <= high):
        raise _invalid(name, f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _integer(document: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value: int | None = _typed(document, name, int)
    if value is not None and not low <= value <= high:
        raise _invalid(name, f"{name} must be between {low} and {high}, got {value}")
    return value


def _max_tokens(document: Mapping[str, Any]) -> int | None:
    # The newer name wins, as in OpenAI's API; both mean the same to every provider we call.
    for name in ("max_completion_tokens", "max_tokens"):
        value = _integer(document, name, 1, 2**31 - 1)
        if value is not None:
            return value
    return None


def _stop(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = (value,) if isinstance(value, str) else value
    if not isinstance(stops, _SEQUENCES) or not all(isinstance(stop, str) and stop for stop in stops):
        raise _invalid("stop", "stop must be a non-empty string or an array of them")
    if len(stops) > STOP_SEQUENCES_MAX:
        raise _invalid("stop", f"stop takes at most {STOP_SEQUENCES_MAX} sequences")
    return tuple(stops)


def _top_logprobs(document: Mapping[str, Any]) -> int | None:
    value = _integer(document, "top_logprobs", 0, TOP_LOGPROBS_MAX)
    if value is not None and document.get("logprobs") is not True:
        raise _invalid("top_logprobs", "top_logprobs needs logprobs: true")
    return value


def _metadata(value: object) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _invalid("metadata", "metadata must be an object of string values")
    if len(value) > METADATA_PAIRS_MAX:
        raise _invalid("metadata", f"metadata takes at most {METADATA_PAIRS_MAX} pairs")
    return dict(value)


def _include_usage(value: object, stream: bool) -> bool:
    if value is None:
        return False
    if not isinstance(value, Mapping):
        raise _invalid("stream_options", "stream_options must be an object")
    if not stream:
        raise _invalid("stream_options", "stream_options is only allowed with stream: true")
    include = value.get("include_usage", False)
    if not isinstance(include, bool):
        raise _invalid("stream_options", "stream_options.include_usage must be a boolean")
    return include


def _tools(value: object) -> tuple[Tool, ...]:
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(tool, Tool) for tool in value):
        return value
    if not isinstance(value, _SEQUENCES):
        raise _invalid("tools", "tools must be an array of function tools")
    tools: list[Tool] = []
    for index, tool in enumerate(value):
        if isinstance(tool, Tool):
            tools.append(tool)
            continue
        at = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or tool.get("type") != "function":  # type: ignore[union-attr]
            raise _invalid("tools", f"{at} must be {{type: function, function: {{name, description, parameters}}}}")
        name = function.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise _invalid("tools", f"{at}.function.name must match {NAME_PATTERN.pattern}, got {name!r}")
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise _invalid("tools", f"{at}.function.description must be a string")
        parameters = function.get("parameters")
        if parameters is not None:
            _schema(parameters, f"{at}.function.parameters", "tools")
        strict = function.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _invalid("tools", f"{at}.function.strict must be a boolean")
        tools.append(Tool(name, description, parameters, strict))
    names = [tool.name for tool in tools]
    if len(set(names)) != len(names):
        raise _invalid("tools", "tools must have distinct function names")
    return tuple(tools)


def _tool_choice(value: object, tools: tuple[Tool, ...]) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, ToolChoice):
        choice = value
    elif value in ("auto", "none", "required"):
        choice = ToolChoice(value)  # type: ignore[arg-type]
    elif isinstance(value, Mapping) and value.get("type") == "function" and isinstance(value.get("function"), Mapping):
        choice = ToolChoice("function", value["function"].get("name"))
    else:
        raise _invalid(
            "tool_choice", 'tool_choice must be "auto", "none", "required" or {type: function, function: {name}}'
        )
    if not tools and choice.mode != "none":
        raise _invalid("tool_choice", "tool_choice needs tools")
    if choice.mode == "function" and choice.name not in {tool.name for tool in tools}:
        raise _invalid("tool_choice", f"tool_choice names {choice.name!r}, which is not among the tools")
    return choice


def _response_format(value: object) -> ResponseFormat | None:
    if value is None or isinstance(value, ResponseFormat):
        return value
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "text":
        return None  # the default
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind != "json_schema":
        raise _invalid("response_format", 'response_format.type must be "text", "json_object" or "json_schema"')
    spec = value.get("json_schema")  # type: ignore[union-attr]
    if not isinstance(spec, Mapping):
        raise _invalid("response_format", "response_format.json_schema must be an object with name and schema")
    name = spec.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise _invalid("response_format", f"response_format.json_schema.name must match {NAME_PATTERN.pattern}")
    schema = spec.get("schema")
    if schema is not None:
        _schema(schema, "response_format.json_schema.schema", "response_format")
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise _invalid("response_format", "response_format.json_schema.strict must be a boolean")
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise _invalid("response_format", "response_format.json_schema.description must be a string")
    return ResponseFormat("json_schema", schema, name, strict, description)


def _schema(schema: object, where: str, param: str) -> None:
    if not isinstance(schema, Mapping):
        raise _invalid(param, f"{where} must be a JSON schema object")
    stack: list[tuple[object, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > SCHEMA_DEPTH_MAX:
            raise _invalid(param, f"{where} is nested deeper than {SCHEMA_DEPTH_MAX} levels")
        children = node.values() if isinstance(node, Mapping) else node if isinstance(node, _SEQUENCES) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (Mapping, *_SEQUENCES)))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)

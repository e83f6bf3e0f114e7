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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._messages import (
    SEQUENCES,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingBlock,
    ToolCall,
    cache_control_of,
    invalid,
    joined_text,
    json_type,
    parse_messages,
)

__all__ = [
    "ChatRequest",
    "ImagePart",
    "Message",
    "Part",
    "ResponseFormat",
    "TextPart",
    "ThinkingBlock",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "joined_text",
    "parse_messages",
]

# OpenAI's rule for function and schema names; every provider we translate to accepts it.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STOPSEQUENCES_MAX = 4
TOP_LOGPROBS_MAX = 20
N_MAX = 16
TEMPERATURE_MAX = 2.0
PENALTY_ABS_MAX = 2.0
METADATA_PAIRS_MAX = 16
# A JSON schema nested deeper than this is refused before any provider sees it (Gemini refuses
# deep schemas itself, with a message naming no field).
SCHEMA_DEPTH_MAX = 32


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None
    cache_control: Mapping[str, str] | None = None  # Anthropic's breakpoint after the tools up to this one


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


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which cost the gateway's request microseconds.
@dataclass(slots=True)
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
    # Anthropic's top-level prompt-caching breakpoint (on the last block it can cache); a hint
    # the other wire formats drop by rule (``_messages``' docstring).
    cache_control: Mapping[str, str] | None = None
    # Anthropic's extended thinking (``{"type": "enabled", "budget_tokens": N}``, ``disabled`` or
    # ``adaptive``), as Anthropic takes it and LiteLLM's OpenAI-shaped requests send it: sent on
    # to Anthropic, dropped by rule by the other formats, whose reasoning switches differ by
    # model (a model without one refuses them), as a hint on how to answer, not what.
    thinking: Mapping[str, Any] | None = None
    # Usage in the last chunk of a stream (``stream_options.include_usage``): for the gateway's
    # answer shape; the library always gets usage.
    include_usage: bool = False
    # Fields this model does not know, passed on as they are to OpenAI-compatible providers.
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Text messages and no parameter beyond max_tokens, temperature and stream: every wire format
    # carries it, so the planner asks no provider what it lacks (set by the parser).
    plain: bool = field(default=False, compare=False, repr=False)

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
            raise invalid("messages", "missing required parameter: 'messages'")
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
        del document["stream"], document["include_usage"], document["plain"]
        return document


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
        "cache_control",
        "thinking",
    }
)


# The parameters every wire format carries: a request with no other field takes the fast path.
_SIMPLE = frozenset({"max_tokens", "max_completion_tokens", "temperature", "stream"})


def _build(messages: tuple[Message, ...], document: dict[str, Any], *, extra_allowed: bool) -> ChatRequest:
    if not document or (len(document) == 1 and document.get("stream") is False):
        # Messages alone (the library's infer(prompt) passes stream=False): every default.
        return ChatRequest(messages, plain=_plain(messages))
    if _SIMPLE.issuperset(document):
        # Most requests: text messages and at most these fields. Checked the same way, without
        # visiting the twenty others (a gateway request's validation fell from ~20 to ~3 µs).
        return ChatRequest(
            messages, _max_tokens(document), _number(document, "temperature", 0.0, TEMPERATURE_MAX),
            _typed(document, "stream", bool) or False, plain=_plain(messages),
        )  # fmt: skip
    unknown = {name: value for name, value in document.items() if name not in _KNOWN}
    if unknown and not extra_allowed:
        raise invalid(next(iter(unknown)), f"unknown parameter {next(iter(unknown))!r}")
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
        cache_control=cache_control_of(document.get("cache_control"), "cache_control", "cache_control"),
        thinking=_thinking(document.get("thinking")),
        include_usage=_include_usage(document.get("stream_options"), stream),
        extra=unknown,
    )


def _plain(messages: tuple[Message, ...]) -> bool:
    """Whether the messages are text only: no images, tool calls or tool results."""
    for message in messages:
        if type(message.content) is not str or message.tool_calls or message.role == "tool":
            return False
    return True


def _typed(document: Mapping[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if value is None:
        return None
    # bool is an int in Python, but not in JSON: true is no token count.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise invalid(
            name, f"{name} must be {_KIND_NAMES.get(kind, kind.__name__)}, not {json_type(value)}", "invalid_type"
        )
    return value


_KIND_NAMES = {str: "a string", list: "an array", dict: "an object", bool: "a boolean", int: "an integer"}


def _number(document: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(name, f"{name} must be a number, not {json_type(value)}", "invalid_type")
    if not (math.isfinite(value) and low <= value <= high):
        raise invalid(name, f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _integer(document: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value: int | None = _typed(document, name, int)
    if value is not None and not low <= value <= high:
        raise invalid(name, f"{name} must be between {low} and {high}, got {value}")
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
    if not isinstance(stops, SEQUENCES) or not all(isinstance(stop, str) and stop for stop in stops):
        raise invalid("stop", "stop must be a non-empty string or an array of them")
    if len(stops) > STOPSEQUENCES_MAX:
        raise invalid("stop", f"stop takes at most {STOPSEQUENCES_MAX} sequences")
    return tuple(stops)


def _top_logprobs(document: Mapping[str, Any]) -> int | None:
    value = _integer(document, "top_logprobs", 0, TOP_LOGPROBS_MAX)
    if value is not None and document.get("logprobs") is not True:
        raise invalid("top_logprobs", "top_logprobs needs logprobs: true")
    return value


def _metadata(value: object) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise invalid("metadata", "metadata must be an object of string values")
    if len(value) > METADATA_PAIRS_MAX:
        raise invalid("metadata", f"metadata takes at most {METADATA_PAIRS_MAX} pairs")
    return dict(value)


THINKING_TYPES = ("enabled", "disabled", "adaptive")


def _thinking(value: object) -> Mapping[str, Any] | None:
    """Anthropic's ``thinking``: its ``type``, and with ``enabled`` a ``budget_tokens`` count;
    Anthropic checks the rest (its minimum budget, what else a model takes)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") not in THINKING_TYPES:
        raise invalid("thinking", f"thinking must be an object whose type is one of {', '.join(THINKING_TYPES)}")
    budget = value.get("budget_tokens")
    if value["type"] == "enabled" and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise invalid("thinking", "thinking.budget_tokens must be a positive integer when thinking is enabled")
    return dict(value)


def _include_usage(value: object, stream: bool) -> bool:
    if value is None:
        return False
    if not isinstance(value, Mapping):
        raise invalid("stream_options", "stream_options must be an object")
    if not stream:
        raise invalid("stream_options", "stream_options is only allowed with stream: true")
    include = value.get("include_usage", False)
    if not isinstance(include, bool):
        raise invalid("stream_options", "stream_options.include_usage must be a boolean")
    return include


def _tools(value: object) -> tuple[Tool, ...]:
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(tool, Tool) for tool in value):
        return value
    if not isinstance(value, SEQUENCES):
        raise invalid("tools", "tools must be an array of function tools")
    tools: list[Tool] = []
    for index, tool in enumerate(value):
        if isinstance(tool, Tool):
            tools.append(tool)
            continue
        at = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or tool.get("type") != "function":
            raise invalid("tools", f"{at} must be {{type: function, function: {{name, description, parameters}}}}")
        name = function.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise invalid("tools", f"{at}.function.name must match {NAME_PATTERN.pattern}, got {name!r}")
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise invalid("tools", f"{at}.function.description must be a string")
        parameters = function.get("parameters")
        if parameters is not None:
            _schema(parameters, f"{at}.function.parameters", "tools")
        strict = function.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise invalid("tools", f"{at}.function.strict must be a boolean")
        cache = cache_control_of(tool.get("cache_control"), f"{at}.cache_control", "tools")
        tools.append(Tool(name, description, parameters, strict, cache))
    names = [tool.name for tool in tools]
    if len(set(names)) != len(names):
        raise invalid("tools", "tools must have distinct function names")
    return tuple(tools)


def _tool_choice(value: object, tools: tuple[Tool, ...]) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, ToolChoice):
        choice = value
    elif value in ("auto", "none", "required"):
        choice = ToolChoice(value)
    elif isinstance(value, Mapping) and value.get("type") == "function" and isinstance(value.get("function"), Mapping):
        choice = ToolChoice("function", value["function"].get("name"))
    else:
        raise invalid(
            "tool_choice", 'tool_choice must be "auto", "none", "required" or {type: function, function: {name}}'
        )
    if not tools and choice.mode != "none":
        raise invalid("tool_choice", "tool_choice needs tools")
    if choice.mode == "function" and choice.name not in {tool.name for tool in tools}:
        raise invalid("tool_choice", f"tool_choice names {choice.name!r}, which is not among the tools")
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
        raise invalid("response_format", 'response_format.type must be "text", "json_object" or "json_schema"')
    spec = value.get("json_schema")  # type: ignore[attr-defined]  # a Mapping: ``kind`` came from it
    if not isinstance(spec, Mapping):
        raise invalid("response_format", "response_format.json_schema must be an object with name and schema")
    name = spec.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise invalid("response_format", f"response_format.json_schema.name must match {NAME_PATTERN.pattern}")
    schema = spec.get("schema")
    if schema is not None:
        _schema(schema, "response_format.json_schema.schema", "response_format")
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise invalid("response_format", "response_format.json_schema.strict must be a boolean")
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise invalid("response_format", "response_format.json_schema.description must be a string")
    return ResponseFormat("json_schema", schema, name, strict, description)


def _schema(schema: object, where: str, param: str) -> None:
    if not isinstance(schema, Mapping):
        raise invalid(param, f"{where} must be a JSON schema object")
    stack: list[tuple[object, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > SCHEMA_DEPTH_MAX:
            raise invalid(param, f"{where} is nested deeper than {SCHEMA_DEPTH_MAX} levels")
        children = node.values() if isinstance(node, Mapping) else node if isinstance(node, SEQUENCES) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (Mapping, *SEQUENCES)))

"""Chat messages: text and image parts, assistant tool calls, tool results; ``parse_messages``
turns a prompt string or OpenAI-style messages into checked ``Message`` values.

Anthropic's prompt-caching breakpoints (``cache_control: {"type": "ephemeral", "ttl"?: "5m" |
"1h"}``) ride on a text or image part, a tool call, or a whole message (a breakpoint after its
last block: a tool result's, or a string content's), as Anthropic's clients and LiteLLM's
OpenAI-shaped messages send them. Only the Anthropic wire format sends them on; the others
cache by themselves or not at all and drop them by rule (a hint, never a change of meaning).

Anthropic's extended thinking: an assistant message may carry the ``thinking_blocks`` the model
gave with it (``{"type": "thinking", "thinking", "signature"}`` or ``{"type":
"redacted_thinking", "data"}``, LiteLLM's field on OpenAI-shaped messages). Anthropic checks
their signatures and, with thinking on, wants them back before the turn's tool calls; they go
back to it verbatim, first in the message. The other formats cannot read them and drop them by
rule.

Part of the one request model (``_request.ChatRequest`` holds the messages with the tools and
parameters). An error names the field at fault (``InvalidInputError.param`` is ``messages``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._exceptions import InvalidInputError

__all__ = [
    "CACHE_TTLS",
    "ImagePart",
    "Message",
    "Part",
    "TextPart",
    "ThinkingBlock",
    "ToolCall",
    "cache_control_of",
    "invalid",
    "joined_text",
    "json_type",
    "parse_messages",
    "thinking_blocks_of",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")
# How a failed tool's result reads where a wire format cannot flag it (``Message.result_text``).
TOOL_ERROR_PREFIX = "Error: "
# A tuple, not a set: a role that is no string (a list, from a fuzzed body) must compare, not hash.
_PLAIN_ROLES = ("system", "developer", "user", "assistant")
CACHE_TTLS = ("5m", "1h")  # Anthropic's cache breakpoint lifetimes


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    cache_control: Mapping[str, str] | None = None  # a prompt-caching breakpoint after this part


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by URL: ``https://...`` or ``data:<media type>;base64,<data>``."""

    url: str
    detail: str | None = None
    cache_control: Mapping[str, str] | None = None

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
    cache_control: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    """A block of Anthropic's extended thinking, as the model gave it: ``thinking`` text with
    its ``signature``, or a ``redacted_thinking`` block's encrypted ``data``. Carried back
    unchanged: the signature seals the text."""

    type: Literal["thinking", "redacted_thinking"]
    thinking: str = ""
    signature: str = ""
    data: str = ""

    def to_json(self) -> dict[str, str]:
        """The block as Anthropic (and LiteLLM's ``thinking_blocks``) writes it."""
        if self.type == "redacted_thinking":
            return {"type": "redacted_thinking", "data": self.data}
        return {"type": "thinking", "thinking": self.thinking, "signature": self.signature}


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which cost the gateway's request microseconds.
@dataclass(slots=True)
class Message:
    """One chat message. ``content`` is a string for plain text (the common case, kept as it
    came) or a tuple of parts; an assistant message may have ``tool_calls`` and no content; a
    tool message answers the call ``tool_call_id``, and ``is_error`` says the tool failed
    (Anthropic's ``tool_result`` flag; OpenAI's tool messages have none)."""

    role: Role
    content: str | tuple[Part, ...]
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False
    # A prompt-caching breakpoint after the message's last block (see the module docstring).
    cache_control: Mapping[str, str] | None = None
    # An assistant's extended thinking, for Anthropic (see the module docstring).
    thinking_blocks: tuple[ThinkingBlock, ...] = ()

    @property
    def text(self) -> str:
        """The text parts joined by newlines (images left out)."""
        if type(self.content) is str:
            return self.content
        return "\n".join(part.text for part in self.content if type(part) is TextPart)

    @property
    def result_text(self) -> str:
        """A tool result's text for a wire format with no error flag (OpenAI-compatible,
        Cohere): the text, prefixed ``Error: `` when the result reports the tool's failure."""
        return TOOL_ERROR_PREFIX + self.text if self.is_error else self.text

    @property
    def images(self) -> tuple[ImagePart, ...]:
        if type(self.content) is str:
            return ()
        return tuple(part for part in self.content if type(part) is ImagePart)


def joined_text(messages: Sequence[Message]) -> str:
    if len(messages) == 1:
        return messages[0].text
    return "\n".join(message.text for message in messages)


# ----------------------------------------------------------------------------------------------
# Messages.

SEQUENCES = (list, tuple)


def invalid(param: str, message: str, code: str | None = None) -> InvalidInputError:
    """An ``InvalidInputError`` naming the request field at fault (and OpenAI's code)."""
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
    if type(prompt) is list and len(prompt) == 1:
        # One user message of text, the gateway's most common request: built at once.
        item = prompt[0]
        if type(item) is dict and len(item) == 2 and item.get("role") == "user" and type(item.get("content")) is str:
            return (Message("user", item["content"]),)
    # Lists and tuples skip the abstract-class checks, which cost more than the rest on the gateway's path.
    if type(prompt) not in SEQUENCES and (
        isinstance(prompt, (bytes, bytearray, memoryview, Mapping)) or not isinstance(prompt, Sequence)
    ):
        raise invalid("messages", f"prompt must be a str or a sequence of messages, not {type(prompt).__name__}")
    # A list or tuple, or a Sequence that is neither bytes nor a Mapping: checked just above.
    items: Sequence[object] = prompt  # type: ignore[assignment]
    messages = tuple(
        # The common message, {"role": "user" or "system", "content": "..."}, built at once: the
        # gateway parses one per request, and the general path costs several microseconds.
        Message(item["role"], item["content"])
        if type(item) is dict
        and len(item) == 2
        and item.get("role") in _PLAIN_ROLES
        and type(item.get("content")) is str
        else _message(position, item)
        for position, item in enumerate(items)
    )
    if not any(message.role not in ("system", "developer") for message in messages):
        raise invalid("messages", "messages need at least one user or assistant message")
    if not any(message.role == "tool" for message in messages):
        return messages
    called: set[str] = set()
    for position, message in enumerate(messages):
        called.update(call.id for call in message.tool_calls)
        if message.role == "tool" and message.tool_call_id not in called:
            raise invalid(
                "messages",
                f"messages[{position}]: a tool message must answer a tool call made before it "
                f"(no assistant tool_calls entry has id {message.tool_call_id!r})",
            )
    return messages


def _message(position: int, item: object) -> Message:
    where = f"messages[{position}]"
    if type(item) is not dict and not isinstance(item, Mapping):
        raise invalid("messages", f"{where} must be an object with role and content, not {type(item).__name__}")
    role = item.get("role")
    if role not in ROLES:
        hint = "; the function role is replaced by tool" if role == "function" else ""
        raise invalid("messages", f"{where}.role must be one of {', '.join(ROLES)}, got {role!r}{hint}")
    content = item.get("content")
    name = _optional_string(item, "name", where)
    cache = cache_control_of(item.get("cache_control"), f"{where}.cache_control")
    if role == "assistant":
        tool_calls = _tool_calls(item.get("tool_calls"), where)
        thinking = thinking_blocks_of(item.get("thinking_blocks"), f"{where}.thinking_blocks")
        if content is None:
            if not tool_calls and not thinking:
                raise invalid("messages", f"{where}: an assistant message needs content or tool_calls")
            return Message("assistant", "", name, tool_calls, cache_control=cache, thinking_blocks=thinking)
        return Message(
            "assistant", _content(content, where, role), name, tool_calls, cache_control=cache, thinking_blocks=thinking
        )
    if role == "tool":
        call_id = item.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise invalid("messages", f"{where}: a tool message needs tool_call_id")
        is_error = item.get("is_error", False)
        if not isinstance(is_error, bool):
            raise invalid("messages", f"{where}.is_error must be a boolean")
        return Message("tool", _content(content, where, role), None, (), call_id, is_error, cache)
    if type(content) is str:
        return Message(role, content, name, cache_control=cache)
    return Message(role, _content(content, where, role), name, cache_control=cache)


def cache_control_of(value: object, where: str, param: str = "messages") -> Mapping[str, str] | None:
    """A prompt-caching breakpoint, checked as Anthropic's API checks it: ``{"type":
    "ephemeral"}`` with an optional ``ttl`` of ``5m`` or ``1h``; None when absent."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") != "ephemeral":
        raise invalid(param, f'{where} must be {{"type": "ephemeral"}} (and an optional ttl)')
    ttl = value.get("ttl")
    if ttl is not None and ttl not in CACHE_TTLS:
        raise invalid(param, f"{where}.ttl must be one of {', '.join(CACHE_TTLS)}")
    unknown = [key for key in value if key not in ("type", "ttl")]
    if unknown:
        raise invalid(param, f"{where}.{unknown[0]}: unknown field of a cache breakpoint")
    return {"type": "ephemeral"} if ttl is None else {"type": "ephemeral", "ttl": ttl}


def thinking_blocks_of(value: object, where: str) -> tuple[ThinkingBlock, ...]:
    """An assistant's ``thinking_blocks``, checked as Anthropic checks them: a ``thinking``
    block needs its text and ``signature``, a ``redacted_thinking`` block its ``data``."""
    if value is None:
        return ()
    if not isinstance(value, SEQUENCES):
        raise invalid("messages", f"{where} must be an array of thinking blocks")
    blocks: list[ThinkingBlock] = []
    for index, block in enumerate(value):
        at = f"{where}[{index}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "thinking":
            thinking, signature = block.get("thinking"), block.get("signature")
            if not isinstance(thinking, str):
                raise invalid("messages", f"{at}.thinking must be a string")
            if not isinstance(signature, str) or not signature:
                raise invalid("messages", f"{at}.signature must be the non-empty string the model gave")
            blocks.append(ThinkingBlock("thinking", thinking, signature))
        elif kind == "redacted_thinking":
            data = block.get("data")
            if not isinstance(data, str) or not data:
                raise invalid("messages", f"{at}.data must be the non-empty string the model gave")
            blocks.append(ThinkingBlock("redacted_thinking", data=data))
        else:
            raise invalid("messages", f"{at} must be a thinking or redacted_thinking block")
    return tuple(blocks)


def _optional_string(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid("messages", f"{where}.{key} must be a string")
    return value


def _content(content: object, where: str, role: str) -> str | tuple[Part, ...]:
    if type(content) is str:
        return content
    if not isinstance(content, SEQUENCES):
        raise invalid("messages", f"{where}.content must be a string or an array of parts, not {json_type(content)}")
    parts = tuple(_part(f"{where}.content[{index}]", part, role) for index, part in enumerate(content))
    if all(type(part) is TextPart and part.cache_control is None for part in parts):
        return "\n".join(part.text for part in parts)  # type: ignore[union-attr]
    return parts


def _part(where: str, part: object, role: str) -> Part:
    # ``kind`` is not None only when ``part`` is a Mapping, a narrowing mypy cannot follow: hence
    # the ignores below.
    kind = part.get("type") if isinstance(part, Mapping) else None
    cache = None
    if kind is not None:
        cache = cache_control_of(part.get("cache_control"), f"{where}.cache_control")  # type: ignore[attr-defined]
    if kind == "text" and isinstance(part.get("text"), str):  # type: ignore[attr-defined]
        return TextPart(part["text"], cache)  # type: ignore[index]
    if kind == "refusal" and role == "assistant" and isinstance(part.get("refusal"), str):  # type: ignore[attr-defined]
        return TextPart(part["refusal"], cache)  # type: ignore[index]
    if kind == "image_url":
        if role not in ("user", "system", "developer"):
            raise invalid("messages", f"{where}: image parts are allowed in user messages only")
        image = _image(where, part.get("image_url"))  # type: ignore[attr-defined]
        return image if cache is None else ImagePart(image.url, image.detail, cache)
    if kind in ("input_audio", "file"):
        raise invalid("messages", f"{where}: {kind} parts are not supported by this router")
    shown = kind if kind is not None else json_type(part)
    raise invalid("messages", f"{where} must be a text or image_url part, got {shown!r}")


def _image(where: str, image: object) -> ImagePart:
    if isinstance(image, str):  # a shorthand some clients send
        image = {"url": image}
    url = image.get("url") if isinstance(image, Mapping) else None
    if not isinstance(url, str):
        raise invalid("messages", f"{where}.image_url.url must be a string")
    if url.startswith("data:"):
        header, comma, data = url[5:].partition(",")
        if not comma or not header.endswith(";base64") or not header.startswith("image/") or not data:
            raise invalid("messages", f"{where}.image_url.url: a data URL must be data:image/<type>;base64,<data>")
    elif not url.startswith(("https://", "http://")):
        raise invalid("messages", f"{where}.image_url.url must be an http(s) URL or a data: URL")
    detail = image.get("detail")  # type: ignore[attr-defined]  # a Mapping: ``url`` came from it
    if detail is not None and detail not in ("auto", "low", "high"):
        raise invalid("messages", f"{where}.image_url.detail must be auto, low or high")
    return ImagePart(url, detail)


def _tool_calls(value: object, where: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, SEQUENCES):
        raise invalid("messages", f"{where}.tool_calls must be an array")
    calls: list[ToolCall] = []
    for index, call in enumerate(value):
        at = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or call.get("type", "function") != "function":
            raise invalid(
                "messages", f"{at} must be a function call: {{id, type: function, function: {{name, arguments}}}}"
            )
        identifier, name, arguments = call.get("id"), function.get("name"), function.get("arguments", "")
        if not isinstance(identifier, str) or not identifier:
            raise invalid("messages", f"{at}.id must be a non-empty string")
        if not isinstance(name, str) or not name:
            raise invalid("messages", f"{at}.function.name must be a non-empty string")
        if not isinstance(arguments, str):
            raise invalid("messages", f"{at}.function.arguments must be a string of JSON")
        cache = cache_control_of(call.get("cache_control"), f"{at}.cache_control")
        calls.append(ToolCall(identifier, name, arguments, cache))
    return tuple(calls)


def json_type(value: object) -> str:
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

"""Reading provider JSON of unknown shape without letting KeyError or TypeError escape.

Providers send what they send: a field may be missing, null, or of another type than
documented. These helpers answer ``None`` (or an empty mapping) for anything unexpected, and
``load`` turns undecodable bytes into a ``TransientError``, since a garbled answer is the
provider's fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._exceptions import TransientError

__all__ = ["field", "load", "load_object", "mapping", "sequence", "string", "token_count"]

_EMPTY: Mapping[str, Any] = {}
_DECODER = json.JSONDecoder()  # what json.loads uses without options


def load(raw: bytes | str, *, provider: str, what: str) -> Any:
    """The decoded JSON document in ``raw``. The error names only the position of the fault,
    never the content, which could echo anything."""
    try:
        if type(raw) is bytes and len(raw) > 1 and raw[0] == 0x7B and raw[1]:
            # An object in UTF-8, as json.loads would detect it ("{" and no UTF-16/32 zero
            # byte after it), decoded as json.loads does, without its detection's steps.
            return _DECODER.decode(raw.decode("utf-8", "surrogatepass"))
        return json.loads(raw)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, an integer too long to read
        raise TransientError(f"{what} is not valid JSON ({_reason(error)})", provider=provider) from None
    except RecursionError:
        raise TransientError(f"{what} is nested too deeply to read", provider=provider) from None


def load_object(raw: bytes | str, *, provider: str, what: str) -> Mapping[str, Any]:
    """The JSON object in ``raw``: anything else is as garbled as invalid JSON."""
    document = load(raw, provider=provider, what=what)
    if type(document) is not dict and not isinstance(document, Mapping):
        raise TransientError(f"{what} is not a JSON object", provider=provider)
    return document


# What a stream event's data can be, apart from a JSON object: the end marker or nothing.
STREAM_DONE = "done"
STREAM_EMPTY = "empty"


def load_stream_event(data: str, *, provider: str) -> Mapping[str, Any] | str:
    """A stream event's JSON object, or ``STREAM_DONE`` for ``[DONE]`` (OpenAI's end marker,
    which some Cohere-compatible servers send too), or ``STREAM_EMPTY`` for blank data."""
    payload = data.strip()
    if payload == "[DONE]":
        return STREAM_DONE
    if not payload:
        return STREAM_EMPTY
    return load_object(payload, provider=provider, what="stream event")


def _reason(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return f"undecodable text at byte {error.start}"
    return "a number is too long"


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    # json.loads makes dicts: testing for one first spares the slower abstract-class check.
    return value if type(value) is dict or isinstance(value, Mapping) else _EMPTY


def sequence(value: object) -> Sequence[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else ()


def field(value: object, *path: str | int) -> Any:
    """The value at ``path`` inside nested objects and arrays, or ``None`` where it stops."""
    for step in path:
        if isinstance(step, int):
            items = sequence(value)
            if not -len(items) <= step < len(items):
                return None
            value = items[step]
        else:
            value = mapping(value).get(step)
    return value


def string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def token_count(value: object) -> int | None:
    """A token count: a non-negative whole number (Cohere sends floats such as ``12.0``)."""
    if type(value) is int:
        return value if value >= 0 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    count = int(value)
    return count if count >= 0 else None

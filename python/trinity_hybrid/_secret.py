"""API keys: held in a ``Secret`` and shown only masked, as ``key[:8]***`` (``mask_key``)."""

from __future__ import annotations

from typing import Any

from . import _native

__all__ = ["Secret", "mask_key"]

MASK_BYTES_MAX = 16


def mask_key(key: str) -> str:
    """``key[:8]***``: the only form in which a key is ever shown (shorter keys show less)."""
    ffi, lib = _native.load()
    data = key.encode("utf-8", "surrogatepass")
    out = ffi.new("uint8_t[]", MASK_BYTES_MAX)
    length = ffi.new("size_t *")
    _native.check(lib.th_mask_key(data, len(data), out, MASK_BYTES_MAX, length), "mask_key")
    return bytes(ffi.buffer(out, length[0])).decode("utf-8", "replace")


class Secret:
    """Holds an API key so that it never shows up in a repr, str, log line or traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask_key(self._value)!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")

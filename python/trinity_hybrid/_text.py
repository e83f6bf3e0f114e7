"""Text features computed by the native core: the prompt's language and its size in tokens."""

from __future__ import annotations

import struct
import threading
from typing import Any

from . import _native
from ._exceptions import InvalidInputError

__all__ = ["Detection", "detect_language", "encode_text", "estimate_tokens"]


def encode_text(text: object, argument: str = "text") -> bytes:
    """UTF-8 bytes of ``text``. Lone surrogates pass through and are counted as invalid bytes
    natively rather than raising: a prompt scraped from anywhere still gets routed."""
    if isinstance(text, str):
        try:
            # The strict codec has a fast path that "surrogatepass" lacks; surrogates are rare.
            return text.encode()
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogatepass")
    raise InvalidInputError(f"{argument} must be str, not {type(text).__name__}")


# th_detection as laid out in memory (native byte order, no padding): one unpack reads it all,
# which costs far less from Python than reading each cdata field.
DETECTION_LAYOUT = struct.Struct("=IfII12f")


class Detection:
    """The language of a text: an ISO 639-1 code (``"und"`` when undetermined), a confidence in
    [0, 1], and the share of letters per Unicode script (only scripts that occur)."""

    __slots__ = ("_shares", "bytes_invalid", "confidence", "language", "letters")

    def __init__(self, language: str, confidence: float, letters: int, bytes_invalid: int, shares: tuple[float, ...]) -> None:
        self.language = language
        self.confidence = confidence
        self.letters = letters
        self.bytes_invalid = bytes_invalid
        self._shares = shares

    @classmethod
    def from_bytes(cls, raw: bytes, offset: int = 0) -> Detection:
        """Decodes a th_detection copied out of native memory."""
        fields = DETECTION_LAYOUT.unpack_from(raw, offset)
        return cls(language_codes()[fields[0]], fields[1], fields[2], fields[3], fields[4:])

    @property
    def scripts(self) -> dict[str, float]:
        names = _script_names()
        return {names[index]: share for index, share in enumerate(self._shares) if share > 0.0}

    def __repr__(self) -> str:
        return f"Detection(language={self.language!r}, confidence={self.confidence:.3f}, scripts={self.scripts!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Detection):
            return NotImplemented
        return (self.language, self.confidence, tuple(self._shares)) == (
            other.language,
            other.confidence,
            tuple(other._shares),
        )

    __hash__ = None  # type: ignore[assignment]


_names_cache: dict[str, tuple[str, ...]] = {}


def _script_names() -> tuple[str, ...]:
    names = _names_cache.get("script")
    if names is None:
        names = _names_cache["script"] = _native.names("th_script_name")
    return names


def language_codes() -> tuple[str, ...]:
    codes = _names_cache.get("language")
    if codes is None:
        codes = _names_cache["language"] = _native.names("th_language_code")
    return codes


_buffers = threading.local()


class _Bound:
    """The native handles and tables the hot functions need, fetched once per process."""

    __slots__ = ("buffer", "codes", "detect", "estimate")

    def __init__(self) -> None:
        ffi, lib = _native.load()
        self.buffer = ffi.buffer
        self.detect = lib.th_detect_language
        self.estimate = lib.th_estimate_tokens
        self.codes = language_codes()


_bound: _Bound | None = None


def _get_bound() -> _Bound:
    global _bound
    if _bound is None:
        _bound = _Bound()
    return _bound


def _detection_buffer() -> Any:
    buffer = getattr(_buffers, "detection", None)
    if buffer is None:
        ffi, _ = _native.load()
        buffer = _buffers.detection = ffi.new("th_detection *")
    return buffer


def detect_language(text: str) -> Detection:
    """Detects the language of ``text``; never fails on any ``str``."""
    data = encode_text(text)
    bound = _bound or _get_bound()
    out = _detection_buffer()
    status = bound.detect(data, len(data), out)
    if status:
        _native.check(status, "detect_language")
    fields = DETECTION_LAYOUT.unpack(bound.buffer(out)[:])
    return Detection(bound.codes[fields[0]], fields[1], fields[2], fields[3], fields[4:])


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text`` (close to ``cl100k_base``), computed natively."""
    return estimate_bytes(encode_text(text))


def estimate_bytes(data: bytes) -> int:
    """`estimate_tokens` of text already encoded as UTF-8."""
    bound = _bound or _get_bound()
    return int(bound.estimate(data, len(data)))

"""Text features computed by the native core: the prompt's language and its size in tokens."""

from __future__ import annotations

import struct

from . import _native
from ._exceptions import InvalidInputError

__all__ = ["Detection", "detect_language", "detect_language_bytes", "encode_text", "estimate_bytes", "estimate_tokens"]


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
# th_detect_language_packed: the language index in the low bits, the confidence above them in
# fixed point; below 2^30, so one CPython digit.
LANGUAGE_PACKED_BITS = 5
LANGUAGE_PACKED_MASK = (1 << LANGUAGE_PACKED_BITS) - 1
LANGUAGE_PACKED_INVALID = LANGUAGE_PACKED_MASK
CONFIDENCE_ONE = (1 << 24) - 1


class Detection:
    """The language of a text: an ISO 639-1 code (``"und"`` when undetermined), a confidence in
    [0, 1], and the share of letters per Unicode script (only scripts that occur).

    The language and the confidence come back from the core in one small integer, the
    confidence decoded from it on use; the letter count, the script shares and the count of
    invalid bytes take a second native call, made on first use. Instances come from
    `detect_language`, which fills the slots itself: an ``__init__`` call would cost more than
    the rest of the Python side of a detection."""

    __slots__ = ("_details", "_text", "_word", "language")

    language: str
    _word: int  # the packed language and confidence
    _text: bytes  # the UTF-8 text, for the second native call
    _details: tuple[int, int, tuple[float, ...]]  # letters, bytes_invalid, script shares

    @property
    def confidence(self) -> float:
        # Decoded on use from the packed word: most callers read only the language.
        return (self._word >> LANGUAGE_PACKED_BITS) / CONFIDENCE_ONE

    def _full(self) -> tuple[int, int, tuple[float, ...]]:
        try:
            return self._details
        except AttributeError:
            pass
        ffi, lib = _native.load()
        out = ffi.new("th_detection *")
        _native.check(lib.th_detect_language(self._text, len(self._text), out), "detect_language")
        fields = DETECTION_LAYOUT.unpack(ffi.buffer(out)[:])
        self._details = (fields[2], fields[3], fields[4:])
        return self._details

    @property
    def letters(self) -> int:
        """Letters in the text, of any script (saturated at 2^32 - 1)."""
        return self._full()[0]

    @property
    def bytes_invalid(self) -> int:
        """Bytes that were not UTF-8 (lone surrogates become such bytes)."""
        return self._full()[1]

    @property
    def scripts(self) -> dict[str, float]:
        names = _script_names()
        return {names[index]: share for index, share in enumerate(self._full()[2]) if share > 0.0}

    def __repr__(self) -> str:
        return f"Detection(language={self.language!r}, confidence={self.confidence:.3f}, scripts={self.scripts!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Detection):
            return NotImplemented
        return (self.language, self.confidence, self._full()) == (other.language, other.confidence, other._full())

    __hash__ = None  # type: ignore[assignment]


_new_detection = object.__new__


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


class _Bound:
    """The native functions the hot paths call, fetched once per process."""

    __slots__ = ("codes", "detect", "detect_text", "estimate")

    def __init__(self) -> None:
        _, lib = _native.load()
        self.detect = lib.th_detect_language_packed
        self.detect_text = lib.th_detect_language_text
        self.estimate = lib.th_estimate_tokens
        # Indexed by the packed word's low bits; the invalid index holds None, so that one
        # subscript both names the language and catches the error (a separate mask and compare
        # cost about 150 instructions a call, callgrind).
        codes: list[str | None] = [None] * (LANGUAGE_PACKED_MASK + 1)
        for index, code in enumerate(language_codes()):
            assert index != LANGUAGE_PACKED_INVALID
            codes[index] = code
        self.codes = tuple(codes)


_bound: _Bound | None = None


def _get_bound() -> _Bound:
    global _bound
    if _bound is None:
        _bound = _Bound()
    return _bound


def detect_language(text: str) -> Detection:
    """Detects the language of ``text``; never fails on any ``str``."""
    # The body of detect_language_bytes and of encode_text, written out again for the common
    # case: each Python call they would take is about 500 instructions, some 5 % of a detection
    # (callgrind), as in TrinityHybridNode.route.
    if type(text) is str:
        try:
            data = text.encode()
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogatepass")
    else:
        data = encode_text(text)
    bound = _bound or _get_bound()
    if "\0" in text:
        word = bound.detect(data, len(data))
    else:
        # One argument: cffi passes the NUL that ends every bytes object, and each argument
        # through cffi's ABI mode costs more than the NUL search (callgrind).
        word = bound.detect_text(data)
    language = bound.codes[word & LANGUAGE_PACKED_MASK]
    if language is None:
        _native.check(1, "detect_language")
    detection = _new_detection(Detection)
    detection.language = language
    detection._word = word
    detection._text = data
    return detection


def detect_language_bytes(data: bytes) -> Detection:
    """`detect_language` of text already encoded as UTF-8."""
    bound = _bound or _get_bound()
    word = bound.detect(data, len(data))
    language = bound.codes[word & LANGUAGE_PACKED_MASK]
    if language is None:
        _native.check(1, "detect_language")
    detection = _new_detection(Detection)
    detection.language = language
    detection._word = word
    detection._text = data
    return detection


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text`` (close to ``cl100k_base``), computed natively."""
    return estimate_bytes(encode_text(text))


def estimate_bytes(data: bytes) -> int:
    """`estimate_tokens` of text already encoded as UTF-8."""
    bound = _bound or _get_bound()
    return int(bound.estimate(data, len(data)))

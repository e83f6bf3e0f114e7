"""How long a provider asks us to wait: ``Retry-After`` and its provider-specific relatives.

Every parser answers seconds as a non-negative finite float, or ``None`` for a value it cannot
read: a garbled header must never turn into an error of its own.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Iterable, Mapping
from datetime import timezone

__all__ = ["lower_headers", "parse_duration_s", "parse_retry_after_s", "retry_after_s", "shortest_s"]

# Go's time.Duration format as OpenAI and Groq send it ("6m0s", "1.5s", "20ms") and protobuf's
# Duration JSON as Gemini sends it ("31s", "0.300s").
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_DURATION_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_DURATION_LENGTH_MAX = 64


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers keyed by lower-case name, whatever mapping the I/O layer passes."""
    return {str(name).lower(): str(value) for name, value in headers.items()}


def retry_after_s(headers: Mapping[str, str], *, now_s: float | None = None) -> float | None:
    """The standard hints, in the order OpenAI's SDK reads them: ``retry-after-ms``, then
    ``retry-after`` as seconds or as an HTTP-date. ``headers`` must have lower-case names."""
    milliseconds = _seconds(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000.0
    value = headers.get("retry-after")
    return None if value is None else parse_retry_after_s(value, now_s=now_s)


def parse_retry_after_s(value: str, *, now_s: float | None = None) -> float | None:
    """A ``Retry-After`` value: delay-seconds, or an HTTP-date (a date already past means 0)."""
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000" (time zone unknown) parses as naive; HTTP dates are UTC
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        delay_s = moment.timestamp() - (time.time() if now_s is None else now_s)
    except (OverflowError, OSError, ValueError):
        return None
    return max(delay_s, 0.0) if math.isfinite(delay_s) else None


def parse_duration_s(value: str) -> float | None:
    """A duration such as ``6m0s``, ``1.5s``, ``20ms`` or ``31s``; a bare number means seconds."""
    text = value.strip()
    if not text or len(text) > _DURATION_LENGTH_MAX:
        return None
    seconds = _seconds(text)
    if seconds is not None:
        return seconds
    total_s = 0.0
    position = 0
    for part in _DURATION_PART.finditer(text):
        if part.start() != position:
            return None
        total_s += float(part.group(1)) * _DURATION_UNIT_S[part.group(2)]
        position = part.end()
    return total_s if position == len(text) and math.isfinite(total_s) else None


def shortest_s(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None

"""ASGI plumbing every handler shares: the scope's headers, the body read under a limit, and
sending an answer whole or in parts. Nothing here knows a route or an API's shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._errors import ApiError

__all__ = [
    "JSON_HEADERS",
    "SSE_HEADERS",
    "Receive",
    "Scope",
    "Send",
    "header",
    "read_body",
    "send_body",
    "send_whole",
    "too_large",
    "trinity_headers",
]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case bytes, as ASGI gives them), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


async def read_body(scope: Scope, receive: Receive, body_bytes_max: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``body_bytes_max``."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > body_bytes_max:
        raise too_large(body_bytes_max)
    parts: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "the client disconnected before the body was complete", outcome="client_error")
        part = message.get("body", b"")
        received += len(part)
        if received > body_bytes_max:
            raise too_large(body_bytes_max)
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


def too_large(body_bytes_max: int) -> ApiError:
    return ApiError(
        413, f"the request body exceeds {body_bytes_max} bytes", "invalid_request_error", None, "request_too_large"
    )


def trinity_headers(provider: str, attempts: int, overhead_s: float) -> list[tuple[bytes, bytes]]:
    """What the gateway tells about an answer: who answered, after how many attempts, and the
    gateway's own time."""
    return [
        (b"x-trinity-provider", provider.encode()),
        (b"x-trinity-attempts", str(attempts).encode()),
        (b"x-trinity-overhead-ms", f"{overhead_s * 1000:.3f}".encode()),
    ]


async def send_whole(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """A whole answer: its status, headers with the length, and the body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_body(send: Send, body: bytes, *, more: bool = True) -> None:
    """One part of a streamed answer (``more=False``: the last)."""
    await send({"type": "http.response.body", "body": body, "more_body": more})

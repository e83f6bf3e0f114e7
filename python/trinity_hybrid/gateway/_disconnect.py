"""A client that hangs up stops its request: the upstream call it waits for is cancelled.

Once a request's body is read, the ASGI ``receive`` has nothing more to give until the client
disconnects (or the answer is complete); a task waits on it beside the work, and a disconnect
cancels the work. Cancelling closes what the work holds: the upstream pool aborts the provider's
connection, a stream's httpx response is closed, so the provider sees its request end instead of
computing an answer nobody reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._asgi import Receive, Send

__all__ = ["AnswerSend", "ClientGone", "unless_disconnected"]

T = TypeVar("T")


class ClientGone(ConnectionError):
    """The client disconnected while its answer was being made (an ``OSError``: the gateway
    records it as ``client_gone``, 499)."""


class AnswerSend:
    """``send`` that notes when the answer's last part went out: from then on ``receive``
    says ``http.disconnect`` too (the ASGI way of saying there is nothing more to receive),
    which is then no hang-up."""

    __slots__ = ("_send", "complete")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.complete = False

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self._send(message)


async def unless_disconnected(receive: Receive, work: Coroutine[Any, Any, T], send: AnswerSend | None = None) -> T:
    """``await work``, cancelled if the client disconnects first (then ``ClientGone``). Work
    that sends the answer itself sends it through ``send``."""
    task = asyncio.current_task()
    assert task is not None
    state = {"gone": False, "over": False}

    def hung_up(watcher: asyncio.Future[dict[str, Any]]) -> None:
        if state["over"] or watcher.cancelled() or watcher.exception() is not None:
            return
        if watcher.result()["type"] == "http.disconnect" and not (send is not None and send.complete):
            state["gone"] = True
            task.cancel()

    # receive() as the task itself: a coroutine less per request than a loop around it (a body
    # already read leaves nothing for receive to return but the disconnect).
    watcher = asyncio.ensure_future(receive())
    watcher.add_done_callback(hung_up)
    try:
        return await work
    except asyncio.CancelledError:
        if state["gone"] and task.uncancel() == 0:
            raise ClientGone("the client disconnected before its answer was complete") from None
        raise
    finally:
        state["over"] = True
        watcher.cancel()

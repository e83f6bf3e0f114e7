"""One key's breaker shared with the other replicas under its own name.

A several-key provider (``_keyring``) keeps each key's breaker on a board of its own, where the
key is that board's provider. ``NamedReplicas`` is what such a board tells the other replicas
through (``_board.Replicas``): the same ``SharedState``, with the provider's name replaced by
the key's breaker name (``Keyring.breakers``), so that a key's opening, probe lease and counters
are the key's on every replica, not the provider's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._board import Replicas

__all__ = ["NamedReplicas"]


class NamedReplicas:
    """``replicas`` as seen by one key's board, whose events go out as ``name``'s."""

    __slots__ = ("_name", "_replicas")

    def __init__(self, replicas: Replicas, name: str) -> None:
        self._replicas = replicas
        self._name = name

    def on_opened(self, provider: str, open_until_ms: int) -> None:
        self._replicas.on_opened(self._name, open_until_ms)

    def on_closed(self, provider: str) -> None:
        self._replicas.on_closed(self._name)

    def on_outcome(self, provider: str, deltas: dict[str, int]) -> None:
        self._replicas.on_outcome(self._name, deltas)

    def acquire_probe(self, provider: str, lease_ms: int) -> bool | None:
        return self._replicas.acquire_probe(self._name, lease_ms)

    def release_probe(self, provider: str) -> None:
        self._replicas.release_probe(self._name)

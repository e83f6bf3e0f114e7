"""Key authentication, as a Bearer token or an ``x-api-key`` header: the keys come from
``TRINITY_API_KEYS`` (comma-separated).

Keys are compared in constant time, and every configured key is compared on every request, so
neither the time of an answer nor its content tells how close a guess was.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

__all__ = ["KEYS_VARIABLE", "Authenticator"]

KEYS_VARIABLE = "TRINITY_API_KEYS"
BEARER_PREFIX = b"bearer "


class Authenticator:
    """Checks the ``Authorization`` header against the configured keys; open when none are."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = tuple(key.encode("utf-8") for key in keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Authenticator:
        return cls(tuple(key.strip() for key in environ.get(KEYS_VARIABLE, "").split(",") if key.strip()))

    @property
    def required(self) -> bool:
        return bool(self._keys)

    def allows(self, authorization: bytes | None) -> bool:
        if not self._keys:
            return True
        if authorization is None or authorization[: len(BEARER_PREFIX)].lower() != BEARER_PREFIX:
            return False
        return self._matches(authorization[len(BEARER_PREFIX) :].strip())

    def allows_key(self, key: bytes | None) -> bool:
        """An ``x-api-key`` header (Anthropic's clients send their key there)."""
        if not self._keys:
            return True
        return key is not None and self._matches(key.strip())

    def _matches(self, offered: bytes) -> bool:
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(offered, key)
        return matched

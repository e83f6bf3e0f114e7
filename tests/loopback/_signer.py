"""What a loopback server signs with, as the real APIs sign what they issue (Anthropic's thinking
blocks, Gemini's thought signatures): an HMAC-SHA256 under a secret drawn per server, so that a
value this server never issued, or another server issued, is refused."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["MAC_BYTES", "Signer"]

MAC_BYTES = hashlib.sha256().digest_size


class Signer:
    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def mac(self, kind: bytes, payload: bytes) -> bytes:
        """The MAC of ``payload`` as a value of ``kind`` (kinds never stand for each other)."""
        return hmac.new(self._secret, kind + b"\0" + payload, hashlib.sha256).digest()

"""Gemini's thought signatures, carried in the tool call's id.

Gemini 3 (and 2.5 with thinking) signs the first function call of an answer
(``thoughtSignature``) and wants the signature back with that call on the next turn; without it
the model reasons less well about its earlier calls (Google's documented dummy,
``skip_thought_signature_validator``, is accepted in its place). An OpenAI tool call has id,
name and arguments only, and clients rebuild assistant messages from those three, so the
signature rides in the id, after ``SIGNATURE_MARK`` (LiteLLM's separator, so that a
conversation moves between the two). The Gemini format splits it off again; every other format
sends the id without it, as no other API can read it and some cap an id's length (OpenAI: 40).
"""

from __future__ import annotations

__all__ = ["SIGNATURE_MARK", "signature_of", "signed", "unsigned"]

SIGNATURE_MARK = "__thought__"


def signed(call_id: str, signature: str | None) -> str:
    """``call_id`` carrying ``signature`` (None or empty: as it is)."""
    return f"{call_id}{SIGNATURE_MARK}{signature}" if signature else call_id


def unsigned(call_id: str) -> str:
    """The id without a signature it carries."""
    return call_id.partition(SIGNATURE_MARK)[0] if SIGNATURE_MARK in call_id else call_id


def signature_of(call_id: str) -> str | None:
    """The signature ``call_id`` carries, or None."""
    if SIGNATURE_MARK not in call_id:
        return None
    return call_id.partition(SIGNATURE_MARK)[2] or None

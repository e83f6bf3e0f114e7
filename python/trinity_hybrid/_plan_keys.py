"""A plan's turns at providers with several keys (``_keyring``): which key to try, the next key
of the same provider after a key's failure (at once, before any backoff or other provider),
and the provider's own record when its turn ends unanswered. A part of ``Plan``
(``_planner``); providers with one key never come here.
"""

from __future__ import annotations

from typing import Any

from ._exceptions import ProviderError
from ._keyring import ROTATING_KINDS, Keyring
from ._plan_record import NATIVE_FAILURE_KIND
from ._plan_steps import AttemptRun
from .providers._types import Endpoint

__all__ = ["KeyTurns"]


class KeyTurns:
    """``Plan``'s part for several keys; the attributes are the plan's."""

    board: Any
    options: Any
    providers: Any
    random: Any
    retries: Any
    again: bool
    # provider -> the keys tried since its turn (or its last backoff) began
    keys_tried: dict[str, set[int]]

    def _admit_key(self, ring: Keyring, provider: str, endpoint: Endpoint) -> tuple[str, Endpoint, int | None]:
        """(admission, the key's endpoint, its index) of the first untried key, in the call's
        strategy's order, that its breaker admits; a denial when none does."""
        tried = self.keys_tried.setdefault(provider, set())
        for index in ring.order(self.options.strategy, self.random):
            if index in tried:
                continue
            admission = ring.admit(index)
            if admission.startswith("denied"):
                continue
            tried.add(index)
            return admission, ring.endpoint(index, endpoint), index
        return "denied_open (every key of this provider is held or tried)", endpoint, None

    def _next_key(self, attempt: AttemptRun, error: ProviderError) -> bool:
        """Whether the same provider's next key is tried now, after ``error`` on one: a rate
        limit, a credential or a deployment's fault is that key's, not the provider's."""
        if attempt.key is None or error.failure_kind not in ROTATING_KINDS:
            return False
        if self.retries is not None and self.retries.done.get(attempt.provider):
            # After a backoff the provider has one more try per retry, not another walk over its
            # keys: a call makes at most (keys + retries) tries of it, never keys * retries.
            return False
        ring: Keyring = self.providers.keyrings[attempt.provider]
        tried = self.keys_tried[attempt.provider]
        if not any(index not in tried and ring.usable(index) for index in range(len(ring.boards))):
            return False
        self.again = True
        return True

    def _end_turn(self, attempt: AttemptRun, error: ProviderError) -> None:
        """The provider's turn ended with no key answering: its own entry (which routing and the
        other replicas see) records the failure; a rate limit holds it until its first key is
        free again (each try was recorded on its key's board)."""
        ring: Keyring = self.providers.keyrings[attempt.provider]
        kind = NATIVE_FAILURE_KIND.get(error.failure_kind, "transient")
        hold_ms = round(ring.hold_s() * 1000) if kind == "rate_limited" else 0
        self.board.record_failure(attempt.provider, kind, latency_ms=0, retry_after_ms=hold_ms)

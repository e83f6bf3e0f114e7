"""Same-provider retries: whether a provider's failure is worth trying again on that provider
before the chain moves on, and after how long. Sans-I/O like the planner that asks: it is given
the failure, the breaker's hold and the time left, and answers with a delay or None.

    transient (5xx, reset, timeout, a stream cut before its first token)
        tried again after a full-jitter exponential backoff, unless this failure opened the
        breaker (the provider is then held, and the chain moves on)
    rate limited (429) with a Retry-After of at most ``backoff_max_s``
        tried again once the Retry-After has passed (the breaker holds it that long), plus the
        same jitter, so that replicas told the same Retry-After do not all come back at once
    anything else (a 429 without Retry-After or with a long one, credential, quota, the
    request's own errors)
        never: waiting does not cure them, or the provider said to come back much later

Bounded: ``attempts`` retries per provider per call (each failed try is recorded on the board
like any attempt), and never a wait that would end past the call's total timeout. The plan is
the only layer that retries: the HTTP clients under it make one request per attempt (LiteLLM's
router and the OpenAI SDK both retrying turned one call into (1 + n) ** 2 requests).
"""

from __future__ import annotations

import random as _random
from dataclasses import dataclass
from typing import Any

from ._exceptions import ConfigurationError, InvalidInputError, ProviderError

__all__ = ["RETRY_DEFAULT", "Retries", "RetryPolicy", "full_jitter_s", "retry_policy"]

# A Retry-After is measured on the provider's clock and the breaker's whole milliseconds: the
# retry waits this much past it, so that the breaker's hold is over when it is admitted.
HOLD_MARGIN_S = 0.005
# How much longer than the Retry-After the breaker may hold and still be that Retry-After's hold
# (not a cooldown opened by the failure threshold).
HOLD_SLACK_S = 0.05
ATTEMPTS_MAX = 10


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts``: retries of a provider after its first try (0: none). The backoff before
    retry n (from 0) is drawn uniformly from [0, min(backoff_max_s, backoff_base_s * 2**n)]."""

    attempts: int = 1
    backoff_base_s: float = 0.25
    backoff_max_s: float = 2.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise InvalidInputError(f"retries must be a whole number, not {type(self.attempts).__name__}")
        if not 0 <= self.attempts <= ATTEMPTS_MAX:
            raise InvalidInputError(f"retries must be between 0 and {ATTEMPTS_MAX}, got {self.attempts}")
        for name in ("backoff_base_s", "backoff_max_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise InvalidInputError(f"{name} must be a positive number of seconds, got {value!r}")

    @classmethod
    def of(cls, value: int | RetryPolicy | None, default: RetryPolicy | None) -> RetryPolicy:
        """A call's policy: ``retries=`` given as a count (the node's backoff kept) or a
        policy; None: the node's."""
        base = default or RETRY_DEFAULT
        if value is None:
            return base
        if isinstance(value, RetryPolicy):
            return value
        if value == base.attempts and not isinstance(value, bool):
            return base
        return cls(value, base.backoff_base_s, base.backoff_max_s)


RETRY_DEFAULT = RetryPolicy()


def retry_policy(attempts: int | None, table: dict[str, Any]) -> RetryPolicy | None:
    """The node's policy from ``TRINITY_RETRIES`` (``attempts``) over the ``[retries]`` table of
    the configuration file (checked by ``_config``); None when neither sets anything."""
    if attempts is None and not table:
        return None
    settings = {**table, **({} if attempts is None else {"attempts": attempts})}
    try:
        return RetryPolicy(**settings)
    except InvalidInputError as error:
        raise ConfigurationError(f"retries: {error}") from None


def full_jitter_s(policy: RetryPolicy, retry: int, random: _random.Random) -> float:
    """The backoff before retry ``retry`` (from 0): AWS's "full jitter", a uniform draw in
    [0, min(max, base * 2**retry)]. Written here rather than taken from tenacity
    (``wait_random_exponential``) or backoff (``full_jitter``): both draw from the module-level
    ``random``, which a test cannot seed without seeding every other user of it, and tenacity
    computes from a ``RetryCallState`` that only its own retry loop makes."""
    ceiling_s = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** min(retry, 32))
    return random.uniform(0.0, ceiling_s)


class Retries:
    """One call's retries: how many each provider has had."""

    __slots__ = ("done", "policy", "random")

    def __init__(self, policy: RetryPolicy, random: _random.Random) -> None:
        self.policy = policy
        self.random = random
        self.done: dict[str, int] = {}

    def delay_s(self, provider: str, error: ProviderError, hold_s: Any, time_left_s: float | None) -> float | None:
        """How long to wait before trying ``provider`` again after ``error``, or None to move
        on. ``hold_s()``: how much longer the breaker holds ``provider`` (0 when it admits),
        asked only for a failure that may be retried; ``time_left_s``: until the call's total
        timeout (None: no timeout)."""
        done = self.done.get(provider, 0)
        if done >= self.policy.attempts:
            return None
        kind = error.failure_kind
        if kind == "transient":
            if hold_s() > 0:
                return None  # this failure opened the breaker: the provider rests
            wait_s = 0.0
        elif kind == "rate_limited":
            after_s = error.retry_after_s
            if after_s is None or after_s > self.policy.backoff_max_s:
                return None
            held_s = hold_s()
            if held_s > after_s + HOLD_SLACK_S:
                return None  # held for a cooldown, not for this Retry-After
            wait_s = max(after_s, held_s) + HOLD_MARGIN_S
        else:
            return None
        delay_s = wait_s + full_jitter_s(self.policy, done, self.random)
        if time_left_s is not None and delay_s >= time_left_s:
            return None  # the retry could not finish in time: the next provider may
        self.done[provider] = done + 1
        return delay_s

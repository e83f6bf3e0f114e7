"""What an admission answers: a ``Decision`` (admitted with a ``Reservation``, or refused with
the error to send), the refusals' wording, and one key's line in /status."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._key_definitions import NANO_PER_USD, KeyDefinition
from ._limits import Hold, Usage, Verdict, Windows

__all__ = ["Decision", "Reservation", "key_usage", "refusal"]


@dataclass(frozen=True)
class Reservation:
    """What an admitted request holds; give it back to ``settle``. ``shared``: held in Redis."""

    hold: Hold
    shared: bool

    @property
    def key_name(self) -> str:
        return self.hold.key_name


@dataclass(frozen=True)
class Decision:
    """Admitted (``allowed``, with a ``reservation``) or refused, with the error to answer."""

    allowed: bool
    key_name: str | None = None
    reservation: Reservation | None = None
    status: int = 200
    type: str = ""
    code: str = ""
    limit: str | None = None
    message: str = ""
    retry_after_s: int | None = None
    models: tuple[str, ...] = ()


def _usd(nano_usd: int) -> float:
    return nano_usd / NANO_PER_USD


def refusal(definition: KeyDefinition, verdict: Verdict, model: str, hold: Hold, windows: Windows) -> Decision:
    """The error for a refused admission: which limit, the figures, and when it resets."""
    name = definition.name
    if verdict.outcome == "model":
        allowed = ", ".join(definition.models)
        return Decision(
            False,
            name,
            None,
            403,
            "invalid_request_error",
            "model_not_allowed",
            "model",
            f"virtual key {name!r} may not use model {model!r}; allowed: {allowed}",
            models=definition.models,
        )
    left_ms = {
        "rpm": windows.minute_left_ms,
        "tpm": windows.minute_left_ms,
        "budget_day": windows.day_left_ms,
        "budget_month": windows.month_left_ms,
    }[verdict.outcome]
    retry_after_s = max(math.ceil(left_ms / 1000), 1)
    if verdict.outcome == "rpm":
        message = f"virtual key {name!r} reached its rpm limit of {verdict.limit} requests per minute"
        return Decision(
            False,
            name,
            None,
            429,
            "requests",
            "rate_limit_exceeded",
            "rpm",
            f"{message}; resets in {retry_after_s} s",
            retry_after_s,
        )
    if verdict.outcome == "tpm":
        message = (
            f"virtual key {name!r} reached its tpm limit: {verdict.used} of {verdict.limit} tokens this "
            f"minute used or reserved, this request may need {hold.tokens}"
        )
        return Decision(
            False,
            name,
            None,
            429,
            "tokens",
            "rate_limit_exceeded",
            "tpm",
            f"{message}; resets in {retry_after_s} s",
            retry_after_s,
        )
    period = "daily" if verdict.outcome == "budget_day" else "monthly"
    when = "today (UTC)" if verdict.outcome == "budget_day" else "this month (UTC)"
    message = (
        f"virtual key {name!r} reached its {period} budget: {_usd(verdict.used):.6f} of "
        f"{_usd(verdict.limit):.2f} USD spent or reserved {when}, this request may cost up to "
        f"{_usd(hold.cost_nano_usd):.6f} USD"
    )
    return Decision(
        False,
        name,
        None,
        402,
        "insufficient_quota",
        "budget_exceeded",
        verdict.outcome,
        f"{message}; resets in {retry_after_s} s",
        retry_after_s,
    )


def key_usage(definition: KeyDefinition, usage: Usage) -> dict[str, Any]:
    """One key's line in /status: its limits and counters, plain numbers (USD as floats)."""
    return {
        **definition.public(),
        "requests_minute": usage.requests_minute,
        "tokens_used_minute": usage.tokens_used_minute,
        "tokens_reserved_minute": usage.tokens_held_minute,
        "spend_day_usd": _usd(usage.cost_used_day_nano_usd),
        "reserved_day_usd": _usd(usage.cost_held_day_nano_usd),
        "spend_month_usd": _usd(usage.cost_used_month_nano_usd),
        "reserved_month_usd": _usd(usage.cost_held_month_nano_usd),
        "spend_day_nano_usd": usage.cost_used_day_nano_usd,
        "spend_month_nano_usd": usage.cost_used_month_nano_usd,
    }

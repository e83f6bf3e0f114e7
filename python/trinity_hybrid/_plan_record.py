"""What a plan records and how its walk ends: each attempt's outcome on the board (and in the
call's attempts and the log), and the error of a chain walked to its end. A part of ``Plan``
(``_planner``), kept in a room of its own so that the walk reads in one sitting."""

from __future__ import annotations

import logging
from typing import Any

from ._exceptions import AllProvidersFailed, InvalidInputError, ProviderError, TrinityError
from ._plan_steps import AttemptRun
from ._prices import cost_usd as cost_usd_at
from ._prices import cost_usd_of
from ._results import Attempt
from .providers._features import request_field
from .providers._types import Usage

__all__ = ["NATIVE_FAILURE_KIND", "Recording"]

logger = logging.getLogger("trinity_hybrid")

# What the native breaker calls each of our failure kinds; a context-length error says nothing
# about the provider's health, so it is recorded like any other client error.
NATIVE_FAILURE_KIND = {
    "transient": "transient",
    "rate_limited": "rate_limited",
    "credential": "credential",
    "client": "client",
    "quota_exhausted": "quota_exhausted",
    "context_length": "client",
}


class Recording:
    """``Plan``'s recording and its end of the walk; the attributes are the plan's."""

    board: Any
    providers: Any
    route: Any
    options: Any
    clock: Any
    attempts: list[Attempt]
    missing: list[str]

    def _exhausted(self) -> TrinityError:
        """The error of a chain walked to its end. When every provider was skipped for lacking
        a feature the request uses, or refused to build it (a JSON schema one API cannot take),
        that is the caller's request, not the providers' failure: a 400 at the gateway."""
        refusals = ("UnsupportedFeature", "ClientRequestError")
        if self.attempts and all(
            attempt.outcome == "skipped" and attempt.error_type in refusals for attempt in self.attempts
        ):
            reasons = "; ".join(
                f"{attempt.provider}: {str(attempt.error).removeprefix(f'{attempt.provider}: ')}"
                for attempt in self.attempts
            )
            error = InvalidInputError(f"no available provider can take this request ({reasons})")
            error.param = request_field(self.missing[0]) if self.missing else None
            return error
        return AllProvidersFailed(self.attempts)

    def _record_success(self, attempt: AttemptRun, usage: Usage | None) -> tuple[float, Usage]:
        """Records a success; returns (cost in USD, usage), usage estimated when not reported."""
        latency_s = self.clock() - attempt.started_s
        if usage is None:
            usage = Usage(prompt_tokens=self.route.tokens_estimated, completion_tokens=0)
        # Prompt caching bills cached and cache-written tokens at their own prices, which the
        # board's two cannot say: such an answer is priced here, at the model it came from.
        priced = None
        if usage.cached_tokens or usage.cache_write_tokens:
            priced = cost_usd_of(attempt.provider, attempt.endpoint.model, usage)
        cost_usd = self.board.record_success(
            attempt.provider, latency_ms=round(latency_s * 1000), tokens_input=usage.prompt_tokens,
            tokens_output=usage.completion_tokens, cost_usd=priced,
        )  # fmt: skip
        if attempt.key is not None:  # one of several keys: its own board too, priced at its model
            cost_usd = self.providers.keyrings[attempt.provider].record_success(
                attempt.key, latency_ms=round(latency_s * 1000), tokens_input=usage.prompt_tokens,
                tokens_output=usage.completion_tokens, cost_usd=priced,
            )  # fmt: skip
        if priced is None and self.options.models and attempt.endpoint.model != self.board.model(attempt.provider):
            # A model the request named: the board prices its configured model; this one is
            # priced by its own listed price (0 when none is listed).
            cost_usd = cost_usd_at(
                attempt.provider, attempt.endpoint.model, usage.prompt_tokens, usage.completion_tokens
            )
        self.attempts.append(Attempt(attempt.provider, "success", latency_s=latency_s))
        # Checked first: the record's fields would otherwise be built for every answer, logged or not.
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s answered in %.0f ms", attempt.provider, latency_s * 1000,
                extra={"provider": attempt.provider, "outcome": "success", "latency_ms": round(latency_s * 1000)},
            )  # fmt: skip
        return cost_usd, usage

    def _record_failure(self, provider: str, started_s: float, error: ProviderError, key: int | None = None) -> None:
        """Records a failed try: on the provider's board, or with several keys on the key's own
        (the provider's entry records the turn's end: ``_plan_keys``)."""
        latency_s = self.clock() - started_s
        retry_after_ms = round(error.retry_after_s * 1000) if error.retry_after_s else 0
        board = self.board if key is None else self.providers.keyrings[provider]
        board.record_failure(
            key if key is not None else provider, NATIVE_FAILURE_KIND.get(error.failure_kind, "transient"),
            latency_ms=round(latency_s * 1000), retry_after_ms=retry_after_ms,
        )  # fmt: skip
        self.attempts.append(
            Attempt(provider, "failure", str(error), type(error).__name__, latency_s, error.status_code)
        )
        logger.warning(
            "%s failed: %s", provider, error,
            extra={"provider": provider, "outcome": "failure", "latency_ms": round(latency_s * 1000),
                   "error_type": type(error).__name__},
        )  # fmt: skip

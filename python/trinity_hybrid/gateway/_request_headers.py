"""One request's routing: its ``model`` (``_models``) and the ``x-trinity-*`` headers that set
this call's timeout, strategy, provider order and cache (issue 17, point 6).

    x-trinity-timeout-s: 20            the whole call, fallbacks included (0 < s <= 3600)
    x-trinity-strategy: cost           one of the node's strategies (as the body's ``strategy``)
    x-trinity-providers: groq,openai   the chain, in this order, instead of the model's or the
                                       rules'; each provider asked for the model the request's
                                       ``model`` names for it (provider/model, an alias's
                                       targets), else its configured model
    x-trinity-cache: true|false|always as the body's ``cache``
    x-trinity-retries: 2               same-provider retries of a transient failure, 0 to 10
                                       (the node's ``retries=``; else TRINITY_RETRIES / [retries])

A header wins over the body's field of the same meaning (``strategy``, ``cache``, ``retries``). A bad value
is a 400 naming the header. Called by every chat endpoint (chat completions, messages,
responses) after its parser, with that parser's ``ChatParams``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._plan_retry import ATTEMPTS_MAX
from ._errors import bad_request
from ._models import ServedModels
from ._validation import ChatParams

__all__ = ["HEADER_PREFIX", "RETRIES_MAX", "TIMEOUT_S_MAX", "routed"]

HEADER_PREFIX = b"x-trinity-"
TIMEOUT_S_MAX = 3600.0
RETRIES_MAX = ATTEMPTS_MAX  # the plan's own bound (RetryPolicy), so that no valid header fails later
VALUE_CHARS_MAX = 1024
PROVIDERS_MAX = 16
CACHE_VALUES: dict[str, bool | str] = {"true": True, "false": False, "always": "always"}


def routed(params: ChatParams, models: ServedModels, scope: Any, strategies: tuple[str, ...]) -> ChatParams:
    """``params`` with its model's route and the request's ``x-trinity-*`` headers applied."""
    headers = [(key, value) for key, value in scope["headers"] if key[:10] == HEADER_PREFIX]
    route = models.route(params.model)
    if not headers and route.force_provider == params.force_provider and route.targets is None:
        return params  # the common case: "auto" or a bare provider, no header
    changes: dict[str, Any] = {
        "force_provider": route.force_provider,
        "targets": route.targets,
        "rules_fallback": route.rules_fallback,
    }
    for key, raw in headers:
        name = key.decode("latin-1")
        value = _text(name, raw)
        if key == b"x-trinity-timeout-s":
            changes["timeout_s"] = _timeout(name, value)
        elif key == b"x-trinity-strategy":
            if value not in strategies:
                raise bad_request(f"{name}: must be one of {', '.join(strategies)}", param=name)
            changes["strategy"] = value
        elif key == b"x-trinity-cache":
            if value.lower() not in CACHE_VALUES:
                raise bad_request(f"{name}: must be true, false or always", param=name)
            changes["cache"] = CACHE_VALUES[value.lower()]
        elif key == b"x-trinity-retries":
            changes["retries"] = _retries(name, value)
        elif key == b"x-trinity-providers":
            changes["targets"] = _providers(name, value, models, route.targets or ())
            changes["force_provider"], changes["rules_fallback"] = None, False
        # Other x-trinity-* names are left alone, as unknown headers are.
    return dataclasses.replace(params, **changes)


def _text(name: str, raw: bytes) -> str:
    if len(raw) > VALUE_CHARS_MAX:
        raise bad_request(f"{name}: at most {VALUE_CHARS_MAX} characters", param=name)
    try:
        # HTTP's spaces and tabs only: str.strip() would also take control characters ("\x1c0" as "0").
        value = raw.decode("ascii").strip(" \t")
    except UnicodeDecodeError:
        raise bad_request(f"{name}: must be ASCII", param=name) from None
    if not value.isprintable():
        raise bad_request(f"{name}: must be printable ASCII", param=name)
    return value


def _timeout(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= TIMEOUT_S_MAX):
        raise bad_request(f"{name}: must be a number of seconds above 0 and at most {TIMEOUT_S_MAX:g}", param=name)
    return seconds


def _retries(name: str, value: str) -> int:
    # ASCII digits only: int() would also take "+3", " 3", "1_0" and other scripts' digits.
    if not (0 < len(value) <= 2 and value.isdigit() and int(value) <= RETRIES_MAX):
        raise bad_request(f"{name}: must be a whole number from 0 to {RETRIES_MAX}", param=name)
    return int(value)


def _providers(
    name: str, value: str, models: ServedModels, named: tuple[tuple[str, str | None], ...]
) -> tuple[tuple[str, str | None], ...]:
    providers = [part.strip() for part in value.split(",")]
    if not 0 < len(providers) <= PROVIDERS_MAX or "" in providers:
        raise bad_request(f"{name}: a comma-separated list of 1 to {PROVIDERS_MAX} provider names", param=name)
    if len(set(providers)) != len(providers):
        raise bad_request(f"{name}: a provider is named twice", param=name)
    targets: list[tuple[str, str | None]] = []
    for provider in providers:
        if provider not in models.providers:
            raise bad_request(
                f"{name}: {provider[:64]!r} is not an available provider; expected some of "
                f"{', '.join(models.providers)}",
                param=name,
            )
        asked = [target for target in named if target[0] == provider]
        targets.extend(asked or [(provider, None)])
    return tuple(targets)

"""The optional TOML configuration named by ``TRINITY_CONFIG``.

    strategy = "best_performance"          # any strategy name
    default_provider = "groq"
    long_context_threshold_tokens = 128000

    [breaker]
    failure_threshold = 3
    cooldown_s = 60
    credential_cooldown_s = 900
    quota_cooldown_s = 3600
    probe_lease_s = 120
    ewma_alpha = 0.2

    [timeouts]
    connect_s = 10
    read_s = 120
    first_token_s = 60

    [retries]                              # same-provider retries of transient failures
    attempts = 1                           # retries after the first try (TRINITY_RETRIES); 0: none
    backoff_base_s = 0.25                  # full jitter: uniform in [0, min(max, base * 2**n)]
    backoff_max_s = 2.0                    # also the longest Retry-After a 429 is retried after

    [shared_state]                         # replicas share breakers and counters (TRINITY_REDIS_URL)
    url = "redis://127.0.0.1:6379/0"
    namespace = "trinity"
    op_timeout_s = 0.05

    [cache]                                # the response cache (TRINITY_CACHE, ...)
    backend = "memory"                     # off, memory or redis (needs [shared_state])
    ttl_s = 300
    entries_max = 1024
    bytes_max = 67108864
    default = true                         # every request, not only those asking for it

    [providers.groq]
    enabled = true                         # false takes a provider out even with a key
    model = "llama-3.3-70b-versatile"
    base_url = "https://api.groq.com/openai/v1"
    priority = 1
    context_window_tokens = 128000
    speed_tokens_per_s = 227
    price_input_usd_per_mtok = 0.59
    price_output_usd_per_mtok = 0.79

    [[providers.openai.deployments]]       # several keys / deployments of one provider, each
    key_env = "OPENAI_KEY_EU"              # with its own breaker and stats (``_keyring``): the
    base_url = "https://eu.example.com/v1" # variable holding its key, its base URL and model
    model = "gpt-4o-mini"                  # (each optional: the provider's own otherwise)

Every key is checked: an unknown key or a value of the wrong type raises ``ConfigurationError``
naming it (``TRINITY_CONFIG providers.groq.modle: unknown key``). Keys never go in this file:
they come from the environment only.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import ConfigurationError, InvalidInputError
from ._results import Timeouts

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from ._board import Board
    from ._directory import Directory

__all__ = ["apply_config", "load_config"]


def _positive_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _non_negative_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


def _positive_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value > 0


def _byte(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= 255


def _text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _flag(value: object) -> bool:
    return isinstance(value, bool)


Check = tuple[Callable[[object], bool], str]

# [virtual_keys] (gateway keys, budgets, limits: gateway/_key_definitions.py), [request_log]
# (gateway/_request_log.py) and [models] (aliases: gateway/_models.py) are checked by the gateway.
GATEWAY_TABLES = frozenset({"virtual_keys", "request_log", "models"})

TOP_LEVEL: dict[str, Check] = {
    "strategy": (_text, "a strategy name"),
    "default_provider": (_text, "a provider name"),
    "long_context_threshold_tokens": (_positive_int, "a positive integer"),
}
BREAKER: dict[str, Check] = {
    "failure_threshold": (_positive_int, "a positive integer"),
    "cooldown_s": (_positive_number, "a positive number of seconds"),
    "credential_cooldown_s": (_positive_number, "a positive number of seconds"),
    "quota_cooldown_s": (_positive_number, "a positive number of seconds"),
    "probe_lease_s": (_positive_number, "a positive number of seconds"),
    "ewma_alpha": (lambda value: _positive_number(value) and float(value) <= 1, "a number in (0, 1]"),  # type: ignore[arg-type]
}
TIMEOUTS: dict[str, Check] = {
    "connect_s": (_positive_number, "a positive number of seconds"),
    "read_s": (_positive_number, "a positive number of seconds"),
    "first_token_s": (_positive_number, "a positive number of seconds"),
}
RETRIES: dict[str, Check] = {
    "attempts": (lambda value: not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= 10,
                 "a whole number from 0 to 10"),
    "backoff_base_s": (_positive_number, "a positive number of seconds"),
    "backoff_max_s": (_positive_number, "a positive number of seconds"),
}
SHARED_STATE: dict[str, Check] = {
    "url": (lambda value: isinstance(value, str) and value.startswith(("redis://", "rediss://", "unix://")),
            "a redis://, rediss:// or unix:// URL"),
    "namespace": (_text, "a non-empty string"),
    "op_timeout_s": (_positive_number, "a positive number of seconds"),
}
CACHE: dict[str, Check] = {
    "backend": (lambda value: value in ("off", "memory", "redis"), "off, memory or redis"),
    "ttl_s": (_positive_number, "a positive number of seconds"),
    "entries_max": (_positive_int, "a positive integer"),
    "bytes_max": (_positive_int, "a positive integer"),
    "default": (_flag, "true or false"),
}
PROVIDER: dict[str, Check] = {
    "enabled": (_flag, "true or false"),
    "model": (_text, "a model name"),
    "base_url": (lambda value: isinstance(value, str) and value.startswith(("http://", "https://")), "an http(s) URL"),
    "priority": (_byte, "an integer from 0 to 255"),
    "context_window_tokens": (_positive_int, "a positive integer"),
    "quality_tier": (_byte, "an integer from 0 to 255"),
    "speed_tokens_per_s": (_positive_number, "a positive number"),
    "price_input_usd_per_mtok": (_non_negative_number, "a non-negative number"),
    "price_output_usd_per_mtok": (_non_negative_number, "a non-negative number"),
    "deployments": (lambda value: isinstance(value, list) and len(value) <= 64,
                    "a list of at most 64 tables ([[providers.NAME.deployments]])"),
}
DEPLOYMENT: dict[str, Check] = {
    "key_env": (lambda value: isinstance(value, str) and value.isidentifier(), "the name of a variable"),
    "base_url": (lambda value: isinstance(value, str) and value.startswith(("http://", "https://")), "an http(s) URL"),
    "model": (_text, "a model name"),
}


def load_config(path: str | Path) -> dict[str, Any]:
    """Reads and validates the file; returns the document."""
    location = Path(path).expanduser()
    try:
        document = tomllib.loads(location.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"TRINITY_CONFIG: cannot read {location}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"TRINITY_CONFIG: {location} is not valid TOML: {error}") from None
    _validate(document)
    return document


def _check_table(table: object, checks: dict[str, Check], where: str) -> None:
    if not isinstance(table, dict):
        raise ConfigurationError(f"TRINITY_CONFIG {where}: must be a table")
    for key, value in table.items():
        name = f"{where}.{key}" if where else key
        if key not in checks:
            raise ConfigurationError(f"TRINITY_CONFIG {name}: unknown key; expected one of {', '.join(sorted(checks))}")
        check, expected = checks[key]
        if not check(value):
            raise ConfigurationError(f"TRINITY_CONFIG {name}: must be {expected}, got {value!r}")


def _validate(document: dict[str, Any]) -> None:
    sections = {"breaker": BREAKER, "timeouts": TIMEOUTS, "retries": RETRIES, "shared_state": SHARED_STATE,
                "cache": CACHE}  # fmt: skip
    # Tables the gateway reads and checks itself (the core never imports it): passed through.
    top = {key: value for key, value in document.items() if key not in {*sections, "providers", *GATEWAY_TABLES}}
    _check_table(top, TOP_LEVEL, "")
    for section, checks in sections.items():
        if section in document:
            _check_table(document[section], checks, section)
    providers = document.get("providers", {})
    if not isinstance(providers, dict):
        raise ConfigurationError("TRINITY_CONFIG providers: must be a table of provider tables")
    for name, table in providers.items():
        _check_table(table, PROVIDER, f"providers.{name}")
        for position, deployment in enumerate(table.get("deployments", [])):
            _check_table(deployment, DEPLOYMENT, f"providers.{name}.deployments[{position}]")


def apply_config(board: Board, directory: Directory, document: dict[str, Any]) -> Timeouts | None:
    """Applies a validated document to the board and the directory; names are checked against
    the core's own. Returns the file's default timeouts (None when it sets none).
    ``retries``, ``shared_state`` and ``cache`` are left to ``TrinityHybridNode.from_env``, which
    merges them with their environment variables before connecting anything."""
    try:
        return _apply(board, directory, document)
    except ConfigurationError as error:
        raise ConfigurationError(f"TRINITY_CONFIG {error}") from None


def _apply(board: Board, directory: Directory, document: dict[str, Any]) -> Timeouts | None:
    try:
        if "strategy" in document:
            board.set_strategy(document["strategy"])
        if "default_provider" in document:
            board.set_default_provider(document["default_provider"])
    except InvalidInputError as error:
        raise ConfigurationError(str(error)) from None
    if "long_context_threshold_tokens" in document:
        board.set_long_context_threshold(document["long_context_threshold_tokens"])
    if "breaker" in document:
        board.configure_breaker(**document["breaker"])
    for name, table in document.get("providers", {}).items():
        if name not in board.provider_names:
            raise ConfigurationError(f"providers.{name}: unknown provider; expected one of {', '.join(board.provider_names)}")
        settings = dict(table)
        settings.pop("deployments", None)  # built by _keyring.configure_keyrings, with the keys
        if settings.pop("enabled", True) is False:
            directory.disabled.add(name)
        if "base_url" in settings:
            directory.base_urls[name] = settings.pop("base_url")
        if settings:
            board.set_provider_info(name, **settings)
    if "timeouts" in document:
        return Timeouts(**{key: float(value) for key, value in document["timeouts"].items()})
    return None

"""What the environment says: every variable the library and the gateway read, checked at once.

``read_environment`` turns a mapping (``os.environ`` by default) into an ``Environment`` value
and does nothing else: no provider is made available, nothing connects. Every bad value raises
``ConfigurationError`` naming its variable and what it holds (``TRINITY_CACHE_TTL_S='-5': must
be a positive number of seconds``), whichever command reads it: the gateway's own variables are
checked by ``route`` and ``infer`` too, so a typo shows up before ``serve`` is ever run. Keys
are never part of a message: a key variable's value is only kept, not shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._exceptions import ConfigurationError

# About 115 days: a cache entry meant to live longer is a configuration mistake, not a cache.
CACHE_TTL_S_LIMIT = 10**7

__all__ = [
    "BODY_BYTES_MAX_DEFAULT",
    "UPSTREAM_BYTES_MAX_DEFAULT",
    "Environment",
    "ProviderVariables",
    "read_body_bytes_max",
    "read_environment",
    "read_upstream_bytes_max",
]

# The gateway's request body limit: room for a long-context prompt (a million tokens is about
# 4 MB of text) and little more.
BODY_BYTES_MAX_DEFAULT = 8 * 1024 * 1024
# A provider's whole answer (TRINITY_MAX_UPSTREAM_BYTES), read by the library's HTTP client and the
# gateway's upstream pool alike: far above any real completion, far below what would exhaust memory.
UPSTREAM_BYTES_MAX_DEFAULT = 50 * 1000 * 1000
CACHE_BACKENDS = ("off", "memory", "redis")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
RETRIES_MAX = 10  # ``_plan_retry.ATTEMPTS_MAX``


@dataclass(frozen=True, slots=True)
class ProviderVariables:
    """The names of one provider's variables, as the core's catalogue lists them."""

    keys: tuple[str, ...]
    base_url: str
    model: str


@dataclass(frozen=True, slots=True)
class Environment:
    """The checked values; ``None`` or empty where a variable is unset (or blank)."""

    keys: dict[str, str] = field(default_factory=dict)
    # provider -> every key, when it has several (``<PROVIDER>_API_KEYS``, after its single key)
    key_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    base_urls: dict[str, str] = field(default_factory=dict)
    # provider -> (model, the variable that set it)
    models: dict[str, tuple[str, str]] = field(default_factory=dict)
    # provider -> embedding model (<PROVIDER>_EMBEDDING_MODEL)
    embedding_models: dict[str, str] = field(default_factory=dict)
    config_path: str | None = None
    default_provider: str | None = None
    strategy: str | None = None
    redis_url: str | None = None
    cache_backend: str | None = None
    cache_ttl_s: float | None = None
    cache_entries_max: int | None = None
    body_bytes_max: int = BODY_BYTES_MAX_DEFAULT
    upstream_bytes_max: int = UPSTREAM_BYTES_MAX_DEFAULT
    # Same-provider retries of a transient failure (``_plan_retry``); None: the default.
    retries: int | None = None


def read_environment(
    source: Mapping[str, str],
    variables: Mapping[str, ProviderVariables],
    strategies: tuple[str, ...],
) -> Environment:
    """Reads ``source``; ``variables`` maps each provider to its variables' names."""
    keys: dict[str, str] = {}
    key_lists: dict[str, tuple[str, ...]] = {}
    base_urls: dict[str, str] = {}
    models: dict[str, tuple[str, str]] = {}
    embedding_models: dict[str, str] = {}
    for provider, names in variables.items():
        key = next((value for value in (_get(source, name) for name in names.keys) if value), None)
        several = _key_list(source, names.keys, key)
        if len(several) > 1:
            key_lists[provider] = several
        if key or several:
            keys[provider] = key or several[0]
        base_url = _get(source, names.base_url)
        if base_url:
            if not base_url.startswith(("http://", "https://")):
                raise _bad(names.base_url, base_url, "must be an http:// or https:// URL")
            base_urls[provider] = base_url
        model = _get(source, names.model)
        if model:
            models[provider] = (model, names.model)
        embedding_model = _get(source, names.model.replace("_MODEL", "_EMBEDDING_MODEL"))
        if embedding_model:
            embedding_models[provider] = embedding_model
    return Environment(
        keys=keys,
        key_lists=key_lists,
        base_urls=base_urls,
        models=models,
        embedding_models=embedding_models,
        config_path=_get(source, "TRINITY_CONFIG"),
        default_provider=_choice(source, "DEFAULT_LLM_PROVIDER", tuple(variables), "a provider"),
        strategy=_choice(source, "TRINITY_STRATEGY", strategies, "a strategy"),
        redis_url=_redis_url(source),
        cache_backend=_choice(source, "TRINITY_CACHE", CACHE_BACKENDS, "a cache backend"),
        cache_ttl_s=_positive_number(source, "TRINITY_CACHE_TTL_S", below=CACHE_TTL_S_LIMIT),
        cache_entries_max=_positive_integer(source, "TRINITY_CACHE_ENTRIES_MAX"),
        body_bytes_max=read_body_bytes_max(source),
        upstream_bytes_max=read_upstream_bytes_max(source),
        retries=_retries(source),
    )


def read_body_bytes_max(source: Mapping[str, str]) -> int:
    """``TRINITY_MAX_BODY_BYTES``, the gateway's request body limit, or its default."""
    return _positive_integer(source, "TRINITY_MAX_BODY_BYTES") or BODY_BYTES_MAX_DEFAULT


def read_upstream_bytes_max(source: Mapping[str, str]) -> int:
    """``TRINITY_MAX_UPSTREAM_BYTES``: a provider's whole answer larger fails that attempt."""
    return _positive_integer(source, "TRINITY_MAX_UPSTREAM_BYTES") or UPSTREAM_BYTES_MAX_DEFAULT


def _get(source: Mapping[str, str], name: str) -> str | None:
    value = source.get(name, "").strip()
    return value or None


def _bad(name: str, value: str, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{name}={value!r}: {expected}")


def _choice(source: Mapping[str, str], name: str, allowed: tuple[str, ...], what: str) -> str | None:
    value = _get(source, name)
    if value is None:
        return None
    value = value.lower()
    if value not in allowed:
        raise _bad(name, value, f"is not {what}; expected one of {', '.join(allowed)}")
    return value


def _positive_number(source: Mapping[str, str], name: str, *, below: float = math.inf) -> float | None:
    text = _get(source, name)
    if text is None:
        return None
    must = "must be a positive number of seconds" + (f" below {below:.0f}" if below < math.inf else "")
    try:
        value = float(text)
    except ValueError:
        raise _bad(name, text, must) from None
    if not (math.isfinite(value) and 0 < value < below):
        raise _bad(name, text, must)
    return value


def _positive_integer(source: Mapping[str, str], name: str) -> int | None:
    text = _get(source, name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise _bad(name, text, "must be a positive whole number")
    return int(text)


def _key_list(source: Mapping[str, str], names: tuple[str, ...], key: str | None) -> tuple[str, ...]:
    """The single key (if set) and then those of each ``<NAME>S`` variable, comma-separated.
    A bad list is named by its variable and the entry's position, never by a key."""
    keys = [key] if key else []
    for name in names:
        text = _get(source, name + "S")
        if text is None:
            continue
        for position, entry in enumerate(text.split(","), start=1):
            entry = entry.strip()
            if not entry:
                raise ConfigurationError(f"{name}S: entry {position} is empty (keys are separated by commas)")
            if entry == key:
                continue  # the single key in the list too: the same key, once
            if entry in keys:
                raise ConfigurationError(f"{name}S: entry {position} repeats a key given before")
            keys.append(entry)
    return tuple(keys)


def _retries(source: Mapping[str, str]) -> int | None:
    text = _get(source, "TRINITY_RETRIES")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > RETRIES_MAX:
        raise _bad("TRINITY_RETRIES", text, f"must be a whole number from 0 to {RETRIES_MAX}")
    return int(text)


def _redis_url(source: Mapping[str, str]) -> str | None:
    url = _get(source, "TRINITY_REDIS_URL")
    if url is not None and not url.startswith(REDIS_SCHEMES):
        # The URL may hold a password: only its scheme is shown.
        scheme = url.split("://", 1)[0] if "://" in url else "no scheme"
        raise ConfigurationError(f"TRINITY_REDIS_URL must be a redis://, rediss:// or unix:// URL (got {scheme})")
    return url

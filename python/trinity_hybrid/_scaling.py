"""Scaling past one process, as the environment and the configuration file ask: shared state
with other replicas (``_shared``) and the response cache (``_cache``), turned on through the
node's own methods. Called once by ``TrinityHybridNode.from_env``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._environment import Environment

__all__ = ["configure_scaling"]


def configure_scaling(node: Any, environment: Environment, shared_file: Mapping[str, Any],
                      cache_file: Mapping[str, Any]) -> None:  # fmt: skip
    """``TRINITY_REDIS_URL`` (shared state), ``TRINITY_CACHE`` (off, memory or redis; on
    by default for every request when set), ``TRINITY_CACHE_TTL_S``, ``TRINITY_CACHE_ENTRIES_MAX``,
    each over the ``[shared_state]`` and ``[cache]`` tables of the configuration file."""
    redis_url = environment.redis_url or shared_file.get("url", "")
    if redis_url:
        shared_options = {key: value for key, value in shared_file.items() if key != "url"}
        node.enable_shared_state(redis_url, **shared_options)
    backend = environment.cache_backend or cache_file.get("backend", "off")
    if backend == "off":
        return
    # Set by the variable, the cache serves every request; the file says so with `default`.
    options: dict[str, Any] = {"default": True if environment.cache_backend else cache_file.get("default", False)}
    options |= {key: cache_file[key] for key in ("ttl_s", "entries_max", "bytes_max") if key in cache_file}
    if environment.cache_ttl_s is not None:
        options["ttl_s"] = environment.cache_ttl_s
    if environment.cache_entries_max is not None:
        options["entries_max"] = environment.cache_entries_max
    node.enable_cache(backend=backend, **options)

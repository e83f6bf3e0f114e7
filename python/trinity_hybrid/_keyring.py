"""Several keys or deployments of one provider (issue 17, point 2): ``OPENAI_API_KEYS=k1,k2``
and ``[[providers.openai.deployments]]`` (each its own key, base URL and model).

Each key gets its own breaker and stats from the native core without changing the C ABI: a
``Keyring`` holds one ``Board`` per key (each board is its own native node; its slot for the
provider holds that key's breaker and stats). The node's own board keeps the provider's entry,
which routing, the status page's totals and the shared state see: a call answered through any
key is the provider's success, and the provider fails a call only when its turn ends with no
key having answered. So one key's 429 or cooldown never holds the whole provider (LiteLLM's
cooldowns applied to a whole model group were the lesson), while a provider with every key
failing is held as before.

The planner asks ``order`` for the keys to try in the call's strategy's order, ``admit`` per
key, and records each try on that key's board (``_plan_keys``). With shared state each key's board is shared
with the other replicas under its own breaker name (``breakers``, ``_shared.share_keyrings``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from random import Random
from typing import Any

from . import _native
from ._board import Board
from ._exceptions import ConfigurationError
from ._secret import Secret

__all__ = ["ROTATING_KINDS", "Deployment", "EmbeddingKeys", "Keyring", "configure_keyrings", "keyring_status"]

# Failures after which the next key of the same provider is tried before the next provider: the
# key's own limit or credential, or a fault of the deployment it reaches (5xx, reset, timeout).
ROTATING_KINDS = frozenset({"transient", "rate_limited", "credential", "quota_exhausted"})
KEYS_MAX = 64
# Hex characters of a key's shared breaker name (``Keyring.breakers``): 64 bits tell keys apart.
BREAKER_DIGEST_CHARS = 16
# What each key's status shows (the board's own names, as in the provider's entry).
STATUS_FIELDS = ("key", "model", "state", "total_calls", "successful_calls", "failed_calls", "success_rate",
                 "avg_latency", "open_for_ms", "consecutive_failures", "last_failure", "latency_ms_p95",
                 "tokens_input", "tokens_output", "cost_usd")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Deployment:
    """One key of a provider, with the base URL and model it is used with (None: the
    provider's own)."""

    key: Secret | None
    base_url: str | None = None
    model: str | None = None


class Keyring:
    """A provider's keys, each with its own breaker and stats (one native board each)."""

    def __init__(self, provider: str, deployments: list[Deployment], main: Board,
                 strategy_default: str | None = None) -> None:  # fmt: skip
        assert 2 <= len(deployments) <= KEYS_MAX, len(deployments)
        self.provider = provider
        self.deployments = deployments
        self.boards: list[Board] = []
        info = {field: value for field, value in main.provider_info(provider).items() if field != "model"}
        for deployment in deployments:
            board = Board()
            board.set_provider_info(provider, **info)
            board.set_model(provider, deployment.model or main.model(provider))
            board.set_available(provider, "" if deployment.key is None else deployment.key.reveal())
            self.boards.append(board)
        self.configure_breaker(main.breaker_config())
        self._turn = 0  # round robin's next first key
        self.strategy_default = strategy_default  # the node's (TRINITY_STRATEGY, the file's)
        # key index -> (the endpoint it was derived from, the key's endpoint)
        self._endpoints: dict[int, tuple[Any, Any]] = {}

    def configure_breaker(self, config: Any) -> None:
        for board in self.boards:
            _native.check(board.lib.th_node_configure_breaker(board.handle, config), "configure_breaker")

    def order(self, strategy: str | None, random: Random) -> list[int]:
        """The keys in the order ``strategy`` tries them: round robin spreads calls over them,
        random shuffles, best performance and lowest latency put the best-measured first; the
        rules, priority and lowest cost keep the declared order (the first healthy key)."""
        indices = list(range(len(self.boards)))
        strategy = strategy or self.strategy_default
        if strategy == "round_robin":
            start = self._turn % len(indices)
            self._turn += 1
            return indices[start:] + indices[:start]
        if strategy == "random":
            random.shuffle(indices)
            return indices
        if strategy in ("best_performance", "lowest_latency"):
            stats = [board.stats(self.provider) for board in self.boards]

            def measured(index: int) -> tuple[float, float]:
                rate = stats[index].success_rate
                latency = stats[index].latency_ms_ewma
                if strategy == "lowest_latency":
                    return (latency, -(1.0 if rate is None else rate))
                return (-(1.0 if rate is None else rate), latency)

            return sorted(indices, key=measured)
        return indices

    def breakers(self) -> list[tuple[str, Board]]:
        """Each key's board under the name its breaker is shared by (``_shared``): the provider
        and a digest of the key, base URL and model, which every replica configured with the same
        deployment derives alike. The name never holds the key."""
        named = []
        for deployment, board in zip(self.deployments, self.boards, strict=True):
            parts = ("" if deployment.key is None else deployment.key.reveal(), deployment.base_url or "",
                     deployment.model or "")  # fmt: skip
            digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:BREAKER_DIGEST_CHARS]
            named.append((f"{self.provider}@{digest}", board))
        return named

    def admit(self, index: int) -> str:
        return self.boards[index].admit(self.provider)

    def usable(self, index: int) -> bool:
        """Whether key ``index`` would be admitted now (asked without reserving a probe)."""
        return self.boards[index].hold_s(self.provider) == 0

    def release_probe(self, index: int) -> None:
        self.boards[index].release_probe(self.provider)

    def record_success(self, index: int, *, latency_ms: int, tokens_input: int, tokens_output: int,
                       cost_usd: float | None = None) -> float:  # fmt: skip
        """Records a success on key ``index``; returns its cost at that key's model's price (or
        ``cost_usd``, priced by the caller)."""
        return self.boards[index].record_success(self.provider, latency_ms=latency_ms, tokens_input=tokens_input,
                                                 tokens_output=tokens_output, cost_usd=cost_usd)  # fmt: skip

    def record_failure(self, index: int, kind: str, *, latency_ms: int, retry_after_ms: int) -> None:
        self.boards[index].record_failure(self.provider, kind, latency_ms=latency_ms, retry_after_ms=retry_after_ms)

    def hold_s(self) -> float:
        """How long until some key is admitted again (0: one is now)."""
        return min(board.hold_s(self.provider) for board in self.boards)

    def endpoint(self, index: int, base: Any) -> Any:
        """``base`` (the provider's endpoint) with key ``index``'s key, base URL and model."""
        cached = self._endpoints.get(index)
        if cached is not None and cached[0] is base:
            return cached[1]
        deployment = self.deployments[index]
        endpoint = dataclasses.replace(base, key=deployment.key, base_url=deployment.base_url or base.base_url,
                                       model=deployment.model or base.model)  # fmt: skip
        self._endpoints[index] = (base, endpoint)
        return endpoint

    def status(self) -> list[dict[str, Any]]:
        """Each key's breaker and counters; the key only masked (the core keeps only the mask)."""
        entries = []
        for board in self.boards:
            entry = board.status()["providers"][self.provider]
            entries.append({field: entry.get(field) for field in STATUS_FIELDS})
        return entries


class EmbeddingKeys:
    """A provider's keyring as an embeddings call uses it: the same keys, breakers, stats and
    order (a 429 on one key moves to the next, and holds that key for chat too: the limit is the
    key's), each key's own base URL, and the call's embedding model, since a deployment's
    ``model`` is a chat model. Everything but ``endpoint`` is the keyring's own."""

    def __init__(self, ring: Keyring) -> None:
        self.ring = ring

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ring, name)

    def endpoint(self, index: int, base: Any) -> Any:
        """``base`` (the provider's embeddings endpoint) with key ``index``'s key and base URL."""
        deployment = self.ring.deployments[index]
        return dataclasses.replace(base, key=deployment.key, base_url=deployment.base_url or base.base_url)


def configure_keyrings(node: Any, environment: Any, document: Mapping[str, Any], source: Mapping[str, str]) -> None:
    """Builds the node's keyrings from ``<PROVIDER>_API_KEYS`` (``environment.key_lists``, read
    and checked by ``_environment``) and the configuration file's deployments, whose ``key_env``
    names a variable of ``source``. A provider with one key in all keeps the plain path."""
    directory, lists = node._directory, environment.key_lists
    strategy_default = environment.strategy or document.get("strategy")
    for provider in node.provider_names:
        if provider in directory.disabled:
            continue
        deployments = [Deployment(Secret(key)) for key in lists.get(provider, ())]
        if not deployments and directory.key(provider) is not None:
            deployments.append(Deployment(directory.key(provider)))
        tables = document.get("providers", {}).get(provider, {}).get("deployments", [])
        for position, table in enumerate(tables):
            where = f"TRINITY_CONFIG providers.{provider}.deployments[{position}]"
            key = None
            if "key_env" in table:
                value = source.get(table["key_env"], "").strip()
                if not value:
                    raise ConfigurationError(f"{where}.key_env: the variable {table['key_env']} is not set")
                key = Secret(value)
            deployments.append(Deployment(key, table.get("base_url"), table.get("model")))
        if len(deployments) > KEYS_MAX:
            raise ConfigurationError(f"{provider}: at most {KEYS_MAX} keys and deployments, got {len(deployments)}")
        if deployments and directory.key(provider) is None:
            first = deployments[0].key
            node.set_available(provider, "" if first is None else first.reveal())
        if len(deployments) >= 2:
            directory.keyrings[provider] = Keyring(provider, deployments, node._board, strategy_default)
        elif tables:  # one deployment: the provider's own key, base URL and model
            if deployments[0].base_url:
                directory.base_urls[provider] = deployments[0].base_url
            if deployments[0].model:
                node.set_model(provider, deployments[0].model)


def keyring_status(document: dict[str, Any], keyrings: Mapping[str, Keyring]) -> dict[str, Any]:
    """The status document with each several-key provider's keys under ``keys``."""
    for provider, ring in keyrings.items():
        entry = document.get("providers", {}).get(provider)
        if entry is not None:
            entry["keys"] = ring.status()
    return document

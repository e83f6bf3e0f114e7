"""Where virtual keys' counters live: one process's memory, or Redis shared by every replica.

Both backends take the same decisions (``tests/test_virtual_keys_equivalence.py`` runs random
sequences through both). The rules, in this order:

1. an unknown secret → ``unknown``; a model outside a non-empty allowed list → ``model``;
2. ``rpm``: the minute's admitted requests + 1 ≤ rpm;
3. ``tpm``: the minute's settled + reserved tokens + this request's estimate (at least 1) ≤ tpm;
4. ``budget_day`` / ``budget_month``: the day's (month's) settled + reserved nano-USD + this
   request's estimate (at least 1) ≤ budget: a key that has spent its last cent is refused even
   a request estimated free.

Windows are fixed, on the UTC calendar of the clock given (a minute, a day, a month). An admitted
request counts one request and *holds* its estimated tokens and cost until it is settled: then the
hold is replaced by the actual figures, in the windows where the request was admitted. A hold
that is never settled (a replica that died mid-call) is released when it expires
(``reservation_ttl_s``): a lost settle can never leave phantom spend behind for ever. A settle
that comes after its hold expired still counts, once, for ``reservation_ttl_s`` more.

In Redis, admission is one Lua script (release the expired holds, read the windows, decide,
count, hold), so replicas cannot both take the last request or the last cent. Settling is one
script that counts a hold only while it is held or expired, and removes it: a settle retried
after a lost reply is counted once, and nothing is kept per settled request. Spend decided while
Redis was away is *charged* later (``charge=True``): there is no hold to find, so a marker key
(``SET NX``, kept a day) makes its replay count once. Keys are formed inside the scripts, so this
wants a standalone Redis (or Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from ._key_definitions import KeyDefinition
from ._limits_scripts import ADMIT_SCRIPT, CREATE_SCRIPT, DELETE_SCRIPT, SETTLE_SCRIPT

__all__ = ["Hold", "LimitsBackend", "MemoryLimits", "RedisLimits", "Usage", "Verdict", "Windows"]

MINUTE_MS = 60_000
# Windows are kept a little longer than they last; settles that come late still find them.
MINUTE_TTL_S = 120
DAY_TTL_S = 2 * 86_400
MONTH_TTL_S = 32 * 86_400
# Expired holds released per admission: bounded work on the request's path.
HOLDS_PURGED_MAX = 64
# How long a charge's id is remembered (its replay is recognised until then).
CHARGE_MARKER_TTL_S = 86_400


@dataclass(frozen=True)
class Windows:
    """The windows a moment falls in, and the milliseconds left in each."""

    minute: str
    day: str
    month: str
    minute_left_ms: int
    day_left_ms: int
    month_left_ms: int

    @classmethod
    def at(cls, now_unix_s: float) -> Windows:
        now_ms = int(now_unix_s * 1000)
        moment = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
        day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        day_end_ms = int(day_start.timestamp() * 1000) + 86_400_000
        month_start = day_start.replace(day=1)
        next_month = month_start.replace(
            year=month_start.year + (month_start.month == 12), month=month_start.month % 12 + 1
        )
        return cls(
            minute=f"m{now_ms // MINUTE_MS}",
            day=f"d{moment:%Y%m%d}",
            month=f"M{moment:%Y%m}",
            minute_left_ms=MINUTE_MS - now_ms % MINUTE_MS,
            day_left_ms=day_end_ms - now_ms,
            month_left_ms=int(next_month.timestamp() * 1000) - now_ms,
        )


@dataclass(frozen=True)
class Hold:
    """An admitted request's reservation: what it holds and where (the admission's windows).
    ``key_name`` is empty until a backend has found the key (admission names it)."""

    id: str
    key_name: str
    tokens: int
    cost_nano_usd: int
    expires_unix_ms: int
    minute: str
    day: str
    month: str


@dataclass(frozen=True)
class Verdict:
    """A backend's answer: ``ok`` or the rule that refused, with the figures that decided."""

    outcome: str
    definition: KeyDefinition | None
    used: int = 0
    limit: int = 0


@dataclass(frozen=True)
class Usage:
    """One key's counters in the current windows; ``*_held`` is reserved, not yet settled."""

    requests_minute: int = 0
    tokens_used_minute: int = 0
    tokens_held_minute: int = 0
    cost_used_day_nano_usd: int = 0
    cost_held_day_nano_usd: int = 0
    cost_used_month_nano_usd: int = 0
    cost_held_month_nano_usd: int = 0


class LimitsBackend(Protocol):
    async def admit(
        self, configured: KeyDefinition | None, digest: str, model: str, hold: Hold, now_unix_ms: int
    ) -> Verdict: ...

    async def settle(self, hold: Hold, tokens: int, cost_nano_usd: int, charge: bool = False) -> bool: ...

    async def create(self, definition: KeyDefinition) -> bool: ...

    async def delete(self, name: str) -> KeyDefinition | None: ...

    async def definitions(self) -> list[KeyDefinition]: ...

    async def usage(self, names: list[str], windows: Windows) -> dict[str, Usage]: ...


def judge(
    definition: KeyDefinition,
    model: str,
    window: dict[str, int],
    day: dict[str, int],
    month: dict[str, int],
    tokens: int,
    cost_nano_usd: int,
) -> tuple[str, int, int]:
    """The rules above for one admission: (outcome, used, limit). ``ADMIT_SCRIPT`` is its twin."""
    if definition.models and model not in definition.models:
        return "model", 0, 0
    if definition.rpm is not None and window.get("requests", 0) + 1 > definition.rpm:
        return "rpm", window.get("requests", 0), definition.rpm
    if definition.tpm is not None:
        used = window.get("tokens_used", 0) + window.get("tokens_held", 0)
        if used + max(tokens, 1) > definition.tpm:
            return "tpm", used, definition.tpm
    for outcome, counters, budget in (
        ("budget_day", day, definition.budget_day_nano_usd),
        ("budget_month", month, definition.budget_month_nano_usd),
    ):
        if budget is not None:
            used = counters.get("cost_used", 0) + counters.get("cost_held", 0)
            if used + max(cost_nano_usd, 1) > budget:
                return outcome, used, budget
    return "ok", 0, 0


class MemoryLimits:
    """One process's counters, behind one lock (the gateway's workers each have their own)."""

    def __init__(self, reservation_ttl_s: float = 900.0) -> None:
        self._forget_after_ms = int(reservation_ttl_s * 1000)
        self._lock = threading.Lock()
        self._windows: dict[str, dict[str, int]] = {}
        self._window_expiry_s: dict[str, float] = {}
        self._holds: dict[str, Hold] = {}
        # (expiry, id) of every hold; settled ones are skipped when they come up.
        self._expiries: list[tuple[int, str]] = []
        # Expired, not yet settled: id → when it expired (unix ms, the clock given).
        self._expired: dict[str, int] = {}
        self._charged_expiry_s: dict[str, float] = {}
        self._definitions: dict[str, KeyDefinition] = {}
        self._names: dict[str, str] = {}
        self._purged_at_s = 0.0

    async def admit(
        self, configured: KeyDefinition | None, digest: str, model: str, hold: Hold, now_unix_ms: int
    ) -> Verdict:
        return self.admit_now(configured, digest, model, hold, now_unix_ms)

    def admit_now(
        self, configured: KeyDefinition | None, digest: str, model: str, hold: Hold, now_unix_ms: int
    ) -> Verdict:
        with self._lock:
            self._release_expired(now_unix_ms)
            definition = configured or self._definitions.get(digest)
            if definition is None:
                return Verdict("unknown", None)
            name = definition.name
            window, day, month = (
                self._window(f"{name}:{which}", ttl_s)
                for which, ttl_s in ((hold.minute, MINUTE_TTL_S), (hold.day, DAY_TTL_S), (hold.month, MONTH_TTL_S))
            )
            outcome, used, limit = judge(definition, model, window, day, month, hold.tokens, hold.cost_nano_usd)
            if outcome != "ok":
                return Verdict(outcome, definition, used, limit)
            window["requests"] = window.get("requests", 0) + 1
            self._add(window, "tokens_held", hold.tokens)
            self._add(day, "cost_held", hold.cost_nano_usd)
            self._add(month, "cost_held", hold.cost_nano_usd)
            self._holds[hold.id] = replace(hold, key_name=name)
            heapq.heappush(self._expiries, (hold.expires_unix_ms, hold.id))
            return Verdict("ok", definition)

    async def settle(self, hold: Hold, tokens: int, cost_nano_usd: int, charge: bool = False) -> bool:
        return self.settle_now(hold, tokens, cost_nano_usd, charge)

    def settle_now(self, hold: Hold, tokens: int, cost_nano_usd: int, charge: bool = False) -> bool:
        """Counts what the request used, once (False: settled already, or forgotten)."""
        with self._lock:
            if charge:
                if hold.id in self._charged_expiry_s:
                    return False
                self._charged_expiry_s[hold.id] = time.monotonic() + CHARGE_MARKER_TTL_S
            else:
                held = self._holds.pop(hold.id, None)
                if held is not None:
                    self._unhold(held)
                elif self._expired.pop(hold.id, None) is None:
                    return False
            base = hold.key_name
            self._add(self._window(f"{base}:{hold.minute}", MINUTE_TTL_S), "tokens_used", tokens)
            self._add(self._window(f"{base}:{hold.day}", DAY_TTL_S), "cost_used", cost_nano_usd)
            self._add(self._window(f"{base}:{hold.month}", MONTH_TTL_S), "cost_used", cost_nano_usd)
            return True

    async def create(self, definition: KeyDefinition) -> bool:
        with self._lock:
            if definition.name in self._names or definition.digest in self._definitions:
                return False
            self._names[definition.name] = definition.digest
            self._definitions[definition.digest] = definition
            return True

    async def delete(self, name: str) -> KeyDefinition | None:
        with self._lock:
            digest = self._names.pop(name, None)
            return None if digest is None else self._definitions.pop(digest, None)

    async def definitions(self) -> list[KeyDefinition]:
        with self._lock:
            return list(self._definitions.values())

    async def usage(self, names: list[str], windows: Windows) -> dict[str, Usage]:
        with self._lock:
            return {
                name: usage_from(
                    self._windows.get(f"{name}:{windows.minute}", {}),
                    self._windows.get(f"{name}:{windows.day}", {}),
                    self._windows.get(f"{name}:{windows.month}", {}),
                )
                for name in names
            }

    def _window(self, key: str, ttl_s: int) -> dict[str, int]:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = {}
            self._window_expiry_s[key] = time.monotonic() + ttl_s
        return window

    @staticmethod
    def _add(window: dict[str, int], field: str, amount: int) -> None:
        if amount:
            window[field] = window.get(field, 0) + amount

    def _unhold(self, hold: Hold) -> None:
        for which, field, amount in (
            (hold.minute, "tokens_held", hold.tokens),
            (hold.day, "cost_held", hold.cost_nano_usd),
            (hold.month, "cost_held", hold.cost_nano_usd),
        ):
            window = self._windows.get(f"{hold.key_name}:{which}")
            if window is not None and amount:
                window[field] = window.get(field, 0) - amount

    def _release_expired(self, now_unix_ms: int) -> None:
        """What Redis's script does: the earliest expired holds first, at most the bound, become
        expired (still settleable); those expired before ``reservation_ttl_s`` ago are forgotten."""
        released = 0
        while self._expiries and self._expiries[0][0] <= now_unix_ms and released < HOLDS_PURGED_MAX:
            _, hold_id = heapq.heappop(self._expiries)
            hold = self._holds.pop(hold_id, None)
            if hold is not None:  # else settled already
                self._unhold(hold)
                self._expired[hold_id] = now_unix_ms
                released += 1
        horizon_ms = now_unix_ms - self._forget_after_ms
        for hold_id in [hold_id for hold_id, expired_ms in self._expired.items() if expired_ms < horizon_ms]:
            del self._expired[hold_id]
        now_s = time.monotonic()
        if now_s - self._purged_at_s < 1.0:
            return
        # Windows and charge markers age out in real time, as Redis's TTLs do.
        self._purged_at_s = now_s
        for key in [key for key, expiry_s in self._window_expiry_s.items() if expiry_s <= now_s]:
            del self._window_expiry_s[key]
            self._windows.pop(key, None)
        for hold_id in [hold_id for hold_id, expiry_s in self._charged_expiry_s.items() if expiry_s <= now_s]:
            del self._charged_expiry_s[hold_id]


def usage_from(window: dict[str, int], day: dict[str, int], month: dict[str, int]) -> Usage:
    return Usage(
        requests_minute=window.get("requests", 0),
        tokens_used_minute=window.get("tokens_used", 0),
        tokens_held_minute=window.get("tokens_held", 0),
        cost_used_day_nano_usd=day.get("cost_used", 0),
        cost_held_day_nano_usd=day.get("cost_held", 0),
        cost_used_month_nano_usd=month.get("cost_used", 0),
        cost_held_month_nano_usd=month.get("cost_held", 0),
    )


class RedisLimits:
    """The same counters in Redis under ``<namespace>:vk:``. Errors reach the caller, which
    decides what an unreachable Redis means (``VirtualKeys``'s failure mode)."""

    def __init__(self, client: Any, namespace: str, reservation_ttl_s: float) -> None:
        self._client = client
        self.prefix = f"{namespace}:vk:"
        self._forget_after_ms = int(reservation_ttl_s * 1000)
        self._admit = client.register_script(ADMIT_SCRIPT)
        self._settle = client.register_script(SETTLE_SCRIPT)
        self._create = client.register_script(CREATE_SCRIPT)
        self._delete = client.register_script(DELETE_SCRIPT)

    async def admit(
        self, configured: KeyDefinition | None, digest: str, model: str, hold: Hold, now_unix_ms: int
    ) -> Verdict:
        p = self.prefix
        reply = await self._admit(
            keys=[p + "holds", p + "hold", p + "defs", p + "expired"],
            args=[
                p + "w:",
                digest,
                configured.to_json(digest=False) if configured else "",
                model,
                hold.minute,
                hold.day,
                hold.month,
                now_unix_ms,
                hold.id,
                hold.expires_unix_ms,
                str(hold.tokens),
                str(hold.cost_nano_usd),
                MINUTE_TTL_S,
                DAY_TTL_S,
                MONTH_TTL_S,
                HOLDS_PURGED_MAX,
                now_unix_ms - self._forget_after_ms,
            ],
        )
        outcome, raw, used, limit = reply
        # A configured key's definition is ours already (and went without its digest).
        definition = configured or (KeyDefinition.from_json(raw) if raw else None)
        return Verdict(outcome.decode(), definition, int(used), int(limit))

    async def settle(self, hold: Hold, tokens: int, cost_nano_usd: int, charge: bool = False) -> bool:
        p, base = self.prefix, f"{self.prefix}w:{hold.key_name}:"
        reply = await self._settle(
            keys=[
                p + "holds",
                p + "hold",
                p + "expired",
                p + "charged:" + hold.id,
                base + hold.minute,
                base + hold.day,
                base + hold.month,
            ],
            args=[
                hold.id,
                str(tokens),
                str(cost_nano_usd),
                "1" if charge else "0",
                CHARGE_MARKER_TTL_S,
                MINUTE_TTL_S,
                DAY_TTL_S,
                MONTH_TTL_S,
            ],
        )
        return bool(reply)

    async def create(self, definition: KeyDefinition) -> bool:
        reply = await self._create(
            keys=[self.prefix + "names", self.prefix + "defs"],
            args=[definition.name, definition.digest, definition.to_json()],
        )
        return bool(reply)

    async def delete(self, name: str) -> KeyDefinition | None:
        raw = await self._delete(keys=[self.prefix + "names", self.prefix + "defs"], args=[name])
        return KeyDefinition.from_json(raw) if raw else None

    async def definitions(self) -> list[KeyDefinition]:
        return [KeyDefinition.from_json(raw) for raw in await self._client.hvals(self.prefix + "defs")]

    async def usage(self, names: list[str], windows: Windows) -> dict[str, Usage]:
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                for which in (windows.minute, windows.day, windows.month):
                    pipe.hgetall(f"{self.prefix}w:{name}:{which}")
            replies = await pipe.execute()
        found: dict[str, Usage] = {}
        for index, name in enumerate(names):
            window, day, month = (
                {field.decode(): int(value) for field, value in reply.items()}
                for reply in replies[3 * index : 3 * index + 3]
            )
            found[name] = usage_from(window, day, month)
        return found

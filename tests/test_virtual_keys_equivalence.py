"""The memory backend and the Redis backend take the same decisions: hypothesis runs random
sequences of admissions, settles (some twice) and clock jumps (across minutes, days, months,
and past reservations' expiry) through both, and compares every answer (message included, so the
figures that decided) and the usage at the end. Redis is a real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis_server import RedisServer, require_binary
from test_virtual_keys import SECRET_A, SECRET_B, Clock
from trinity_hybrid.gateway._key_definitions import digest_of
from trinity_hybrid.gateway._virtual_keys import VirtualKeys

SECRETS = (SECRET_A, SECRET_B, "tk-nobody")
CONFIG: dict[str, Any] = {
    "virtual_keys": {
        "reservation_ttl_s": 120,
        "op_timeout_s": 5.0,
        "keys": [
            {
                "name": "team-a",
                "secret_sha256": digest_of(SECRET_A),
                "models": ["a"],
                "rpm": 4,
                "tpm": 1000,
                "budget_day_usd": 1.0,
                "budget_month_usd": 1.5,
            },
            {"name": "team-b", "secret_sha256": digest_of(SECRET_B), "budget_day_usd": 0.5},
        ],
    }
}

# Mostly the limited key with its allowed model, so that sequences reach the limits.
admissions = st.tuples(
    st.just("admit"),
    st.sampled_from([0, 0, 0, 1, 2]),
    st.sampled_from(["a", "a", "a", "b"]),
    st.integers(0, 600),
    st.integers(0, 60),
)
settles = st.tuples(st.just("settle"), st.integers(0, 50), st.integers(0, 600), st.integers(0, 60))
jumps = st.tuples(st.just("advance"), st.sampled_from([1, 20, 61, 130, 3_600, 86_400, 86_400, 40 * 86_400]))
operations = st.lists(st.one_of(admissions, admissions, settles, jumps), min_size=5, max_size=60)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    require_binary()
    with RedisServer() as server:
        yield server.url


def answer(decision: Any) -> tuple[Any, ...]:
    return (
        decision.allowed,
        decision.key_name,
        decision.status,
        decision.code,
        decision.limit,
        decision.message,
        decision.retry_after_s,
        decision.models,
    )


@settings(max_examples=150, deadline=None)
@given(steps=operations)
def test_memory_and_redis_decide_alike(redis_url: str, steps: list[tuple[Any, ...]]) -> None:
    async def run() -> None:
        clock = Clock("2026-12-29T23:58:30")
        config = {"virtual_keys": {**CONFIG["virtual_keys"], "namespace": f"test-{uuid.uuid4().hex[:8]}"}}
        memory = VirtualKeys.from_config(config, None, clock=clock)
        shared = VirtualKeys.from_config(config, redis_url, clock=clock)
        reservations: list[tuple[Any, Any]] = []
        for step in steps:
            if step[0] == "admit":
                _, which, model, tokens, cents = step
                decisions = [await keys.admit(SECRETS[which], model, tokens, cents / 100) for keys in (memory, shared)]
                assert answer(decisions[0]) == answer(decisions[1]), step
                if decisions[0].allowed:
                    reservations.append((decisions[0].reservation, decisions[1].reservation))
            elif step[0] == "settle" and reservations:
                _, index, tokens, cents = step
                pair = reservations[index % len(reservations)]
                await memory.settle(pair[0], tokens, cents / 100)
                await shared.settle(pair[1], tokens, cents / 100)
            elif step[0] == "advance":
                clock.now += step[1]
            usage = [await keys.usage() for keys in (memory, shared)]
            assert usage[0]["keys"] == usage[1]["keys"], step
        assert shared.status()["redis_errors"] == 0
        await shared.close()

    asyncio.run(run())

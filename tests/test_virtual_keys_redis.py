"""Virtual keys shared by replicas through a real Redis: exact limits under concurrency from two
replicas, spend that sums exactly, and what happens when Redis dies and comes back (the
documented failure modes). Each "replica" is its own ``VirtualKeys`` with its own connections."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from redis_server import RedisServer, require_binary
from test_virtual_keys import SECRET_A, SECRET_B, Clock, document
from trinity_hybrid.gateway import _virtual_keys
from trinity_hybrid.gateway._admin import AdminApi
from trinity_hybrid.gateway._virtual_keys import VirtualKeys

ADMIN_KEY = "admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    require_binary()
    with RedisServer() as server:
        yield server.url


def replicas(url: str, clock: Clock, count: int = 2, **settings: Any) -> list[VirtualKeys]:
    """Replicas sharing one namespace; a generous bound on Redis's answer (``config_with``), so
    that a loaded machine makes this a test of atomicity, not of timing."""
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    return [VirtualKeys.from_config(config_with(settings, namespace), url, clock=clock) for _ in range(count)]


def config_with(settings: dict[str, Any], namespace: str) -> dict[str, Any]:
    limits = dict(settings)
    table: dict[str, Any] = {"namespace": namespace, "op_timeout_s": 5.0}
    for name in ("failure_mode", "reservation_ttl_s", "op_timeout_s"):
        if name in limits:
            table[name] = limits.pop(name)
    config = document(**limits)
    config["virtual_keys"].update(table)
    return config


async def burst(replica_pair: list[VirtualKeys], attempts: int, tokens: int, cost_usd: float) -> list[Any]:
    """``attempts`` admissions at once, alternating between the replicas."""
    return list(
        await asyncio.gather(
            *(
                replica_pair[index % len(replica_pair)].admit(SECRET_A, "m", tokens, cost_usd)
                for index in range(attempts)
            )
        )
    )


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_rpm_is_exact_across_two_replicas(redis_url: str, limit: int) -> None:
    async def run() -> None:
        pair = replicas(redis_url, Clock("2026-12-06T10:00:00"), rpm=limit)
        decisions = await burst(pair, 3 * limit + 20, 1, 0.0)
        assert sum(decision.allowed for decision in decisions) == limit
        assert {decision.limit for decision in decisions if not decision.allowed} == {"rpm"}
        # Per replica, each would have admitted `limit`; shared, both now refuse.
        for replica in pair:
            assert (await replica.admit(SECRET_A, "m", 1, 0.0)).limit == "rpm"
        for replica in pair:
            await replica.close()

    asyncio.run(run())


def test_tpm_and_budget_are_exact_and_spend_sums_exactly(redis_url: str) -> None:
    async def run() -> None:
        clock = Clock("2026-12-06T10:00:00")
        pair = replicas(redis_url, clock, tpm=10_000, budget_day_usd=2.0)
        # 0.03 USD reserved each: the 66th would pass 2.00 (66 * 0.03 = 1.98, 67 * 0.03 = 2.01).
        decisions = await burst(pair, 120, 100, 0.03)
        admitted = [decision for decision in decisions if decision.allowed]
        assert len(admitted) == 66
        assert {decision.limit for decision in decisions if not decision.allowed} == {"budget_day"}
        # Each settles with a cost of its own, from either replica; twice for some (a retried settle).
        costs = [0.000_001 * (index + 1) for index in range(len(admitted))]
        await asyncio.gather(
            *(
                pair[index % 2].settle(decision.reservation, 7, cost)
                for index, (decision, cost) in enumerate(zip(admitted, costs))
            )
        )
        await asyncio.gather(*(pair[1].settle(decision.reservation, 7, 1.0) for decision in admitted[:10]))
        expected_nano = sum(round(cost * 1e9) for cost in costs)
        for replica in pair:
            (line,) = [line for line in (await replica.usage())["keys"] if line["name"] == "team-a"]
            assert line["spend_day_nano_usd"] == expected_nano
            assert line["reserved_day_usd"] == 0.0
            assert (line["tokens_used_minute"], line["tokens_reserved_minute"]) == (7 * 66, 0)
            assert line["requests_minute"] == 66
        # The budget left is now ~2 USD again: tpm is next to bind (10_000 - 462 used).
        decisions = await burst(pair, 40, 1_000, 0.0)
        assert sum(decision.allowed for decision in decisions) == 9
        assert {decision.limit for decision in decisions if not decision.allowed} == {"tpm"}
        for replica in pair:
            await replica.close()

    asyncio.run(run())


def test_a_key_created_on_one_replica_is_known_and_limited_on_the_other(redis_url: str) -> None:
    async def run() -> None:
        first, second = replicas(redis_url, Clock("2026-12-06T10:00:00"))
        status, created = await AdminApi(first, ADMIN_KEY).handle(
            "POST", "/admin/keys", f"Bearer {ADMIN_KEY}".encode(), {"name": "app-1", "rpm": 4}
        )
        assert status == 201
        decisions = await asyncio.gather(
            *(replica.admit(created["secret"], "m", 1, 0.0) for replica in (first, second) * 5)
        )
        assert sum(decision.allowed for decision in decisions) == 4
        assert await second.delete("app-1") is not None
        assert (await first.admit(created["secret"], "m", 1, 0.0)).status == 401
        for replica in (first, second):
            await replica.close()

    asyncio.run(run())


@pytest.fixture
def retry_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis is tried again on the next call: the test decides when it is back, not a timer."""
    monkeypatch.setattr(_virtual_keys, "RETRY_INTERVAL_S", 0.0)


@pytest.mark.usefixtures("retry_at_once")
def test_redis_down_fail_open_enforces_locally_and_replays_the_spend(caplog: pytest.LogCaptureFixture) -> None:
    require_binary()
    caplog.set_level(logging.INFO, logger="trinity_hybrid.gateway.virtual_keys")
    with RedisServer(persistent=True) as server:

        async def run() -> None:
            clock = Clock("2026-12-06T10:00:00")
            (keys,) = replicas(server.url, clock, count=1, rpm=3, budget_day_usd=10.0)
            admin = AdminApi(keys, ADMIN_KEY)
            _, created = await admin.handle("POST", "/admin/keys", f"Bearer {ADMIN_KEY}".encode(), {"name": "app"})
            _, unseen = await admin.handle("POST", "/admin/keys", f"Bearer {ADMIN_KEY}".encode(), {"name": "new"})
            before = await keys.admit(SECRET_A, "m", 10, 0.5)
            assert (await keys.admit(created["secret"], "m", 1, 0.0)).allowed  # seen once: known locally
            server.stop()
            # A request in flight when Redis died settles later, into the same windows.
            await keys.settle(before.reservation, 10, 0.25)
            during = [await keys.admit(SECRET_A, "m", 10, 1.0) for _ in range(4)]
            # The replica enforces alone: its own counters start empty, and still stop at rpm.
            assert [decision.allowed for decision in during] == [True, True, True, False]
            assert during[3].limit == "rpm"
            assert (await keys.admit(created["secret"], "m", 1, 0.0)).allowed
            unknown = await keys.admit(unseen["secret"], "m", 1, 0.0)
            assert (unknown.status, unknown.code) == (503, "limits_unavailable")
            assert (await keys.admit("tk-wrong", "m", 1, 0.0)).status == 503
            for decision in during[:3]:
                await keys.settle(decision.reservation, 10, 1.0)
            status = keys.status()
            assert (status["mode"], status["outages"], status["degraded_admits"]) == ("degraded", 1, 5)
            assert status["settles_pending"] >= 4
            assert (await admin.handle("GET", "/admin/keys", f"Bearer {ADMIN_KEY}".encode(), None))[0] == 503
            server.start()
            assert await keys.flush()
            assert keys.status()["mode"] == "shared"
            (line,) = [line for line in (await keys.usage())["keys"] if line["name"] == "team-a"]
            # 0.25 settled late plus 3 x 1.00 spent while Redis was away: nothing lost, nothing twice.
            assert line["spend_day_nano_usd"] == 3_250_000_000
            assert line["reserved_day_usd"] == 0.0
            await keys.close()

        asyncio.run(run())
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()


@pytest.mark.usefixtures("retry_at_once")
def test_redis_down_fail_closed_refuses_with_503() -> None:
    require_binary()
    with RedisServer() as server:

        async def run() -> None:
            (keys,) = replicas(server.url, Clock("2026-12-06T10:00:00"), count=1, failure_mode="closed")
            assert (await keys.admit(SECRET_B, "m", 1, 0.0)).allowed
            server.stop()
            refused = await keys.admit(SECRET_B, "m", 1, 0.0)
            assert (refused.allowed, refused.status, refused.code, refused.retry_after_s) == (
                False,
                503,
                "limits_unavailable",
                1,
            )
            assert keys.status()["refused_unavailable"] == 1
            server.start()
            assert (await keys.admit(SECRET_B, "m", 1, 0.0)).allowed
            await keys.close()

        asyncio.run(run())


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung Redis."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


@pytest.mark.parametrize("failure_mode", ["open", "closed"])
def test_a_hung_redis_costs_a_request_the_bound_then_the_failure_mode(
    silent_redis: str, failure_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Redis is not tried again during the test, however slow the machine.
    monkeypatch.setattr(_virtual_keys, "RETRY_INTERVAL_S", 3600.0)

    async def run() -> None:
        (keys,) = replicas(
            silent_redis, Clock("2026-12-06T10:00:00"), count=1, failure_mode=failure_mode, op_timeout_s=0.2, rpm=2
        )
        decisions = [await keys.admit(SECRET_A, "m", 1, 0.0) for _ in range(3)]
        if failure_mode == "open":
            assert [decision.allowed for decision in decisions] == [True, True, False]
            assert decisions[2].limit == "rpm"
        else:
            assert {decision.status for decision in decisions} == {503}
        status = keys.status()
        assert (status["mode"], status["outages"], status["last_error"]) == ("degraded", 1, "TimeoutError")
        # Only the attempt that reached the hung server may have held something; it is given back later.
        assert status["settles_pending"] == 1
        await asyncio.wait_for(keys.close(), 5.0)

    asyncio.run(run())


def test_a_request_cancelled_while_redis_decides_gives_its_hold_back(silent_redis: str) -> None:
    async def run() -> None:
        (keys,) = replicas(silent_redis, Clock("2026-12-06T10:00:00"), count=1, op_timeout_s=5.0)
        admission = asyncio.ensure_future(keys.admit(SECRET_A, "m", 1, 0.0))
        await asyncio.sleep(0.05)
        admission.cancel()
        with pytest.raises(asyncio.CancelledError):
            await admission
        assert keys.status()["settles_pending"] == 1
        keys._pending.clear()  # nothing to replay into a server that never answers
        await keys.close()

    asyncio.run(run())


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_charge_replayed_after_a_lost_reply_counts_once(redis_url: str, backend: str) -> None:
    """Spend decided while Redis was away has no hold in Redis: its replay is recognised by its id."""
    import redis.asyncio as redis_asyncio
    from trinity_hybrid.gateway._limits import Hold, MemoryLimits, RedisLimits, Windows

    async def run() -> None:
        client = redis_asyncio.from_url(redis_url)
        limits = MemoryLimits() if backend == "memory" else RedisLimits(client, f"test-{uuid.uuid4().hex[:8]}", 900)
        windows = Windows.at(Clock("2026-12-06T10:00:00")())
        hold = Hold(uuid.uuid4().hex, "team-a", 0, 0, 0, windows.minute, windows.day, windows.month)
        assert await limits.settle(hold, 5, 70, charge=True)
        assert not await limits.settle(hold, 5, 70, charge=True)
        # Not a hold here: settled as one, it is not counted at all.
        assert not await limits.settle(replace(hold, id=uuid.uuid4().hex), 5, 70)
        usage = (await limits.usage(["team-a"], windows))["team-a"]
        assert (usage.tokens_used_minute, usage.cost_used_day_nano_usd, usage.cost_used_month_nano_usd) == (5, 70, 70)
        await client.aclose()

    asyncio.run(run())


REPLICA_SCRIPT = """
import asyncio, json, sys
from trinity_hybrid.gateway._virtual_keys import VirtualKeys

config = json.loads(sys.argv[1])

async def main():
    keys = VirtualKeys.from_config(config, sys.argv[2])
    decisions = await asyncio.gather(*(keys.admit(sys.argv[3], "m", 10, 0.01) for _ in range(int(sys.argv[4]))))
    admitted = [decision for decision in decisions if decision.allowed]
    await asyncio.gather(*(keys.settle(decision.reservation, 10, 0.01) for decision in admitted))
    print(json.dumps({"admitted": len(admitted), "errors": keys.status()["redis_errors"]}))
    await keys.close()

asyncio.run(main())
"""


def test_three_processes_share_the_budget_exactly(redis_url: str) -> None:
    """Separate processes, loops and connections: 3 x 80 admissions against a budget of 100 x 0.01
    USD, each settled at its estimate, so that however the processes interleave exactly 100 pass."""
    config = config_with({"budget_day_usd": 1.0}, f"test-{uuid.uuid4().hex[:8]}")
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICA_SCRIPT, json.dumps(config), redis_url, SECRET_A, "80"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [json.loads(run.communicate(timeout=60)[0]) for run in runs]
    assert [result["errors"] for result in results] == [0, 0, 0]
    assert sum(result["admitted"] for result in results) == 100

    async def spent() -> int:
        keys = VirtualKeys.from_config(config, redis_url)
        usage = await keys.usage()
        await keys.close()
        return int(usage["keys"][0]["spend_day_nano_usd"])

    # What was spent is what Redis holds, to the nano-USD: the whole budget, not a cent more.
    assert asyncio.run(spent()) == 1_000_000_000

"""Virtual keys on one process (the memory backend) and on Redis alike: the config table, the
rules and their errors, windows rolling over on an injected clock, the admin API, and secrets
that never show. Redis is a real redis-server (tests/redis_server.py), one per module."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import redis
from redis_server import RedisServer, require_binary
from trinity_hybrid import ConfigurationError
from trinity_hybrid.gateway._admin import AdminApi
from trinity_hybrid.gateway._key_definitions import digest_of, parse_virtual_keys
from trinity_hybrid.gateway._virtual_keys import VirtualKeys

SECRET_A = "tk-team-a-secret-0123456789abcdefghij"
SECRET_B = "tk-team-b-secret-abcdefghij0123456789"
ADMIN_KEY = "admin-key-0123456789abcdef"


class Clock:
    """An injected wall clock (unix seconds) the tests move by hand."""

    def __init__(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).replace(tzinfo=timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now


def document(**limits: Any) -> dict[str, Any]:
    return {
        "virtual_keys": {
            "keys": [
                {"name": "team-a", "secret_sha256": digest_of(SECRET_A), **limits},
                {"name": "team-b", "secret_sha256": digest_of(SECRET_B)},
            ]
        }
    }


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    require_binary()
    with RedisServer() as server:
        yield server.url


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None (memory) or a Redis URL; each test gets its own namespace on the module's server."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


def make(url: str | None, clock: Clock, **limits: Any) -> VirtualKeys:
    config = document(**limits)
    # A generous bound on Redis's answer: a loaded machine must not turn a test into one of timing.
    config["virtual_keys"].update(namespace=f"test-{uuid.uuid4().hex[:8]}", op_timeout_s=5.0)
    return VirtualKeys.from_config(config, url, clock=clock)


# ----------------------------------------------------------------------------------------------
# The config table.


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"keys": [{"name": "a", "secret_sha256": "0" * 64, "rpn": 3}]}, "virtual_keys.keys[0].rpn: unknown key"),
        ({"keys": [{"name": "a", "secret_sha256": "0" * 64, "rpm": 0}]}, "virtual_keys.keys[0].rpm: must be"),
        ({"keys": [{"name": "a", "secret_sha256": "0" * 64, "tpm": True}]}, "virtual_keys.keys[0].tpm: must be"),
        ({"keys": [{"name": "a b", "secret_sha256": "0" * 64}]}, "virtual_keys.keys[0].name: must be"),
        ({"keys": [{"name": "a", "secret_sha256": "tk-plain"}]}, "virtual_keys.keys[0].secret_sha256: must be"),
        ({"keys": [{"name": "a"}]}, "virtual_keys.keys[0].secret_sha256: missing"),
        ({"keys": [{"name": "a", "secret_sha256": "0" * 64, "budget_day_usd": -1}]}, "budget_day_usd: must be"),
        ({"keys": [{"name": "a", "secret_sha256": "0" * 64, "models": "gpt"}]}, "keys[0].models: must be"),
        (
            {"keys": [{"name": "a", "secret_sha256": "0" * 64}, {"name": "a", "secret_sha256": "1" * 64}]},
            "keys[1].name: 'a' is defined twice",
        ),
        (
            {"keys": [{"name": "a", "secret_sha256": "0" * 64}, {"name": "b", "secret_sha256": "0" * 64}]},
            "keys[1].secret_sha256: the same secret",
        ),
        ({"failure_mode": "maybe"}, "virtual_keys.failure_mode: must be open or closed"),
        ({"op_timeout_s": 10}, "virtual_keys.op_timeout_s: must be"),
        ({"keyz": []}, "virtual_keys.keyz: unknown key"),
    ],
)
def test_config_names_the_bad_field(table: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_virtual_keys({"virtual_keys": table})


def test_config_gives_the_keys_and_settings() -> None:
    settings = parse_virtual_keys(
        {
            "virtual_keys": {
                "failure_mode": "closed",
                "keys": [{"name": "a", "secret_sha256": "0" * 64, "models": ["x"], "rpm": 5, "budget_month_usd": 2.5}],
            }
        }
    )
    assert settings.failure_mode == "closed"
    (key,) = settings.keys
    assert (key.name, key.models, key.rpm, key.tpm) == ("a", ("x",), 5, None)
    assert key.budget_month_nano_usd == 2_500_000_000
    assert parse_virtual_keys({}).keys == ()


# ----------------------------------------------------------------------------------------------
# The rules and their errors, on both backends.


def test_unknown_secret_and_disallowed_model(backend: str | None) -> None:
    async def run() -> None:
        keys = make(backend, Clock("2026-12-06T10:00:00"), models=["openai/gpt-4o-mini", "fast"])
        unknown = await keys.admit("tk-nobody", "fast", 10, 0.0)
        assert (unknown.allowed, unknown.status, unknown.code) == (False, 401, "invalid_api_key")
        refused = await keys.admit(SECRET_A, "smart", 10, 0.0)
        assert (refused.status, refused.code, refused.limit) == (403, "model_not_allowed", "model")
        assert refused.models == ("openai/gpt-4o-mini", "fast")
        assert "openai/gpt-4o-mini, fast" in refused.message
        assert (await keys.admit(SECRET_A, "fast", 10, 0.0)).allowed
        # A key without a list may use every model.
        assert (await keys.admit(SECRET_B, "anything", 10, 0.0)).allowed
        await keys.close()

    asyncio.run(run())


def test_rpm_and_tpm_refuse_with_the_limit_and_the_reset(backend: str | None) -> None:
    async def run() -> None:
        clock = Clock("2026-12-06T10:00:45")
        keys = make(backend, clock, rpm=3, tpm=1000)
        for _ in range(3):
            assert (await keys.admit(SECRET_A, "m", 100, 0.0)).allowed
        refused = await keys.admit(SECRET_A, "m", 100, 0.0)
        assert (refused.status, refused.type, refused.code, refused.limit) == (
            429,
            "requests",
            "rate_limit_exceeded",
            "rpm",
        )
        assert refused.retry_after_s == 15
        assert "rpm limit of 3 requests per minute" in refused.message and "resets in 15 s" in refused.message
        # The other key has its own counters.
        assert (await keys.admit(SECRET_B, "m", 100, 0.0)).allowed
        clock.now += 15  # 10:01:00, a new minute
        first = await keys.admit(SECRET_A, "m", 900, 0.0)
        assert first.allowed
        refused = await keys.admit(SECRET_A, "m", 101, 0.0)
        assert (refused.status, refused.type, refused.limit, refused.retry_after_s) == (429, "tokens", "tpm", 60)
        assert "900 of 1000 tokens" in refused.message
        # Settling with fewer tokens than reserved gives the difference back.
        await keys.settle(first.reservation, 400, 0.0)
        assert (await keys.admit(SECRET_A, "m", 600, 0.0)).allowed
        await keys.close()

    asyncio.run(run())


def test_budgets_roll_over_with_the_day_and_the_month(backend: str | None) -> None:
    async def run() -> None:
        clock = Clock("2026-12-31T23:59:00")
        keys = make(backend, clock, budget_day_usd=1.0, budget_month_usd=1.5)
        admitted = await keys.admit(SECRET_A, "m", 10, 0.6)
        refused = await keys.admit(SECRET_A, "m", 10, 0.5)
        # 0.6 is reserved: 0.5 more would pass 1.00.
        assert (refused.status, refused.code, refused.limit) == (402, "budget_exceeded", "budget_day")
        assert refused.retry_after_s == 60 and "daily budget" in refused.message
        await keys.settle(admitted.reservation, 10, 1.0)
        # The last cent is spent: even a request estimated free is refused.
        assert (await keys.admit(SECRET_A, "m", 10, 0.0)).limit == "budget_day"
        clock.now += 60  # 2027-01-01T00:00: a new day and a new month
        admitted = await keys.admit(SECRET_A, "m", 10, 0.2)
        assert admitted.allowed
        await keys.settle(admitted.reservation, 10, 0.9)
        clock.now += 86_400  # 2027-01-02: the day's budget is back, the month's is nearly spent
        refused = await keys.admit(SECRET_A, "m", 10, 0.7)
        assert (refused.limit, refused.status) == ("budget_month", 402)
        assert refused.retry_after_s == 30 * 86_400  # until 2027-02-01T00:00
        assert "monthly budget: 0.900000 of 1.50 USD" in refused.message
        assert (await keys.admit(SECRET_A, "m", 10, 0.5)).allowed
        usage = {line["name"]: line for line in (await keys.usage())["keys"]}
        assert usage["team-a"]["spend_month_usd"] == 0.9
        assert usage["team-a"]["reserved_month_usd"] == 0.5
        assert usage["team-a"]["spend_day_usd"] == 0.0
        await keys.close()

    asyncio.run(run())


def test_a_reservation_never_settled_is_released_when_it_expires(backend: str | None) -> None:
    async def run() -> None:
        clock = Clock("2026-12-06T10:00:00")
        config = document(budget_day_usd=1.0)
        config["virtual_keys"].update(reservation_ttl_s=300, namespace=f"test-{uuid.uuid4().hex[:8]}", op_timeout_s=5.0)
        keys = VirtualKeys.from_config(config, backend, clock=clock)
        lost = await keys.admit(SECRET_A, "m", 10, 1.0)  # a replica dies before settling
        assert lost.allowed
        assert (await keys.admit(SECRET_A, "m", 10, 0.1)).limit == "budget_day"
        clock.now += 300
        assert (await keys.admit(SECRET_A, "m", 10, 0.1)).allowed
        # A settle that comes after all still counts, once.
        await keys.settle(lost.reservation, 10, 0.5)
        await keys.settle(lost.reservation, 10, 0.5)
        line = (await keys.usage())["keys"][0]
        assert (line["spend_day_usd"], line["reserved_day_usd"]) == (0.5, 0.1)
        # Expired and then unsettled for another reservation_ttl_s: forgotten, nothing kept for ever.
        forgotten = await keys.admit(SECRET_B, "m", 10, 0.1)
        clock.now += 300
        await keys.admit(SECRET_B, "m", 10, 0.0)  # releases it
        clock.now += 301
        await keys.admit(SECRET_B, "m", 10, 0.0)  # forgets it
        await keys.settle(forgotten.reservation, 10, 0.1)
        line = (await keys.usage())["keys"][1]
        assert (line["name"], line["spend_day_usd"], line["reserved_day_usd"]) == ("team-b", 0.0, 0.0)
        await keys.close()

    asyncio.run(run())


def test_memory_backend_is_exact_across_threads() -> None:
    """The embedded backend is shared by the worker's threads: one lock, no lost update."""
    keys = VirtualKeys.from_config(document(rpm=500), None, clock=Clock("2026-12-06T10:00:00"))
    admitted: list[bool] = []

    def worker() -> None:
        async def burst() -> None:
            for _ in range(100):
                admitted.append((await keys.admit(SECRET_A, "m", 1, 0.0)).allowed)

        asyncio.run(burst())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 500 and len(admitted) == 800


# ----------------------------------------------------------------------------------------------
# The admin API.


def test_admin_api_creates_lists_shows_and_deletes(backend: str | None) -> None:
    async def run() -> None:
        keys = make(backend, Clock("2026-12-06T10:00:00"))
        admin = AdminApi(keys, ADMIN_KEY)
        bearer = f"Bearer {ADMIN_KEY}".encode()
        assert (await admin.handle("GET", "/admin/keys", None, None))[0] == 401
        assert (await admin.handle("GET", "/admin/keys", b"Bearer wrong-admin-key-000000", None))[0] == 401
        status, created = await admin.handle(
            "POST", "/admin/keys", bearer, {"name": "app-1", "models": ["fast"], "rpm": 2, "budget_day_usd": 3}
        )
        assert status == 201 and created["key"]["budget_day_usd"] == 3.0
        secret = created["secret"]
        assert (await admin.handle("POST", "/admin/keys", bearer, {"name": "app-1"}))[0] == 409
        assert (await admin.handle("POST", "/admin/keys", bearer, {"name": "team-a"}))[0] == 409
        status, problem = await admin.handle("POST", "/admin/keys", bearer, {"name": "x", "rpm": -1})
        assert status == 400 and problem["error"]["param"] == "rpm"
        status, problem = await admin.handle("POST", "/admin/keys", bearer, {"name": "x", "secret_sha256": "0" * 64})
        assert status == 400 and problem["error"]["param"] == "secret_sha256"
        # The new key works at once, with its limits.
        decision = await keys.admit(secret, "fast", 10, 0.25)
        assert decision.allowed and decision.key_name == "app-1"
        await keys.settle(decision.reservation, 12, 0.5)
        assert (await keys.admit(secret, "smart", 10, 0.0)).status == 403
        status, listed = await admin.handle("GET", "/admin/keys", bearer, None)
        assert [key["name"] for key in listed["keys"]] == ["team-a", "team-b", "app-1"]
        status, shown = await admin.handle("GET", "/admin/keys/app-1", bearer, None)
        assert status == 200 and shown["key"]["spend_day_usd"] == 0.5 and shown["key"]["requests_minute"] == 1
        assert (await admin.handle("DELETE", "/admin/keys/team-a", bearer, None))[0] == 409
        assert (await admin.handle("DELETE", "/admin/keys/app-1", bearer, None)) == (200, {"deleted": "app-1"})
        assert (await admin.handle("DELETE", "/admin/keys/app-1", bearer, None))[0] == 404
        assert (await keys.admit(secret, "fast", 10, 0.0)).status == 401
        status, spend = await admin.handle("GET", "/admin/spend", bearer, None)
        assert status == 200 and [line["name"] for line in spend["keys"]] == ["team-a", "team-b"]
        await keys.close()

    asyncio.run(run())


def test_admin_api_is_off_without_an_admin_key() -> None:
    keys = VirtualKeys.from_config(document(), None)
    admin = AdminApi.from_env(keys, {})
    status, answer = asyncio.run(admin.handle("GET", "/admin/keys", b"Bearer anything-at-all-000", None))
    assert status == 404 and "TRINITY_ADMIN_KEY" in answer["error"]["message"]
    with pytest.raises(ConfigurationError, match="at least 16"):
        AdminApi(keys, "short")


# ----------------------------------------------------------------------------------------------
# Secrets.


def test_secrets_never_show(backend: str | None, caplog: pytest.LogCaptureFixture) -> None:
    """Not in a repr, a log line, an error, /status, /metrics counters, nor in Redis: only the
    201 that creates a key holds its secret; no digest anywhere either."""
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []

    async def run() -> str:
        keys = make(backend, Clock("2026-12-06T10:00:00"), rpm=1, models=["fast"])
        admin = AdminApi(keys, ADMIN_KEY)
        bearer = f"Bearer {ADMIN_KEY}".encode()
        _, created = await admin.handle("POST", "/admin/keys", bearer, {"name": "app-1", "budget_day_usd": 1})
        secret: str = created["secret"]
        shown.extend(repr(value) for value in (keys, admin, keys.settings))
        for offered, model in (
            (SECRET_A, "fast"),
            (SECRET_A, "fast"),
            (SECRET_A, "smart"),
            ("tk-wrong", "fast"),
            (secret, "m"),
            (secret, "m"),
        ):
            decision = await keys.admit(offered, model, 10, 0.6)
            shown.extend((repr(decision), str(decision), decision.message))
            if decision.reservation is not None:
                await keys.settle(decision.reservation, 10, 0.6)
        shown.append(repr(await keys.usage()))
        shown.append(repr(keys.status()))
        for path in ("/admin/keys", "/admin/keys/app-1", "/admin/spend"):
            shown.append(repr(await admin.handle("GET", path, bearer, None)))
        await keys.close()
        return secret

    secret = asyncio.run(run())
    shown.extend(record.getMessage() for record in caplog.records)
    if backend is not None:
        client = redis.Redis.from_url(backend)
        for key in client.scan_iter():
            shown.append(repr(key))
            kind = client.type(key)
            shown.append(
                repr(
                    client.hgetall(key)
                    if kind == b"hash"
                    else client.zrange(key, 0, -1)
                    if kind == b"zset"
                    else client.get(key)
                )
            )
    everything = "\n".join(shown)
    assert "team-a" in everything  # the check reads what was shown
    for secret_text in (SECRET_A, secret, "tk-wrong", ADMIN_KEY):
        assert secret_text not in everything
    if backend is None:
        # The memory backend keeps no digest outside the process; Redis holds admin keys' digests.
        assert digest_of(secret) not in everything
    assert digest_of(SECRET_A) not in everything


def test_metrics_expose_spend_and_admissions_without_secrets(backend: str | None) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from trinity_hybrid.gateway._key_metrics import VIRTUAL_KEY_METRIC_NAMES, VirtualKeysCollector

    async def run() -> bytes:
        keys = make(backend, Clock("2026-12-06T10:00:00"), rpm=1, budget_day_usd=2.0)
        registry = CollectorRegistry()
        registry.register(VirtualKeysCollector(keys))
        decision = await keys.admit(SECRET_A, "m", 10, 0.5)
        await keys.settle(decision.reservation, 40, 0.125)
        await keys.admit(SECRET_A, "m", 10, 0.5)
        await keys.admit("tk-wrong", "m", 10, 0.5)
        await keys.usage()  # what the app does before a scrape
        await keys.close()
        return generate_latest(registry)

    text = asyncio.run(run()).decode()
    for name in VIRTUAL_KEY_METRIC_NAMES:
        assert f"\n{name}" in text, name
    assert 'trinity_virtual_key_spend_usd{key="team-a",window="day"} 0.125' in text
    assert 'trinity_virtual_key_budget_usd{key="team-a",window="day"} 2.0' in text
    assert 'trinity_virtual_key_tokens_minute{key="team-a",state="used"} 40.0' in text
    assert 'trinity_virtual_key_admissions_total{outcome="rpm"} 1.0' in text
    assert 'trinity_virtual_key_admissions_total{outcome="unknown"} 1.0' in text
    mode = "local" if backend is None else "shared"
    assert f'trinity_virtual_keys_mode{{mode="{mode}"}} 1.0' in text
    for hidden in (SECRET_A, "tk-wrong", digest_of(SECRET_A)):
        assert hidden not in text


def test_odd_estimates_neither_crash_nor_slip_through() -> None:
    async def run() -> None:
        keys = make(None, Clock("2026-12-06T10:00:00"), budget_day_usd=1.0, tpm=100)
        assert (await keys.admit(SECRET_A, "m", 10, float("inf"))).limit == "budget_day"
        assert (await keys.admit(SECRET_A, "m", 10_000, 0.0)).limit == "tpm"
        nan = await keys.admit(SECRET_A, "m", -5, float("nan"))
        assert nan.allowed
        await keys.settle(nan.reservation, -3, float("-inf"))
        line = (await keys.usage())["keys"][0]
        assert (line["spend_day_usd"], line["tokens_used_minute"]) == (0.0, 0)

    asyncio.run(run())

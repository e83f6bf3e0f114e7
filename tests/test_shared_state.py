"""Shared state between replicas over a real Redis: breaker events, the probe lease, counters,
Retry-After, and what happens when Redis dies and comes back. Each test uses its own key
namespace on a module-wide redis-server, or its own server when it kills it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import Fault, OpenAIServer
from redis_server import RedisServer, require_binary
from trinity_hybrid import TrinityHybridNode

WAIT_S = 10.0
PROVIDER = "groq"


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Polls ``condition``; the bound only stops a broken run from hanging, it is not a timing claim."""
    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    require_binary()
    with RedisServer() as server:
        yield server.url


def replica(url: str, namespace: str, op_timeout_s: float = 0.05, **servers: OpenAIServer) -> TrinityHybridNode:
    # One scripted fault per request shows the fallback; same-provider retries: test_retries.py.
    environment = {"GROQ_API_KEY": "gsk_shared_state_test_key_0123456789", "DEFAULT_LLM_PROVIDER": "groq",
                   "TRINITY_RETRIES": "0"}  # fmt: skip
    for provider, server in servers.items():
        environment[f"{provider.upper()}_API_KEY"] = server.api_key
        environment[f"{provider.upper()}_BASE_URL"] = server.base_url
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    node.enable_shared_state(url, namespace=namespace, op_timeout_s=op_timeout_s)
    wait_for(lambda: node.shared_state()["connected"], "the replica to connect")
    return node


@pytest.fixture
def pair(redis_url: str) -> Iterator[tuple[TrinityHybridNode, TrinityHybridNode]]:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    first, second = replica(redis_url, namespace), replica(redis_url, namespace)
    yield first, second
    first.close_shared_state()
    second.close_shared_state()


def test_breaker_opened_on_one_replica_is_open_on_the_other(pair: tuple[TrinityHybridNode, TrinityHybridNode]) -> None:
    first, second = pair
    first.configure_breaker(cooldown_s=0.3)
    for _ in range(3):
        first.record_failure(PROVIDER, "transient")
    assert first.stats(PROVIDER).state == "open"
    wait_for(lambda: second.stats(PROVIDER).state != "closed", "the opening to reach the other replica")
    # The hold travels as a duration, so the other's deadline is the same one, later at most by
    # the message's transit (the bound only catches a broken conversion), and no call is counted.
    lag_ms = second.stats(PROVIDER).open_until_ms - first.stats(PROVIDER).open_until_ms
    assert 0 <= lag_ms <= 1_000
    assert second.stats(PROVIDER).calls_total == 0
    assert second.shared_state()["events_applied"] >= 1
    # A successful probe on the first closes the breaker on both.
    wait_for(lambda: first.stats(PROVIDER).state == "half_open", "the cooldown to pass")
    assert first.admit(PROVIDER) == "allowed_probe"
    first.record_success(PROVIDER, latency_ms=5)
    wait_for(lambda: second.stats(PROVIDER).state == "closed", "the closing to reach the other replica")
    assert second.stats(PROVIDER).calls_total == 0


def test_retry_after_seen_by_one_replica_holds_on_all(pair: tuple[TrinityHybridNode, TrinityHybridNode]) -> None:
    first, second = pair
    first.record_failure(PROVIDER, "rate_limited", retry_after_ms=30_000)
    wait_for(lambda: second.stats(PROVIDER).state == "open", "the Retry-After to reach the other replica")
    now_ms = time.monotonic_ns() // 1_000_000
    # Held for the Retry-After (less the time the event took), not for the default cooldown.
    assert second.stats(PROVIDER).open_until_ms >= now_ms + 25_000
    assert second.stats(PROVIDER).open_until_ms <= now_ms + 30_000


def test_a_replica_that_starts_later_catches_up(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    first = replica(redis_url, namespace)
    first.record_failure(PROVIDER, "credential")
    first.flush_shared_state()
    late = replica(redis_url, namespace)
    try:
        assert late.stats(PROVIDER).state == "open"
    finally:
        first.close_shared_state()
        late.close_shared_state()


@settings(max_examples=15, deadline=None)
@given(threads_per_replica=st.integers(1, 6))
def test_exactly_one_probe_across_replicas(redis_url: str, threads_per_replica: int) -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    # A generous bound on Redis's answer: on a loaded machine a slow answer means "no probe",
    # which is safe but would make this test about timing instead of atomicity.
    replicas = [replica(redis_url, namespace, op_timeout_s=2.0) for _ in range(3)]
    try:
        for node in replicas:
            node.apply_remote_open(PROVIDER, time.monotonic_ns() // 1_000_000 + 2)
        time.sleep(0.01)
        assert all(node.stats(PROVIDER).state == "half_open" for node in replicas)
        barrier = threading.Barrier(threads_per_replica * len(replicas))
        admissions: list[str] = []

        def contend(node: TrinityHybridNode) -> None:
            barrier.wait()
            admissions.append(node.admit(PROVIDER))

        workers = [threading.Thread(target=contend, args=(node,)) for node in replicas for _ in range(threads_per_replica)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert admissions.count("allowed_probe") == 1, admissions
        assert admissions.count("denied_probe_in_flight") == len(admissions) - 1
    finally:
        for node in replicas:
            node.close_shared_state()


def test_counters_add_up_exactly_under_concurrency(pair: tuple[TrinityHybridNode, TrinityHybridNode]) -> None:
    first, second = pair
    first.configure_breaker(failure_threshold=10**6)
    second.configure_breaker(failure_threshold=10**6)

    def hammer(node: TrinityHybridNode, seed: int) -> None:
        for index in range(300):
            if (index * 7 + seed) % 5 == 0:
                node.record_failure(PROVIDER, "client" if index % 2 else "transient", latency_ms=3)
            else:
                node.record_success(PROVIDER, latency_ms=index % 40, tokens_input=index, tokens_output=seed)

    workers = [threading.Thread(target=hammer, args=(node, seed)) for seed in range(4) for node in (first, second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert first.flush_shared_state() and second.flush_shared_state()
    shared = first.shared_counters(PROVIDER)
    assert shared is not None
    local = [first.stats(PROVIDER), second.stats(PROVIDER)]
    assert shared["calls_total"] == 2400 == sum(stats.calls_total for stats in local)
    assert shared["calls_successful"] == sum(stats.calls_successful for stats in local)
    assert shared["calls_failed"] == sum(stats.calls_failed for stats in local)
    assert shared["calls_client_error"] == sum(stats.calls_client_error for stats in local)
    assert shared["tokens_input"] == sum(stats.tokens_input for stats in local)
    assert shared["tokens_output"] == sum(stats.tokens_output for stats in local)


def test_redis_dies_calls_go_on_and_state_resynchronises() -> None:
    require_binary()
    with RedisServer() as server, OpenAIServer() as groq, OpenAIServer() as openai:
        namespace = "outage"
        first = replica(server.url, namespace, groq=groq, openai=openai)
        second = replica(server.url, namespace, groq=groq, openai=openai)
        try:
            for _ in range(5):
                assert first.infer("Hello there").provider == "groq"
            assert first.flush_shared_state()
            flushed_calls = first.stats("groq").calls_total
            server.stop()
            # Every call still succeeds while Redis is away, and the status says so.
            for index in range(20):
                node = (first, second)[index % 2]
                assert node.infer(f"Hello during the outage {index}").text == f"echo: Hello during the outage {index}"
            wait_for(lambda: first.shared_state()["mode"] == "degraded", "the status to say degraded")
            assert first.status()["shared_state"]["connected"] is False
            assert first.shared_counters("groq") is None
            # The breaker opens on one replica meanwhile; the other cannot hear of it yet.
            for _ in range(3):
                groq.faults.push(Fault.status(503))
                assert first.infer("Hello there").provider == "openai"
            assert first.stats("groq").state == "open"
            assert second.stats("groq").state == "closed"
            server.start()  # empty: Redis lost everything
            wait_for(lambda: first.shared_state()["connected"] and second.shared_state()["connected"], "reconnection")
            wait_for(lambda: second.stats("groq").state == "open", "the resynchronised opening")
            assert first.flush_shared_state() and second.flush_shared_state()
            shared = first.shared_counters("groq")
            assert shared is not None
            local_total = first.stats("groq").calls_total + second.stats("groq").calls_total
            assert shared["calls_total"] == local_total - flushed_calls
            assert first.shared_state()["outages"] >= 1
            assert first.shared_state()["resyncs"] >= 2
        finally:
            first.close_shared_state()
            second.close_shared_state()


REPLICA_SCRIPT = Path(__file__).with_name("replica_process.py")


def test_two_processes_share_the_breaker(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    local = replica(redis_url, namespace)
    process = subprocess.Popen(
        [sys.executable, str(REPLICA_SCRIPT), redis_url, namespace],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    assert process.stdin is not None and process.stdout is not None

    def ask(command: dict[str, object]) -> dict[str, object]:
        process.stdin.write(json.dumps(command) + "\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        answer: dict[str, object] = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        return answer

    try:
        assert ask({"op": "wait_connected"})["connected"] is True
        for _ in range(3):
            local.record_failure(PROVIDER, "transient")
        assert ask({"op": "wait_state", "state": "open"})["state"] == "open"
        ask({"op": "fail", "kind": "rate_limited", "retry_after_ms": 600_000})
        now_ms = time.monotonic_ns() // 1_000_000
        wait_for(lambda: local.stats(PROVIDER).open_until_ms >= now_ms + 500_000, "the other process's Retry-After")
        ask({"op": "flush"})
        local.flush_shared_state()
        shared = local.shared_counters(PROVIDER)
        assert shared is not None and shared["calls_total"] == 4
    finally:
        process.stdin.close()
        process.wait(10)
        local.close_shared_state()


def test_status_never_shows_the_redis_password() -> None:
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": "gsk_status_test_key_0123456789"})
    node.enable_shared_state("redis://user:hunter2-secret@127.0.0.1:1/0", op_timeout_s=0.05)
    try:
        wait_for(lambda: node.shared_state()["mode"] == "degraded", "the unreachable Redis to be reported")
        document = json.dumps(node.status())
        assert "hunter2-secret" not in document
        assert "redis://user:***@127.0.0.1:1/0" in document
        # Nothing waits on the unreachable Redis.
        node.record_failure(PROVIDER, "transient")
        assert node.admit(PROVIDER) == "allowed"
    finally:
        node.close_shared_state()


def test_probe_lease_is_a_redis_key_with_expiry(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    node = replica(redis_url, namespace)
    try:
        node.configure_breaker(probe_lease_s=30)
        node.apply_remote_open(PROVIDER, time.monotonic_ns() // 1_000_000 + 1)
        time.sleep(0.01)
        assert node.admit(PROVIDER) == "allowed_probe"
        client = redis.Redis.from_url(redis_url)
        key = f"{namespace}:probe:{PROVIDER}"
        assert 0 < client.pttl(key) <= 30_000
        node.record_failure(PROVIDER, "transient")  # the probe's outcome gives the lease back
        wait_for(lambda: client.exists(key) == 0, "the lease to be released")
    finally:
        node.close_shared_state()

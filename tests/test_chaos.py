"""The library-level chaos run: two replicas sharing one real Redis, four loopback providers that
fail at random (5xx, 429 with Retry-After, resets, accept-then-hang, slow first byte, streams cut
after N chunks, malformed JSON), Redis killed and restarted in the middle; every request must end
once, right or with a typed error, within its deadline, and every count must add up exactly.

Set ``TRINITY_CHAOS_REPORT=path.json`` to keep the figures; ``TRINITY_CHAOS_REQUESTS`` changes
the number of requests (2,000 here, to keep the suite short).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from pathlib import Path

from chaos import NodeTarget, mixed_mode, redis_outage, run_chaos
from loopback import AnthropicServer, Fault, GeminiServer, LoopbackServer, OpenAIServer
from redis_server import RedisServer, require_binary
from trinity_hybrid import Timeouts, TrinityHybridNode

REQUESTS = int(os.environ.get("TRINITY_CHAOS_REQUESTS", "2000"))
CONCURRENCY = 32
DEADLINE_S = 15.0
FAULT_RATE = 0.12
FAULT_POOL = (
    Fault.status(500),
    Fault.status(503),
    Fault.status(429, retry_after_s=1),
    Fault.reset(),
    Fault.hang(),
    Fault.slow_first_byte(0.3),
    Fault.stream_cut(2),
    Fault.malformed_json(),
)
KEYS = {
    "groq": "gsk_chaosLEAKCHECK_groq_9f8e7d6c5b4a",
    "openai": "sk-chaosLEAKCHECK-openai-1a2b3c4d5e6f",
    "anthropic": "sk-ant-chaosLEAKCHECK-anthropic-77aa88bb",
    "google": "AIzaChaosLEAKCHECK_google_0099887766",
}


class Capture(logging.Handler):
    """Keeps every log record, message and structured fields, for the key-leak scan."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        # Per provider: failures in which the request may never have reached the server.
        self.transport_failures: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.lines.append(f"{message} {record.__dict__!r}")
        if getattr(record, "outcome", None) == "failure" and ("connection failed" in message or "timed out" in message):
            self.transport_failures[getattr(record, "provider", "?")] += 1


def servers() -> dict[str, LoopbackServer]:
    return {
        "groq": OpenAIServer(api_key=KEYS["groq"]),
        "openai": OpenAIServer(api_key=KEYS["openai"]),
        "anthropic": AnthropicServer(api_key=KEYS["anthropic"]),
        "google": GeminiServer(api_key=KEYS["google"]),
    }


def replica(redis_url: str, by_provider: dict[str, LoopbackServer]) -> TrinityHybridNode:
    environment = {"TRINITY_REDIS_URL": redis_url}
    for provider, server in by_provider.items():
        environment[f"{provider.upper()}_API_KEY"] = KEYS[provider]
        environment[f"{provider.upper()}_BASE_URL"] = server.base_url
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    node.configure_breaker(failure_threshold=3, cooldown_s=0.5, probe_lease_s=2)
    return node


def test_chaos_two_replicas_one_redis_killed_and_restarted(tmp_path: Path) -> None:
    require_binary()
    capture = Capture()
    library_logger = logging.getLogger("trinity_hybrid")
    library_logger.addHandler(capture)
    library_logger.setLevel(logging.DEBUG)
    by_provider = servers()
    redis_server = RedisServer(persistent=True)
    redis_server.start()
    nodes = [replica(redis_server.url, by_provider), replica(redis_server.url, by_provider)]
    try:
        for seed, server in enumerate(by_provider.values()):
            server.faults.chaos(FAULT_POOL, rate=FAULT_RATE, seed=seed)

        async def kill_redis() -> None:
            await asyncio.to_thread(redis_server.stop)

        async def restart_redis() -> None:
            await asyncio.to_thread(redis_server.start)

        async def drive() -> object:
            try:
                return await run_chaos(
                    NodeTarget(nodes, timeout=Timeouts(connect_s=1.0, read_s=1.0, first_token_s=1.0)),
                    requests=REQUESTS,
                    concurrency=CONCURRENCY,
                    deadline_s=DEADLINE_S,
                    mode_of=mixed_mode,
                    schedule=redis_outage(REQUESTS, kill_redis, restart_redis),
                )
            finally:
                for node in nodes:
                    await node.aclose()

        report = asyncio.run(drive())
        for server in by_provider.values():
            server.faults.clear()
        flushed = [node.flush_shared_state(10.0) for node in nodes]
        statuses = [node.status() for node in nodes]
        shared = {provider: nodes[0].shared_counters(provider) for provider in by_provider}
    finally:
        for node in nodes:
            node.close_shared_state()
            node.close()
        for server in by_provider.values():
            server.close()
        redis_server.stop()
        library_logger.removeHandler(capture)

    faults = Counter(request.fault.kind.value for server in by_provider.values() for request in server.requests
                     if request.fault is not None)
    figures = {
        **report.as_dict(),  # type: ignore[attr-defined]
        "faults_injected": sum(faults.values()),
        "faults_by_kind": dict(faults),
        "provider_requests": {provider: len(server.requests) for provider, server in by_provider.items()},
        "breaker_events_published": sum(status["shared_state"]["events_published"] for status in statuses),
        "breaker_events_applied": sum(status["shared_state"]["events_applied"] for status in statuses),
        "redis_outages_seen": [status["shared_state"]["outages"] for status in statuses],
    }
    report_path = os.environ.get("TRINITY_CHAOS_REPORT")
    if report_path:
        Path(report_path).write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))

    # Every request ended once, right or typed, within its deadline.
    assert report.lost == 0, figures  # type: ignore[attr-defined]
    assert report.hung == 0, figures  # type: ignore[attr-defined]
    assert report.duplicated == 0, figures  # type: ignore[attr-defined]
    assert report.untyped_errors == 0, figures  # type: ignore[attr-defined]
    assert report.wrong_answers == 0, figures  # type: ignore[attr-defined]
    assert report.answered + report.typed_errors == REQUESTS, figures  # type: ignore[attr-defined]
    # Faults were really injected, of every kind, and breakers really moved between replicas.
    assert set(faults) == {fault.kind.value for fault in FAULT_POOL}, faults
    assert figures["breaker_events_applied"] > 0
    assert all(outages >= 1 for outages in figures["redis_outages_seen"])
    assert all(status["shared_state"]["connected"] for status in statuses)
    # The stats add up exactly: Redis (restarted from its append-only file) holds the replicas'
    # sums. Every request a provider received is a call the replicas recorded; a recorded call the
    # provider never saw can only be a connection that failed before the request got through.
    assert all(flushed)
    for provider, server in by_provider.items():
        local_calls = sum(node.stats(provider).calls_total for node in nodes)
        unseen = local_calls - len(server.requests)
        assert 0 <= unseen <= capture.transport_failures[provider], (provider, local_calls, len(server.requests))
        assert shared[provider] is not None
        assert shared[provider]["calls_total"] == local_calls, (provider, shared[provider], local_calls)
        assert shared[provider]["calls_successful"] == sum(node.stats(provider).calls_successful for node in nodes)
    # No key anywhere: logs, errors, status documents, figures.
    haystack = "\n".join(capture.lines) + json.dumps(statuses) + json.dumps(figures)
    haystack += "\n".join(outcome.message for outcome in report.outcomes)  # type: ignore[attr-defined]
    for key in KEYS.values():
        assert key not in haystack
        assert key[8:] not in haystack

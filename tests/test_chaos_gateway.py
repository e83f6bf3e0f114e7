"""The chaos run at the gateway: two `trinity-hybrid serve` processes sharing one real Redis, the
random-fault loopback providers of tests/test_chaos.py, 32 requests at a time over HTTP (whole
answers and SSE streams, from async and sync clients), Redis killed and restarted in the middle.

Every request must end once, with the right answer or a clear typed error (an OpenAI-style error
JSON with a 4xx/5xx, or an SSE error event as the stream's last event) within its deadline; the
gateways' request counters must add up to the requests sent, Redis's shared counters to the
replicas' sums; /status and /metrics must show the degraded mode during the outage; breakers must
open and close again; no key may appear in anything the gateways logged or returned.

``TRINITY_CHAOS_REQUESTS`` changes the number of requests (1,500 here, to keep the suite short);
``TRINITY_CHAOS_REPORT=path.json`` keeps the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import redis
from chaos import Outcome, mixed_mode, redis_outage, run_chaos
from gateway_harness import GATEWAY_KEY
from gateway_process import GatewayProcess
from httpx_sse import aconnect_sse
from loopback import LoopbackServer
from redis_server import RedisServer, require_binary
from test_chaos import FAULT_POOL, FAULT_RATE, KEYS, servers

REQUESTS = int(os.environ.get("TRINITY_CHAOS_REQUESTS", "1500"))
CONCURRENCY = 32
DEADLINE_S = 15.0
CLIENT_TIMEOUT_S = 2 * DEADLINE_S  # longer than the deadline, so a hang is seen as a hang
SETTLE_TIMEOUT_S = 20.0
CONFIG = """
[breaker]
failure_threshold = 3
cooldown_s = 0.5
probe_lease_s = 2
# Gemini's 429 is RESOURCE_EXHAUSTED, a quota hold (an hour by default): short here, so that the
# breakers' recovery can be watched within the test.
quota_cooldown_s = 1

[timeouts]
connect_s = 1
read_s = 1
first_token_s = 1

[providers.local]
enabled = false
"""


def metric_sum(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in metrics.items()
        if sample == name and all(dict(sample_labels).get(label) == wanted for label, wanted in labels.items())
    )


class GatewayTarget:
    """Request ``i`` goes to gateway ``i % 2``: ``async`` and ``sync`` ask for a whole answer
    (``sync`` from a blocking client in a worker thread), ``stream`` reads the SSE events one by
    one and checks their order: the role, deltas, one finishing chunk, ``[DONE]`` and nothing
    after it; or an error event, last. Every body read is kept for the key-leak scan."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
        limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY * 2)
        self.client = httpx.AsyncClient(headers=headers, timeout=CLIENT_TIMEOUT_S, limits=limits, trust_env=False)
        self.sync_client = httpx.Client(headers=headers, timeout=CLIENT_TIMEOUT_S, trust_env=False)
        self.bodies: list[str] = []

    async def send(self, request_id: int, prompt: str, mode: str) -> Outcome:
        url = self.urls[request_id % len(self.urls)] + "/v1/chat/completions"
        body = {"model": "auto", "messages": [{"role": "user", "content": prompt}], "stream": mode == "stream"}
        started_s = time.monotonic()
        try:
            if mode == "stream":
                outcome = await self._stream(request_id, url, body)
            else:
                if mode == "sync":
                    response = await asyncio.to_thread(self.sync_client.post, url, json=body)
                else:
                    response = await self.client.post(url, json=body)
                self.bodies.append(response.text)
                outcome = self._judge(request_id, response.status_code, response.headers, response.text)
        except httpx.HTTPError as error:  # the gateway dropped the connection or never answered
            return Outcome(request_id, False, error_type=type(error).__name__, typed=False, message=repr(error))
        return Outcome(**{**outcome.__dict__, "latency_s": time.monotonic() - started_s})

    def _judge(self, request_id: int, status: int, headers: Any, text: str) -> Outcome:
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return Outcome(request_id, False, error_type=f"HTTP {status} not JSON", typed=False, message=text)
        if status == 200:
            return Outcome(
                request_id,
                True,
                text=document["choices"][0]["message"]["content"],
                provider=headers.get("x-trinity-provider"),
            )
        error = document.get("error") if isinstance(document, dict) else None
        typed = 400 <= status <= 599 and isinstance(error, dict) and {"message", "type", "code"} <= set(error)
        return Outcome(
            request_id,
            False,
            error_type=f"HTTP {status} {error.get('code') if typed else ''}",
            typed=typed,
            message=text,
        )

    async def _stream(self, request_id: int, url: str, body: dict[str, Any]) -> Outcome:
        async with aconnect_sse(self.client, "POST", url, json=body) as source:
            response = source.response
            if response.status_code != 200:
                text = (await response.aread()).decode()
                self.bodies.append(text)
                return self._judge(request_id, response.status_code, response.headers, text)
            events = [event.data async for event in source.aiter_sse()]
        self.bodies.extend(events)
        if not events:
            return Outcome(request_id, False, error_type="EmptyStream", typed=False)
        documents = [json.loads(data) for data in events if data != "[DONE]"]
        if "error" in documents[-1]:
            # An error event ends the stream: it is the last event, after which there is no [DONE].
            if events[-1] == "[DONE]":
                return Outcome(request_id, False, error_type="ErrorThenDone", typed=False, message=events[-1])
            return Outcome(
                request_id, False, error_type=f"SSE {documents[-1]['error'].get('code')}", message=events[-1]
            )
        finishing = [
            document for document in documents if document["choices"] and document["choices"][0]["finish_reason"]
        ]
        if events[-1] != "[DONE]" or events.count("[DONE]") != 1 or len(finishing) != 1:
            return Outcome(request_id, False, error_type="MalformedStream", typed=False, message=repr(events))
        text = "".join(
            document["choices"][0]["delta"].get("content") or "" for document in documents if document["choices"]
        )
        return Outcome(request_id, True, text=text, provider=response.headers.get("x-trinity-provider"))

    async def aclose(self) -> None:
        await self.client.aclose()
        self.sync_client.close()


def test_chaos_through_two_gateways_one_redis_killed_and_restarted(tmp_path: Path) -> None:
    require_binary()
    by_provider = servers()
    redis_server = RedisServer(persistent=True)
    redis_server.start()
    config_path = tmp_path / "trinity.toml"
    config_path.write_text(CONFIG)
    environment = {
        "TRINITY_REDIS_URL": redis_server.url,
        "TRINITY_API_KEYS": GATEWAY_KEY,
        "TRINITY_CONFIG": str(config_path),
    }
    for provider, server in by_provider.items():
        environment[f"{provider.upper()}_API_KEY"] = KEYS[provider]
        environment[f"{provider.upper()}_BASE_URL"] = server.base_url
    gateways = [GatewayProcess(tmp_path, name, environment) for name in ("gateway-a", "gateway-b")]
    observed: dict[str, Any] = {"degraded_status": [], "degraded_metric": [], "states": Counter()}
    try:
        for gateway in gateways:
            gateway.wait_ready()
        for seed, server in enumerate(by_provider.values()):
            server.faults.chaos(FAULT_POOL, rate=FAULT_RATE, seed=seed)
        report, figures, bodies = asyncio.run(drive(gateways, redis_server, observed))
        for server in by_provider.values():
            server.faults.clear()
        settled = [settle(gateway) for gateway in gateways]
        recovered = recover(gateways)
        statuses = [gateway.status() for gateway in gateways]
        metrics = [gateway.metrics() for gateway in gateways]
        metric_texts = [gateway.get("/metrics").text for gateway in gateways]
        shared = shared_counters(redis_server.url, by_provider)
    finally:
        for gateway in gateways:
            gateway.stop()
        for server in by_provider.values():
            server.close()
        redis_server.stop()

    faults = Counter(
        request.fault.kind.value
        for server in by_provider.values()
        for request in server.requests
        if request.fault is not None
    )
    figures.update(
        {
            "faults_injected": sum(faults.values()),
            "faults_by_kind": dict(faults),
            "provider_requests": {provider: len(server.requests) for provider, server in by_provider.items()},
            "breaker_states_seen": dict(observed["states"]),
            "breaker_events_published": sum(status["shared_state"]["events_published"] for status in statuses),
            "breaker_events_applied": sum(status["shared_state"]["events_applied"] for status in statuses),
            "attempts_skipped_breaker_open": sum(
                metric_sum(m, "trinity_provider_attempts_total", outcome="skipped") for m in metrics
            ),
            "redis_outages_seen": [status["shared_state"]["outages"] for status in statuses],
            "gateway_requests_by_outcome_at_provider": dict(
                sum(
                    (
                        Counter({dict(labels)["outcome"] + "@" + dict(labels)["provider"]: value})
                        for metric in metrics
                        for (name, labels), value in metric.items()
                        if name == "trinity_gateway_requests_total" and dict(labels)["endpoint"] == "chat"
                    ),
                    Counter(),
                )
            ),
        }
    )
    report_path = os.environ.get("TRINITY_CHAOS_REPORT")
    if report_path:
        Path(report_path).write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))

    # Every request ended once, right or with a typed error, within its deadline.
    assert report.lost == 0, figures
    assert report.hung == 0, figures
    assert report.duplicated == 0, figures
    assert report.untyped_errors == 0, figures
    assert report.wrong_answers == 0, figures
    assert report.answered + report.typed_errors == REQUESTS, figures
    assert set(faults) == {fault.kind.value for fault in FAULT_POOL}, faults
    # The gateways counted each request exactly once, under the outcome the client saw.
    chat_requests = sum(metric_sum(m, "trinity_gateway_requests_total", endpoint="chat") for m in metrics)
    chat_successes = sum(
        metric_sum(m, "trinity_gateway_requests_total", endpoint="chat", outcome="success") for m in metrics
    )
    assert chat_requests == REQUESTS + recovered["requests"], (chat_requests, figures)
    assert chat_successes == report.answered + recovered["answered"], (chat_successes, figures)
    # Breakers opened, were shared, and closed again once the faults stopped.
    assert observed["states"]["open"] > 0, figures
    assert figures["breaker_events_applied"] > 0, figures
    assert recovered["all_closed"], recovered
    # The outage was seen, in /status and /metrics, and both replicas came back.
    assert observed["degraded_status"] == [True, True], observed
    assert observed["degraded_metric"] == [True, True], observed
    assert all(outages >= 1 for outages in figures["redis_outages_seen"]), figures
    assert all(status["shared_state"]["connected"] for status in statuses)
    # The stats add up exactly: per provider, each gateway's attempts in /metrics are its calls in
    # /status, Redis holds the two gateways' sums, and every request a provider received is a
    # recorded call (a recorded call it never saw can only be a connection that failed first).
    assert all(settled), settled
    for provider, server in by_provider.items():
        for status, metric in zip(statuses, metrics):
            attempted = metric_sum(metric, "trinity_provider_attempts_total", provider=provider, outcome="success")
            attempted += metric_sum(metric, "trinity_provider_attempts_total", provider=provider, outcome="failure")
            assert attempted == status["providers"][provider]["total_calls"], (provider, attempted)
        calls = sum(status["providers"][provider]["total_calls"] for status in statuses)
        successes = sum(status["providers"][provider]["successful_calls"] for status in statuses)
        assert shared[provider]["calls_total"] == calls, (provider, shared[provider], calls)
        assert shared[provider]["calls_successful"] == successes, (provider, shared[provider], successes)
        transport_failures = sum(
            metric_sum(
                m, "trinity_provider_attempts_total", provider=provider, outcome="failure", error_type="TransientError"
            )
            for m in metrics
        )
        assert 0 <= calls - len(server.requests) <= transport_failures, (provider, calls, len(server.requests))
    # No key anywhere: the gateways' logs, every body returned, /status, /metrics, the figures.
    haystack = "\n".join(gateway.log_path.read_text(errors="replace") for gateway in gateways)
    haystack += "\n".join(bodies) + json.dumps(statuses) + "\n".join(metric_texts) + json.dumps(figures)
    assert "Traceback" not in haystack
    for key in [*KEYS.values(), GATEWAY_KEY]:
        assert key not in haystack
        assert key[8:] not in haystack


async def drive(
    gateways: list[GatewayProcess], redis_server: RedisServer, observed: dict[str, Any]
) -> tuple[Any, dict[str, Any], list[str]]:
    target = GatewayTarget([gateway.url for gateway in gateways])
    outage: dict[str, float] = {}

    async def kill_redis() -> None:
        await asyncio.to_thread(redis_server.stop)
        outage["killed_s"] = time.monotonic()
        observed["degraded_status"] = await asyncio.to_thread(
            lambda: [wait_until(lambda g=g: g.status()["shared_state"]["mode"] == "degraded") for g in gateways]
        )
        observed["degraded_metric"] = await asyncio.to_thread(
            lambda: [g.metrics()[("trinity_shared_state_mode", (("mode", "degraded"),))] == 1.0 for g in gateways]
        )

    async def restart_redis() -> None:
        await asyncio.to_thread(redis_server.start)
        outage["restarted_s"] = time.monotonic()

    async def watch_breakers() -> None:
        while True:
            for gateway in gateways:
                status = await asyncio.to_thread(gateway.status)
                observed["states"].update(
                    provider["state"] for provider in status["providers"].values() if provider["available"]
                )
            await asyncio.sleep(0.2)

    watcher = asyncio.ensure_future(watch_breakers())
    try:
        report = await run_chaos(
            target,
            requests=REQUESTS,
            concurrency=CONCURRENCY,
            deadline_s=DEADLINE_S,
            mode_of=mixed_mode,
            schedule=redis_outage(REQUESTS, kill_redis, restart_redis),
        )
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await target.aclose()
    figures = {**report.as_dict(), "redis_outage_s": round(outage["restarted_s"] - outage["killed_s"], 3)}
    return report, figures, target.bodies


def wait_until(condition: Any, timeout_s: float = SETTLE_TIMEOUT_S) -> bool:
    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        if condition():
            return True
        time.sleep(0.05)
    return False


def settle(gateway: GatewayProcess) -> bool:
    """Waits until the gateway is connected and has nothing left to send to Redis."""

    def idle() -> bool:
        shared = gateway.status()["shared_state"]
        return bool(shared["connected"] and shared["counter_batches_pending"] == 0 and shared["events_queued"] == 0)

    return wait_until(idle)


def recover(gateways: list[GatewayProcess]) -> dict[str, Any]:
    """Once the faults stop, a request forced to each provider whose breaker is not closed
    (refused with a 503 while it is open, then the half-open probe that succeeds) closes it on
    every replica. Returns the requests sent and answered, and whether every breaker closed."""
    counts = Counter[str]()

    def all_closed() -> bool:
        closed = True
        for gateway in gateways:
            for name, provider in gateway.status()["providers"].items():
                if not provider["available"] or provider["state"] == "closed":
                    continue
                closed = False
                answer = httpx.post(
                    gateway.url + "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
                    json={"model": name, "messages": [{"role": "user", "content": "recovery"}]},
                    timeout=CLIENT_TIMEOUT_S,
                )
                counts["requests"] += 1
                counts["answered"] += answer.status_code == 200
                assert answer.status_code in {200, 503}, answer.text
        return closed

    closed = wait_until(all_closed)  # first: the counts are read after it
    return {"requests": counts["requests"], "answered": counts["answered"], "all_closed": closed}


def shared_counters(url: str, by_provider: dict[str, LoopbackServer]) -> dict[str, dict[str, int]]:
    client = redis.Redis.from_url(url)
    try:
        return {
            provider: {
                field.decode(): int(value) for field, value in client.hgetall(f"trinity:counters:{provider}").items()
            }
            for provider in by_provider
        }
    finally:
        client.close()

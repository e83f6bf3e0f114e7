"""The gateway's view of shared state and the response cache: `"cache": true` per request, hits
marked in the `x-trinity-cache` header and counted in /metrics, and a Redis outage shown as the
`degraded` mode in /status and /metrics, then the return to `shared` once Redis is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gateway_harness import RunningGateway, provider_environment, running_gateway
from loopback import OpenAIServer
from prometheus_client.parser import text_string_to_metric_families
from redis_server import RedisServer, require_binary

WAIT_S = 10.0


@pytest.fixture(scope="module")
def groq() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def samples(gateway: RunningGateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by name and sorted labels."""
    text = gateway.request("GET", "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def chat(gateway: RunningGateway, content: str, **extra: object) -> tuple[str, str | None]:
    response = gateway.request(
        "POST",
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": content}], **extra},
    )
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"], response.headers.get("x-trinity-cache")


def wait_for(condition: object, what: str) -> None:
    deadline_s = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline_s, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_cache_opt_in_per_request_is_marked_and_counted(groq: OpenAIServer) -> None:
    with running_gateway(provider_environment(groq=groq)) as gateway:
        mode = samples(gateway)
        assert mode[("trinity_shared_state_mode", (("mode", "local"),))] == 1.0
        assert ("trinity_shared_state_connected", ()) not in mode
        assert "shared_state" not in gateway.request("GET", "/status").json()

        # Without the field the cache is not consulted (none is configured): no header.
        assert chat(gateway, "uncached question") == ("echo: uncached question", None)
        requests_before = len(groq.requests)
        assert chat(gateway, "cached question", cache=True) == ("echo: cached question", "miss")
        assert chat(gateway, "cached question", cache=True) == ("echo: cached question", "hit")
        assert chat(gateway, "cached question", cache=False) == ("echo: cached question", None)
        # A different temperature is a different request; temperature > 0 needs "always".
        assert chat(gateway, "cached question", cache=True, temperature=0.7) == ("echo: cached question", None)
        assert chat(gateway, "cached question", cache="always", temperature=0.7)[1] == "miss"
        assert chat(gateway, "cached question", cache="always", temperature=0.7)[1] == "hit"
        assert len(groq.requests) == requests_before + 4  # the two hits never reached the provider

        metrics = samples(gateway)
        assert metrics[("trinity_cache_lookups_total", (("result", "hit"),))] == 2.0
        assert metrics[("trinity_cache_lookups_total", (("result", "miss"),))] == 2.0
        assert metrics[("trinity_cache_stores_total", ())] == 2.0
        assert metrics[("trinity_cache_entries", ())] == 2.0
        cache = gateway.request("GET", "/status").json()["cache"]
        assert (cache["hits"], cache["misses"], cache["stores"], cache["backend"]) == (2, 2, 2, "memory")

        for wrong in ("yes", 1, ["always"], {"on": True}):
            refused = gateway.request(
                "POST",
                "/v1/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": "x"}], "cache": wrong},
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["param"] == "cache"


def test_two_gateways_share_the_cache_and_report_a_redis_outage(groq: OpenAIServer) -> None:
    require_binary()
    with RedisServer() as redis_server:
        environment = {
            **provider_environment(groq=groq),
            "TRINITY_REDIS_URL": redis_server.url,
            "TRINITY_CACHE": "redis",
        }
        with running_gateway(environment) as first, running_gateway(environment) as second:
            for gateway in (first, second):
                wait_for(lambda g=gateway: g.node.shared_state()["connected"], "the first connection to Redis")
                status = gateway.request("GET", "/status").json()
                assert status["shared_state"]["mode"] == "shared"
                assert status["cache"]["backend"] == "redis"
                metrics = samples(gateway)
                assert metrics[("trinity_shared_state_mode", (("mode", "shared"),))] == 1.0
                assert metrics[("trinity_shared_state_connected", ())] == 1.0

            # TRINITY_CACHE turns the cache on for every request; the answer travels through Redis.
            assert chat(first, "shared question") == ("echo: shared question", "miss")
            assert first.node.flush_shared_state(WAIT_S)
            requests_before = len(groq.requests)
            assert chat(second, "shared question") == ("echo: shared question", "hit")
            assert len(groq.requests) == requests_before

            redis_server.stop()
            for gateway in (first, second):
                wait_for(
                    lambda g=gateway: g.request("GET", "/status").json()["shared_state"]["mode"] == "degraded",
                    "the degraded mode in /status",
                )
                metrics = samples(gateway)
                assert metrics[("trinity_shared_state_mode", (("mode", "degraded"),))] == 1.0
                assert metrics[("trinity_shared_state_mode", (("mode", "shared"),))] == 0.0
                assert metrics[("trinity_shared_state_connected", ())] == 0.0
                assert metrics[("trinity_shared_state_outages_total", ())] >= 1.0
                # Requests still get answers, from the provider or the replica's own first level.
                assert chat(gateway, "during the outage")[0] == "echo: during the outage"

            redis_server.start()
            for gateway in (first, second):
                wait_for(
                    lambda g=gateway: g.request("GET", "/status").json()["shared_state"]["mode"] == "shared",
                    "the return to the shared mode",
                )
                metrics = samples(gateway)
                assert metrics[("trinity_shared_state_connected", ())] == 1.0
                assert metrics[("trinity_shared_state_resyncs_total", ())] >= 2.0

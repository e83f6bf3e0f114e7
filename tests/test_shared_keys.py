"""A several-key provider's key breakers shared between replicas over a real Redis: a key that one
replica saw rate-limited is skipped on every replica while the provider stays open to calls
through its other key, a replica that starts later catches up, and no key reaches Redis."""

from __future__ import annotations

import uuid
from typing import Any

import redis
from loopback import Fault, OpenAIServer
from test_shared_state import redis_url, wait_for
from trinity_hybrid import TrinityHybridNode

KEY_1 = "sk-shared-first-0123456789abcdef"
KEY_2 = "sk-shared-second-0123456789abcdef"
__all__ = ["redis_url"]  # the module's Redis server (test_shared_state's fixture)


def keyed_replica(server: OpenAIServer, url: str, namespace: str, keys: str = f"{KEY_1},{KEY_2}") -> TrinityHybridNode:
    node = TrinityHybridNode.from_env({
        "OPENAI_API_KEYS": keys, "OPENAI_BASE_URL": server.base_url, "TRINITY_RETRIES": "0",
    })  # fmt: skip
    node.set_unavailable("local")
    node.enable_shared_state(url, namespace=namespace)  # as TRINITY_REDIS_URL does, in a namespace of its own
    wait_for(lambda: node.shared_state()["connected"], "the replica to connect")
    return node


def key_states(node: TrinityHybridNode) -> list[str]:
    return [entry["state"] for entry in node.status()["providers"]["openai"]["keys"]]


def keys_sent(server: OpenAIServer) -> list[str]:
    return [request.headers["authorization"].removeprefix("Bearer ") for request in server.requests]


def test_a_key_held_on_one_replica_is_skipped_on_the_others(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    with OpenAIServer(api_key="") as server:  # keyless: takes any key
        first, second = keyed_replica(server, redis_url, namespace), keyed_replica(server, redis_url, namespace)
        try:
            server.faults.push(Fault.status(429, retry_after_s=30))
            assert first.infer("Hello", strategy="priority").provider == "openai"
            assert keys_sent(server) == [KEY_1, KEY_2]
            wait_for(lambda: key_states(second) == ["open", "closed"], "the key's hold to reach the other replica")
            # The other replica goes straight to the second key; the provider itself is not held.
            assert second.infer("Hello again", strategy="priority").provider == "openai"
            assert keys_sent(server) == [KEY_1, KEY_2, KEY_2]
            status = second.status()["providers"]["openai"]
            assert (status["state"], status["successful_calls"], status["failed_calls"]) == ("closed", 1, 0)
            # Held for the Retry-After, not the default cooldown, and counted on neither replica's
            # key as a call of its own: the hold travelled, not the failure.
            held_s = second.status()["providers"]["openai"]["keys"][0]["open_for_ms"] / 1000
            assert 20 < held_s <= 30
            assert second.status()["providers"]["openai"]["keys"][0]["failed_calls"] == 0

            late = keyed_replica(server, redis_url, namespace)  # starts after the hold: reads it
            try:
                assert key_states(late) == ["open", "closed"]
            finally:
                late.close_shared_state()

            client = redis.Redis.from_url(redis_url)
            stored: list[Any] = [*client.keys(f"{namespace}:*")]
            stored += [client.get(key) or b"" for key in stored if client.type(key) == b"string"]
            for key in (KEY_1, KEY_2):
                assert not any(key[:8].encode() in item for item in stored), "a key reached Redis"
        finally:
            first.close_shared_state()
            second.close_shared_state()


def test_keys_that_differ_between_replicas_are_different_breakers(redis_url: str) -> None:
    """A key's breaker is named by the key (and its URL and model), not by its position: a replica
    whose first key is another key does not hold it for the first replica's 429."""
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    with OpenAIServer(api_key="") as server:
        first = keyed_replica(server, redis_url, namespace)
        other = keyed_replica(server, redis_url, namespace, keys=f"{KEY_2},{KEY_1}")
        try:
            server.faults.push(Fault.status(429, retry_after_s=30))
            first.infer("Hello", strategy="priority")
            # Its second key is KEY_1, the one held: that one, not its first, is held there too.
            wait_for(lambda: key_states(other) == ["closed", "open"], "the hold of KEY_1 to reach the other replica")
        finally:
            first.close_shared_state()
            other.close_shared_state()


def test_closing_shared_state_stops_sharing_the_keys(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    with OpenAIServer(api_key="") as server:
        first, second = keyed_replica(server, redis_url, namespace), keyed_replica(server, redis_url, namespace)
        second.close_shared_state()
        try:
            server.faults.push(Fault.status(429, retry_after_s=30))
            first.infer("Hello", strategy="priority")
            first.flush_shared_state()
            assert key_states(first) == ["open", "closed"]
            # A closed replica keeps its own state: nothing reaches it, and its keys call on.
            assert key_states(second) == ["closed", "closed"]
            second.infer("Hello", strategy="priority")
            assert keys_sent(server)[-1] == KEY_1
        finally:
            first.close_shared_state()

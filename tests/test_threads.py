"""Many Python threads recording outcomes at once: the totals must be exact."""

from __future__ import annotations

import threading

from trinity_hybrid import TrinityHybridNode

THREADS = 32
CALLS_PER_THREAD = 2_000
PROVIDERS = ("groq", "zhipu", "anthropic", "local")


def test_32_threads_give_exact_totals() -> None:
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": "g" * 20, "ZHIPU_API_KEY": "z" * 20, "ANTHROPIC_API_KEY": "a" * 20})
    node.configure_breaker(failure_threshold=1_000_000)
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for call in range(CALLS_PER_THREAD):
                provider = PROVIDERS[(worker + call) % len(PROVIDERS)]
                node.route("Hello there, how are you?")
                if call % 4 == 0:
                    node.record_failure(provider, "transient", now_ms=1)
                else:
                    node.record_success(provider, latency_ms=call % 50, tokens_input=3, tokens_output=2, now_ms=1)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stats = [node.stats(provider, now_ms=1) for provider in PROVIDERS]
    total = THREADS * CALLS_PER_THREAD
    assert sum(entry.calls_total for entry in stats) == total
    assert sum(entry.calls_failed for entry in stats) == THREADS * (CALLS_PER_THREAD // 4)
    assert sum(entry.calls_successful for entry in stats) == total - THREADS * (CALLS_PER_THREAD // 4)
    assert sum(entry.tokens_input for entry in stats) == 3 * (total - THREADS * (CALLS_PER_THREAD // 4))
    assert node.status(now_ms=1)["total_calls"] == total

"""Hedged requests: the tail latency with one slow provider, against the same run without hedging.

Two loopback OpenAI-format servers run in a child process (so they do not share our GIL). The
first provider of the chain delays its first byte by SLOW_DELAY_S on a random SLOW_SHARE of its
requests (the loopback servers' seeded chaos mode); the second is always quick. The same node
sends rounds of requests at REQUESTS_PER_S (open loop), alternating `ainfer(prompt)` and
`ainfer(prompt, hedge=True)` round by round in ABBA order, so that both see the same load. Reported: p50/p95/p99 latency per mode, the p99 ratio (plain ÷ hedged), and what
hedging cost: the share of requests that started a second provider.

    .venv-bench/bin/python bench/bench_hedge.py [--quick]   # writes bench/results/hedge.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from trinity_hybrid import TrinityHybridNode

SLOW_SHARE = 0.03
SLOW_DELAY_S = 0.5
REQUESTS_PER_S = 100
WARM_UP_REQUESTS = 100

SERVER_CODE = """
import sys
sys.path.insert(0, sys.argv[1])
from loopback import Fault, OpenAIServer
with OpenAIServer() as slow, OpenAIServer() as fast:
    slow.faults.chaos([Fault.slow_first_byte(float(sys.argv[3]))], rate=float(sys.argv[2]), seed=7)
    print(slow.base_url, fast.base_url, slow.api_key, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
"""


def percentile(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(quantile * len(ordered)) - 1))]


async def one_round(node: TrinityHybridNode, hedge: bool, requests: int, offset: int) -> tuple[list[float], int]:
    """Open loop: requests start at a fixed rate whatever the earlier ones do, so both modes carry
    the same load (with a fixed concurrency instead, slow requests would park slots in the plain
    run and lighten the load on every other request)."""
    latencies: list[float] = []
    hedged = 0

    async def one(index: int) -> None:
        nonlocal hedged
        started = time.perf_counter()
        response = await node.ainfer(f"request {offset + index}: say something short", hedge=hedge)
        latencies.append(time.perf_counter() - started)
        hedged += len(response.attempts) > 1

    tasks = []
    for index in range(requests):
        tasks.append(asyncio.ensure_future(one(index)))
        await asyncio.sleep(1 / REQUESTS_PER_S)
    await asyncio.gather(*tasks)
    return latencies, hedged


async def measure(slow_url: str, fast_url: str, api_key: str, rounds: int, per_round: int) -> dict[str, object]:
    node = TrinityHybridNode.from_env({
        "GROQ_API_KEY": api_key, "GROQ_BASE_URL": slow_url,
        "OPENAI_API_KEY": api_key, "OPENAI_BASE_URL": fast_url,
        "DEFAULT_LLM_PROVIDER": "groq",
    })
    node.set_unavailable("local")
    # The slow first byte is a latency, not a failure: no breaker may open during the run.
    node.configure_breaker(failure_threshold=10**6)
    await one_round(node, False, WARM_UP_REQUESTS, -WARM_UP_REQUESTS)
    samples: dict[str, list[float]] = {"plain": [], "hedged": []}
    hedged_requests = 0
    for round_index in range(rounds):
        # ABBA order: neither mode always runs first, on a machine whose load drifts.
        for mode in ("plain", "hedged") if round_index % 2 == 0 else ("hedged", "plain"):
            latencies, hedged = await one_round(node, mode == "hedged", per_round, round_index * 10 * per_round)
            samples[mode] += latencies
            if mode == "hedged":
                hedged_requests += hedged
    primary = node.stats("groq")
    await node.aclose()
    summary = {
        mode: {f"latency_ms_p{int(q * 100)}": percentile(values, q) * 1000 for q in (0.5, 0.95, 0.99)}
        | {"latency_ms_max": max(values) * 1000, "requests": len(values)}
        for mode, values in samples.items()
    }
    return {
        **summary,
        "p99_ratio_plain_over_hedged": summary["plain"]["latency_ms_p99"] / summary["hedged"]["latency_ms_p99"],
        "p95_ratio_plain_over_hedged": summary["plain"]["latency_ms_p95"] / summary["hedged"]["latency_ms_p95"],
        "hedged_share": hedged_requests / summary["hedged"]["requests"],
        "primary_p95_ms_at_end": primary.latency_ms_p95,
        "slow_share": SLOW_SHARE,
        "slow_delay_s": SLOW_DELAY_S,
        "requests_per_s": REQUESTS_PER_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    rounds, per_round = (2, 200) if options.quick else (5, 400)
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, str(ROOT / "tests"), str(SLOW_SHARE), str(SLOW_DELAY_S)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        slow_url, fast_url, api_key = process.stdout.readline().split()
        document = asyncio.run(measure(slow_url, fast_url, api_key, rounds, per_round))
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    out = ROOT / "bench" / "results" / "hedge.json"
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What `infer` costs over a direct HTTP call, and which httpx transport to use for async.

Both sides talk to the same loopback OpenAI-format server (tests/loopback), run in a process of
its own so that it does not compete with the client for the GIL, in the same run:
- sequential: `node.infer(prompt)` vs `httpx.Client.post` of the same body (the floor: HTTP
  plus JSON), interleaved rounds, median per call;
- 32 concurrent: `ainfer` over the aiohttp transport (ours) vs a plain pass-through with httpx's
  default transport and with the aiohttp transport.

    python bench/bench_infer.py [--quick]   # writes bench/results/infer.json (bench/run.py runs it)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx
from httpx_aiohttp import AiohttpTransport

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from trinity_hybrid import TrinityHybridNode

PROMPT = "Explain how a hash map works."
CALLS_PER_ROUND = 200
ROUNDS = 5
CONCURRENCY = 32
CONCURRENT_CALLS = 2_000


SERVER_CODE = """
import sys
sys.path.insert(0, sys.argv[1])
from loopback import OpenAIServer
with OpenAIServer() as server:
    print(server.base_url, server.api_key, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
"""


class ServerProcess:
    """The loopback server in a child process; `base_url` and `api_key` as the server has them."""

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER_CODE, str(ROOT / "tests")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.base_url, self.api_key = self.process.stdout.readline().split()
        return self

    def __exit__(self, *_: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def sequential(server: ServerProcess) -> dict[str, float]:
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": server.api_key, "GROQ_BASE_URL": server.base_url})
    body = {"model": "m", "messages": [{"role": "user", "content": PROMPT}]}
    headers = {"Authorization": f"Bearer {server.api_key}"}
    direct = httpx.Client()
    url = f"{server.base_url}/chat/completions"
    samples: dict[str, list[float]] = {"infer": [], "direct": []}
    node.infer(PROMPT)
    direct.post(url, json=body, headers=headers)
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS_PER_ROUND):
            node.infer(PROMPT)
        samples["infer"].append((time.perf_counter() - started) / CALLS_PER_ROUND * 1e6)
        started = time.perf_counter()
        for _ in range(CALLS_PER_ROUND):
            direct.post(url, json=body, headers=headers).json()
        samples["direct"].append((time.perf_counter() - started) / CALLS_PER_ROUND * 1e6)
    node.close()
    direct.close()
    return {name: statistics.median(values) for name, values in samples.items()}


async def _gather(call: object, calls: int) -> float:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with semaphore:
            await call()  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return calls / (time.perf_counter() - started)


async def concurrent(server: ServerProcess) -> dict[str, float]:
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": server.api_key, "GROQ_BASE_URL": server.base_url})
    body = {"model": "m", "messages": [{"role": "user", "content": PROMPT}]}
    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.base_url}/chat/completions"
    default = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
    aiohttp_client = httpx.AsyncClient(transport=AiohttpTransport())
    results: dict[str, list[float]] = {"ainfer (aiohttp transport)": [], "httpx default transport": [],
                                       "httpx over aiohttp transport": []}
    for _ in range(3):
        results["ainfer (aiohttp transport)"].append(await _gather(lambda: node.ainfer(PROMPT), CONCURRENT_CALLS))
        results["httpx default transport"].append(
            await _gather(lambda: default.post(url, json=body, headers=headers), CONCURRENT_CALLS))
        results["httpx over aiohttp transport"].append(
            await _gather(lambda: aiohttp_client.post(url, json=body, headers=headers), CONCURRENT_CALLS))
    await node.aclose()
    await default.aclose()
    await aiohttp_client.aclose()
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> int:
    global CALLS_PER_ROUND, CONCURRENT_CALLS, ROUNDS
    if "--quick" in sys.argv[1:]:
        CALLS_PER_ROUND, CONCURRENT_CALLS, ROUNDS = 50, 500, 3
    with ServerProcess() as server:
        per_call = sequential(server)
        throughput = asyncio.run(concurrent(server))
    document = {
        "sequential_us_per_call": per_call,
        "infer_overhead_us": per_call["infer"] - per_call["direct"],
        "concurrent_requests_per_s": throughput,
        "concurrency": CONCURRENCY,
        "calls_per_round": CALLS_PER_ROUND,
        "rounds": ROUNDS,
        "concurrent_calls": CONCURRENT_CALLS,
    }
    out = ROOT / "bench" / "results" / "infer.json"
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

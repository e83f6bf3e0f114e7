"""The gateway under chaos for a few minutes: its loopback providers fail at random (5xx, resets,
slow answers, answers slower than the read timeout, streams cut or dripping), 32 clients send
whole and streamed requests without pause, and 5 % of them hang up before their answer. Every
request is judged:

- answered: 200 and the provider's echo of this request's prompt, whole or streamed to ``[DONE]``;
- typed error: a 4xx/5xx with an OpenAI-style error JSON, or a stream whose last event is an error;
- wrong: 200 with another text, or a stream that is malformed (no ``[DONE]``, two finishing chunks);
- lost: the connection closed or failed without an answer, or an answer that is not one of the above;
- hung: no answer within ``CLIENT_DEADLINE_S`` (the gateway's own timeouts are 1-2 s an attempt);
- abandoned: the client hung up on purpose (these test the cancel path under load).

0 lost and 0 hung is the requirement. The gateway process's resident memory and open file
descriptors are read at the start and the end, and the process must answer a good request after.
The tests' loopback servers and gateway process (tests/loopback, tests/gateway_process.py) are
reused as they are. bench/results/chaos.md keeps the last run's figures.

    .venv/bin/python bench/chaos.py [--duration-s 150] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gateway_harness import GATEWAY_KEY
from gateway_process import GatewayProcess
from loopback import AnthropicServer, Fault, LoopbackServer, OpenAIServer
from servers import tree_open_fds

RESULTS = ROOT / "bench" / "results"
KEPT_LOG = Path(tempfile.gettempdir()) / "trinity-chaos-gateway.log"  # when the gateway dies
CLIENT_DEADLINE_S = 30.0
ABANDON_SHARE = 0.05
STREAM_SHARE = 0.3
FAULT_RATE = 0.3
FAULT_POOL = (
    Fault.status(500),
    Fault.status(502),
    Fault.status(503),
    Fault.reset(),
    Fault.slow_first_byte(0.8),  # slow, within the read timeout
    Fault.slow_first_byte(3.0),  # slower than the read timeout: that attempt times out
    Fault.slow_chunks(0.2),
    Fault.stream_cut(2),
)
KEYS = {"groq": "gsk_chaosbench_groq_5e4d3c2b1a", "openai": "sk-chaosbench-openai-0f1e2d3c",
        "anthropic": "sk-ant-chaosbench-anthropic-a1b2"}  # fmt: skip
CONFIG = """
[breaker]
failure_threshold = 3
cooldown_s = 0.5

[timeouts]
connect_s = 1
read_s = 2
first_token_s = 2

[providers.local]
enabled = false
"""


def judge_whole(prompt: str, response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return "lost"
    if response.status_code == 200:
        return "answered" if document["choices"][0]["message"]["content"] == f"echo: {prompt}" else "wrong"
    error = document.get("error") if isinstance(document, dict) else None
    typed = 400 <= response.status_code <= 599 and isinstance(error, dict) and {"message", "type", "code"} <= set(error)
    return "typed_error" if typed else "lost"


def judge_stream(prompt: str, events: list[str]) -> str:
    if not events:
        return "lost"
    documents = [json.loads(data) for data in events if data != "[DONE]"]
    if documents and "error" in documents[-1]:
        return "typed_error" if events[-1] != "[DONE]" else "wrong"
    finishing = [d for d in documents if d["choices"] and d["choices"][0]["finish_reason"]]
    if events[-1] != "[DONE]" or events.count("[DONE]") != 1 or len(finishing) != 1:
        return "wrong"
    text = "".join(d["choices"][0]["delta"].get("content") or "" for d in documents if d["choices"])
    return "answered" if text == f"echo: {prompt}" else "wrong"


async def one(client: httpx.AsyncClient, url: str, index: int, draw: random.Random) -> str:
    prompt = f"chaos request {index}: what is {index} plus one?"
    stream = draw.random() < STREAM_SHARE
    body = {"model": "auto", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    if not stream:
        return judge_whole(prompt, await client.post(url, json=body))
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return judge_whole(prompt, response)
        events = [line[6:] async for line in response.aiter_lines() if line.startswith("data: ")]
    return judge_stream(prompt, events)


async def drive(url: str, duration_s: float, concurrency: int) -> tuple[Counter[str], list[float]]:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    next_index = 0
    stop_s = time.monotonic() + duration_s
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    async with httpx.AsyncClient(headers=headers, timeout=CLIENT_DEADLINE_S * 2, limits=limits) as client:

        async def worker(seed: int) -> None:
            nonlocal next_index
            draw = random.Random(seed)
            while time.monotonic() < stop_s:
                index, next_index = next_index, next_index + 1
                started_s = time.monotonic()
                abandon_s = draw.uniform(0.0, 0.5) if draw.random() < ABANDON_SHARE else None
                try:
                    outcome = await asyncio.wait_for(one(client, url, index, draw), abandon_s or CLIENT_DEADLINE_S)
                except asyncio.TimeoutError:
                    outcome = "abandoned" if abandon_s is not None else "hung"
                except (httpx.HTTPError, ValueError, KeyError, IndexError):
                    outcome = "lost"
                outcomes[outcome] += 1
                if outcome in ("answered", "typed_error"):
                    latencies.append(time.monotonic() - started_s)

        await asyncio.gather(*(worker(seed) for seed in range(concurrency)))
    return outcomes, latencies


def private_library(directory: Path) -> str:
    """A copy of the native library for the gateway to load: on this shared machine other work
    rebuilds the library in place, and a process that has the file mapped then crashes (a first
    run died so, with a general protection fault inside the library a second after its rebuild)."""
    import trinity_hybrid
    from trinity_hybrid._native import library_file_name

    copy = directory / "_lib"
    shutil.copytree(Path(trinity_hybrid.__file__).parent / "_lib", copy)
    return str(copy / library_file_name())


def chaos(duration_s: float, concurrency: int, directory: Path) -> dict[str, Any]:
    providers: dict[str, LoopbackServer] = {
        "groq": OpenAIServer(api_key=KEYS["groq"]),
        "openai": OpenAIServer(api_key=KEYS["openai"]),
        "anthropic": AnthropicServer(api_key=KEYS["anthropic"]),
    }
    config = directory / "trinity.toml"
    config.write_text(CONFIG)
    environment = {"TRINITY_API_KEYS": GATEWAY_KEY, "TRINITY_CONFIG": str(config), "TRINITY_RETRIES": "0",
                   "TRINITY_HYBRID_LIBRARY": private_library(directory)}  # fmt: skip
    for name, server in providers.items():
        environment |= {f"{name.upper()}_API_KEY": KEYS[name], f"{name.upper()}_BASE_URL": server.base_url}
    gateway = GatewayProcess(directory, "gateway", environment)
    try:
        gateway.wait_ready()
        pid = gateway.process.pid
        start = {"rss_mib": round(gateway.rss_kib() / 1024, 1), "open_fds": tree_open_fds(pid)}
        for seed, server in enumerate(providers.values()):
            server.faults.chaos(FAULT_POOL, rate=FAULT_RATE, seed=seed)
        started_s = time.monotonic()
        outcomes, latencies = asyncio.run(drive(gateway.url + "/v1/chat/completions", duration_s, concurrency))
        wall_s = time.monotonic() - started_s
        for server in providers.values():
            server.faults.clear()
        time.sleep(3.0)  # abandoned requests' cancellations and idle connections settle
        if gateway.process.poll() is not None:
            shutil.copy(gateway.log_path, KEPT_LOG)
            raise SystemExit(f"chaos: the gateway exited with {gateway.process.returncode}; its log: {KEPT_LOG}")
        end = {"rss_mib": round(gateway.rss_kib() / 1024, 1), "open_fds": tree_open_fds(pid)}
        after = httpx.post(gateway.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
                           json={"model": "auto", "messages": [{"role": "user", "content": "still there?"}]},
                           timeout=CLIENT_DEADLINE_S)  # fmt: skip
        alive = gateway.process.poll() is None and after.status_code == 200
    finally:
        gateway.stop()
        for server in providers.values():
            server.close()
    log = gateway.log_path.read_text(errors="replace")
    faults = Counter(
        request.fault.kind.value for server in providers.values() for request in server.requests if request.fault
    )
    latencies.sort()
    return {
        "duration_s": round(wall_s, 1), "concurrency": concurrency, "requests": sum(outcomes.values()),
        "outcomes": dict(outcomes), "faults_injected": dict(faults),
        "provider_requests": {name: len(server.requests) for name, server in providers.items()},
        "latency_s_p50": latencies[len(latencies) // 2] if latencies else None,
        "latency_s_p99": latencies[int(len(latencies) * 0.99)] if latencies else None,
        "latency_s_max": latencies[-1] if latencies else None,
        "gateway_start": start, "gateway_end": end, "gateway_alive_after": alive,
        "tracebacks_in_log": log.count("Traceback"), "load_average_at_start": os.getloadavg(),
        "keys_in_log": sum(key in log for key in KEYS.values()),
    }  # fmt: skip


def report(result: dict[str, Any]) -> str:
    outcomes = Counter(result["outcomes"])
    lines = [
        "# Chaos: the gateway with failing providers and impatient clients",
        "",
        "Written by `bench/chaos.py` (do not edit by hand). One `trinity-hybrid serve` process in front of three",
        f"loopback providers (groq, openai: OpenAI's wire; anthropic) that each fail {result_rate()} of their requests",
        "at random: 500, 502, 503, a reset before any byte, a first byte after 0.8 s, a first byte after 3 s",
        (
            "(past the 2 s read timeout), stream events 0.2 s apart, a stream cut after two deltas. "
            f"{result['concurrency']} clients"
        ),
        f"send requests back to back for {result['duration_s']:.0f} s (30 % streamed); 5 % hang up before their answer.",
        "",
        (
            "The machine has 2 cores shared with other work (load average "
            f"{result['load_average_at_start'][0]:.1f} at the start): latencies are noisy."
        ),
        "",
        "| outcome | requests |",
        "|---|---:|",
    ]
    for name in ("answered", "typed_error", "abandoned", "wrong", "lost", "hung"):
        lines.append(f"| {name.replace('_', ' ')} | {outcomes.get(name, 0):,} |")
    lines += [
        f"| **total** | **{result['requests']:,}** |",
        "",
        (
            f"Faults injected: {sum(result['faults_injected'].values()):,} "
            f"({', '.join(f'{kind} {count:,}' for kind, count in sorted(result['faults_injected'].items()))}); "
            f"requests the providers received: {result['provider_requests']}."
        ),
        (
            f"Latency of answered and typed-error requests: p50 {result['latency_s_p50']:.2f} s, "
            f"p99 {result['latency_s_p99']:.2f} s, max {result['latency_s_max']:.2f} s."
        ),
        (
            f"Gateway process: RSS {result['gateway_start']['rss_mib']} MiB at the start, "
            f"{result['gateway_end']['rss_mib']} MiB at the end; open fds {result['gateway_start']['open_fds']} and "
            f"{result['gateway_end']['open_fds']}; answering a good request after the run: {result['gateway_alive_after']}; "
            f"tracebacks in its log: {result['tracebacks_in_log']}; provider keys in its log: {result['keys_in_log']}."
        ),
    ]
    return "\n".join(lines) + "\n"


def result_rate() -> str:
    return f"{FAULT_RATE:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=150.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--output", type=Path, default=RESULTS / "chaos.md")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trinity-chaos-") as directory:
        result = chaos(arguments.duration_s, arguments.concurrency, Path(directory))
    text = report(result)
    arguments.output.write_text(text)
    arguments.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)
    lost, hung = result["outcomes"].get("lost", 0), result["outcomes"].get("hung", 0)
    if lost or hung or result["outcomes"].get("wrong", 0) or not result["gateway_alive_after"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""The soak: 3 minutes at 64 connections through `trinity-hybrid serve` to a loopback provider,
watching the gateway process for growth.

The provider is nginx answering every `POST /v1/chat/completions` with one canned completion
(bench/servers.py, as in bench/bench_gateway.py); the load is one `wrk -t2 -c64` run for the
whole duration. Before the load, every 30 s during it and after it, the gateway's resident memory
(VmRSS over its process tree), its open file descriptors and the requests it counted
(`trinity_gateway_requests_total` from its /metrics, by outcome) are sampled; the requests per
second of each 30 s window come from those counts. wrk's own totals (requests, socket errors,
non-2xx answers) close the table.

What it shows is growth, not speed: the machine has 2 cores shared with other work, and wrk,
nginx and the gateway share them too. bench/results/soak.md keeps the last run's figures.

    .venv/bin/python bench/soak.py [--duration-s 180] [--connections 64]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_gateway import WRK_SCRIPT, lua_string
from servers import (
    GATEWAY_API_KEY,
    UPSTREAM_API_KEY,
    Server,
    free_port,
    nginx_command,
    running,
    tree_open_fds,
    tree_rss_bytes,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SAMPLE_EVERY_S = 30.0
SETTLE_S = 5.0  # after the load, before the last sample: connections closed, buffers freed
BODY = {"model": "auto", "messages": [{"role": "user", "content": "Say hello."}]}


def counted_requests(url: str) -> dict[str, float]:
    """The gateway's chat requests by outcome, from its /metrics."""
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {GATEWAY_API_KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("trinity_gateway_requests_total{") and 'endpoint="chat"' in line:
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = counts.get(outcome, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def sample(gateway: Server, url: str, started_s: float, label: str) -> dict[str, Any]:
    assert gateway.process is not None
    counts = counted_requests(url)
    return {
        "label": label,
        "t_s": round(time.monotonic() - started_s, 1),
        "rss_mib": round(tree_rss_bytes(gateway.process.pid) / 2**20, 1),
        "open_fds": tree_open_fds(gateway.process.pid),
        "requests": int(sum(counts.values())),
        "successes": int(counts.get("success", 0)),
    }


def soak(duration_s: float, connections: int, directory: Path) -> dict[str, Any]:
    upstream_port, gateway_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/v1"
    nginx = Server(
        "nginx", nginx_command(directory, upstream_port), {"PATH": os.environ["PATH"]}, directory / "nginx.log"
    )
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    environment = keep | {"OPENAI_API_KEY": UPSTREAM_API_KEY, "OPENAI_BASE_URL": upstream,
                          "OPENAI_MODEL": "gpt-4o-mini", "TRINITY_API_KEYS": GATEWAY_API_KEY}  # fmt: skip
    command = [str(Path(sys.executable).with_name("trinity-hybrid")), "serve", "--host", "127.0.0.1",
               "--port", str(gateway_port), "--workers", "1"]  # fmt: skip
    gateway = Server("gateway", command, environment, directory / "gateway.log")
    url = f"http://127.0.0.1:{gateway_port}"
    script = directory / "soak.lua"
    script.write_text(WRK_SCRIPT.format(body=lua_string(json.dumps(BODY)), key=GATEWAY_API_KEY))
    with running(nginx), running(gateway):
        gateway.ready(url + "/v1/chat/completions", BODY, timeout_s=60.0)
        started_s = time.monotonic()
        samples = [sample(gateway, url, started_s, "before the load")]
        wrk = subprocess.Popen(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration_s:g}s", "--timeout", "10s", "-s", str(script),
             url + "/v1/chat/completions"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        output: dict[str, str] = {}
        reader = threading.Thread(target=lambda: output.update(zip(("out", "err"), wrk.communicate())))
        reader.start()
        load_started_s = time.monotonic()
        next_s = load_started_s + SAMPLE_EVERY_S
        while wrk.poll() is None:
            if time.monotonic() >= next_s and next_s <= load_started_s + duration_s - 1:
                samples.append(sample(gateway, url, started_s, f"{next_s - load_started_s:.0f} s into the load"))
                next_s += SAMPLE_EVERY_S
            time.sleep(0.2)
        reader.join()
        samples.append(sample(gateway, url, started_s, "end of the load"))
        time.sleep(SETTLE_S)
        samples.append(sample(gateway, url, started_s, f"{SETTLE_S:g} s after"))
        log_tail = gateway.log_tail(20)
    summary = next(line for line in output["out"].splitlines() if line.startswith("WRK_JSON "))
    figures = json.loads(summary.removeprefix("WRK_JSON "))
    for before, after in itertools.pairwise(samples):
        window_s = after["t_s"] - before["t_s"]
        after["rps"] = round((after["requests"] - before["requests"]) / window_s, 1) if window_s > 0 else None
    return {"duration_s": duration_s, "connections": connections, "wrk": figures, "samples": samples,
            "load_average_at_start": os.getloadavg(), "gateway_log_tail": log_tail}  # fmt: skip


def report(result: dict[str, Any]) -> str:
    wrk, samples = result["wrk"], result["samples"]
    errors = sum(wrk[kind] for kind in ("connect", "read", "write", "timeout"))
    loaded = [entry for entry in samples if "into the load" in entry["label"]]
    lines = [
        "# Soak: 3 minutes at 64 connections through the gateway",
        "",
        "Written by `bench/soak.py` (do not edit by hand). `trinity-hybrid serve --workers 1` in front of",
        "nginx answering one canned completion, loaded by one `wrk -t2 -c64` run; the gateway's resident",
        "memory (its process tree), open file descriptors and counted requests sampled every 30 s.",
        "",
        f"The machine has 2 cores shared with other work (load average {result['load_average_at_start'][0]:.1f} at the start),",
        "and wrk, nginx and the gateway share them: the requests per second are noisy and say little.",
        "What this measures is growth: of memory and descriptors over the run, and errors.",
        "",
        "| when | t (s) | RSS (MiB) | open fds | requests counted | req/s in the window |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for entry in samples:
        rps = entry.get("rps")
        lines.append(
            f"| {entry['label']} | {entry['t_s']} | {entry['rss_mib']} | {entry['open_fds']} | "
            f"{entry['requests']:,} | {rps if rps is not None else '-'} |"
        )
    rss_growth = loaded[-1]["rss_mib"] - loaded[0]["rss_mib"] if len(loaded) > 1 else 0.0
    lines += [
        "",
        (
            f"wrk: {wrk['requests']:,} requests in {wrk['duration_us'] / 1e6:.0f} s "
            f"({wrk['requests'] / (wrk['duration_us'] / 1e6):,.0f} req/s), non-2xx answers {wrk['status']}, "
            f"socket errors {errors} (connect {wrk['connect']}, read {wrk['read']}, write {wrk['write']}, "
            f"timeout {wrk['timeout']}); latency p50 {wrk['p50_us'] / 1000:.2f} ms, p99 {wrk['p99_us'] / 1000:.2f} ms."
        ),
        f"Gateway successes: {samples[-1]['successes']:,} of {samples[-1]['requests']:,} counted requests.",
        (
            f"RSS from the first to the last sample under load: {rss_growth:+.1f} MiB; "
            f"open fds before the load {samples[0]['open_fds']}, after it {samples[-1]['open_fds']} "
            "(after it: the clients' connections are closed, and the upstream pool keeps up to 50 idle "
            "keep-alive connections to the provider, as it is configured to)."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=180.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--output", type=Path, default=RESULTS / "soak.md")
    arguments = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"soak: {tool} not found on PATH (apt-get install -y wrk nginx)")
    with tempfile.TemporaryDirectory(prefix="trinity-soak-") as directory:
        result = soak(arguments.duration_s, arguments.connections, Path(directory))
    text = report(result)
    arguments.output.write_text(text)
    arguments.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()

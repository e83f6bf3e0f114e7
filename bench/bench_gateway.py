"""The gateway under load, beside the LiteLLM proxy and a bare pass-through, in one run.

All three stand in front of the same fixed upstream, nginx answering every
`POST /v1/chat/completions` with one canned OpenAI chat completion, and are loaded by wrk on
loopback with the same POST body (a wrk Lua script):
- `litellm`: the LiteLLM proxy (`litellm[proxy]` ~= 1.106, in its own venv `.venv-litellm/`, which
  this script creates: it is never a dependency of the package), one OpenAI-compatible model
  pointing at nginx, one worker;
- `passthrough`: bench/passthrough_app.py, Starlette + one aiohttp session under uvicorn, the floor;
- `ours`: `trinity-hybrid serve --workers 1` with the upstream as the `openai` provider
  (OPENAI_BASE_URL), body `model: "auto"`, so each request is routed.

Figures: requests per second at 32 connections (`wrk -t2 -c32`), p50 and p99 latency at one
connection (`wrk -t1 -c1`), and the resident memory of each server's process tree after the load.
The servers take turns in rounds after a warm-up; the medians over rounds are kept. wrk, nginx and
the server share this machine's two cores, the same for every contender.

    apt-get install -y wrk nginx              # Debian/Ubuntu; macOS: brew install wrk nginx
    .venv-bench/bin/python bench/bench_gateway.py [--quick]   # or: python3 bench/run.py --only gateway
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import ROOT, write_json
from servers import (
    GATEWAY_API_KEY,
    UPSTREAM_API_KEY,
    Server,
    ServerError,
    free_port,
    nginx_command,
    running,
    tree_pids,
)

LITELLM_REQUIREMENT = "litellm[proxy]~=1.106.0"
LITELLM_VENV = ROOT / ".venv-litellm"
LITELLM_STAMP = LITELLM_VENV / "bench-requirement.txt"

CONNECTIONS = 32
PROMPT = "Say hello."
START_TIMEOUT_S = {"litellm": 180.0, "passthrough": 30.0, "ours": 60.0}
MODELS = {"litellm": "bench-model", "passthrough": "gpt-4o-mini", "ours": "auto"}

GOAL_RPS_SHARE_OF_PASSTHROUGH = 0.80
GOAL_P50_MS = 0.35
GOAL_RSS_MB = 60.0

# The done() hook prints wrk's own counts and latency percentiles (µs) as one JSON line.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}}\\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50.0), latency:percentile(99.0), latency.mean))
end
"""


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if missing:
        print(
            f"bench_gateway: {' and '.join(missing)} not found on PATH. Install them with\n"
            "    apt-get install -y wrk nginx     (Debian, Ubuntu)\n"
            "    brew install wrk nginx           (macOS)\n"
            "and run again.",
            file=sys.stderr,
        )
        raise SystemExit(2)


def _tool_version(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    return (completed.stdout + completed.stderr).strip().splitlines()[0]


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def request_body(name: str) -> dict[str, Any]:
    return {"model": MODELS[name], "messages": [{"role": "user", "content": PROMPT}]}


def wrk(url: str, script: Path, threads: int, connections: int, duration_s: float) -> dict[str, Any]:
    """One wrk run; its counts and latency percentiles (µs) from the Lua done() hook."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s", "--timeout", "10s",
               "--latency", "-s", str(script), url]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration_s + 60)
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            figures = json.loads(line.removeprefix("WRK_JSON "))
            figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
            figures["errors"] = sum(figures[kind] for kind in ("connect", "read", "write", "status", "timeout"))
            return figures
    raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}\n{completed.stderr}")


# --- the contenders -------------------------------------------------------------------------


def _base_environment() -> dict[str, str]:
    # A clean environment: no provider key of the caller's may reach a server under test.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ}


def ensure_litellm() -> str | None:
    """LiteLLM's venv, created or updated when the pinned requirement changed; None if it cannot
    be installed (the reason is printed)."""
    python = LITELLM_VENV / "bin" / "python"
    if LITELLM_STAMP.is_file() and LITELLM_STAMP.read_text().strip() == LITELLM_REQUIREMENT and python.is_file():
        return None
    print(f"bench_gateway: installing {LITELLM_REQUIREMENT} into {LITELLM_VENV} (once)", flush=True)
    try:
        if not python.is_file():
            subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", "install"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, LITELLM_REQUIREMENT], check=True)
    except subprocess.CalledProcessError as error:
        return f"{LITELLM_REQUIREMENT} did not install ({error})"
    LITELLM_STAMP.write_text(LITELLM_REQUIREMENT + "\n")
    return None


def litellm_server(directory: Path, upstream: str, port: int) -> Server:
    config = directory / "litellm.yaml"
    # JSON is YAML: no YAML library needed here.
    config.write_text(json.dumps({
        "model_list": [{
            "model_name": MODELS["litellm"],
            "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": upstream, "api_key": UPSTREAM_API_KEY},
        }],
        "litellm_settings": {"telemetry": False, "drop_params": True},
        # LiteLLM 1.106 refuses to start without one; ours checks TRINITY_API_KEYS alike.
        "general_settings": {"master_key": GATEWAY_API_KEY},
    }))  # fmt: skip
    environment = _base_environment() | {
        # No network here: the cost map ships inside the package.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    command = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
               "--port", str(port), "--num_workers", "1"]  # fmt: skip
    return Server("litellm", command, environment, directory / "litellm.log")


def passthrough_server(directory: Path, upstream: str, port: int) -> Server:
    command = [sys.executable, str(Path(__file__).with_name("passthrough_app.py")), "--port", str(port),
               "--upstream", upstream]  # fmt: skip
    return Server("passthrough", command, _base_environment(), directory / "passthrough.log")


def ours_unavailable() -> str | None:
    """Why `trinity-hybrid serve` cannot be measured in this venv, or None if it can."""
    if importlib.util.find_spec("trinity_hybrid") is None:
        return "trinity_hybrid is not installed in this venv"
    if importlib.util.find_spec("trinity_hybrid.gateway") is None:
        return "not available: the installed trinity_hybrid has no gateway (trinity_hybrid.gateway)"
    script = Path(sys.executable).with_name("trinity-hybrid")
    if not script.is_file():
        return f"not available: {script} is missing"
    completed = subprocess.run([str(script), "serve", "--help"], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return f"not available: `trinity-hybrid serve --help` exited with {completed.returncode}"
    return None


def ours_environment(upstream: str) -> dict[str, str]:
    """`trinity-hybrid serve`'s environment: one provider (OpenAI's format) at ``upstream``."""
    return _base_environment() | {
        "OPENAI_API_KEY": UPSTREAM_API_KEY,
        "OPENAI_BASE_URL": upstream,
        "OPENAI_MODEL": "gpt-4o-mini",
        "TRINITY_API_KEYS": GATEWAY_API_KEY,
    }


def ours_server(directory: Path, upstream: str, port: int) -> Server:
    environment = ours_environment(upstream)
    command = [str(Path(sys.executable).with_name("trinity-hybrid")), "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]  # fmt: skip
    return Server("ours", command, environment, directory / "ours.log")


# --- the run --------------------------------------------------------------------------------


def schedule(quick: bool) -> tuple[int, float]:
    """(rounds, seconds per wrk run). Short turns, many rounds: a change in the machine's load
    falls on every server alike."""
    return (1, 3.0) if quick else (6, 4.0)


def measure(servers: dict[str, tuple[Server, str]], directory: Path, quick: bool) -> dict[str, dict[str, Any]]:
    """Warm-up, then rounds in which every server takes its turn at 32 connections and at one."""
    rounds, duration_s = schedule(quick)
    scripts = {}
    for name in servers:
        scripts[name] = directory / f"{name}.lua"
        body = json.dumps(request_body(name))
        scripts[name].write_text(WRK_SCRIPT.format(body=lua_string(body), key=GATEWAY_API_KEY))
    for name, (_, url) in servers.items():
        wrk(url, scripts[name], 2, CONNECTIONS, 2.0 if quick else 4.0)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {name: {"c32": [], "c1": []} for name in servers}
    for round_number in range(rounds):
        for name, (_, url) in servers.items():
            runs[name]["c32"].append(wrk(url, scripts[name], 2, CONNECTIONS, duration_s))
            runs[name]["c1"].append(wrk(url, scripts[name], 1, 1, duration_s))
            print(f"bench_gateway: round {round_number + 1}/{rounds} {name}: "
                  f"{runs[name]['c32'][-1]['rps']:,.0f} req/s at {CONNECTIONS}, "
                  f"p50 {runs[name]['c1'][-1]['p50_us'] / 1000:.2f} ms at 1", flush=True)  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    for name, (server, _) in servers.items():
        c32, c1 = runs[name]["c32"], runs[name]["c1"]
        results[name] = {
            "available": True,
            "rps_c32": statistics.median(run["rps"] for run in c32),
            "p50_ms_c1": statistics.median(run["p50_us"] for run in c1) / 1000,
            "p99_ms_c1": statistics.median(run["p99_us"] for run in c1) / 1000,
            "rss_mb": server.rss_bytes() / 2**20,
            "processes": len(tree_pids(server.process.pid)),
            "errors": sum(run["errors"] for run in c32 + c1),
            "requests": sum(run["requests"] for run in c32 + c1),
            "bytes_per_response": c32[-1]["bytes"] / max(c32[-1]["requests"], 1),
            "runs": runs[name],
        }
    return results


def _per_round(name: str, peer: str, results: dict[str, dict[str, Any]], load: str, figure: str) -> list[float]:
    """``figure`` of ``peer`` ÷ that of ``name`` in each round: both measured within seconds of each other."""
    mine, theirs = results[name]["runs"][load], results[peer]["runs"][load]
    return [other[figure] / own[figure] for own, other in zip(mine, theirs)]


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """For each server against each peer, oriented so that above 1 means the server does better:
    req/s server ÷ peer, latency and memory peer ÷ server. The time ratios are medians of the ratios
    within each round, which the machine's changing load disturbs less than a ratio of medians."""
    measured = {name: figures for name, figures in results.items() if figures.get("available")}
    table: dict[str, dict[str, float]] = {}
    for name, figures in measured.items():
        for peer, other in measured.items():
            if peer == name:
                continue
            table[f"{name}_vs_{peer}"] = {
                "rps_c32": 1 / statistics.median(_per_round(name, peer, measured, "c32", "rps")),
                "p50_c1": statistics.median(_per_round(name, peer, measured, "c1", "p50_us")),
                "p99_c1": statistics.median(_per_round(name, peer, measured, "c1", "p99_us")),
                "rss": other["rss_mb"] / figures["rss_mb"],
            }
    return table


def goals(results: dict[str, dict[str, Any]], table: dict[str, dict[str, float]]) -> dict[str, Any]:
    ours, floor = results.get("ours", {}), results.get("passthrough", {})
    document: dict[str, Any] = {
        "rps_share_of_passthrough_min": GOAL_RPS_SHARE_OF_PASSTHROUGH,
        "p50_ms_c1_max": GOAL_P50_MS,
        "rss_mb_max": GOAL_RSS_MB,
    }
    if ours.get("available") and floor.get("available"):
        share = table["ours_vs_passthrough"]["rps_c32"]
        document["rps_share_of_passthrough"] = share
        document["met"] = {
            "rps_share_of_passthrough": share >= GOAL_RPS_SHARE_OF_PASSTHROUGH,
            "p50_ms_c1": ours["p50_ms_c1"] <= GOAL_P50_MS,
            "rss_mb": ours["rss_mb"] <= GOAL_RSS_MB,
        }
    return document


def references(directory: Path, upstream: str, quick: bool) -> dict[str, dict[str, float]]:
    """Figures that are no contender's, measured once after the rounds: wrk straight at nginx
    (what the loopback, nginx and wrk cost) and uvicorn answering the canned completion itself
    with a raw ASGI app (the server's own hop, under the same settings). Every contender's
    latency at one connection lies above both: they show where a contender's own time starts."""
    _, duration_s = schedule(quick)
    port = free_port()
    command = [sys.executable, str(Path(__file__).with_name("passthrough_app.py")), "--port", str(port),
               "--upstream", upstream, "--static"]  # fmt: skip
    script = directory / "reference.lua"
    script.write_text(WRK_SCRIPT.format(body=lua_string(json.dumps(request_body("passthrough"))), key=GATEWAY_API_KEY))
    figures: dict[str, dict[str, float]] = {}
    with running(Server("uvicorn_static", command, _base_environment(), directory / "static.log")) as server:
        static_url = f"http://127.0.0.1:{port}/v1/chat/completions"
        server.ready(static_url, request_body("passthrough"), START_TIMEOUT_S["passthrough"])
        for name, url in {"nginx_direct": f"{upstream}/chat/completions", "uvicorn_static": static_url}.items():
            wrk(url, script, 2, CONNECTIONS, 1.0)  # warm-up
            many, one = wrk(url, script, 2, CONNECTIONS, duration_s), wrk(url, script, 1, 1, duration_s)
            figures[name] = {
                "rps_c32": many["rps"],
                "p50_ms_c1": one["p50_us"] / 1000,
                "p99_ms_c1": one["p99_us"] / 1000,
            }
    return figures


def print_figures(results: dict[str, dict[str, Any]]) -> None:
    print(f"{'server':<12} {'req/s @32':>10} {'p50 ms @1':>10} {'p99 ms @1':>10} {'RSS MB':>8}  errors")
    for name, figures in results.items():
        if not figures.get("available"):
            print(f"{name:<12} {figures['reason']}")
            continue
        print(f"{name:<12} {figures['rps_c32']:>10,.0f} {figures['p50_ms_c1']:>10.3f} {figures['p99_ms_c1']:>10.3f} "
              f"{figures['rss_mb']:>8.1f}  {figures['errors']}")  # fmt: skip
    print(f"goals for ours: >= {GOAL_RPS_SHARE_OF_PASSTHROUGH:.0%} of the pass-through's req/s at {CONNECTIONS}, "
          f"p50 <= {GOAL_P50_MS} ms at 1, RSS <= {GOAL_RSS_MB:.0f} MB")  # fmt: skip


def run(quick: bool) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    litellm_problem = ensure_litellm()
    ours_problem = ours_unavailable()
    unavailable: dict[str, str] = {}
    if litellm_problem:
        unavailable["litellm"] = litellm_problem
    if ours_problem:
        unavailable["ours"] = ours_problem
    factories = {"litellm": litellm_server, "passthrough": passthrough_server, "ours": ours_server}
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as temporary, contextlib.ExitStack() as stack:
        directory = Path(temporary)
        nginx_port = free_port()
        upstream = f"http://127.0.0.1:{nginx_port}/v1"
        nginx = stack.enter_context(running(Server("nginx", nginx_command(directory, nginx_port), _base_environment(),
                                                   directory / "nginx.log")))  # fmt: skip
        nginx.ready(f"{upstream}/chat/completions", request_body("passthrough"), timeout_s=10.0)
        servers: dict[str, tuple[Server, str]] = {}
        for name, factory in factories.items():
            if name in unavailable:
                continue
            port = free_port()
            server = stack.enter_context(running(factory(directory, upstream, port)))
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            try:
                server.ready(url, request_body(name), START_TIMEOUT_S[name])
            except ServerError as error:
                print(f"bench_gateway: {error}", file=sys.stderr)
                unavailable[name] = f"did not serve a chat completion: {str(error).splitlines()[0]}"
                server.stop()
                continue
            servers[name] = (server, url)
        results = measure(servers, directory, quick)
        reference = references(directory, upstream, quick)
    for name, reason in unavailable.items():
        results[name] = {"available": False, "reason": reason}
    ordered = {name: results[name] for name in factories if name in results}
    table = ratios(ordered)
    return {
        "load_average_1m_start": load_start,
        "load_average_1m_end": os.getloadavg()[0],
        "nproc": len(os.sched_getaffinity(0)),
        "mode": "quick" if quick else "full",
        "connections": CONNECTIONS,
        "rounds": schedule(quick)[0],
        "turn_s": schedule(quick)[1],
        "tools": {
            "wrk": _tool_version(["wrk", "--version"]),
            "nginx": _tool_version(["nginx", "-v"]),
            "litellm": _litellm_version(),
            **{name: _installed_version(name) for name in ("uvicorn", "uvloop", "httptools", "starlette", "aiohttp")},
        },
        "ours_installed_from": _ours_source(),
        "request_models": MODELS,
        "servers": ordered,
        "ratios": table,
        "goals": goals(ordered, table),
        "reference": reference,
    }


def _installed_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _ours_source() -> str:
    """Where the measured trinity_hybrid was installed from (pip's direct_url.json), so that figures
    taken from another checkout say so."""
    try:
        direct_url = importlib.metadata.distribution("trinity-hybrid").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
    return json.loads(direct_url)["url"] if direct_url else "a package index"


def _litellm_version() -> str:
    python = LITELLM_VENV / "bin" / "python"
    if not python.is_file():
        return "not installed"
    code = "from importlib.metadata import version; print(version('litellm'))"
    completed = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return completed.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description="The gateway against LiteLLM and a bare pass-through, under wrk.")
    parser.add_argument("--quick", action="store_true", help="one short round instead of three")
    options = parser.parse_args()
    require_tools()
    # A SIGTERM (run.py interrupted, a CI timeout) unwinds through the `finally` blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    document = run(options.quick)
    path = write_json("gateway", document)
    print_figures(document["servers"])
    for name, figures in document["reference"].items():
        print(f"{'(' + name + ')':<22} {figures['rps_c32']:>10,.0f} {figures['p50_ms_c1']:>10.3f} "
              f"{figures['p99_ms_c1']:>10.3f}   reference, not a contender")  # fmt: skip
    print(f"bench_gateway: wrote {path}")
    return 0 if document["servers"].get("passthrough", {}).get("available") else 1


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print(f"bench_gateway: {time.monotonic() - started:.0f} s")
    raise SystemExit(status)

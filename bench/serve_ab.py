"""Several `trinity-hybrid serve` builds side by side in one run: each server's CPU time per request
(user and system, from /proc), req/s and p50 under wrk, in rounds whose order alternates, against
nginx's canned completion. For before/after comparisons of the gateway (issue 15).

    python bench/serve_ab.py ROUNDS NAME=VENV[:TREE] ...
    # VENV: a venv with trinity-hybrid[gateway]; TREE: a checkout whose python/ goes first on
    # the server's path (the same venv serving another tree's code)
    CONNECTIONS=1 SECONDS=2 python bench/serve_ab.py 10 before=/tmp/old/.venv-bench after=.venv

Prints each round and, per server, the medians and the ratio of CPU per request to the first
server's. On a shared machine single rounds vary by 30 % and more; compare medians over many
rounds, and instructions (bench/serve_instructions.py) for small changes. Needs wrk and nginx.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_gateway as bg
from servers import Server, free_port, nginx_command, running, tree_pids

CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
SECONDS = float(os.environ.get("SECONDS", "3"))
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_s(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds of ``pids``."""
    user = system = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / TICKS_PER_S, system / TICKS_PER_S


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    rounds, specs = int(sys.argv[1]), [argument.split("=", 1) for argument in sys.argv[2:]]
    with tempfile.TemporaryDirectory() as temporary, contextlib.ExitStack() as stack:
        directory = Path(temporary)
        nginx_port = free_port()
        upstream = f"http://127.0.0.1:{nginx_port}/v1"
        nginx = Server("nginx", nginx_command(directory, nginx_port), bg._base_environment(), directory / "nginx.log")
        stack.enter_context(running(nginx)).ready(
            f"{upstream}/chat/completions", bg.request_body("passthrough"), timeout_s=10
        )
        environment = bg.ours_environment(upstream)
        script = directory / "request.lua"
        body = bg.lua_string(json.dumps(bg.request_body("ours")))
        script.write_text(bg.WRK_SCRIPT.format(body=body, key=bg.GATEWAY_API_KEY))
        servers = {}
        for name, spec in specs:
            venv, _, tree = spec.partition(":")
            server_environment = dict(environment)
            if tree:
                server_environment["PYTHONPATH"] = str(Path(tree) / "python")
            port = free_port()
            command = [f"{venv}/bin/trinity-hybrid", "serve", "--host", "127.0.0.1", "--port", str(port)]
            server = stack.enter_context(running(Server(name, command, server_environment, directory / f"{name}.log")))
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            server.ready(url, bg.request_body("ours"), 60)
            bg.wrk(url, script, 2, 32, 2.0)  # warm-up
            servers[name] = (server, url)
        figures: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
        for index in range(rounds):
            for name in list(servers) if index % 2 == 0 else list(reversed(servers)):
                server, url = servers[name]
                pids = tree_pids(server.process.pid)
                before = cpu_s(pids)
                run = bg.wrk(url, script, min(2, CONNECTIONS), CONNECTIONS, SECONDS)
                after = cpu_s(pids)
                requests = max(run["requests"], 1)
                for key, value in (
                    ("user_us", (after[0] - before[0]) / requests * 1e6),
                    ("system_us", (after[1] - before[1]) / requests * 1e6),
                    ("cpu_us", (sum(after) - sum(before)) / requests * 1e6),
                    ("rps", run["rps"]),
                    ("p50_us", run["p50_us"]),
                ):
                    figures[name].setdefault(key, []).append(value)
            print(f"round {index + 1}/{rounds} load {os.getloadavg()[0]:.2f}  "
                  + "  ".join(f"{name}: {figures[name]['cpu_us'][-1]:.1f} us/request {figures[name]['rps'][-1]:,.0f} req/s"
                              for name in servers), flush=True)  # fmt: skip
    first = statistics.median(figures[specs[0][0]]["cpu_us"])
    for name, values in figures.items():
        median = {key: statistics.median(series) for key, series in values.items()}
        print(
            f"{name}: CPU {median['cpu_us']:.1f} us/request ({median['cpu_us'] / first:.3f}x; user "
            f"{median['user_us']:.1f}, system {median['system_us']:.1f}), {median['rps']:,.0f} req/s, "
            f"p50 {median['p50_us'] / 1000:.3f} ms at {CONNECTIONS} connections (medians of {rounds})"
        )


if __name__ == "__main__":
    main()

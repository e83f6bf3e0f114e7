"""Instructions per request of `trinity-hybrid serve` itself under callgrind: N and N+M requests from
32 keep-alive connections (a raw asyncio client in this process, not traced), to nginx's canned
completion. Unlike gateway_instructions.py it runs the real server (uvicorn, GatewayProtocol).

    python bench/serve_instructions.py <venv> 320 1600     # <venv>: the tree's venv directory
    # prints "<venv> <requests> <instructions>" per run; (I(1600) - I(320)) / 1280 per request
    CONNECTIONS=1 python bench/serve_instructions.py <venv> 400 1200   # one request at a time
    CACHE_SIM=1 ...     # callgrind's cache and branch simulation too (totals printed from its file)
    TREE=<dir> ...      # <dir>/python first on the server's path (another checkout, same venv)
    KEEP=<dir> ...      # copy callgrind's files there (callgrind_annotate them per function)

With 32 connections the count varies by ~10k between runs (how requests batch per wake-up);
one connection at a time repeats within ~1k, so compare code changes that way.

Needs valgrind and nginx. Written for issue 15's before/after (bench/results/architecture.md).
"""

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_gateway as bg
from servers import Server, free_port, nginx_command, running

venv, counts = Path(sys.argv[1]), [int(x) for x in sys.argv[2:]]
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
CACHE_SIM = ["--cache-sim=yes", "--branch-sim=yes"] if os.environ.get("CACHE_SIM") else []
BODY = json.dumps(bg.request_body("ours")).encode()


async def client(port, total):
    async def conn(k):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        req = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {bg.GATEWAY_API_KEY}\r\nContent-Length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY
        for _ in range(k):
            w.write(req)
            head = await r.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            n = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
            await r.readexactly(n)
        w.close()

    await asyncio.gather(*(conn(total // CONNECTIONS) for _ in range(CONNECTIONS)))


with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
    d = Path(tmp)
    nport = free_port()
    upstream = f"http://127.0.0.1:{nport}/v1"
    stack.enter_context(running(Server("nginx", nginx_command(d, nport), bg._base_environment(), d / "n.log"))).ready(
        f"{upstream}/chat/completions", bg.request_body("passthrough"), timeout_s=10
    )
    env = bg.ours_environment(upstream) | {"PYTHONHASHSEED": "0"}
    if os.environ.get("TREE"):
        env["PYTHONPATH"] = str(Path(os.environ["TREE"]) / "python")
    for total in counts:
        port = free_port()
        out = str(d / f"callgrind.{total}")
        errors = stack.enter_context(open(out + ".err", "w"))  # callgrind's totals go to stderr
        p = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                *CACHE_SIM,
                f"--callgrind-out-file={out}",
                str(venv / "bin" / "python"),
                str(venv / "bin" / "trinity-hybrid"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        for _ in range(600):
            try:
                asyncio.run(client(port, 64))
                break  # warm-up 64 (also the readiness check)
            except (OSError, asyncio.IncompleteReadError):
                time.sleep(0.5)
        asyncio.run(client(port, total))
        p.send_signal(signal.SIGINT)
        p.wait(120)
        m = re.search(r"Collected : (\d+)", Path(out + ".err").read_text())
        totals = [line for line in Path(out).read_text().splitlines() if line.startswith(("events:", "totals:"))]
        print(venv, total, m and m.group(1), *(totals if CACHE_SIM else []), flush=True)
        if os.environ.get("KEEP"):
            shutil.copy(out, Path(os.environ["KEEP"]) / f"callgrind.{total}")

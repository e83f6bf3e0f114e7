"""What one call costs the caller's process, as CPU time or (under callgrind) instructions.

    python bench/call_instructions.py route|infer|ainfer N   # N calls after a warm-up
    python bench/call_instructions.py route|infer|ainfer     # CPU µs per call, best of 5 rounds

- ``route``: ``node.route(prompt)``, the native router from Python.
- ``infer``: ``node.infer(prompt)`` one after another, and ``ainfer``: ``node.ainfer(prompt)`` 32
  at a time, against the loopback OpenAI server (tests/loopback) in a child process of its own,
  which callgrind does not follow: only the caller's process is counted.

As with gateway_instructions.py (the gateway's path), run it under callgrind with N and
N + 1000 (route: N + 10000) and divide the difference by the extra calls: start-up, imports and
warm-up cancel out. Instruction counts do not move with the machine's load; run it on two
checkouts (``PYTHONPATH=<tree>/python``) to compare them. The harness and the server are this
tree's for both, so that only the library differs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from bench_infer import PROMPT, ServerProcess  # the loopback server in a child process, as bench_infer runs it

CONCURRENCY = 32


def node_for(server: ServerProcess | None) -> Any:
    from trinity_hybrid import TrinityHybridNode

    if server is None:
        return TrinityHybridNode.from_env({"GROQ_API_KEY": "gsk-bench", "OPENAI_API_KEY": "sk-bench"})
    return TrinityHybridNode.from_env({"GROQ_API_KEY": server.api_key, "GROQ_BASE_URL": server.base_url})


def calls(kind: str, node: Any) -> tuple[Any, Any]:
    """A function making ``count`` calls of ``kind``, and one closing the node's clients."""
    if kind == "route":
        return lambda count: [node.route(PROMPT) for _ in range(count)], lambda: None
    if kind == "infer":
        return lambda count: [node.infer(PROMPT) for _ in range(count)], node.close

    async def concurrent(count: int) -> None:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with semaphore:
                await node.ainfer(PROMPT)

        await asyncio.gather(*(one() for _ in range(count)))

    loop = asyncio.new_event_loop()
    return lambda count: loop.run_until_complete(concurrent(count)), lambda: loop.run_until_complete(node.aclose())


def main() -> None:
    kind = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else None
    if kind not in ("route", "infer", "ainfer"):
        raise SystemExit(__doc__)
    with ServerProcess() if kind != "route" else _Nothing() as server:
        node = node_for(server)
        run, close = calls(kind, node)
        run(200)  # warm-up: connections, caches
        if count is not None:
            run(count)
            close()
            return
        per_round = 20_000 if kind == "route" else 1_000
        best_s = float("inf")
        for _ in range(5):
            started_s = time.process_time()
            run(per_round)
            best_s = min(best_s, (time.process_time() - started_s) / per_round)
        close()
    print(f"{kind}: {best_s * 1e6:.2f} µs CPU per call in the caller's process (best of 5 x {per_round})")


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


if __name__ == "__main__":
    main()

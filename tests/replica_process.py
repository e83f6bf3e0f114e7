"""A second replica in its own process, driven by JSON lines on stdin (tests/test_shared_state.py).

    python replica_process.py REDIS_URL NAMESPACE
    {"op": "wait_connected"} | {"op": "wait_state", "state": "open"} | {"op": "fail", "kind": ..}
    | {"op": "flush"} | {"op": "stats"}
"""

from __future__ import annotations

import json
import sys
import time

from trinity_hybrid import TrinityHybridNode

PROVIDER = "groq"
WAIT_S = 10.0


def main() -> None:
    url, namespace = sys.argv[1], sys.argv[2]
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": "gsk_replica_process_key_0123456789"})
    node.enable_shared_state(url, namespace=namespace)
    for line in sys.stdin:
        command = json.loads(line)
        operation = command["op"]
        deadline_s = time.monotonic() + WAIT_S
        if operation == "wait_connected":
            while not node.shared_state()["connected"] and time.monotonic() < deadline_s:
                time.sleep(0.005)
        elif operation == "wait_state":
            while node.stats(PROVIDER).state != command["state"] and time.monotonic() < deadline_s:
                time.sleep(0.005)
        elif operation == "fail":
            node.record_failure(PROVIDER, command["kind"], retry_after_ms=command.get("retry_after_ms", 0))
        elif operation == "flush":
            node.flush_shared_state()
        stats = node.stats(PROVIDER)
        answer = {"connected": node.shared_state()["connected"], "state": stats.state, "calls_total": stats.calls_total}
        print(json.dumps(answer), flush=True)
    node.close_shared_state()


if __name__ == "__main__":
    main()

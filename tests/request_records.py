"""Request log records for the tests: a fallback (an attempt that failed, then one that
answered) with every field set, and the provider key the failures may quote."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from trinity_hybrid._results import Attempt
from trinity_hybrid.gateway._request_log import RequestLog, RequestRecord

PROVIDER_KEY = "sk-proj-Zq8uV1xW3yT5rE7wQ9aS2dF4gH6jK8lL0pO"


def record(request_id: str, *, error: str | None = None, provider: str = "groq", **fields: Any) -> RequestRecord:
    attempts = [Attempt("openai", "failure", error, "CredentialError", 0.012, 401)] if error else []
    attempts.append(Attempt(provider, "success", latency_s=0.25, status_code=200))
    values: dict[str, Any] = {
        "key_name": "team-a", "model_requested": "auto", "provider": provider, "model": f"{provider}/m",
        "tokens_input": 12, "tokens_output": 34, "cost_usd": 0.00012, **fields,
    }  # fmt: skip
    return RequestRecord(
        request_id=request_id, time_s=1796558400.25, endpoint="chat", status=200, outcome="success",
        latency_ms=251.5, attempts=tuple(attempts), **values,
    )  # fmt: skip


def submit_from_threads(log: RequestLog, prefix: str, threads: int, each: int) -> None:
    start = threading.Barrier(threads)

    def run(index: int) -> None:
        start.wait()
        for number in range(each):
            log.submit(record(f"{prefix}-{index}-{number}", stream=number % 2 == 0, cache_hit=number % 3 == 0))

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def submit_old_and_new(log: RequestLog) -> None:
    now_s = time.time()
    for days, name in ((45, "old-45d"), (31, "old-31d"), (29, "new-29d"), (0, "new-now")):
        log.submit(dataclasses.replace(record(name), time_s=now_s - days * 86_400))
    assert log.close()

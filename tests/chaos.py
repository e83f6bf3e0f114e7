"""The chaos harness: many requests at a fixed concurrency against a target, every outcome judged.

A ``Target`` answers one request (sync, async or streamed) and says how it ended. ``NodeTarget``
sends through library replicas (``TrinityHybridNode``s, round robin); a gateway target only has to
implement ``send`` over HTTP to run the same suite against gateway replicas. ``run_chaos`` drives
the target and checks what the issue asks: every request ends once, with the right answer or a
typed error, within its deadline; none lost, hung or answered twice.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

MODES = ("async", "stream", "sync")


@dataclass(frozen=True)
class Outcome:
    request_id: int
    ok: bool
    text: str = ""
    error_type: str | None = None
    typed: bool = True  # the error is one of the library's documented exceptions (or a 4xx/5xx JSON)
    provider: str | None = None
    latency_s: float = 0.0
    message: str = ""  # the error's text, kept for the key-leak scan


class Target(Protocol):
    async def send(self, request_id: int, prompt: str, mode: str) -> Outcome: ...


@dataclass
class Report:
    requests: int = 0
    answered: int = 0
    typed_errors: int = 0
    untyped_errors: int = 0
    wrong_answers: int = 0
    lost: int = 0
    hung: int = 0
    duplicated: int = 0
    latency_s_p50: float = 0.0
    latency_s_p99: float = 0.0
    latency_s_max: float = 0.0
    wall_s: float = 0.0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    by_mode: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "outcomes"}


def percentile(values: Sequence[float], quantile: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(quantile * len(ordered)) - 1))]


def expected_text(prompt: str) -> str:
    """The loopback servers' echo responder's answer."""
    return f"echo: {prompt}"


def mixed_mode(index: int) -> str:
    """The request mix both chaos runs use: 10 % blocking, about 25 % streamed, the rest async."""
    return "sync" if index % 10 == 0 else ("stream" if index % 4 == 1 else "async")


def redis_outage(requests: int, kill: Any, restart: Any) -> dict[int, Any]:
    """Redis goes away at 30 % of the run and comes back at 60 %."""
    return {requests * 3 // 10: kill, requests * 6 // 10: restart}


async def run_chaos(
    target: Target,
    *,
    requests: int,
    concurrency: int,
    deadline_s: float,
    mode_of: Callable[[int], str],
    schedule: dict[int, Callable[[], Awaitable[None]]] | None = None,
) -> Report:
    """Sends ``requests`` requests, ``concurrency`` at a time. ``schedule`` maps a request index
    to an action run when that request is sent (e.g. kill Redis at request 600)."""
    report = Report(requests=requests)
    outcomes: dict[int, list[Outcome]] = {}
    latencies: list[float] = []
    next_index = 0
    started_s = time.monotonic()

    async def one(index: int) -> None:
        prompt = f"chaos request {index}: what is {index} plus one?"
        mode = mode_of(index)
        report.by_mode[mode] = report.by_mode.get(mode, 0) + 1
        begun_s = time.monotonic()
        try:
            outcome = await asyncio.wait_for(target.send(index, prompt, mode), deadline_s)
        except asyncio.TimeoutError:
            report.hung += 1
            return
        latencies.append(time.monotonic() - begun_s)
        outcomes.setdefault(index, []).append(outcome)
        if outcome.ok and outcome.text != expected_text(prompt):
            report.wrong_answers += 1

    async def worker() -> None:
        nonlocal next_index
        while next_index < requests:
            index = next_index
            next_index += 1
            action = (schedule or {}).get(index)
            if action is not None:
                report.events.append(f"{action.__name__} at request {index}")
                await action()
            await one(index)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    report.outcomes = [outcome for ended in outcomes.values() for outcome in ended]
    report.wall_s = time.monotonic() - started_s
    errors: Counter[str] = Counter()
    for index in range(requests):
        ended = outcomes.get(index, [])
        if len(ended) > 1:
            report.duplicated += 1
        for outcome in ended[:1]:
            if outcome.ok:
                report.answered += 1
            elif outcome.typed:
                report.typed_errors += 1
                errors[outcome.error_type or "?"] += 1
            else:
                report.untyped_errors += 1
                errors[f"UNTYPED {outcome.error_type}"] += 1
    report.lost = requests - report.hung - sum(1 for index in range(requests) if outcomes.get(index))
    report.errors_by_type = dict(errors)
    report.latency_s_p50 = percentile(latencies, 0.50)
    report.latency_s_p99 = percentile(latencies, 0.99)
    report.latency_s_max = max(latencies, default=0.0)
    return report


class NodeTarget:
    """Library replicas: request ``i`` goes to replica ``i % len(nodes)``; ``sync`` requests run
    the blocking ``infer`` in a worker thread."""

    def __init__(self, nodes: Sequence[Any], *, timeout: Any) -> None:
        self.nodes = list(nodes)
        self.timeout = timeout

    async def send(self, request_id: int, prompt: str, mode: str) -> Outcome:
        from trinity_hybrid import TrinityError

        node = self.nodes[request_id % len(self.nodes)]
        started_s = time.monotonic()
        try:
            if mode == "sync":
                response = await asyncio.to_thread(node.infer, prompt, timeout=self.timeout)
                text, provider = response.text, response.provider
            elif mode == "stream":
                chunks = [chunk async for chunk in await node.ainfer(prompt, stream=True, timeout=self.timeout)]
                if not chunks or not chunks[-1].done:
                    return Outcome(request_id, False, error_type="StreamEndedUnfinished", typed=False)
                text, provider = "".join(chunk.text for chunk in chunks), chunks[-1].provider
            else:
                response = await node.ainfer(prompt, timeout=self.timeout)
                text, provider = response.text, response.provider
        except TrinityError as error:
            return Outcome(request_id, False, error_type=type(error).__name__, latency_s=time.monotonic() - started_s,
                           message=f"{error!s} {error!r}")
        except Exception as error:  # noqa: BLE001 - an untyped error is exactly what the suite looks for
            return Outcome(request_id, False, error_type=type(error).__name__, typed=False, message=repr(error))
        return Outcome(request_id, True, text=text, provider=provider, latency_s=time.monotonic() - started_s)

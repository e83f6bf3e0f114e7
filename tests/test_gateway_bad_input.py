"""Bad input at volume against a running `trinity-hybrid serve` process: thousands of random byte
strings, bodies over and just under the size limit, JSON nested 100,000 deep, wrongly typed
fields and invalid UTF-8. Each must get a 4xx with an OpenAI-style error JSON; the process must
stay up, answer a good request afterwards, and its resident memory must not grow without bound
(a leak of one body per request would show as hundreds of MB; the bound allows the allocator's
own slack). tests/test_gateway_errors.py checks each error's exact shape one at a time; this file
is about volume, concurrency and the process surviving it.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_harness import GATEWAY_KEY, provider_environment
from gateway_process import GatewayProcess
from loopback import OpenAIServer

BODY_BYTES_MAX = 256 * 1024
ROUNDS = 4  # the first one warms up; memory is compared between its end and the last one's
CONCURRENCY = 16
RSS_GROWTH_KIB_MAX = 48 * 1024
MESSAGES = [{"role": "user", "content": "hi"}]


def deep(depth: int, opening: str = "[", closing: str = "]", inner: str = "") -> str:
    return opening * depth + inner + closing * depth


def bad_bodies(seed: int) -> Iterator[tuple[str, bytes]]:
    """(kind, body) pairs, every one of which is a bad request."""
    draw = random.Random(seed)
    for _ in range(300):
        body = draw.randbytes(draw.randrange(1, 2048))
        if body.lstrip()[:1] not in {b"{", b"["}:  # cannot be valid JSON by accident
            yield "random_bytes", body
    for _ in range(40):
        yield "deep_json", deep(100_000).encode()
        yield "deep_json", deep(50_000, '{"a":', "}", "1").encode()
        yield "deep_json", ('{"model":"auto","messages":' + deep(draw.randrange(1_000, 20_000)) + "}").encode()
        # Under the parser's limit: the validation of the messages sees the depth.
        content = deep(draw.randrange(100, 950))
        yield "deep_json", ('{"model":"auto","messages":[{"role":"user","content":' + content + "}]}").encode()
    for _ in range(6):
        yield "huge_over_limit", b'{"model":"auto","messages":[{"role":"user","content":"' + b"x" * (BODY_BYTES_MAX * 4)
        yield "huge_under_limit", b"{" * (BODY_BYTES_MAX - 10)
        content = "y" * (BODY_BYTES_MAX - 100)
        yield "huge_under_limit", json.dumps({"model": "auto", "messages": content}).encode()
    for _ in range(100):
        # Valid text around one invalid sequence (cut on a character boundary, so that the bytes
        # cannot complete a character by chance).
        characters = "".join(chr(draw.randrange(32, 0x3000)) for _ in range(draw.randrange(1, 40)))
        cut = draw.randrange(0, len(characters) + 1)
        invalid = draw.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])
        text = characters[:cut].encode() + invalid + characters[cut:].encode()
        yield "invalid_utf8", b'{"model":"auto","messages":[{"role":"user","content":"' + text + b'"}]}'
    wrong = [
        ("model", 7),
        ("model", None),
        ("model", ["auto"]),
        ("messages", "hi"),
        ("messages", {}),
        ("messages", []),
        ("messages", [1]),
        ("messages", [{"role": 3, "content": "x"}]),
        ("stream", "yes"),
        ("stream", 1),
        ("max_tokens", "10"),
        ("max_tokens", True),
        ("max_tokens", -1),
        ("max_tokens", 1.5),
        ("temperature", "hot"),
        ("temperature", 1e308),
        ("quality", "high"),
        ("strategy", 3),
        ("strategy", "nope"),
        ("cache", "yes"),
        ("cache", 1),
        ("n", 3),
        ("stream_options", []),
        ("stream_options", {"include_usage": "yes"}),
    ]
    for _ in range(10):
        for field, value in wrong:
            document = {"model": "auto", "messages": MESSAGES, field: value}
            if value is None:
                del document[field]
            yield "wrong_type", json.dumps(document).encode()


async def send_all(url: str, bodies: list[tuple[str, bytes]]) -> Counter[str]:
    """Sends every body, ``CONCURRENCY`` at a time; counts (kind, status) and checks each answer."""
    seen: Counter[str] = Counter()
    queue = list(bodies)
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(headers=headers, timeout=30.0, trust_env=False) as client:

        async def worker() -> None:
            while queue:
                kind, body = queue.pop()
                answer = await client.post(url + "/v1/chat/completions", content=body)
                assert 400 <= answer.status_code < 500, (kind, answer.status_code, answer.text[:300])
                error = answer.json()["error"]
                assert {"message", "type", "param", "code"} <= set(error), answer.text[:300]
                assert "Traceback" not in answer.text
                seen[f"{kind} {answer.status_code}"] += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return seen


def garbage_over_raw_sockets(port: int, seed: int) -> None:
    """Bytes that are not HTTP at all: the server may answer 400 or hang up, and must live on."""
    draw = random.Random(seed)
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as connection:
            connection.sendall(draw.randbytes(draw.randrange(1, 4096)) + b"\r\n\r\n")
            try:
                connection.recv(4096)
            except OSError:
                pass


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_thousands_of_bad_requests_get_4xx_and_leave_the_process_up_and_bounded(tmp_path: Path) -> None:
    with OpenAIServer() as groq:
        environment = {
            **provider_environment(groq=groq),
            "TRINITY_API_KEYS": GATEWAY_KEY,
            "TRINITY_MAX_BODY_BYTES": str(BODY_BYTES_MAX),
        }
        gateway = GatewayProcess(tmp_path, "gateway", environment)
        try:
            gateway.wait_ready()
            totals: Counter[str] = Counter()
            rss_kib: list[int] = []
            for round_number in range(ROUNDS):
                totals += asyncio.run(send_all(gateway.url, list(bad_bodies(seed=round_number))))
                garbage_over_raw_sockets(gateway.port, seed=round_number)
                assert gateway.process.poll() is None, gateway.log_path.read_text()[-2000:]
                rss_kib.append(gateway.rss_kib())
            good = httpx.post(
                gateway.url + "/v1/chat/completions",
                headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
                json={"model": "auto", "messages": MESSAGES},
                timeout=10.0,
            )
            metrics = gateway.get("/metrics").text
        finally:
            gateway.stop()
        log = gateway.log_path.read_text(errors="replace")
        print(json.dumps({"answers": dict(totals), "rss_kib_after_each_round": rss_kib}))

    assert good.status_code == 200 and good.json()["choices"][0]["message"]["content"] == "echo: hi"
    assert len(groq.requests) == 1  # no bad request reached the provider
    assert sum(totals.values()) >= 2_500, totals
    kinds = {answer.split()[0] for answer in totals}
    assert kinds == {"random_bytes", "deep_json", "huge_over_limit", "huge_under_limit", "invalid_utf8", "wrong_type"}
    assert totals["huge_over_limit 413"] == 6 * ROUNDS, totals
    assert 'outcome="internal_error"' not in metrics
    assert "Traceback" not in log and "unhandled" not in log
    assert rss_kib[-1] - rss_kib[0] <= RSS_GROWTH_KIB_MAX, rss_kib

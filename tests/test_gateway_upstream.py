"""The gateway's HTTP/1.1 client (``gateway._upstream``) against a real socket server on loopback
that answers with exactly the bytes each test scripts: bodies sized by length, chunked or ended
by the connection, answers split anywhere, keep-alive reuse, connections that die, silence,
cancellation, header injection and the connection limit."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trinity_hybrid.gateway._upstream import UpstreamError, UpstreamPool, UpstreamTimeout

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-test-0000"}


def answer_with_length(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(body: bytes, size: int) -> bytes:
    pieces = [body[start : start + size] for start in range(0, len(body), size)]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + encoded + b"0\r\n\r\n"


# What the script does once a request has arrived: write bytes, sleep, close.
Step = bytes | float | None


@dataclass
class ScriptedServer:
    """Answers the n-th request with the n-th script (the last one repeats); records every
    request as received and counts connections."""

    scripts: list[list[Step]]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    open_most: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.open_most = max(self.open_most, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                script = self.scripts[min(len(self.requests) - 1, len(self.scripts) - 1)]
                for step in script:
                    if step is None:
                        writer.close()
                        return
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                    else:
                        writer.write(step)
                        await writer.drain()
        finally:
            self.open_now -= 1
            writer.close()


def serve(
    scripts: list[list[Step]],
    test: Callable[[ScriptedServer, str], Awaitable[None]],
    tls: ssl.SSLContext | None = None,
) -> ScriptedServer:
    async def main() -> None:
        server = ScriptedServer(scripts)
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
        server.port = listener.sockets[0].getsockname()[1]
        scheme = "https" if tls else "http"
        async with listener:
            await test(server, f"{scheme}://127.0.0.1:{server.port}/v1/chat/completions?x=1")
        result.append(server)

    result: list[ScriptedServer] = []
    asyncio.run(main())
    return result[0]


def pool(connections_max: int = 8) -> UpstreamPool:
    return UpstreamPool(connections_max=connections_max, idle_max=4, idle_s=30.0)


async def post(upstream: UpstreamPool, url: str, read_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    return await upstream.post(url, HEADERS, BODY, connect_s=5.0, read_s=read_s)


def test_an_answer_with_a_length_and_the_request_as_sent() -> None:
    answered = b'{"ok":true}'

    async def test(server: ScriptedServer, url: str) -> None:
        status, headers, body = await post(pool(), url)
        assert (status, body) == (200, answered)
        assert headers["content-type"] == "application/json"
        assert headers["x-request-id"] == "a, b"  # repeated headers joined, as HTTP defines

    server = serve([[answer_with_length(answered, "X-Request-Id: a", "x-request-id: b")]], test)
    request = server.requests[0]
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/chat/completions?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Authorization: Bearer sk-test-0000" in lines
    assert f"Content-Length: {len(BODY)}".encode() in lines
    assert body == BODY


def test_keep_alive_reuses_one_connection() -> None:
    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        for _ in range(5):
            assert (await post(upstream, url))[2] == b"{}"
        assert upstream.idle_connections == 1

    server = serve([[answer_with_length(b"{}")]], test)
    assert (server.connections, len(server.requests)) == (1, 5)


@settings(max_examples=40, deadline=None)
@given(
    body=st.binary(min_size=0, max_size=300),
    chunk_size=st.integers(1, 64),
    cuts=st.lists(st.integers(1, 400), max_size=8),
    use_chunked=st.booleans(),
)
def test_an_answer_split_anywhere_reads_the_same(
    body: bytes, chunk_size: int, cuts: list[int], use_chunked: bool
) -> None:
    answer = chunked(body, chunk_size) if use_chunked else answer_with_length(body)
    points = sorted({cut for cut in cuts if cut < len(answer)})
    pieces: list[Step] = []
    for start, end in zip([0, *points], [*points, len(answer)]):
        pieces += [answer[start:end], 0.0]

    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        for _ in range(2):  # the second on the same connection: nothing of the first is left over
            assert await post(upstream, url) == (
                200,
                {"transfer-encoding": "chunked"}
                if use_chunked
                else {"content-type": "application/json", "content-length": str(len(body))},
                body,
            )

    server = serve([pieces], test)
    assert server.connections == 1


def test_a_body_ended_by_the_connection_is_whole_and_the_connection_is_not_kept() -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 5000

    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        assert (await post(upstream, url))[2] == b"x" * 5000
        assert upstream.idle_connections == 0
        assert (await post(upstream, url))[2] == b"x" * 5000

    server = serve([[answer, None]], test)
    assert server.connections == 2


def test_a_body_cut_short_is_an_error_and_the_next_request_gets_a_new_connection() -> None:
    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        with pytest.raises(UpstreamError, match="closed before the answer was complete"):
            await post(upstream, url)
        assert (await post(upstream, url))[2] == b"{}"

    server = serve([[answer_with_length(b"0123456789")[:-4], None], [answer_with_length(b"{}")]], test)
    assert server.connections == 2


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        assert (await post(upstream, url))[2] == b"{}"
        await asyncio.sleep(0.2)  # the server's FIN arrives while the connection is idle
        assert (await post(upstream, url))[2] == b"{}"

    server = serve([[answer_with_length(b"{}"), None]], test)
    assert server.connections == 2


def test_gzip_bodies_are_decoded() -> None:
    packed = gzip.compress(b'{"a":1}')

    async def test(server: ScriptedServer, url: str) -> None:
        assert (await post(pool(), url))[2] == b'{"a":1}'

    serve([[answer_with_length(packed, "Content-Encoding: gzip")]], test)


def test_silence_longer_than_the_read_timeout_fails_but_a_slow_steady_answer_does_not() -> None:
    steady: list[Step] = []
    for byte in answer_with_length(b"0123456789")[-8:]:
        steady += [0.08, bytes([byte])]

    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        with pytest.raises(UpstreamTimeout, match="no data for 0.3 s"):
            await post(upstream, url, read_s=0.3)
        # 8 gaps of 0.08 s: more than the read timeout in all, never silent that long at once.
        assert (await post(upstream, url, read_s=0.5))[2] == b"0123456789"

    head = answer_with_length(b"0123456789")
    serve([[head[:20], 5.0], [head[:-8], *steady]], test)


def test_a_refused_connection_is_an_error() -> None:
    async def main() -> None:
        listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        listener.close()
        await listener.wait_closed()
        with pytest.raises(UpstreamError, match="cannot connect"):
            await post(pool(), f"http://127.0.0.1:{port}/v1")

    asyncio.run(main())


@pytest.mark.parametrize(
    ("headers", "url"),
    [
        ({"Authorization": "Bearer sk\r\nX-Injected: 1"}, "/v1/chat/completions"),
        ({"X-Name\nEvil": "1"}, "/v1/chat/completions"),
        (HEADERS, "/v1/chat/completions\r\nX-Injected: 1"),
        (HEADERS, "/v1/chat/completions HTTP/1.1"),
    ],
)
def test_line_breaks_in_headers_or_the_url_are_refused_before_anything_is_sent(
    headers: dict[str, str], url: str
) -> None:
    async def test(server: ScriptedServer, base: str) -> None:
        target = f"http://127.0.0.1:{server.port}{url}"
        with pytest.raises(UpstreamError, match="line break|control character"):
            await pool().post(target, headers, BODY, connect_s=5.0, read_s=5.0)

    server = serve([[answer_with_length(b"{}")]], test)
    assert server.connections == 0


def test_a_cancelled_request_closes_its_connection() -> None:
    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        task = asyncio.ensure_future(post(upstream, url))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert upstream.idle_connections == 0
        assert (await post(upstream, url))[2] == b"{}"

    server = serve([[5.0], [answer_with_length(b"{}")]], test)
    assert server.connections == 2


def test_requests_beyond_the_connection_limit_wait_their_turn() -> None:
    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool(connections_max=2)
        answers = await asyncio.gather(*(post(upstream, url) for _ in range(6)))
        assert [body for _, _, body in answers] == [b"{}"] * 6

    server = serve([[0.05, answer_with_length(b"{}")]], test)
    assert server.open_most <= 2
    assert len(server.requests) == 6


def test_an_unsupported_scheme_is_an_error() -> None:
    async def main() -> None:
        with pytest.raises(UpstreamError, match="unsupported URL scheme"):
            await post(pool(), "ftp://127.0.0.1/v1")

    asyncio.run(main())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes the test certificate")
def test_https_with_a_trusted_certificate_and_refused_with_an_unknown_one(tmp_path: Path) -> None:
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate, key)
    trusting = ssl.create_default_context(cafile=str(certificate))

    async def test(server: ScriptedServer, url: str) -> None:
        assert url.startswith("https://")
        upstream = UpstreamPool(connections_max=4, idle_max=4, idle_s=30.0, ssl_context=trusting)
        for _ in range(2):
            assert (await post(upstream, url))[2] == b"{}"
        with pytest.raises(UpstreamError, match="cannot connect"):
            await post(pool(), url)  # the system's certificates do not include the test's

    server = serve([[answer_with_length(b"{}")]], test, tls=server_context)
    assert len(server.requests) == 2


def test_an_answer_nobody_asked_for_closes_the_connection_and_leaves_the_first_intact() -> None:
    first = answer_with_length(b'{"n":1}', "X-Answer: first")
    second = answer_with_length(b'{"n":2}', "X-Answer: second")

    async def test(server: ScriptedServer, url: str) -> None:
        upstream = pool()
        status, headers, body = await post(upstream, url)
        assert (status, headers["x-answer"], body) == (200, "first", b'{"n":1}')
        assert upstream.idle_connections == 0
        assert (await post(upstream, url))[2] == b'{"n":1}'

    server = serve([[first + second]], test)
    assert server.connections == 2


def test_an_answer_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINITY_MAX_UPSTREAM_BYTES", "1000")  # read when the pool is made

    async def test(server: ScriptedServer, url: str) -> None:
        with pytest.raises(UpstreamError, match="exceeds 1000 bytes"):
            await post(pool(), url)

    serve([[answer_with_length(b"x" * 5000)]], test)

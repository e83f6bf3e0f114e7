"""A real gateway on a free loopback port, in a thread, over loopback provider servers.

The gateway runs under uvicorn exactly as `trinity-hybrid serve` runs it (httptools, uvloop);
its providers are the tests/loopback servers, reached through the node's `<PROVIDER>_BASE_URL`
variables. The local model is switched off so that a failing chain ends in an error rather than
in a slow local answer.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from trinity_hybrid import TrinityHybridNode
from trinity_hybrid.gateway import create_app
from trinity_hybrid.gateway._protocol import GatewayProtocol

GATEWAY_KEY = "tgw-test-key-0123456789abcdef"
STARTUP_TIMEOUT_S = 15.0


def provider_environment(**servers: Any) -> dict[str, str]:
    """`<PROVIDER>_API_KEY` and `<PROVIDER>_BASE_URL` for name=server pairs, and no
    same-provider retries: the tests script one fault per request to show the fallback (a test of
    retries sets `TRINITY_RETRIES` itself)."""
    environment: dict[str, str] = {"TRINITY_RETRIES": "0"}
    for provider, server in servers.items():
        variable = provider.upper()
        environment[f"{variable}_API_KEY" if provider != "kimi" else "KIMI_K2_API_KEY"] = server.api_key
        environment[f"{variable}_BASE_URL"] = server.base_url
    return environment


class RunningGateway:
    def __init__(self, url: str, node: TrinityHybridNode, app: Any, api_key: str | None) -> None:
        self.url = url
        self.node = node
        self.app = app
        self.api_key = api_key
        self.bodies: list[bytes] = []  # every body a test read through `request`, for leak checks

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if self.api_key is not None and options.pop("authorize", True):
            headers.setdefault("Authorization", f"Bearer {self.api_key}")
        response = httpx.request(method, self.url + path, headers=headers, timeout=30.0, trust_env=False, **options)
        self.bodies.append(response.content)
        return response


@contextmanager
def running_gateway(
    environment: Mapping[str, str],
    *,
    api_keys: str | None = GATEWAY_KEY,
    body_bytes_max: int | None = None,
    **server_options: Any,
) -> Iterator[RunningGateway]:
    """``server_options`` go to ``uvicorn.Config`` (``http=`` a protocol class, by default the
    one ``serve`` runs; ``limit_concurrency``)."""
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    gateway_environment = dict(environment)
    if api_keys is not None:
        gateway_environment["TRINITY_API_KEYS"] = api_keys
    app = create_app(node, environ=gateway_environment, body_bytes_max=body_bytes_max)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    options = {"http": GatewayProtocol, **server_options}  # what `trinity-hybrid serve` runs
    config = uvicorn.Config(app, loop="uvloop", log_level="warning", access_log=False, lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.01)
    first_key = api_keys.split(",")[0].strip() if api_keys else None
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", node, app, first_key)
    finally:
        server.should_exit = True
        thread.join(10.0)
        listener.close()
        logging.getLogger("trinity_hybrid").debug("gateway on port %d stopped", port)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

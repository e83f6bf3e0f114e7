"""One provider of each wire format behind a running gateway, for tests run once per format:
``wire_fixtures(responder)`` makes a module's ``provider`` fixture (name and loopback server,
parametrized over the four formats) and its ``gateway`` fixture (a gateway over that provider
alone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gateway_harness import RunningGateway, provider_environment, running_gateway
from loopback import AnthropicServer, CohereServer, GeminiServer, LoopbackServer, OpenAIServer, Responder

__all__ = ["SERVERS", "wire_fixtures"]

# The OpenAI-compatible wire as groq; ``openai`` in a test that needs what only openai takes.
SERVERS: dict[str, type[LoopbackServer]] = {
    "groq": OpenAIServer, "anthropic": AnthropicServer, "google": GeminiServer, "cohere": CohereServer,
}  # fmt: skip


def wire_fixtures(responder: Responder, *, openai_as: str = "groq", gateway_name: str = "gateway") -> tuple[Any, Any]:
    """The module-scoped ``provider`` and ``gateway`` fixtures; assign them to module names."""
    servers = {openai_as if name == "groq" else name: server for name, server in SERVERS.items()}

    @pytest.fixture(scope="module", params=sorted(servers), name="provider")
    def provider(request: pytest.FixtureRequest) -> Iterator[tuple[str, LoopbackServer]]:
        with servers[request.param](responder=responder) as server:  # type: ignore[call-arg]
            yield request.param, server

    @pytest.fixture(scope="module", name=gateway_name)
    def gateway(provider: tuple[str, LoopbackServer]) -> Iterator[RunningGateway]:
        name, server = provider
        with running_gateway(provider_environment(**{name: server})) as running:
            yield running

    return provider, gateway

"""Loopback provider servers for the test suite: real HTTP on 127.0.0.1, real wire formats.

Each server speaks one provider's API closely enough that the provider's official SDK, pointed at
`server.base_url`, parses its answers with its own types and raises its own errors for the faults
a test scripts with `server.faults.push(Fault...)`.

    with OpenAIServer() as server:
        server.faults.push(Fault.status(429, retry_after_s=2), Fault.reset())
        ...  # the next two requests fail; the third is answered
        assert server.requests[0].json["model"] == "gpt-4o-mini"
"""

from ._anthropic import AnthropicServer
from ._cohere import CohereServer
from ._faults import Fault, FaultKind, FaultScript
from ._gemini import GeminiServer
from ._openai import OpenAIServer
from ._server import LoopbackServer, Reply, Request, Responder, ToolCallReply, echo

__all__ = [
    "AnthropicServer",
    "CohereServer",
    "Fault",
    "FaultKind",
    "FaultScript",
    "GeminiServer",
    "LoopbackServer",
    "OpenAIServer",
    "Reply",
    "Request",
    "Responder",
    "ToolCallReply",
    "echo",
]

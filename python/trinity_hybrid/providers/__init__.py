"""The providers' wire formats, sans-I/O: each builds an ``HttpRequest`` and reads response
bodies, stream events and error answers back into our types and exceptions. The I/O layer sends
the requests; nothing here touches the network.

    >>> from trinity_hybrid.providers import WIRE_FORMATS, DEFAULT_BASE_URLS, ChatRequest, Endpoint
    >>> endpoint = Endpoint("groq", DEFAULT_BASE_URLS["groq"], "llama-3.3-70b-versatile", key=None)
    >>> WIRE_FORMATS["groq"].build_request(endpoint, ChatRequest.from_prompt("Hi")).url
    'https://api.groq.com/openai/v1/chat/completions'
"""

from __future__ import annotations

from . import anthropic, cohere, gemini, openai_compatible
from ._types import (
    ChatRequest,
    Choice,
    Completion,
    Endpoint,
    HttpRequest,
    Message,
    Prompt,
    StreamDelta,
    StreamParser,
    ThinkingBlock,
    Usage,
    WireFormat,
    normalize_messages,
)

__all__ = [
    "DEFAULT_BASE_URLS",
    "WIRE_FORMATS",
    "ChatRequest",
    "Choice",
    "Completion",
    "Endpoint",
    "HttpRequest",
    "Message",
    "Prompt",
    "StreamDelta",
    "StreamParser",
    "ThinkingBlock",
    "Usage",
    "WireFormat",
    "normalize_messages",
]

WIRE_FORMATS: dict[str, WireFormat] = {
    "openai": openai_compatible.WIRE_FORMAT,
    "anthropic": anthropic.WIRE_FORMAT,
    "google": gemini.WIRE_FORMAT,
    "groq": openai_compatible.WIRE_FORMAT,
    "zhipu": openai_compatible.WIRE_FORMAT,
    "deepseek": openai_compatible.WIRE_FORMAT,
    "kimi": openai_compatible.WIRE_FORMAT,
    "nvidia": openai_compatible.WIRE_FORMAT,
    "cohere": cohere.WIRE_FORMAT,
    "mistral": openai_compatible.WIRE_FORMAT,
}

# In the form the official SDKs take them: each wire format appends its own path.
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "google": "https://generativelanguage.googleapis.com",
    "groq": "https://api.groq.com/openai/v1",
    "zhipu": "https://open.bigmodel.cn/api/paas/v4",
    "deepseek": "https://api.deepseek.com/v1",
    "kimi": "https://api.moonshot.ai/v1",
    "nvidia": "https://integrate.api.nvidia.com/v1",
    "cohere": "https://api.cohere.com",
    "mistral": "https://api.mistral.ai/v1",
}

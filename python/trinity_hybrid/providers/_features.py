"""Which features of a request a wire format carries: the planner skips a provider that lacks
one the request uses, instead of sending a request whose meaning would change.

``features_used`` names what a ``ChatRequest`` asks for beyond plain text chat; each wire format
lists what it translates (``unsupported``'s set) and documents the few it drops by rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._request import ChatRequest

__all__ = ["DROPPED_BY_RULE", "features_used", "first_missing", "parameters", "request_field"]

# Fields that never change an answer's meaning (an end-user id for the provider's abuse
# monitoring, tags for OpenAI's stored completions): a wire format without an equivalent drops
# them, documented in the README's feature table, instead of skipping the provider. Anthropic's
# prompt-caching breakpoints (``cache_control``) are such a hint too, and so is its extended
# thinking (``thinking``, an assistant's ``thinking_blocks``): how to answer, not what;
# ``features_used`` does not even list them, and only the Anthropic format sends them.
DROPPED_BY_RULE = frozenset({"user", "metadata"})


def features_used(request: ChatRequest) -> list[str]:
    """The request's features, by the names the README's feature table uses."""
    used: list[str] = []
    if request.tools or request.tool_choice is not None:
        used.append("tools")
    if any(message.tool_calls or message.role == "tool" for message in request.messages):
        used.append("tool_messages")
    if request.parallel_tool_calls is not None:
        used.append("parallel_tool_calls")
    if request.has_images:
        used.append("images")
    if request.response_format is not None:
        used.append(f"response_format:{request.response_format.type}")
    for name in ("top_p", "seed", "presence_penalty", "frequency_penalty", "user", "metadata", "top_logprobs"):
        if getattr(request, name) is not None:
            used.append(name)
    if request.stop:
        used.append("stop")
    if request.n is not None and request.n > 1:
        used.append("n")
    if request.logprobs:
        used.append("logprobs")
    if request.extra:
        used.extend(f"extra:{name}" for name in request.extra)
    return used


def first_missing(request: ChatRequest, carried: frozenset[str]) -> str | None:
    """The first feature the request uses that ``carried`` lacks (by its name in
    ``features_used``), or None when every one is carried. ``extra:*`` in ``carried`` carries
    every unknown field."""
    if request.plain:
        return None
    for feature in features_used(request):
        if feature in carried or (feature.startswith("extra:") and "extra:*" in carried):
            continue
        return feature
    return None


def request_field(feature: str) -> str:
    """The request field a feature name stands for: ``response_format:json_schema`` is
    ``response_format``, ``extra:foo`` is ``foo``."""
    return feature.removeprefix("extra:").split(":", 1)[0]


def parameters(request: ChatRequest, wire_names: Mapping[str, str]) -> dict[str, Any]:
    """The request's parameters that are set, under the wire format's names (``wire_names``:
    our name -> theirs); sequences as JSON arrays."""
    found: dict[str, Any] = {}
    for name, wire_name in wire_names.items():
        value = getattr(request, name)
        if value is None or value == ():
            continue
        found[wire_name] = list(value) if isinstance(value, tuple) else value
    return found

"""A stream of several choices (``n > 1``): each choice ends with its own finish reason, in the
library's chunks and in the gateway's ``chat.completion.chunk`` events, as OpenAI streams them.

The provider is a loopback OpenAI server whose stream carries two interleaved choices that end
differently: choice 0 writes the whole answer and stops, choice 1 is cut by the token limit
after its first piece (each choice's finish reason in a chunk of its own, as the API sends it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from loopback import LoopbackServer
from loopback._openai import OpenAIWire
from loopback._server import Reply, Request, StreamPlan, sse
from trinity_hybrid import TrinityHybridNode

PROMPT = "one two three four"


class TwoChoicesWire(OpenAIWire):
    """OpenAI's wire, whose streams honour ``n``: choice 0 stops, every other choice is cut by
    the length limit after its first piece."""

    def render_stream(self, request: Request, reply: Reply) -> StreamPlan:
        choices_count = request.json.get("n") or 1
        if choices_count == 1:
            return super().render_stream(request, reply)
        created = int(time.time())

        def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return sse({"id": f"chatcmpl-{reply.id}", "object": "chat.completion.chunk", "created": created,
                        "model": reply.model, "system_fingerprint": "fp_loopback", "choices": [choice]})  # fmt: skip

        head = [chunk(index, {"role": "assistant", "content": ""}) for index in range(choices_count)]
        deltas: list[bytes] = []
        for position, piece in enumerate(reply.pieces):
            deltas.append(chunk(0, {"content": piece}))
            if position == 0:  # the other choices: one piece, then the limit
                for index in range(1, choices_count):
                    deltas += [chunk(index, {"content": piece}), chunk(index, {}, "length")]
        tail = [chunk(0, {}, "stop"), sse("[DONE]")]
        return StreamPlan(head=head, deltas=deltas, tail=tail)


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(TwoChoicesWire(), api_key="sk-loopback-openai", model_ids=("gpt-4o-mini",)) as running:
        yield running


def test_the_library_stream_gives_each_choice_its_finish_reason(server: LoopbackServer) -> None:
    node = TrinityHybridNode.from_env(provider_environment(openai=server))
    node.set_unavailable("local")
    chunks = list(node.infer(PROMPT, stream=True, n=2, max_tokens=50))
    texts: dict[int, str] = {}
    finished: dict[int, str] = {}
    for chunk in chunks[:-1]:
        texts[chunk.index] = texts.get(chunk.index, "") + chunk.text
        if chunk.finish_reason is not None:
            finished[chunk.index] = chunk.finish_reason
    assert texts[0] == f"echo: {PROMPT}" and texts[1] == texts[0][: len(texts[1])] and len(texts[1]) < len(texts[0])
    assert finished == {0: "stop", 1: "length"}  # each in a chunk of its own, as each choice ends
    assert chunks[-1].done and chunks[-1].finish_reason == "stop"


@pytest.fixture(scope="module")
def gateway(server: LoopbackServer) -> Iterator[RunningGateway]:
    with running_gateway(provider_environment(openai=server)) as running:
        yield running


def test_the_gateway_stream_closes_each_choice_with_its_own_reason(gateway: RunningGateway) -> None:
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
    chunks = list(sdk.chat.completions.create(model="openai", messages=[{"role": "user", "content": PROMPT}], n=2,
                                              stream=True))  # fmt: skip
    texts: dict[int, str] = {}
    finished: dict[int, list[str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finished.setdefault(choice.index, []).append(choice.finish_reason)
    assert texts[0] == f"echo: {PROMPT}" and 0 < len(texts[1]) < len(texts[0])
    assert finished == {0: ["stop"], 1: ["length"]}  # each once, each its own
    # Choice 1 is closed when it ends, before choice 0's last pieces, as the provider sent it.
    order = [(choice.index, choice.finish_reason) for chunk in chunks for choice in chunk.choices]
    assert order.index((1, "length")) < max(i for i, (index, _) in enumerate(order) if index == 0)

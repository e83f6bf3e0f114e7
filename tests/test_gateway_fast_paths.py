"""The shortcuts the gateway's request path takes for speed say exactly what the long way said:
the completion template against ``json.dumps`` of the same document, cached endpoints against a
changed configuration, one normalization against the checks it replaced, and the metrics' plain
tally against prometheus_client's own metric objects."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from trinity_hybrid import InvalidInputError, TrinityHybridNode
from trinity_hybrid._results import Attempt
from trinity_hybrid.gateway import _shapes
from trinity_hybrid.gateway._metrics import SPECS, GatewayMetrics
from trinity_hybrid.providers import ChatRequest, Message, Usage

# Any text JSON can carry; lone surrogates cannot be written as UTF-8 either way.
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
counts = st.integers(0, 2**40)


def long_way(identifier: str, model: str, text: str, finish_reason: str | None, usage: Usage) -> dict[str, object]:
    return {
        "id": identifier,
        "object": "chat.completion",
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason or "stop",
            }
        ],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
    }


@settings(max_examples=200, deadline=None)
@given(identifier=texts, model=texts, text=texts, finish_reason=st.none() | texts, prompt=counts, completion=counts)
def test_the_completion_template_is_the_document_json_dumps_would_write(
    identifier: str, model: str, text: str, finish_reason: str | None, prompt: int, completion: int
) -> None:
    before_s = int(time.time())
    body = _shapes.completion(identifier, model, text, finish_reason, Usage(prompt, completion))
    document = json.loads(body)
    created = document.pop("created")
    assert isinstance(created, int) and before_s <= created <= int(time.time())
    assert document == long_way(identifier, model, text, finish_reason, Usage(prompt, completion))
    # Non-ASCII text travels as UTF-8, not as \u escapes, as json.dumps(ensure_ascii=False) wrote it.
    assert all(char.encode() in body for char in text if ord(char) > 0x7F)


@pytest.fixture
def node() -> TrinityHybridNode:
    return TrinityHybridNode.from_env(
        {"GROQ_API_KEY": "gsk-first-key-0123456789", "GROQ_BASE_URL": "http://127.0.0.1:9/openai/v1"}
    )


def test_a_cached_endpoint_follows_model_base_url_and_key_changes(node: TrinityHybridNode) -> None:
    first = node.endpoint("groq")
    assert node.endpoint("groq") is first  # built once while nothing changed
    assert (first.base_url, first.key.reveal()) == ("http://127.0.0.1:9/openai/v1", "gsk-first-key-0123456789")

    node.set_model("groq", "another-model")
    assert node.endpoint("groq").model == "another-model"
    node.set_provider_info("groq", model="a-third-model")
    assert node.endpoint("groq").model == "a-third-model"

    node.base_urls["groq"] = "http://127.0.0.1:10/v1"
    assert node.endpoint("groq").base_url == "http://127.0.0.1:10/v1"
    del node.base_urls["groq"]
    assert node.endpoint("groq").base_url == "https://api.groq.com/openai/v1"

    node.set_available("groq", "gsk-second-key-0123456789")
    assert node.endpoint("groq").key.reveal() == "gsk-second-key-0123456789"
    assert node.endpoint("openai").provider == "openai"  # one cache entry per provider


@pytest.mark.parametrize(
    ("prompt", "wording"),
    [
        ([{"role": "robot", "content": "Hi"}], "role"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "an http.s. URL"),
        ([{"role": "system", "content": "Only a system prompt."}], "user or assistant"),
        ({"role": "user", "content": "a mapping, not a list"}, "sequence of messages"),
        (b"bytes", "sequence of messages"),
    ],
)
def test_a_request_normalized_once_still_refuses_what_it_refused(prompt: object, wording: str) -> None:
    with pytest.raises(InvalidInputError, match=wording):
        ChatRequest.from_prompt(prompt)  # type: ignore[arg-type]


def test_a_request_from_a_prompt_is_normalized() -> None:
    request = ChatRequest.from_prompt(
        [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "x"}]
    )
    assert request.messages == (Message("user", "a\nb", name="x"),)
    assert ChatRequest.from_prompt("Hi").messages == (Message("user", "Hi"),)


def test_completion_ids_keep_openai_shape_and_do_not_repeat() -> None:
    identifiers = [_shapes.completion_id() for _ in range(2000)]
    assert all(re.fullmatch(r"chatcmpl-[0-9a-f]{24}", identifier) for identifier in identifiers)
    assert len(set(identifiers)) == len(identifiers)


providers = st.sampled_from(["groq", "anthropic", "zhipu"])
seconds = st.one_of(
    st.sampled_from([0.0, 0.0001, 0.005, 0.01, 1.0, 120.0, 121.0]),  # on and beside the bucket bounds
    st.floats(0, 500, allow_nan=False),
)
attempts = st.builds(
    Attempt,
    provider=providers,
    outcome=st.sampled_from(["success", "failure", "skipped", "cancelled"]),
    error_type=st.sampled_from([None, "TransientError", "CircuitOpenError"]),
    latency_s=seconds,
)
records = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.sampled_from(["chat", "plan", "other"]), st.one_of(st.none(), providers),
                  st.sampled_from(["success", "client_error", "upstream_error"]), seconds),
        st.tuples(st.just("overhead"), seconds),
        st.tuples(st.just("attempts"), st.lists(attempts, max_size=4)),
        st.tuples(st.just("usage"), providers, st.integers(0, 10**6), st.integers(0, 10**6),
                  st.floats(0, 10, allow_nan=False)),
    ),
    max_size=30,
)  # fmt: skip


def samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    ours = {spec.name for spec in SPECS}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        if family.name in ours
        for sample in family.samples
    }


# The node is only read at scrape time (breakers, cache), by families the comparison leaves out.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records)
def test_the_metrics_tally_exports_what_prometheus_client_objects_would(
    node: TrinityHybridNode, records: list[tuple[object, ...]]
) -> None:
    tally, objects = GatewayMetrics(node, files=False), GatewayMetrics(node, files=True)
    for metrics in (tally, objects):
        for kind, *arguments in records:
            if kind == "request":
                metrics.record_request(*arguments)  # type: ignore[arg-type]
            elif kind == "overhead":
                metrics.record_overhead(*arguments)  # type: ignore[arg-type]
            elif kind == "attempts":
                metrics.record_attempts(*arguments)  # type: ignore[arg-type]
            else:
                metrics.record_usage(*arguments)  # type: ignore[arg-type]
    expected = samples(objects)
    assert expected  # the overhead histogram at least, from the start
    got = samples(tally)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key

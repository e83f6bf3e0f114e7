"""Every error the gateway answers, in OpenAI's shape: authentication, malformed and wrongly
typed bodies, the size limit, unknown paths, upstream failures; and a fuzzer that throws random
JSON and bytes at it and accepts only a 4xx or a valid answer, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import Fault, OpenAIServer
from trinity_hybrid.gateway._serve import choose_host

MESSAGES = [{"role": "user", "content": "Hello there"}]
BODY_BYTES_MAX = 4096


@pytest.fixture(scope="module")
def groq() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(groq: OpenAIServer) -> Iterator[RunningGateway]:
    with running_gateway(
        provider_environment(groq=groq), api_keys=f" other-key-123456789 , {GATEWAY_KEY}", body_bytes_max=BODY_BYTES_MAX
    ) as running:
        yield running


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert set(document) == {"error"}
    error = document["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    return error  # type: ignore[no-any-return]


def test_health_is_open_and_everything_else_needs_a_key(gateway: RunningGateway) -> None:
    assert gateway.request("GET", "/health", authorize=False).json() == {"status": "ok"}
    for method, path in (
        ("GET", "/status"),
        ("GET", "/metrics"),
        ("GET", "/v1/models"),
        ("GET", "/autonomous/status"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/autonomous/plan"),
    ):
        error = assert_openai_error(gateway.request(method, path, authorize=False), 401)
        assert error["code"] == "invalid_api_key"
    for header in ("Bearer wrong-key", f"Basic {GATEWAY_KEY}", f"Bearer {GATEWAY_KEY}x", "Bearer", GATEWAY_KEY):
        assert_openai_error(gateway.request("GET", "/status", headers={"Authorization": header}), 401)
    # Either configured key works, whatever the case of the scheme.
    for header in (f"Bearer {GATEWAY_KEY}", "bearer other-key-123456789"):
        assert gateway.request("GET", "/status", headers={"Authorization": header}).status_code == 200


def test_sdk_sees_authentication_error(gateway: RunningGateway) -> None:
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        sdk.chat.completions.create(model="auto", messages=MESSAGES)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"\xff\xfe\x00", None, "invalid_json"),
        (b"", None, None),
        (b"[1, 2]", None, None),
        (json.dumps({"messages": MESSAGES}).encode(), "model", "missing_required_parameter"),
        (json.dumps({"model": "auto"}).encode(), "messages", "missing_required_parameter"),
        (json.dumps({"model": 7, "messages": MESSAGES}).encode(), "model", "invalid_type"),
        (json.dumps({"model": "auto", "messages": "hi"}).encode(), "messages", "invalid_type"),
        (json.dumps({"model": "auto", "messages": []}).encode(), "messages", None),
        (json.dumps({"model": "auto", "messages": [{"role": "tool", "content": "x"}]}).encode(), "messages", None),
        (json.dumps({"model": "auto", "messages": [{"role": "user", "content": 3}]}).encode(), "messages", None),
        (json.dumps({"model": "auto", "messages": MESSAGES, "stream": "yes"}).encode(), "stream", "invalid_type"),
        (
            json.dumps({"model": "auto", "messages": MESSAGES, "max_tokens": True}).encode(),
            "max_tokens",
            "invalid_type",
        ),
        (json.dumps({"model": "auto", "messages": MESSAGES, "max_tokens": 0}).encode(), "max_tokens", None),
        (json.dumps({"model": "auto", "messages": MESSAGES, "temperature": 9}).encode(), "temperature", None),
        (json.dumps({"model": "auto", "messages": MESSAGES, "quality": "high"}).encode(), "quality", "invalid_type"),
        (json.dumps({"model": "auto", "messages": MESSAGES, "n": 2}).encode(), "n", None),
        (
            json.dumps({"model": "auto", "messages": MESSAGES, "stream_options": {"include_usage": 1}}).encode(),
            "stream_options",
            None,
        ),
    ],
)
def test_bad_bodies_are_400(gateway: RunningGateway, body: bytes, param: str | None, code: str | None) -> None:
    response = gateway.request(
        "POST", "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
    )
    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code


def test_unknown_model_is_404(gateway: RunningGateway) -> None:
    response = gateway.request("POST", "/v1/chat/completions", json={"model": "gpt-5", "messages": MESSAGES})
    assert assert_openai_error(response, 404)["code"] == "model_not_found"


def test_body_over_the_limit_is_413(gateway: RunningGateway, groq: OpenAIServer) -> None:
    requests_before = len(groq.requests)
    big = {"model": "auto", "messages": [{"role": "user", "content": "x" * BODY_BYTES_MAX}]}
    assert (
        assert_openai_error(gateway.request("POST", "/v1/chat/completions", json=big), 413)["code"]
        == "request_too_large"
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        yield b'{"model": "auto", "messages": [{"role": "user", "content": "'
        for _ in range(8):
            yield b"y" * 1024
        yield b'"}]}'

    assert_openai_error(gateway.request("POST", "/v1/chat/completions", content=chunks()), 413)
    assert len(groq.requests) == requests_before


def test_unknown_path_and_method(gateway: RunningGateway) -> None:
    assert assert_openai_error(gateway.request("GET", "/v1/nothing"), 404)["code"] == "not_found"
    assert assert_openai_error(gateway.request("GET", "/v1/chat/completions"), 405)["code"] == "method_not_allowed"


def test_forced_provider_failures_keep_their_meaning(gateway: RunningGateway, groq: OpenAIServer) -> None:
    chat = {"model": "groq", "messages": MESSAGES}
    groq.faults.push(Fault.status(429, retry_after_s=7))
    response = gateway.request("POST", "/v1/chat/completions", json=chat)
    assert assert_openai_error(response, 429)["type"] == "rate_limit_error"
    assert response.headers["retry-after"] == "7"
    gateway.node.reset("groq")
    groq.faults.push(Fault.context_length())
    assert assert_openai_error(gateway.request("POST", "/v1/chat/completions", json=chat), 400)["code"] == (
        "context_length_exceeded"
    )
    groq.faults.push(Fault.reset())
    error = assert_openai_error(gateway.request("POST", "/v1/chat/completions", json=chat), 502)
    assert error["attempts"] == [
        {"provider": "groq", "outcome": "failure", "error_type": "TransientError", "status": None}
    ]
    gateway.node.reset("groq")


def test_stream_failing_midway_ends_with_an_error_event(gateway: RunningGateway, groq: OpenAIServer) -> None:
    groq.faults.push(Fault.stream_cut(2))
    response = gateway.request(
        "POST", "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES, "stream": True}
    )
    assert response.status_code == 200
    events = [event for event in response.text.split("\n\n") if event]
    assert "[DONE]" not in events[-1]
    error = json.loads(events[-1][len("data: ") :])["error"]
    assert error["type"] == "server_error"
    assert error["attempts"][-1] == {"provider": "groq", "outcome": "failure", "error_type": "TransientError", "status": None}
    gateway.node.reset("groq")


def test_binding_rules() -> None:
    assert choose_host(None, protected=False) == ("127.0.0.1", None)
    assert choose_host(None, protected=True) == ("0.0.0.0", None)
    host, warning = choose_host("0.0.0.0", protected=False)
    assert host == "0.0.0.0" and warning is not None and "TRINITY_API_KEYS" in warning
    assert choose_host("0.0.0.0", protected=True) == ("0.0.0.0", None)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = {
    "model": st.sampled_from(["auto", "groq", "nope"]) | JSON_VALUES,
    "messages": st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "x"]) | JSON_VALUES, "content": JSON_VALUES}),
        max_size=3,
    )
    | JSON_VALUES,
    "stream": st.booleans() | JSON_VALUES,
    "max_tokens": st.integers(min_value=-5, max_value=2**70) | JSON_VALUES,
    "temperature": st.floats() | JSON_VALUES,
    "quality": JSON_VALUES,
    "strategy": st.sampled_from(["rule", "random", "fastest"]) | JSON_VALUES,
    "stream_options": JSON_VALUES,
}
BODIES = (
    st.binary(max_size=200)
    | JSON_VALUES.map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries({}, optional=FIELDS).map(lambda value: json.dumps(value).encode())
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, path=st.sampled_from(["/v1/chat/completions", "/autonomous/plan"]))
def test_fuzzed_bodies_never_give_a_500(gateway: RunningGateway, body: bytes, path: str) -> None:
    response = gateway.request("POST", path, content=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_openai_error(response, response.status_code)
    elif response.headers["content-type"] == "application/json":
        assert "choices" in response.json() or "steps" in response.json()
    else:
        assert response.text.endswith("data: [DONE]\n\n")

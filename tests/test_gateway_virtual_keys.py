"""Virtual keys through the real gateway (issue 17, point 3): the official openai SDK as client
with a team's key, loopback providers, and a real Redis shared by two gateway replicas. Limits
(rpm, models, budget) answer 429 / 403 / 402 with Retry-After; one budget holds exactly across
replicas; streams are charged, also when the client leaves; /status and /metrics show spend per
key; the admin API creates, lists and revokes keys; no secret anywhere it could leak."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loopback import Fault, OpenAIServer
from loopback._embeddings import EmbeddingServer
from redis_server import RedisServer, require_binary
from trinity_hybrid.gateway._key_definitions import digest_of
from trinity_hybrid.gateway._log_sinks import COLUMNS, TABLE
from trinity_hybrid.gateway._protocol import GatewayProtocol

SECRET_A = "tk-team-a-secret-0123456789abcdefghij"
SECRET_B = "tk-team-b-secret-abcdefghij0123456789"
ADMIN_KEY = "admin-key-0123456789abcdef-xyz"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
WAIT_S = 30.0  # the longest a test waits for the gateway to settle a stream it no longer reads


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    require_binary()
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def provider() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def config(tmp_path: Path, namespace: str, **team_a: Any) -> Path:
    lines = [
        "[models.fast]",
        'targets = ["openai/gpt-4o-mini"]',
        "[virtual_keys]",
        f'namespace = "{namespace}"',
        "op_timeout_s = 5.0",
        "[[virtual_keys.keys]]",
        'name = "team-a"',
        f'secret_sha256 = "{digest_of(SECRET_A)}"',
        *(f"{name} = {json.dumps(value)}" for name, value in team_a.items()),
        "[[virtual_keys.keys]]",
        'name = "team-b"',
        f'secret_sha256 = "{digest_of(SECRET_B)}"',
    ]
    path = tmp_path / f"trinity-{namespace}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def environment(provider: OpenAIServer, tmp_path: Path, redis_url: str | None, **team_a: Any) -> dict[str, str]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    values = {
        **provider_environment(openai=provider),
        "TRINITY_CONFIG": str(config(tmp_path, namespace, **team_a)),
        "TRINITY_ADMIN_KEY": ADMIN_KEY,
        "TRINITY_REQUEST_LOG_STDOUT": "false",
        "TRINITY_REQUEST_LOG_SQLITE": str(tmp_path / f"log-{namespace}.db"),
    }
    if redis_url is not None:
        values["TRINITY_REDIS_URL"] = redis_url
    return values


def sdk(gateway: RunningGateway, secret: str = SECRET_A) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


def key_line(gateway: RunningGateway, name: str) -> dict[str, Any]:
    status = gateway.request("GET", "/status").json()
    return next(line for line in status["virtual_keys"]["keys"] if line["name"] == name)


def fresh_minute() -> None:
    """Limits per minute: start a test early in a UTC minute, so that it does not roll over."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


def test_a_key_over_its_rpm_gets_429_with_retry_after(provider: OpenAIServer, tmp_path: Path) -> None:
    fresh_minute()
    with running_gateway(environment(provider, tmp_path, None, rpm=2)) as gateway:
        client = sdk(gateway)
        for _ in range(2):
            client.chat.completions.create(model="auto", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model="auto", messages=MESSAGES)
        assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
        body = refused.value.body
        assert isinstance(body, dict) and body["code"] == "rate_limit_exceeded" and "team-a" in body["message"]
        assert len(provider.requests) == 2  # the refused request reached no provider
        # Another key, and an operator's key (TRINITY_API_KEYS: no limits), are not limited by it.
        sdk(gateway, SECRET_B).chat.completions.create(model="auto", messages=MESSAGES)
        sdk(gateway, GATEWAY_KEY).chat.completions.create(model="auto", messages=MESSAGES)
        with pytest.raises(openai.AuthenticationError):
            sdk(gateway, "tk-not-a-key").chat.completions.create(model="auto", messages=MESSAGES)


def test_a_model_the_key_may_not_use_is_a_403(provider: OpenAIServer, tmp_path: Path) -> None:
    with running_gateway(environment(provider, tmp_path, None, models=["fast"])) as gateway:
        client = sdk(gateway)
        assert client.chat.completions.create(model="fast", messages=MESSAGES).model == "openai/gpt-4o-mini"
        with pytest.raises(openai.PermissionDeniedError) as refused:
            client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)
        body = refused.value.body
        assert isinstance(body, dict) and body["code"] == "model_not_allowed" and "fast" in body["message"]
        assert len(provider.requests) == 1


def test_a_key_over_its_budget_gets_402_and_spend_is_what_answers_cost(provider: OpenAIServer, tmp_path: Path) -> None:
    budget = 0.0003
    with running_gateway(environment(provider, tmp_path, None, budget_day_usd=budget)) as gateway:
        client = sdk(gateway)
        first = client.chat.completions.create(model="auto", messages=MESSAGES, max_tokens=5)
        assert first.usage is not None
        cost = key_line(gateway, "team-a")["spend_day_usd"]
        expected = (first.usage.prompt_tokens * 2.5 + first.usage.completion_tokens * 10.0) / 1e6
        assert cost == pytest.approx(expected)
        answered = 1
        with pytest.raises(openai.APIStatusError) as refused:
            for _ in range(int(budget / cost) + 2):
                client.chat.completions.create(model="auto", messages=MESSAGES, max_tokens=5)
                answered += 1
        assert refused.value.status_code == 402
        assert int(refused.value.response.headers["retry-after"]) >= 1
        assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "budget_exceeded"
        line = key_line(gateway, "team-a")
        assert line["spend_day_nano_usd"] == round(cost * 1e9) * answered
        assert line["spend_day_usd"] <= budget and line["reserved_day_usd"] == 0
        assert len(provider.requests) == answered


def test_two_replicas_sharing_redis_enforce_one_budget_exactly(
    provider: OpenAIServer, tmp_path: Path, redis_url: str
) -> None:
    budget = 0.0003
    values = environment(provider, tmp_path, redis_url, budget_day_usd=budget)
    with running_gateway(values) as one, running_gateway(values) as two:
        replicas = [one, two]
        outcomes = []
        for index in range(30):
            try:
                sdk(replicas[index % 2]).chat.completions.create(model="auto", messages=MESSAGES, max_tokens=5)
                outcomes.append(200)
            except openai.APIStatusError as error:
                outcomes.append(error.status_code)
        admitted = outcomes.count(200)
        assert admitted >= 3 and outcomes == [200] * admitted + [402] * (30 - admitted)
        lines = [key_line(replica, "team-a") for replica in replicas]
        # One budget, seen alike by both, spent to the nano-dollar: every answer's cost, summed.
        assert lines[0]["spend_day_nano_usd"] == lines[1]["spend_day_nano_usd"]
        cost = lines[0]["spend_day_nano_usd"] // admitted
        assert lines[0]["spend_day_nano_usd"] == cost * admitted <= budget * 1e9
        assert lines[0]["reserved_day_usd"] == 0
        assert len(provider.requests) == admitted


def test_two_replicas_refuse_past_a_shared_rpm_exactly(provider: OpenAIServer, tmp_path: Path, redis_url: str) -> None:
    fresh_minute()
    values = environment(provider, tmp_path, redis_url, rpm=5)
    with running_gateway(values) as one, running_gateway(values) as two:
        statuses = []
        for index in range(12):
            try:
                sdk([one, two][index % 2]).chat.completions.create(model="auto", messages=MESSAGES)
                statuses.append(200)
            except openai.RateLimitError:
                statuses.append(429)
        assert statuses == [200] * 5 + [429] * 7


def test_a_stream_is_charged_and_one_the_client_leaves_is_charged_its_reservation(
    provider: OpenAIServer, tmp_path: Path
) -> None:
    # serve's protocol: a hang-up cancels the request (plain uvicorn would stream on to nobody).
    with running_gateway(environment(provider, tmp_path, None), http=GatewayProtocol) as gateway:
        client = sdk(gateway)
        chunks = list(
            client.chat.completions.create(
                model="auto", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )
        usage = chunks[-1].usage
        assert usage is not None
        line = key_line(gateway, "team-a")
        assert line["spend_day_usd"] == pytest.approx((usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1e6)
        before = line["spend_day_nano_usd"]
        provider.faults.push(Fault.slow_chunks(5.0))
        with httpx.stream(
            "POST",
            gateway.url + "/v1/chat/completions",
            json={"model": "auto", "messages": MESSAGES, "stream": True, "max_tokens": 50},
            headers={"Authorization": f"Bearer {SECRET_A}"},
            timeout=30.0,
        ) as response:
            assert response.status_code == 200
            next(response.iter_bytes())  # the first event, then the client hangs up
        deadline = time.monotonic() + WAIT_S
        while (line := key_line(gateway, "team-a"))["reserved_day_usd"] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert line["reserved_day_usd"] == 0
        charged = line["spend_day_nano_usd"] - before
        assert charged > 0  # what was reserved for it: prompt estimate + 50 tokens at gpt-4o's price
        assert charged >= 50 * 10.0 * 1e3


def test_status_and_metrics_show_spend_per_key_and_need_an_operator_or_admin_key(
    provider: OpenAIServer, tmp_path: Path
) -> None:
    with running_gateway(environment(provider, tmp_path, None, budget_day_usd=5.0)) as gateway:
        sdk(gateway).chat.completions.create(model="auto", messages=MESSAGES)
        status = gateway.request("GET", "/status").json()["virtual_keys"]
        assert [line["name"] for line in status["keys"]] == ["team-a", "team-b"]
        assert status["keys"][0]["spend_day_usd"] > 0 and status["keys"][1]["spend_day_usd"] == 0
        assert status["counters_total"]["admitted"] == 1
        exposition = gateway.request("GET", "/metrics").text
        assert 'trinity_virtual_key_spend_usd{key="team-a",window="day"}' in exposition
        assert 'trinity_virtual_key_admissions_total{outcome="admitted"} 1.0' in exposition
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert gateway.request("GET", "/status", authorize=False, headers=admin).status_code == 200
        team = {"Authorization": f"Bearer {SECRET_A}"}
        for path in ("/status", "/metrics"):
            assert gateway.request("GET", path, authorize=False, headers=team).status_code == 401
        assert gateway.request("GET", "/v1/models", authorize=False, headers=team).status_code == 200
        for path in ("/v1/models", "/autonomous/status"):
            assert gateway.request("GET", path, authorize=False, headers={"x-api-key": "nope"}).status_code == 401
            assert gateway.request("GET", path, authorize=False).status_code == 401


def test_the_admin_api_creates_lists_and_revokes_keys(provider: OpenAIServer, tmp_path: Path) -> None:
    with running_gateway(environment(provider, tmp_path, None)) as gateway:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        body = {"name": "team-c", "rpm": 100, "budget_day_usd": 1.0}
        for headers in ({}, {"Authorization": f"Bearer {GATEWAY_KEY}"}, {"Authorization": f"Bearer {SECRET_A}"}):
            refused = gateway.request("POST", "/admin/keys", authorize=False, headers=headers, json=body)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_admin_key"
        created = gateway.request("POST", "/admin/keys", authorize=False, headers=admin, json=body)
        assert created.status_code == 201
        secret = created.json()["secret"]
        assert sdk(gateway, secret).chat.completions.create(model="auto", messages=MESSAGES).choices
        listed = gateway.request("GET", "/admin/keys", authorize=False, headers=admin).json()["keys"]
        assert [key["name"] for key in listed] == ["team-a", "team-b", "team-c"]
        assert secret not in json.dumps(listed) and digest_of(secret) not in json.dumps(listed)
        assert gateway.request("POST", "/admin/keys", authorize=False, headers=admin, json=body).status_code == 409
        revoked = gateway.request("DELETE", "/admin/keys/team-c", authorize=False, headers=admin)
        assert revoked.status_code == 200 and revoked.json() == {"deleted": "team-c"}
        with pytest.raises(openai.AuthenticationError):
            sdk(gateway, secret).chat.completions.create(model="auto", messages=MESSAGES)
        configured = gateway.request("DELETE", "/admin/keys/team-a", authorize=False, headers=admin)
        assert configured.status_code == 409
        bad = gateway.request("POST", "/admin/keys", authorize=False, headers=admin, content=b"{nope")
        assert bad.status_code == 400


def test_without_an_admin_key_the_admin_api_does_not_exist(provider: OpenAIServer, tmp_path: Path) -> None:
    values = environment(provider, tmp_path, None)
    del values["TRINITY_ADMIN_KEY"]
    with running_gateway(values) as gateway:
        answer = gateway.request("GET", "/admin/keys", authorize=False, headers={"Authorization": "Bearer x" * 3})
        assert answer.status_code == 404


@pytest.fixture(scope="module")
def admin_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with ExitStack() as stack:
        server = stack.enter_context(OpenAIServer())
        values = environment(server, tmp_path_factory.mktemp("admin"), None)
        yield stack.enter_context(running_gateway(values))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.dictionaries(
            st.sampled_from(["name", "models", "rpm", "tpm", "budget_day_usd", "budget_month_usd", "secret", "x"]),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(),
                st.text(max_size=80),
                st.lists(st.text(max_size=20), max_size=3),
            ),
        ),
        st.lists(st.integers(), max_size=3),
        st.text(max_size=40),
    )
)
@example(body={"name": "k0", "rpm": float("inf")})
@example(body={"name": "k1", "rpm": float("-inf")})
@example(body={"name": "k2", "rpm": float("nan")})
@example(body={"name": "k3", "tpm": float("inf")})
@example(body={"name": "k4", "tpm": float("-inf")})
@example(body={"name": "k5", "tpm": float("nan")})
@example(body={"name": "k6", "budget_day_usd": float("inf")})
@example(body={"name": "k7", "budget_day_usd": float("-inf")})
@example(body={"name": "k8", "budget_day_usd": float("nan")})
@example(body={"name": "k9", "budget_month_usd": float("inf")})
@example(body={"name": "k10", "budget_month_usd": float("-inf")})
@example(body={"name": "k11", "budget_month_usd": float("nan")})
def test_any_admin_body_is_created_or_a_4xx(admin_gateway: RunningGateway, body: Any) -> None:
    # json.dumps as Python writes it: NaN and Infinity too, which strict JSON has not.
    answer = admin_gateway.request(
        "POST", "/admin/keys", authorize=False, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        content=json.dumps(body).encode(),
    )  # fmt: skip
    assert answer.status_code in (201, 400, 409), answer.text
    if answer.status_code != 201:
        assert answer.json()["error"]["message"]
    else:
        name = answer.json()["key"]["name"]
        assert admin_gateway.request(
            "DELETE", f"/admin/keys/{name}", authorize=False, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ).status_code == 200  # fmt: skip


def test_no_secret_in_answers_status_metrics_or_the_request_log(
    provider: OpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    values = environment(provider, tmp_path, None, rpm=1, models=["auto"])
    values["TRINITY_REQUEST_LOG_STDOUT"] = "true"  # and SQLite: both sinks
    caplog.set_level("DEBUG", logger="trinity_hybrid")
    caplog.set_level("DEBUG", logger="uvicorn")
    with running_gateway(values) as gateway:
        client = sdk(gateway)
        answers: list[str] = []
        answers.append(client.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES).text)
        for model in ("auto", "fast"):  # over rpm, then a model not allowed
            try:
                client.chat.completions.create(model=model, messages=MESSAGES)
            except openai.APIStatusError as error:
                answers.append(error.response.text + json.dumps(dict(error.response.headers)))
        for headers in ({"Authorization": f"Bearer tk-wrong-{SECRET_A}"}, {"x-api-key": SECRET_A[:-1]}, {}):
            answers.append(gateway.request("POST", "/v1/chat/completions", authorize=False, headers=headers,
                                           json={"model": "auto", "messages": MESSAGES}).text)  # fmt: skip
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        created = gateway.request("POST", "/admin/keys", authorize=False, headers=admin, json={"name": "new"})
        new_secret = created.json()["secret"]
        answers += [gateway.request("GET", path, authorize=False, headers=admin).text
                    for path in ("/admin/keys", "/admin/spend", "/admin/keys/team-a", "/status")]  # fmt: skip
        answers.append(gateway.request("GET", "/metrics").text)
        assert gateway.app.observer.log.flush()
        database = tmp_path / Path(values["TRINITY_REQUEST_LOG_SQLITE"]).name
        rows = sqlite3.connect(database).execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}").fetchall()
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    assert [record["key_name"] for record in records if record["status"] != 401] == ["team-a"] * 3
    # The gateway's own log lines (the test's SDK logs what it sends, its own key included).
    logged = [record.getMessage() for record in caplog.records if record.name.startswith(("trinity", "uvicorn"))]
    printed = "".join(capfd.readouterr())
    assert printed.count('"key_name":"team-a"') + printed.count('"key_name": "team-a"') == 3
    seen = "\n".join([*answers, json.dumps(records), *logged, printed])
    for secret in (SECRET_A, SECRET_B, new_secret, ADMIN_KEY, provider.api_key, GATEWAY_KEY):
        assert secret not in seen
    for secret in (SECRET_A, SECRET_B, new_secret):
        assert digest_of(secret) not in seen


def test_messages_and_embeddings_count_against_the_same_key(provider: OpenAIServer, tmp_path: Path) -> None:
    fresh_minute()
    values = environment(provider, tmp_path, None, rpm=3)
    with EmbeddingServer() as embedder:
        values.update({"COHERE_API_KEY": embedder.api_key, "COHERE_BASE_URL": embedder.origin})
        with running_gateway(values) as gateway:
            claude = anthropic.Anthropic(base_url=gateway.url, api_key=SECRET_A, max_retries=0)
            claude.messages.create(model="auto", max_tokens=20, messages=MESSAGES)  # type: ignore[arg-type]
            embedded = sdk(gateway).embeddings.create(model="cohere", input="a sentence")
            assert embedded.data and len(embedder.requests) == 1
            sdk(gateway).chat.completions.create(model="auto", messages=MESSAGES)
            with pytest.raises(anthropic.RateLimitError) as refused:  # Anthropic's shape on /v1/messages
                claude.messages.create(model="auto", max_tokens=20, messages=MESSAGES)  # type: ignore[arg-type]
            body = refused.value.body
            assert isinstance(body, dict) and body["error"]["type"] == "rate_limit_error"
            assert "rpm" in body["error"]["message"] and refused.value.response.headers["retry-after"]
            with pytest.raises(openai.RateLimitError):
                sdk(gateway).embeddings.create(model="cohere", input="a sentence")
            assert len(embedder.requests) == 1
            assert key_line(gateway, "team-a")["requests_minute"] == 3


def test_an_embeddings_hold_is_priced_at_the_embedding_model(provider: OpenAIServer, tmp_path: Path) -> None:
    """A budget of $0.00001 a day: a hold at cohere's chat price, with 512 output tokens, is
    about $0.005 and refused (the chat request below shows it); an embeddings call holds its
    input at embed-v4.0's $0.12 per million tokens, is admitted, and is charged what it cost."""
    values = environment(provider, tmp_path, None, budget_day_usd=0.00001)
    with EmbeddingServer() as embedder:
        values.update({"COHERE_API_KEY": embedder.api_key, "COHERE_BASE_URL": embedder.origin})
        with running_gateway(values) as gateway:
            embedded = sdk(gateway).embeddings.create(model="cohere", input="a sentence to embed")
            assert embedded.data and len(embedder.requests) == 1
            line = key_line(gateway, "team-a")
            assert line["spend_day_usd"] == pytest.approx(embedded.usage.prompt_tokens * 0.12 / 1e6)
            assert line["reserved_day_usd"] == 0
            with pytest.raises(openai.APIStatusError) as refused:
                sdk(gateway).chat.completions.create(model="cohere", messages=MESSAGES)
            assert refused.value.status_code == 402 and len(embedder.requests) == 1


def test_the_embeddings_estimate_without_output_and_at_listed_prices_only() -> None:
    from trinity_hybrid import TrinityHybridNode
    from trinity_hybrid.gateway._admission import estimate

    node = TrinityHybridNode.from_env({"OPENAI_API_KEY": "sk-test-0", "COHERE_API_KEY": "co-test-0"})
    plan = node.embedding_plan(["one text", "another text"], force_provider="openai")
    tokens, cost = estimate(plan, node)
    assert tokens == plan.route.tokens_estimated > 0  # no output tokens
    assert cost == pytest.approx(tokens * 0.02 / 1e6)  # text-embedding-3-small
    plan = node.embedding_plan("one text")  # the chain: the dearest listed embedding model
    tokens, cost = estimate(plan, node)
    assert cost == pytest.approx(tokens * 0.12 / 1e6)  # cohere embed-v4.0 over openai's 0.02
    unlisted = TrinityHybridNode.from_env({"COHERE_API_KEY": "co-test-0", "COHERE_EMBEDDING_MODEL": "embed-unlisted"})
    plan = unlisted.embedding_plan("one text", force_provider="cohere")
    assert estimate(plan, unlisted)[1] == 0.0  # charged by the same list: nothing to hold
    node.close()
    unlisted.close()


@pytest.mark.parametrize("failure_mode", ["open", "closed"])
def test_when_redis_goes_away_the_failure_mode_decides(
    provider: OpenAIServer, tmp_path: Path, failure_mode: str
) -> None:
    require_binary()
    with RedisServer() as redis_server:
        values = environment(provider, tmp_path, redis_server.url, rpm=100)
        config_path = Path(values["TRINITY_CONFIG"])
        text = config_path.read_text().replace(
            "op_timeout_s = 5.0", f'op_timeout_s = 1.0\nfailure_mode = "{failure_mode}"'
        )
        config_path.write_text(text)
        with running_gateway(values) as gateway:
            sdk(gateway).chat.completions.create(model="auto", messages=MESSAGES)  # seen in Redis
            redis_server.stop()
            if failure_mode == "open":
                assert sdk(gateway).chat.completions.create(model="auto", messages=MESSAGES).choices
                status = gateway.request("GET", "/status").json()["virtual_keys"]
                assert status["mode"] == "degraded" and status["counters_total"]["degraded_admits"] >= 1
                assert redis_server.url not in json.dumps(status)
            else:
                with pytest.raises(openai.APIStatusError) as refused:
                    sdk(gateway).chat.completions.create(model="auto", messages=MESSAGES)
                assert refused.value.status_code == 503
                assert refused.value.response.headers["retry-after"] == "1"
                assert len(provider.requests) == 1

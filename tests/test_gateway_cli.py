"""`trinity-hybrid serve` as a user runs it (a subprocess, several workers), `status --url`
against it, the metrics of several workers added up, the binding warning, what it prints at start
and on a busy port, and the Grafana dashboard's queries against the metrics the gateway really
exports."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner
from gateway_harness import GATEWAY_KEY, free_port, provider_environment, running_gateway
from loopback import OpenAIServer
from prometheus_client.parser import text_string_to_metric_families
from trinity_hybrid._cli import main
from trinity_hybrid.gateway._metrics import METRIC_NAMES

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "trinity-hybrid.json"
STARTUP_TIMEOUT_S = 60.0
TRINITY_HYBRID = str(Path(sys.executable).parent / "trinity-hybrid")


def base_environment() -> dict[str, str]:
    """A user's environment with nothing that configures a provider (PYTHONPATH kept, for a run
    against a source tree)."""
    return {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "PYTHONPATH") if name in os.environ}


@contextmanager
def serve(arguments: list[str], environment: dict[str, str], port: int) -> Iterator[subprocess.Popen[str]]:
    """The CLI's gateway in a subprocess, until /health answers; stopped with SIGTERM."""
    process = subprocess.Popen(
        [TRINITY_HYBRID, "serve", "--port", str(port), *arguments],
        env={**base_environment(), **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker processes from /proc")
def test_serve_with_workers_and_status_url(openai_server: OpenAIServer) -> None:
    port = free_port()
    environment = {**provider_environment(groq=openai_server), "TRINITY_API_KEYS": GATEWAY_KEY}
    with serve(["--host", "127.0.0.1", "--workers", "2"], environment, port) as process:
        url = f"http://127.0.0.1:{port}"
        sdk = openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
        answers = {
            sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": f"Hi {n}"}])
            .choices[0]
            .message.content
            for n in range(6)
        }
        assert answers == {f"echo: Hi {n}" for n in range(6)}
        # uvicorn spawns one process per worker, each with its own node.
        workers = [pid for pid in children(process.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 2

        runner = CliRunner()
        shown = runner.invoke(main, ["status", "--json", "--url", url], env={"TRINITY_API_KEY": GATEWAY_KEY})
        assert shown.exit_code == 0, shown.output
        document = json.loads(shown.stdout)
        assert document["providers"]["groq"]["key"] == openai_server.api_key[:8] + "***"
        table = runner.invoke(main, ["status", "--url", url, "--api-key", GATEWAY_KEY])
        assert table.exit_code == 0 and "groq" in table.stdout
        refused = runner.invoke(main, ["status", "--url", url, "--api-key", "wrong"], env={"TRINITY_API_KEY": ""})
        assert refused.exit_code == 1
        assert "401" in refused.stderr and refused.stdout == ""
    unreachable = CliRunner().invoke(main, ["status", "--url", url])
    assert unreachable.exit_code == 1 and "cannot reach" in unreachable.stderr


def chat_samples(url: str) -> tuple[float, float]:
    """(successful chat requests counted, request durations observed) in one scrape."""
    text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {GATEWAY_KEY}"}, timeout=10.0).text
    counted = observed = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("endpoint") != "chat":
                continue
            if sample.name == "trinity_gateway_requests_total" and sample.labels["outcome"] == "success":
                counted += sample.value
            elif sample.name == "trinity_gateway_request_duration_seconds_count":
                observed += sample.value
    return counted, observed


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker processes from /proc")
def test_metrics_of_several_workers_add_up_and_their_directory_goes_away(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    port = free_port()
    environment = {
        **provider_environment(groq=openai_server),
        "TRINITY_API_KEYS": GATEWAY_KEY,
        "TMPDIR": str(temporary),
    }
    url = f"http://127.0.0.1:{port}"

    def ask(number: int) -> None:
        # A connection per request, so that the kernel hands them to either worker.
        answer = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": f"Hi {number}"}]},
            headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
            timeout=30.0,
        )
        assert answer.status_code == 200, answer.text

    with serve(["--host", "127.0.0.1", "--workers", "2"], environment, port):
        (directory,) = temporary.glob("trinity-metrics-*")
        sent = 0
        serving: set[str] = set()
        with ThreadPoolExecutor(8) as pool:
            # Counter files appear once a worker has counted a request: until both have.
            while len(serving) < 2 and sent < 400:
                list(pool.map(ask, range(sent, sent + 16)))
                sent += 16
                serving = {path.stem.split("_")[1] for path in directory.glob("counter_*.db")}
        assert len(serving) == 2
        for _ in range(4):  # whichever worker answers the scrape
            assert chat_samples(url) == (sent, sent)
    assert not list(temporary.iterdir())


def test_serve_refuses_a_metrics_directory_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = CliRunner().invoke(main, ["serve", "--workers", "2"], env={"PROMETHEUS_MULTIPROC_DIR": str(missing)})
    assert result.exit_code == 1
    assert "PROMETHEUS_MULTIPROC_DIR" in result.stderr and "not a directory" in result.stderr
    assert not missing.exists()


def test_serve_without_keys_warns_when_told_to_listen_everywhere(openai_server: OpenAIServer) -> None:
    port = free_port()
    with serve(["--host", "0.0.0.0"], provider_environment(groq=openai_server), port) as process:
        assert httpx.get(f"http://127.0.0.1:{port}/status", timeout=5.0).status_code == 200  # open: no keys
    warning = process.communicate()[1]
    assert "neither TRINITY_API_KEYS nor virtual keys are set" in warning
    assert openai_server.api_key not in warning


VIRTUAL_SECRET = "tvk-serve-test-0123456789abcdef"
ADMIN_KEY = "tadm-serve-test-0123456789abcdef"


def test_serve_with_virtual_keys_alone_is_protected_and_listens_everywhere(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    """[virtual_keys] in TRINITY_CONFIG and no TRINITY_API_KEYS: every request needs a key, so
    serve binds every interface by default without the warning, and a request without a key is
    a 401 while the virtual key's is answered (the openai SDK)."""
    from trinity_hybrid.gateway._key_definitions import digest_of

    config = tmp_path / "trinity.toml"
    config.write_text(
        f'[virtual_keys]\n[[virtual_keys.keys]]\nname = "team-a"\nsecret_sha256 = "{digest_of(VIRTUAL_SECRET)}"\n'
    )
    environment = {**provider_environment(groq=openai_server), "TRINITY_CONFIG": str(config),
                   "TRINITY_REQUEST_LOG_SQLITE": str(tmp_path / "log.db")}  # fmt: skip
    port = free_port()
    with serve([], environment, port) as process:
        url = f"http://127.0.0.1:{port}"
        body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=10.0).status_code == 401
        sdk = openai.OpenAI(base_url=url + "/v1", api_key=VIRTUAL_SECRET, max_retries=0)
        completion = sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
        assert completion.choices[0].message.content == "echo: hi"
        for path in ("/status", "/metrics"):  # not with the virtual key, nor without one
            for headers in ({}, {"Authorization": f"Bearer {VIRTUAL_SECRET}"}):
                answer = httpx.get(url + path, headers=headers, timeout=10.0)
                assert answer.status_code == 401 and "TRINITY_ADMIN_KEY" in answer.json()["error"]["message"]
    out, err = process.communicate()
    assert out.startswith(f"listening on http://0.0.0.0:{port} ")
    assert "warning" not in err and VIRTUAL_SECRET not in out + err
    # No operator or admin key: /status and /metrics (key names, spend) are read by nobody, and serve says so.
    assert "note: /status and /metrics answer 401 to everyone" in err


def test_serve_with_only_the_admin_key_takes_an_explicit_host_without_a_warning(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    environment = {**provider_environment(groq=openai_server), "TRINITY_ADMIN_KEY": ADMIN_KEY,
                   "TRINITY_REQUEST_LOG_SQLITE": str(tmp_path / "log.db")}  # fmt: skip
    port = free_port()
    with serve(["--host", "0.0.0.0"], environment, port) as process:
        body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=10.0)
        assert answer.status_code == 401  # protected: no key, no answer
        assert openai_server.requests == []
    out, err = process.communicate()
    assert out.startswith(f"listening on http://0.0.0.0:{port} ")
    assert "warning" not in err and ADMIN_KEY not in out + err


@pytest.mark.parametrize(
    ("variables", "table", "protected", "status_guarded"),
    [
        ({}, "", False, False),
        ({"TRINITY_API_KEYS": " , "}, "", False, False),  # no key in it: Authenticator requires none
        ({"TRINITY_ADMIN_KEY": "  "}, "", False, False),
        ({"TRINITY_API_KEYS": "k1"}, "", True, True),
        ({"TRINITY_ADMIN_KEY": ADMIN_KEY}, "", True, True),
        ({}, "[virtual_keys]\n", True, False),
        ({"TRINITY_ADMIN_KEY": ADMIN_KEY}, "[virtual_keys]\n", True, True),
        ({}, '[models.fast]\ntargets = ["openai"]\n', False, False),
    ],
)
def test_what_counts_as_protected_and_where_serve_binds(
    tmp_path: Path, variables: dict[str, str], table: str, protected: bool, status_guarded: bool
) -> None:
    from trinity_hybrid.gateway._serve import choose_host, protection

    environ = dict(variables)
    if table:
        config = tmp_path / "trinity.toml"
        config.write_text(table)
        environ["TRINITY_CONFIG"] = str(config)
    assert protection(environ) == (protected, status_guarded)
    host, warning = choose_host(None, protected)
    assert (host, warning) == ("0.0.0.0" if protected else "127.0.0.1", None)
    host, warning = choose_host("0.0.0.0", protected)
    assert host == "0.0.0.0" and (warning is None) is protected


def test_serve_on_a_busy_port_says_so_in_one_line_and_exits_1() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = subprocess.run(
            [TRINITY_HYBRID, "serve", "--port", str(port)],
            check=False, env=base_environment(), capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S,
        )  # fmt: skip
    assert ran.returncode == 1
    assert ran.stderr == (
        f"error: cannot listen on http://127.0.0.1:{port}: the port is in use "
        "(another server listens there; choose another with --port)\n"
    )
    assert ran.stdout == ""


def read_lines(process: subprocess.Popen[str], count: int) -> list[str]:
    """The first ``count`` lines the process prints, waiting at most STARTUP_TIMEOUT_S for them.
    Read from the pipe's descriptor: a text stream's readline would take both lines into its own
    buffer when they arrive together, and select would then wait for bytes already read."""
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while received.count(b"\n") < count:
            shown = received.decode(errors="replace").splitlines()
            assert selector.select(max(0.0, deadline - time.monotonic())), f"printed only {shown}"
            data = os.read(descriptor, 65536)
            assert data, f"the process ended after {shown}: {process.communicate()[1]}"
            received += data
    return received.decode().splitlines()[:count]


def test_serve_prints_its_address_and_providers_without_keys(openai_server: OpenAIServer) -> None:
    environment = {**base_environment(), **provider_environment(groq=openai_server)}
    process = subprocess.Popen(
        [TRINITY_HYBRID, "serve", "--port", "0"], env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        address, providers = read_lines(process, 2)
        found = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+)) \(OpenAI-compatible API at /v1\)", address)
        assert found, address
        assert int(found[2]) > 0  # the port the kernel chose for --port 0, not 0
        assert providers == "providers: groq, local"
        # The printed address is where the gateway answers.
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                models = httpx.get(found[1] + "/v1/models", timeout=5.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nothing answered at the printed address"
                time.sleep(0.1)
        assert models.status_code == 200 and "groq/" in models.text
    finally:
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=20)
    # No key on either stream, not even its masked prefix.
    everything = address + providers + output + errors
    assert openai_server.api_key not in everything and openai_server.api_key[:8] not in everything


def test_serve_rejects_a_bad_configuration() -> None:
    result = CliRunner().invoke(main, ["serve"], env={"GROQ_BASE_URL": "ftp://nowhere"})
    assert result.exit_code == 1
    assert "GROQ_BASE_URL" in result.stderr


def dashboard_metric_names() -> set[str]:
    document = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in document["panels"] for target in panel.get("targets", [])]
    assert expressions, "the dashboard has no queries"
    names = set()
    for expression in expressions:
        for name in re.findall(r"\b((?:trinity|process)_[a-z_]+)\b", expression):
            names.add(re.sub(r"_(bucket|sum|count)$", "", name))
    return names


def test_dashboard_queries_only_exported_metrics(openai_server: OpenAIServer) -> None:
    used = dashboard_metric_names()
    assert used <= set(METRIC_NAMES), used - set(METRIC_NAMES)
    assert set(METRIC_NAMES) <= used, f"not on the dashboard: {set(METRIC_NAMES) - used}"
    with running_gateway(provider_environment(groq=openai_server)) as gateway:
        gateway.request(
            "POST", "/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
        )
        exported = {family.name for family in text_string_to_metric_families(gateway.request("GET", "/metrics").text)}
    # The parser names counters without their _total suffix.
    exported |= {f"{name}_total" for name in exported}
    assert set(METRIC_NAMES) <= exported, set(METRIC_NAMES) - exported

"""`trinity-hybrid demo` end to end: against loopback provider servers speaking the real wire
formats (fallback and the breaker shown by --fail, skip-with-reason for long context, the JSON
document, the plot, exit codes, each answer shown within 80 columns, a missing LOCAL_MODEL_PATH),
and once on the real local model with two prompts, in a subprocess as a user runs it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from environments import keyless_environment
from loopback import AnthropicServer, OpenAIServer, Request
from rich.cells import cell_len
from trinity_hybrid._cli import main
from trinity_hybrid.demo._suite import DemoPrompt, production_suite

PROMPT_KEYS = {"category", "prompt", "language", "route", "provider", "fallback", "latency_s", "tokens_per_s",
               "coherent", "text"}  # fmt: skip
SUMMARY_KEYS = {"prompts", "coherent", "tokens_per_s", "languages", "providers", "fallbacks"}
# A reply in each language the suite expects, around the prompt's known answer.
REPLIES = {
    "en": "The answer is {answer}. It was worked out step by step.",
    "zh": "答案是{answer}。这是一个简短的回答。",
    "ru": "Ответ: {answer}. Это короткий ответ на вопрос.",
    "ja": "答えは{answer}です。これは短い答えです。",
    "ko": "정답은 {answer}입니다. 이것은 짧은 대답입니다.",
    None: "The answer is {answer}.",
}


def scripted_model(prompts: tuple[DemoPrompt, ...]):  # type: ignore[no-untyped-def]
    """A responder that answers each suite prompt well: in its language, with its known answer."""
    by_text = {prompt.prompt: prompt for prompt in prompts}

    def respond(request: Request) -> str:
        prompt = by_text[request.user_text]
        answer = prompt.answers[0] if prompt.answers else "clear"
        return REPLIES[prompt.answer_language].format(answer=answer)

    return respond


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in an environment with no provider configured, whatever the machine's holds."""
    for variable in list(os.environ):
        if variable.endswith(("_API_KEY", "_BASE_URL", "_MODEL")) or variable in (
            "TRINITY_CONFIG", "TRINITY_STRATEGY", "DEFAULT_LLM_PROVIDER", "LOCAL_MODEL_PATH",
            "COLUMNS",  # rich's width when the output is not a terminal: 80 unless this says otherwise
        ):  # fmt: skip
            monkeypatch.delenv(variable)
    return CliRunner()


def widest_line(output: str) -> int:
    """The widest line in terminal cells (a Chinese character takes two)."""
    return max(cell_len(line) for line in output.splitlines())


def shown_start(text: str) -> str:
    """The first words of an answer, as the demo's answer line begins."""
    return " ".join(text.split())[:24]


def configure(monkeypatch: pytest.MonkeyPatch, provider: str, server: OpenAIServer | AnthropicServer) -> None:
    monkeypatch.setenv(f"{provider.upper()}_API_KEY", server.api_key)
    monkeypatch.setenv(f"{provider.upper()}_BASE_URL", server.base_url)


def test_fallback_and_breaker_show_in_the_json(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    suite = production_suite()
    with (
        OpenAIServer(responder=scripted_model(suite)) as groq,
        AnthropicServer(responder=scripted_model(suite)) as anthropic,
    ):
        configure(monkeypatch, "groq", groq)
        configure(monkeypatch, "anthropic", anthropic)
        # One refused connection per prompt (no same-provider retry, tests/test_retries.py), so
        # that the three failures that open the breaker are three prompts' fallbacks.
        monkeypatch.setenv("TRINITY_RETRIES", "0")
        out = tmp_path / "demo.json"
        result = runner.invoke(main, ["demo", "--fail", "groq", "--json", str(out)])
        assert result.exit_code == 0, result.output
        assert groq.requests == []  # unreachable: its calls went to a closed port
        assert len(anthropic.requests) == 24
    document = json.loads(out.read_text(encoding="utf-8"))
    prompts = document["prompts"]
    assert [prompt["category"] for prompt in prompts] == [prompt.category for prompt in suite]
    # The first prompts route to groq first (the fastest) and fall back to anthropic; three
    # refused connections open groq's breaker, and from then on routes leave it out.
    with_groq = [prompt for prompt in prompts if "groq" in prompt["route"]]
    assert with_groq == prompts[:3]
    for prompt in with_groq:
        assert prompt["route"][0] == "groq" and prompt["provider"] == "anthropic" and prompt["fallback"] is True
        assert [(attempt["provider"], attempt["outcome"]) for attempt in prompt["attempts"]] == [
            ("groq", "failure"), ("anthropic", "success")]  # fmt: skip
    assert all(prompt["fallback"] is False for prompt in prompts[3:])
    assert document["status"]["providers"]["groq"]["state"] == "open"
    assert document["status"]["providers"]["groq"]["failed_calls"] == 3
    # The long-context prompts fit only anthropic's 200K window, and were sent to it.
    long_context = [prompt for prompt in prompts if prompt["category"] == "Long context"]
    assert [prompt["route"] for prompt in long_context] == [["anthropic"], ["anthropic"]]
    assert all(prompt["provider"] == "anthropic" and prompt["coherent"] for prompt in long_context)
    summary = document["summary"]
    assert summary["prompts"] == 24
    assert summary["coherent"] == 24  # the scripted model answers everything well
    assert summary["providers"] == {"anthropic": 24}
    assert summary["fallbacks"] == 3
    assert summary["languages"] == {"en": 12, "zh": 5, "ru": 3, "ja": 2, "ko": 2}
    assert "Providers after the run" in result.stdout
    assert "24/24" in result.stdout
    # Each answer is shown as it comes, and every line fits an 80-column terminal.
    for prompt in prompts:
        assert shown_start(prompt["text"]) in result.stdout, prompt["text"]
    assert widest_line(result.stdout) <= 80


def test_json_schema(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with OpenAIServer() as groq:  # the echo responder: the answer repeats the prompt
        configure(monkeypatch, "groq", groq)
        out = tmp_path / "demo.json"
        result = runner.invoke(main, ["demo", "--category", "math", "--category", "Korean", "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert set(document) >= {"prompts", "summary"}
    assert len(document["prompts"]) == 5
    for prompt in document["prompts"]:
        assert set(prompt) >= PROMPT_KEYS
        assert prompt["provider"] == "groq" and prompt["fallback"] is False
        assert isinstance(prompt["route"], list) and prompt["route"][0] == "groq"
        assert prompt["latency_s"] > 0 and prompt["tokens_per_s"] > 0
        assert isinstance(prompt["coherent"], bool)
        assert prompt["text"].startswith("echo: ")
        assert set(prompt["coherence"]) == {"non_empty", "language", "repetition", "answer"}
    assert set(document["summary"]) >= SUMMARY_KEYS
    assert document["summary"]["prompts"] == 5
    # An echo of a math question holds no answer: measured, so not coherent.
    math = [prompt for prompt in document["prompts"] if prompt["category"] == "Math"]
    assert all(prompt["coherence"]["answer"]["found"] is False for prompt in math)
    assert document["summary"]["coherent"] == sum(prompt["coherent"] for prompt in document["prompts"]) < 5


def test_long_context_is_skipped_with_its_reason_when_no_window_holds_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with OpenAIServer() as groq:  # a 128K window, and local's 8K
        configure(monkeypatch, "groq", groq)
        out = tmp_path / "demo.json"
        result = runner.invoke(main, ["demo", "--category", "long context", "--json", str(out)])
        assert groq.requests == []
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    for prompt in document["prompts"]:
        assert prompt["provider"] is None and prompt["coherent"] is None and prompt["route"] == []
        assert "no configured provider's context window holds it (largest: groq, 128,000)" in prompt["skipped"]
        assert prompt["tokens_estimated"] > 128_000
    assert document["summary"]["skipped"] == 2
    # The reason is shown in full, wrapped within 80 columns, not cut.
    assert " 1/2 Long context · en · no provider's window holds it · skipped" in result.stdout
    assert "(largest: groq, 128,000)" in result.stdout
    assert widest_line(result.stdout) <= 80


def test_exit_codes(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = runner.invoke(main, ["demo", "--fail", "nope", "--category", "Factual"])
    assert unknown.exit_code == 1
    assert "--fail 'nope' is not a provider" in unknown.stderr
    not_configured = runner.invoke(main, ["demo", "--fail", "groq", "--category", "Factual"])
    assert not_configured.exit_code == 1
    assert "not configured here (available: local)" in not_configured.stderr
    assert runner.invoke(main, ["demo", "--category", "Poetry"]).exit_code == 2
    assert runner.invoke(main, ["demo", "--max-tokens", "0"]).exit_code == 2
    with OpenAIServer() as groq:
        configure(monkeypatch, "groq", groq)
        # Every provider unreachable: the run completes, reports each failure, and exits 1.
        nothing = runner.invoke(main, ["demo", "--fail", "groq", "--fail", "local", "--category", "Factual"])
    assert nothing.exit_code == 1, nothing.output
    assert "no prompt was answered" in nothing.stderr
    assert " 1/1 Factual · en · groq → local · failed" in nothing.stdout


def test_a_local_model_path_that_names_no_file_stops_the_demo_at_once(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-model.gguf"
    monkeypatch.setenv("LOCAL_MODEL_PATH", str(missing))
    offline = runner.invoke(main, ["demo", "--category", "Factual"])
    assert offline.exit_code == 1
    assert offline.stderr.splitlines() == [f"error: local: LOCAL_MODEL_PATH={str(missing)!r} is not a file"]
    assert offline.stdout == ""
    # With a remote provider configured the path is still wrong: nothing is sent.
    with OpenAIServer() as groq:
        configure(monkeypatch, "groq", groq)
        with_groq = runner.invoke(main, ["demo", "--category", "Factual"])
        assert groq.requests == []
    assert with_groq.exit_code == 1
    assert len(with_groq.stderr.splitlines()) == 1 and "LOCAL_MODEL_PATH" in with_groq.stderr


def test_plot_writes_a_png(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with OpenAIServer() as groq, AnthropicServer() as anthropic:
        configure(monkeypatch, "groq", groq)
        configure(monkeypatch, "anthropic", anthropic)
        out = tmp_path / "demo.png"
        result = runner.invoke(main, ["demo", "--category", "Math", "--category", "Chinese", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


def test_plot_without_matplotlib_says_how_to_install(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *rest: None if name == "matplotlib" else find_spec(name, *rest)
    )
    result = runner.invoke(main, ["demo", "--plot", str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert "pip install 'trinity-hybrid[plot]'" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_neither_the_package_nor_the_cli_imports_rich() -> None:
    code = (
        "import sys, trinity_hybrid, trinity_hybrid._cli\n"
        "from trinity_hybrid._cli import main\n"
        "main.get_command(None, 'demo')\n"  # what `trinity-hybrid --help` loads
        "assert not [m for m in sys.modules if m.split('.')[0] in ('rich', 'matplotlib', 'httpx')], sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_dash_m_is_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "trinity_hybrid", "route", "--json", "Объясните, как работает фотосинтез."],
        capture_output=True, text=True, check=True, env={**os.environ, "GROQ_API_KEY": ""},
    )  # fmt: skip
    assert json.loads(completed.stdout)["language"] == "ru"
    listed = subprocess.run(
        [sys.executable, "-m", "trinity_hybrid", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in listed.stdout and "route" in listed.stdout


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None and not os.environ.get("CI"),
    reason="the [local] extra is not installed",
)
def test_offline_on_the_real_local_model(tmp_path: Path) -> None:
    """As a user runs it, in a process of its own, so that anything llama.cpp writes to the
    standard streams, from C or from Python, would be seen."""
    out = tmp_path / "demo.json"
    ran = subprocess.run(
        [sys.executable, "-m", "trinity_hybrid", "demo", "--category", "Factual", "--category", "Logic",
         "--max-tokens", "16", "--json", str(out)],
        check=False, env=keyless_environment(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "offline, on the embedded local model" in ran.stdout
    # llama.cpp's log lines (its context-size warning among them) stay out of the output.
    assert "llama_" not in ran.stdout + ran.stderr and "n_ctx" not in ran.stdout + ran.stderr
    assert ran.stderr == ""
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [prompt["category"] for prompt in document["prompts"]] == ["Logic", "Factual"]
    for prompt in document["prompts"]:
        assert prompt["provider"] == "local" and prompt["route"] == ["local"]
        assert prompt["text"].strip()
        assert shown_start(prompt["text"]) in ran.stdout
        assert 0 < prompt["tokens_output"] <= 16
        assert isinstance(prompt["coherent"], bool)  # measured; a 135M model may well fail it
    assert document["summary"]["providers"] == {"local": 2}
    assert document["status"]["providers"]["local"]["successful_calls"] == 2
    assert widest_line(ran.stdout) <= 80

"""The `trinity-hybrid` command line: output, JSON shapes, exit codes and errors on stderr."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from trinity_hybrid import TrinityHybridNode, detect_language
from trinity_hybrid._cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_route_json_matches_the_library(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test_0123456789")
    monkeypatch.setenv("ZHIPU_API_KEY", "zhipu_test_0123456789")
    prompt = "请用中文解释量子计算的基本原理。"
    result = runner.invoke(main, ["route", "--json", prompt])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    expected = TrinityHybridNode.from_env().route(prompt)
    assert shown["providers"] == list(expected.providers)
    assert shown["providers"][0] == "zhipu"
    assert shown["reason"] == expected.reason == "cjk"
    assert shown["language"] == "zh"
    assert shown["tokens_estimated"] == expected.tokens_estimated


def test_route_reads_standard_input(runner: CliRunner) -> None:
    result = runner.invoke(main, ["route", "--json", "-"], input="Объясните, как работает фотосинтез.")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["language"] == "ru"


def test_unknown_provider_is_a_runtime_error_on_stderr(runner: CliRunner) -> None:
    result = runner.invoke(main, ["route", "hello", "--force", "nope"])
    assert result.exit_code == 1
    assert "unknown force_provider 'nope'" in result.stderr
    assert result.stdout == ""


def test_bad_strategy_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["route", "hello", "--strategy", "fastest-please"])
    assert result.exit_code == 2
    assert "fastest-please" in result.stderr


def test_detect_json_matches_the_library(runner: CliRunner) -> None:
    text = "日本の首都はどこですか？"
    result = runner.invoke(main, ["detect", "--json", text])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    detection = detect_language(text)
    assert shown == {"language": "ja", "confidence": detection.confidence, "scripts": detection.scripts}


def test_status_masks_keys(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "gsk_live_SECRETSECRETSECRET"
    monkeypatch.setenv("GROQ_API_KEY", key)
    for arguments in (["status"], ["status", "--json"]):
        result = runner.invoke(main, arguments)
        assert result.exit_code == 0, result.output
        assert key not in result.output
        assert "SECRET" not in result.output
        assert "groq" in result.output

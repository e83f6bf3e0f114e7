"""Prices follow the model, not the provider (issue 16, point 9): overriding ``<PROVIDER>_MODEL``
re-prices the provider from data/prices.json, or says the price is unknown; the data file and
the core's catalogue agree on every default model; the refresh script reads a price list."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest
from loopback import OpenAIServer
from trinity_hybrid import TrinityHybridNode
from trinity_hybrid._prices import PRICES_FILE, price_of

ROOT = Path(__file__).resolve().parent.parent


def test_every_default_model_has_the_catalogues_price() -> None:
    node = TrinityHybridNode()
    for provider in node.provider_names:
        info = node.provider_info(provider)
        price = price_of(provider, info["model"])
        if provider == "custom":
            assert price is None  # an endpoint of the user's: its model is theirs to price
            continue
        assert price is not None, f"{provider}/{info['model']} is missing from {PRICES_FILE.name}"
        assert (price.input_usd_per_mtok, price.output_usd_per_mtok) == pytest.approx(
            (info["price_input_usd_per_mtok"], info["price_output_usd_per_mtok"]), rel=1e-6
        )


def test_overriding_the_model_changes_the_cost(openai_server: OpenAIServer) -> None:
    environment = {"GROQ_API_KEY": openai_server.api_key, "GROQ_BASE_URL": openai_server.base_url}
    default = TrinityHybridNode.from_env(environment).infer("Hello there", force_provider="groq")
    cheaper = TrinityHybridNode.from_env({**environment, "GROQ_MODEL": "llama-3.1-8b-instant"})
    answer = cheaper.infer("Hello there", force_provider="groq")
    assert answer.usage == default.usage
    assert 0 < answer.cost_usd < default.cost_usd
    expected = (answer.usage.prompt_tokens * 0.05 + answer.usage.completion_tokens * 0.08) / 1e6
    assert answer.cost_usd == pytest.approx(expected, rel=1e-3)


def test_an_unlisted_model_says_its_price_is_unknown(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="trinity_hybrid"):
        node = TrinityHybridNode.from_env({"GROQ_API_KEY": "gsk_0123456789", "GROQ_MODEL": "my-own-finetune"})
    assert node.status()["providers"]["groq"]["price_known"] is False
    assert node.provider_info("groq")["price_input_usd_per_mtok"] == 0.0
    assert "no price is known for groq model 'my-own-finetune'" in caplog.text
    node.set_model("groq", "llama-3.3-70b-versatile")
    assert node.status()["providers"]["groq"]["price_known"] is True
    assert node.provider_info("groq")["price_input_usd_per_mtok"] == pytest.approx(0.59)


def test_the_config_files_own_price_wins(tmp_path: Path) -> None:
    config = tmp_path / "trinity.toml"
    config.write_text('[providers.groq]\nmodel = "my-own-finetune"\nprice_input_usd_per_mtok = 1.5\n')
    node = TrinityHybridNode.from_env({"TRINITY_CONFIG": str(config), "GROQ_API_KEY": "gsk_0123456789"})
    assert node.provider_info("groq")["price_input_usd_per_mtok"] == pytest.approx(1.5)


def test_the_refresh_script_takes_the_lists_prices(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("refresh_prices", ROOT / "scripts" / "refresh_prices.py")
    assert spec is not None and spec.loader is not None
    refresh_prices = importlib.util.module_from_spec(spec)
    sys.modules["refresh_prices"] = refresh_prices
    spec.loader.exec_module(refresh_prices)
    document = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    before = document["models"]["openai/gpt-4o"]
    price_list = {
        "gpt-4o": {"input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6, "mode": "chat"},
        "gpt-4o-mini": {"input_cost_per_token": 1.5e-7, "output_cost_per_token": 6e-7, "mode": "chat",
                        "cache_read_input_token_cost": 7.5e-8, "cache_creation_input_token_cost": 1.875e-7},
        "groq/llama-3.1-8b-instant": {"input_cost_per_token": 5e-8, "output_cost_per_token": 8e-8, "mode": "chat"},
        "groq/new-model": {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7, "mode": "chat"},
        "claude-3-5-haiku-20241022": {"input_cost_per_token": 1e-6, "output_cost_per_token": 5e-6, "mode": "chat",
                                      "cache_read_input_token_cost": 1e-7, "cache_creation_input_token_cost": 1.25e-6,
                                      "cache_creation_input_token_cost_above_1hr": 2e-6},
        "groq/hour-only": {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7, "mode": "chat",
                           "cache_creation_input_token_cost_above_1hr": 2e-7},
    }
    changed = refresh_prices.refresh(document, price_list, add=True)
    assert document["models"]["openai/gpt-4o"] == [2.0, 8.0]
    assert document["models"]["groq/new-model"] == [0.1, 0.2]
    assert f"openai/gpt-4o: {before} -> [2.0, 8.0]" in changed
    # Prompt caching's prices follow the two, where the list has them.
    assert document["models"]["openai/gpt-4o-mini"] == [0.15, 0.6, 0.075, 0.1875]
    # And an hour-long cache write's after them (Anthropic's), in its place when the others are missing.
    assert document["models"]["anthropic/claude-3-5-haiku-20241022"] == [1.0, 5.0, 0.1, 1.25, 2.0]
    assert document["models"]["groq/hour-only"] == [0.1, 0.2, None, None, 0.2]
    assert not any(line.startswith("groq/llama-3.1-8b-instant") for line in changed)  # unchanged

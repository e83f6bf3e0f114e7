"""Refreshes python/trinity_hybrid/data/prices.json from a public price list.

    python scripts/refresh_prices.py model_prices_and_context_window.json [--add]

The list is LiteLLM's ``model_prices_and_context_window.json`` (a public file, kept current by
its community; download it yourself: this script never touches the network). Each model of our
file takes the list's price where the list has the model (under its provider's prefix or bare);
``--add`` also adds the list's other chat models of our providers. Prices are per million tokens:
[input, output], then the cached input's and the cache write's where the list has them, and an
hour-long cache write's (Anthropic's) where it has that.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

PRICES_FILE = Path(__file__).resolve().parent.parent / "python" / "trinity_hybrid" / "data" / "prices.json"
# Our provider names -> the prefixes the list files their models under.
LIST_PREFIXES = {
    "openai": ("", "openai/"),
    "anthropic": ("", "anthropic/"),
    "google": ("gemini/", ""),
    "groq": ("groq/",),
    "zhipu": ("zai/", "zhipu/"),
    "deepseek": ("deepseek/", ""),
    "kimi": ("moonshot/",),
    "nvidia": ("nvidia_nim/",),
    "cohere": ("cohere_chat/", "cohere/", ""),
    "mistral": ("mistral/",),
}
TOKENS_PER_MTOK = 1_000_000


def list_price(entries: dict[str, dict[str, object]], provider: str, model: str) -> list[float] | None:
    for prefix in LIST_PREFIXES.get(provider, ()):
        entry = entries.get(prefix + model)
        if entry is None:
            continue
        cost_in, cost_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if isinstance(cost_in, (int, float)) and isinstance(cost_out, (int, float)):
            price: list[float | None] = [per_mtok(cost_in), per_mtok(cost_out)]
            cached, written = entry.get("cache_read_input_token_cost"), entry.get("cache_creation_input_token_cost")
            written_1h = entry.get("cache_creation_input_token_cost_above_1hr")
            if isinstance(cached, (int, float)) or isinstance(written, (int, float)):
                price += [per_mtok(cached), per_mtok(written)]  # either may be None: the input's price
            if isinstance(written_1h, (int, float)):
                price += [None, None][len(price) - 2 :] + [per_mtok(written_1h)]
            return price  # type: ignore[return-value]
    return None


def per_mtok(cost_per_token: object) -> float | None:
    return round(cost_per_token * TOKENS_PER_MTOK, 6) if isinstance(cost_per_token, (int, float)) else None


def refresh(document: dict[str, object], entries: dict[str, dict[str, object]], add: bool) -> list[str]:
    """Updates ``document["models"]`` in place; returns what changed, one line each."""
    models: dict[str, list[float]] = document["models"]  # type: ignore[assignment]
    changed: list[str] = []
    for key, old in sorted(models.items()):
        provider, model = key.split("/", 1)
        new = list_price(entries, provider, model)
        if new is not None and new != old:
            models[key] = new
            changed.append(f"{key}: {old} -> {new}")
    if add:
        for provider, prefixes in LIST_PREFIXES.items():
            for name, entry in entries.items():
                prefix = next((p for p in prefixes if p and name.startswith(p)), None)
                if prefix is None or entry.get("mode") != "chat":
                    continue
                key = f"{provider}/{name.removeprefix(prefix)}"
                price = list_price(entries, provider, name.removeprefix(prefix))
                if key not in models and price is not None:
                    models[key] = price
                    changed.append(f"{key}: added {price}")
    document["updated"] = datetime.date.today().isoformat()
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("price_list", type=Path)
    parser.add_argument("--add", action="store_true", help="add the list's other chat models of our providers")
    arguments = parser.parse_args()
    entries = json.loads(arguments.price_list.read_text(encoding="utf-8"))
    document = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    changed = refresh(document, entries, arguments.add)
    PRICES_FILE.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print("\n".join(changed) or "no price changed")


if __name__ == "__main__":
    main()

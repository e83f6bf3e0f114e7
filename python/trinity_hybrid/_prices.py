"""Prices per model, not per provider: one data file, ``data/prices.json``.

A provider's catalogue entry carries the price of its default model. When its model changes
(``<PROVIDER>_MODEL``, the config file, ``set_model``), the board asks this room for the new
model's price: a listed model gets its own, an unlisted one has no known price, which the
status says (``price_known: false``) and a warning names once, rather than charging the old
model's price for another model. ``scripts/refresh_prices.py`` rewrites the file.

A model's entry is ``[input, output]`` in USD per million tokens, then, where its provider bills
prompt caching apart, the cached input's price and the cache write's (either null: the input's).
``cost_usd_of`` prices an answer's usage with them; the board, which knows two prices, is told
that cost (``Board.record_success(cost_usd=...)``) when the answer read or wrote the cache.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ._exceptions import ConfigurationError

if TYPE_CHECKING:
    from .providers._types import Usage

__all__ = ["PRICES_FILE", "Price", "cost_usd", "cost_usd_of", "price_of"]

PRICES_FILE = Path(__file__).resolve().parent / "data" / "prices.json"
logger = logging.getLogger("trinity_hybrid")


@dataclass(frozen=True, slots=True)
class Price:
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    # Prompt caching's prices (Anthropic: reads 0.1x, writes 1.25x the input's for 5 minutes, 2x
    # for an hour; OpenAI, Gemini, DeepSeek: cached input 0.1-0.5x); None: billed as input (an
    # hour's write with no price of its own: as a 5-minute one).
    cached_input_usd_per_mtok: float | None = None
    cache_write_usd_per_mtok: float | None = None
    cache_write_1h_usd_per_mtok: float | None = None


def _price(entry: list[float | None]) -> Price:
    extra = [None if value is None else float(value) for value in entry[2:5]]
    return Price(float(entry[0]), float(entry[1]), *extra)  # type: ignore[arg-type]


@cache
def _prices(path: Path = PRICES_FILE) -> dict[str, Price]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {name: _price(entry) for name, entry in document["models"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise ConfigurationError(f"the price file {path} cannot be read: {type(error).__name__}") from None


def price_of(provider: str, model: str) -> Price | None:
    """``model``'s price at ``provider`` (listed as ``provider/model``), or None when unknown."""
    return _prices().get(f"{provider}/{model}")


def cost_usd(provider: str, model: str, tokens_input: int, tokens_output: int = 0) -> float:
    """The tokens at ``model``'s listed price at ``provider``; 0 when it has none."""
    price = price_of(provider, model)
    if price is None:
        return 0.0
    return (tokens_input * price.input_usd_per_mtok + tokens_output * price.output_usd_per_mtok) / 1_000_000


def cost_usd_of(provider: str, model: str, usage: Usage) -> float | None:
    """An answer's ``usage`` (``providers.Usage``) at ``model``'s listed prices, its cached and
    cache-written prompt tokens at their own; None when the model has no listed price."""
    price = price_of(provider, model)
    if price is None:
        return None
    cached = usage.cached_tokens or 0
    written_5m, written_1h = usage.cache_writes_by_ttl()
    uncached = max(0, usage.prompt_tokens - cached - written_5m - written_1h)
    input_price = price.input_usd_per_mtok
    cached_price = input_price if price.cached_input_usd_per_mtok is None else price.cached_input_usd_per_mtok
    write_price = input_price if price.cache_write_usd_per_mtok is None else price.cache_write_usd_per_mtok
    write_1h_price = write_price if price.cache_write_1h_usd_per_mtok is None else price.cache_write_1h_usd_per_mtok
    cost_usd: float = uncached * input_price + cached * cached_price
    cost_usd += written_5m * write_price + written_1h * write_1h_price
    return (cost_usd + usage.completion_tokens * price.output_usd_per_mtok) / 1_000_000

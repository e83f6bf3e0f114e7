"""Prices per model, not per provider: one data file, ``data/prices.json``.

A provider's catalogue entry carries the price of its default model. When its model changes
(``<PROVIDER>_MODEL``, the config file, ``set_model``), the board asks this room for the new
model's price: a listed model gets its own, an unlisted one has no known price, which the
status says (``price_known: false``) and a warning names once, rather than charging the old
model's price for another model. ``scripts/refresh_prices.py`` rewrites the file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ._exceptions import ConfigurationError

__all__ = ["PRICES_FILE", "Price", "cost_usd", "price_of"]

PRICES_FILE = Path(__file__).resolve().parent / "data" / "prices.json"
logger = logging.getLogger("trinity_hybrid")


@dataclass(frozen=True, slots=True)
class Price:
    input_usd_per_mtok: float
    output_usd_per_mtok: float


@cache
def _prices(path: Path = PRICES_FILE) -> dict[str, Price]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {name: Price(float(pair[0]), float(pair[1])) for name, pair in document["models"].items()}
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

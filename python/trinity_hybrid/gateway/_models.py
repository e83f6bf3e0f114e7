"""The model names a request may give, and what each routes to."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._node import TrinityHybridNode

__all__ = ["served_models"]


def served_models(node: TrinityHybridNode) -> dict[str, str | None]:
    """Model names a request may give, each with the provider it forces: ``auto`` (none), then
    ``<provider>/<model>`` and ``<provider>`` for every available provider."""
    models: dict[str, str | None] = {"auto": None}
    for provider in node.available_providers:
        models[f"{provider}/{node.provider_info(provider)['model']}"] = provider
        models[provider] = provider
    return models

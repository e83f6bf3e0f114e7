"""The model names a request may give, and what each routes to (issue 17, point 1).

    "auto"                  the rules' chain (strategy, quality, the prompt's features)
    "<provider>"            that provider alone with its configured model (forced: no fallback)
    "<provider>/<model>"    that provider asked for that model first; then, as fallback, the
                            providers the rules would have tried for this prompt, without that
                            one, each with its configured model
    "<alias>"               an alias's targets, from TRINITY_CONFIG:

    [models.fast]
    targets = ["groq/llama-3.3-70b-versatile", "openai/gpt-4o-mini"]   # provider/model or provider
    strategy = "priority"      # "priority": in the order listed; "round_robin": the first target
                               # rotates from one request to the next (the rest follow in order)
    fallback = "none"          # "none": the targets alone; "rules": then the rules' chain's others

``<model>`` may be any name the provider knows (the gateway does not keep a catalogue of them):
letters, digits and ``._:@+/-``, at most ``MODEL_CHARS_MAX``, no ``..``. A provider without a
key is not routable. ``GET /v1/models`` lists ``auto``, the aliases and each available
provider's configured ``<provider>/<model>``; an unknown name is a 404 ``model_not_found``
whose message lists the routable names.

``ServedModels`` is a ``dict`` (name -> the provider a name forces, None when it forces none) of
the names listed, so the request parsers keep their ``models: dict[str, str | None]`` parameter
and their ``served_model(document, models)`` / ``models[model]`` calls; ``name in models`` also
accepts ``<provider>/<any model>``. What a name routes to is ``models.route(name)``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from .._node import TrinityHybridNode

__all__ = ["ModelRoute", "ServedModels", "parse_aliases", "served_models"]

MODEL_CHARS_MAX = 200
ALIASES_MAX = 256
TARGETS_MAX = 16
STRATEGIES = ("priority", "round_robin")
FALLBACKS = ("none", "rules")
_MODEL = re.compile(r"[A-Za-z0-9._:@+/-]+")
_ALIAS = re.compile(r"[A-Za-z0-9._:@+-]{1,64}")
Target = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """What a model name asks of ``node.plan``: a forced provider, or named ``targets``
    (``rules_fallback``: followed by the rules' chain's other providers), or neither (the rules)."""

    force_provider: str | None = None
    targets: tuple[Target, ...] | None = None
    rules_fallback: bool = False


@dataclass(slots=True)
class Alias:
    name: str
    targets: tuple[Target, ...]
    strategy: str
    fallback: str
    _turn: Any = None

    def route(self) -> ModelRoute:
        targets = self.targets
        if self.strategy == "round_robin" and len(targets) > 1:
            if self._turn is None:
                self._turn = itertools.cycle(range(len(targets)))
            first = next(self._turn)
            targets = targets[first:] + targets[:first]
        return ModelRoute(targets=targets, rules_fallback=self.fallback == "rules")


def valid_model_name(model: str) -> bool:
    """A provider's model name as a request may give it."""
    return 0 < len(model) <= MODEL_CHARS_MAX and _MODEL.fullmatch(model) is not None and ".." not in model


def split_target(name: str) -> Target:
    """``provider/model`` (split at the first ``/``) or ``provider``."""
    provider, _, model = name.partition("/")
    return provider, model or None


class ServedModels(dict[str, str | None]):
    """The routable names; see the module's docstring."""

    def __init__(self, listed: dict[str, str | None], providers: tuple[str, ...], aliases: dict[str, Alias]) -> None:
        super().__init__(listed)
        self.providers = providers
        self.aliases = aliases

    def __contains__(self, name: object) -> bool:
        if dict.__contains__(self, name):
            return True
        if not isinstance(name, str) or "/" not in name:
            return False
        provider, model = split_target(name)
        return provider in self.providers and model is not None and valid_model_name(model)

    def __missing__(self, name: str) -> str | None:
        if name in self:  # <provider>/<any model>: not forced, its targets carry it
            return None
        raise KeyError(name)

    def route(self, name: str) -> ModelRoute:
        """What ``name`` (one ``name in self``) routes to."""
        alias = self.aliases.get(name)
        if alias is not None:
            return alias.route()
        if name == "auto":
            return ModelRoute()
        provider, model = split_target(name)
        if model is None:
            return ModelRoute(force_provider=provider)
        return ModelRoute(targets=((provider, model),), rules_fallback=True)

    def names(self) -> list[str]:
        """The routable names as the 404 lists them."""
        listed = [name for name, provider in self.items() if provider is None or "/" in name]
        return [*listed, *(f"{provider}/<any model>" for provider in self.providers)]


def served_models(node: TrinityHybridNode, document: Mapping[str, Any] | None = None) -> ServedModels:
    """The names a request may give: ``auto`` (forcing none), the aliases of ``document``'s
    ``[models]``, then ``<provider>/<model>`` and ``<provider>`` for every available provider.
    Raises ``ConfigurationError`` (naming the key) for a bad ``[models]`` table."""
    providers = tuple(node.available_providers)
    aliases = parse_aliases(document or {}, tuple(node.status()["providers"]))
    models: dict[str, str | None] = {"auto": None}
    models.update(dict.fromkeys(aliases))
    for provider in providers:
        models[f"{provider}/{node.provider_info(provider)['model']}"] = provider
        models[provider] = provider
    return ServedModels(models, providers, aliases)


def parse_aliases(document: Mapping[str, Any], provider_names: tuple[str, ...]) -> dict[str, Alias]:
    """``[models.<alias>]`` tables, checked: errors name the key, as ``_config``'s do."""
    table = document.get("models", {})
    if not isinstance(table, dict):
        raise ConfigurationError("TRINITY_CONFIG models: must be a table of [models.<alias>] tables")
    if len(table) > ALIASES_MAX:
        raise ConfigurationError(f"TRINITY_CONFIG models: at most {ALIASES_MAX} aliases")
    aliases: dict[str, Alias] = {}
    for name, entry in table.items():
        where = f"TRINITY_CONFIG models.{name}"
        if not _ALIAS.fullmatch(name) or name == "auto" or name in provider_names:
            raise ConfigurationError(
                f"{where}: an alias is 1 to 64 letters, digits or '._:@+-', and neither 'auto' nor a provider's name"
            )
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where}: must be a table")
        unknown = sorted(set(entry) - {"targets", "strategy", "fallback"})
        if unknown:
            raise ConfigurationError(f"{where}.{unknown[0]}: unknown key; expected one of fallback, strategy, targets")
        targets = entry.get("targets")
        if not isinstance(targets, list) or not 0 < len(targets) <= TARGETS_MAX:
            raise ConfigurationError(f'{where}.targets: must be a list of 1 to {TARGETS_MAX} "provider/model" names')
        aliases[name] = Alias(
            name,
            tuple(_target(target, provider_names, f"{where}.targets") for target in targets),
            _choice(entry, "strategy", STRATEGIES, where),
            _choice(entry, "fallback", FALLBACKS, where),
        )
    return aliases


def _target(target: object, provider_names: tuple[str, ...], where: str) -> Target:
    if not isinstance(target, str):
        raise ConfigurationError(f"{where}: must hold strings, got {target!r}")
    provider, model = split_target(target)
    if provider not in provider_names:
        raise ConfigurationError(
            f"{where}: {target!r}: unknown provider {provider!r}; expected one of {', '.join(provider_names)}"
        )
    if model is not None and not valid_model_name(model):
        raise ConfigurationError(f"{where}: {target!r}: not a valid model name")
    return provider, model


def _choice(entry: Mapping[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    value = entry.get(key, choices[0])
    if value not in choices:
        raise ConfigurationError(f"{where}.{key}: must be one of {', '.join(choices)}, got {value!r}")
    return str(value)

"""Where and how to reach each provider: its key, base URL, model, wire format and what it can
take. The planner asks this room for an ``Endpoint`` and a ``WireFormat`` per attempt; nothing
here sends anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._board import Board
from ._exceptions import NoProviderAvailable, ProviderUnavailableError
from ._keyring import EmbeddingKeys
from ._secret import Secret

if TYPE_CHECKING:
    from ._request import ChatRequest
    from .providers import Endpoint, WireFormat

__all__ = ["Directory", "EmbeddingDirectory"]


class Directory:
    """The providers' addresses and keys, over one board's catalogue (for the model names)."""

    def __init__(self, board: Board) -> None:
        self._board = board
        self._keys: dict[str, Secret] = {}
        # Overrides of the providers' default base URLs (`<PROVIDER>_BASE_URL`).
        self.base_urls: dict[str, str] = {}
        # Providers the config file turned off, whatever keys the environment holds.
        self.disabled: set[str] = set()
        # provider -> (the base URL override it was built with, Endpoint); see ``endpoint``.
        self._endpoints: dict[str, tuple[str | None, Endpoint]] = {}
        self._wire_formats: dict[str, WireFormat] = {}
        # provider -> its keys when it has several (``_keyring.Keyring``; built by the node)
        self.keyrings: dict[str, Any] = {}

    def set_key(self, provider: str, key: str | None) -> None:
        if key:
            self._keys[provider] = Secret(key)
        else:
            self._keys.pop(provider, None)

    def key(self, provider: str) -> Secret | None:
        return self._keys.get(provider)

    def forget(self, provider: str) -> None:
        """Drops the endpoint built for ``provider`` (its model changed)."""
        self._endpoints.pop(provider, None)

    def require_available(self, provider: str) -> None:
        """Raises ``NoProviderAvailable`` saying which variable to set when ``provider`` has
        no key (a forced call would otherwise go out keyless and fail as a connection error)."""
        if provider in self._board.available_providers:
            return
        keys, base_url, _ = self._board.variables(provider)
        if provider in self.disabled:
            hint = "the TRINITY_CONFIG file disables it"
        elif provider == "custom":
            hint = f"set {base_url} to the OpenAI-compatible endpoint"
        else:
            hint = "set " + " or ".join(keys) if keys else "it is not configured"
        raise NoProviderAvailable(f"{provider} is not available: {hint}", reason="forced")

    def endpoint(self, provider: str) -> Endpoint:
        """Where and as whom to call ``provider``."""
        # Built once per configuration: the cached one stands while the base URL override and the
        # key are the very objects it was built from (``forget`` drops it), since reading the
        # model back from the core costs more than the rest of a gateway's request.
        base_url_override = self.base_urls.get(provider)
        cached = self._endpoints.get(provider)
        if cached is not None and cached[0] is base_url_override and cached[1].key is self._keys.get(provider):
            return cached[1]
        endpoint = self._new_endpoint(provider)
        self._endpoints[provider] = (base_url_override, endpoint)
        return endpoint

    def _new_endpoint(self, provider: str) -> Endpoint:
        from .providers import DEFAULT_BASE_URLS, Endpoint

        model = self._board.model(provider)
        if provider == "local":
            base_url = self.base_urls.get("local")
            if base_url is None:
                from ._local import LOCAL_BASE_URL, require_runtime

                require_runtime()
                base_url = LOCAL_BASE_URL
            return Endpoint(provider, base_url, model, self._keys.get(provider))
        base_url = self.base_urls.get(provider) or DEFAULT_BASE_URLS.get(provider)
        if base_url is None:
            raise ProviderUnavailableError("set CUSTOM_BASE_URL to the OpenAI-compatible endpoint", provider=provider)
        return Endpoint(provider, base_url, model, self._keys.get(provider))

    def wire_format(self, provider: str) -> WireFormat:
        """The wire format ``provider`` speaks (a local server speaks OpenAI's)."""
        wire_format = self._wire_formats.get(provider)
        if wire_format is None:
            from .providers import WIRE_FORMATS, openai_compatible

            if provider in {"local", "custom"}:
                wire_format = openai_compatible.WIRE_FORMAT
            else:
                wire_format = WIRE_FORMATS[provider]
            self._wire_formats[provider] = wire_format  # fixed per provider: looked up once
        return wire_format

    def lacks(self, provider: str, endpoint: Endpoint, request: ChatRequest) -> str | None:
        """Why ``provider`` cannot take ``request`` (a feature its API or model lacks), or None."""
        return self.wire_format(provider).unsupported(endpoint, request)


class EmbeddingDirectory:
    """The planner's view of the providers for an embeddings call: the same keys and base URLs,
    each provider's embedding model (``providers.embeddings.EMBEDDING_MODELS``, or
    ``<PROVIDER>_EMBEDDING_MODEL``), and its embeddings wire format. A provider with no
    embedding model is skipped, said as such. A provider with several keys turns over them as
    for chat."""

    def __init__(self, directory: Directory, models: dict[str, str]) -> None:
        self._directory = directory
        self._models = models
        # Each provider's keys as chat turns over them, with the embedding model (``_keyring``).
        self.keyrings: dict[str, Any] = {provider: EmbeddingKeys(ring) for provider, ring in directory.keyrings.items()}

    def endpoint(self, provider: str) -> Endpoint:
        import dataclasses

        endpoint = self._directory.endpoint(provider)
        return dataclasses.replace(endpoint, model=self._models.get(provider, endpoint.model))

    def wire_format(self, provider: str) -> Any:
        from .providers.embeddings import embedding_format

        return embedding_format(provider, self._directory.wire_format(provider))

    def lacks(self, provider: str, endpoint: Endpoint, request: Any) -> str | None:
        return None if provider in self._models else "embeddings"

"""Embeddings in each wire format that has them: OpenAI-compatible ``POST /embeddings``, Gemini
``:batchEmbedContents``, Cohere ``POST /v2/embed``. Sans-I/O like the chat formats, and with
their error classification (the same error bodies).

``EMBEDDING_MODELS`` is the embedding catalogue: a provider without an entry (or a
``<PROVIDER>_EMBEDDING_MODEL`` override) has no embedding model and is skipped by the planner.
``input_type`` (``search_document``, ``search_query``, ``classification``, ``clustering``) is
Cohere's name; Gemini takes it as ``taskType``; OpenAI-compatible APIs have no such field and
drop it by rule (their vectors do not depend on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._messages import invalid
from . import _json
from ._errors import malformed
from ._types import EmbeddingRequest, Embeddings, Endpoint, HttpRequest, WireFormat

__all__ = ["EMBEDDING_MODELS", "INPUT_TYPES", "TEXTS_MAX", "EmbeddingCall", "embedding_format", "embedding_request"]

EMBEDDING_MODELS: dict[str, str] = {
    "openai": "text-embedding-3-small",
    "google": "gemini-embedding-001",
    "cohere": "embed-v4.0",
    "mistral": "mistral-embed",
    "nvidia": "nvidia/nv-embedqa-e5-v5",
}
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
# Texts per call: Cohere's limit, the smallest of the three APIs (Gemini 100, OpenAI 2,048), so
# that a request any provider can take is one every provider of the chain can take.
TEXTS_MAX = 96
DIMENSIONS_MAX = 65_536
_GEMINI_TASK_TYPES = {
    "search_document": "RETRIEVAL_DOCUMENT", "search_query": "RETRIEVAL_QUERY",
    "classification": "CLASSIFICATION", "clustering": "CLUSTERING",
}  # fmt: skip
_GEMINI_API_VERSION = "v1beta"


def embedding_request(texts: object, *, dimensions: object = None, input_type: object = None) -> EmbeddingRequest:
    """A checked request: ``texts`` a string or a list of 1 to TEXTS_MAX non-empty strings (as
    OpenAI's ``input``), ``dimensions`` a positive integer, ``input_type`` one of INPUT_TYPES."""
    items = [texts] if isinstance(texts, str) else texts
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) and item for item in items):
        raise invalid("input", "input must be a non-empty string or an array of non-empty strings")
    if not 1 <= len(items) <= TEXTS_MAX:
        raise invalid("input", f"input takes 1 to {TEXTS_MAX} texts per call, got {len(items)}")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= DIMENSIONS_MAX
    ):
        raise invalid("dimensions", f"dimensions must be an integer from 1 to {DIMENSIONS_MAX}")
    if input_type is not None and input_type not in INPUT_TYPES:
        raise invalid("input_type", f"input_type must be one of {', '.join(INPUT_TYPES)}")
    return EmbeddingRequest(tuple(items), dimensions, input_type)


def _headers(endpoint: Endpoint, key_header: str, key_prefix: str = "") -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if endpoint.key is not None:
        headers[key_header] = key_prefix + endpoint.key.reveal()
    return headers


def _vector(endpoint: Endpoint, value: object) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(number, (int, float)) and not isinstance(number, bool) for number in value
    ):
        raise malformed(endpoint, "embeddings: a vector is not a list of numbers")
    return tuple(float(number) for number in value)


def _vectors(endpoint: Endpoint, request: EmbeddingRequest, values: object) -> tuple[tuple[float, ...], ...]:
    if not isinstance(values, list) or len(values) != len(request.texts):
        raise malformed(endpoint, f"embeddings: expected {len(request.texts)} vectors")
    return tuple(_vector(endpoint, value) for value in values)


class OpenAIEmbeddings:
    def build(self, endpoint: Endpoint, request: EmbeddingRequest) -> HttpRequest:
        body: dict[str, Any] = {"model": endpoint.model, "input": list(request.texts), "encoding_format": "float"}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        headers = _headers(endpoint, "Authorization", "Bearer ")
        return HttpRequest(method="POST", url=endpoint.url("embeddings"), headers=headers, json=body)

    def parse(self, endpoint: Endpoint, request: EmbeddingRequest, body: bytes) -> Embeddings:
        document = _json.load_object(body, provider=endpoint.provider, what="embeddings response")
        data = document.get("data")
        if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
            raise malformed(endpoint, "embeddings response: no data list")
        # Ordered by their index: the API does not promise the list's order.
        ordered = sorted(data, key=lambda item: item.get("index") if isinstance(item.get("index"), int) else 0)
        vectors = _vectors(endpoint, request, [item.get("embedding") for item in ordered])
        tokens = _json.token_count(_json.field(document, "usage", "prompt_tokens"))
        return Embeddings(vectors, _json.string(document.get("model")) or endpoint.model, tokens)


class GeminiEmbeddings:
    def build(self, endpoint: Endpoint, request: EmbeddingRequest) -> HttpRequest:
        model = endpoint.model.removeprefix("models/")
        one: dict[str, Any] = {"model": f"models/{model}"}
        if request.input_type is not None:
            one["taskType"] = _GEMINI_TASK_TYPES[request.input_type]
        if request.dimensions is not None:
            one["outputDimensionality"] = request.dimensions
        body = {"requests": [{**one, "content": {"parts": [{"text": text}]}} for text in request.texts]}
        version = endpoint.api_version or _GEMINI_API_VERSION
        url = endpoint.url(f"{version}/models/{quote(model, safe='')}:batchEmbedContents")
        return HttpRequest(method="POST", url=url, headers=_headers(endpoint, "x-goog-api-key"), json=body)

    def parse(self, endpoint: Endpoint, request: EmbeddingRequest, body: bytes) -> Embeddings:
        document = _json.load_object(body, provider=endpoint.provider, what="embeddings response")
        items = document.get("embeddings")
        values = (
            [item.get("values") for item in items if isinstance(item, Mapping)] if isinstance(items, list) else None
        )
        return Embeddings(_vectors(endpoint, request, values), endpoint.model, None)  # Gemini reports no usage


class CohereEmbeddings:
    def build(self, endpoint: Endpoint, request: EmbeddingRequest) -> HttpRequest:
        body: dict[str, Any] = {
            "model": endpoint.model, "texts": list(request.texts), "embedding_types": ["float"],
            # v3 models and later require it; a document is what most callers embed.
            "input_type": request.input_type or "search_document",
        }  # fmt: skip
        if request.dimensions is not None:
            body["output_dimension"] = request.dimensions
        headers = _headers(endpoint, "Authorization", "Bearer ")
        return HttpRequest(method="POST", url=endpoint.url("v2/embed"), headers=headers, json=body)

    def parse(self, endpoint: Endpoint, request: EmbeddingRequest, body: bytes) -> Embeddings:
        document = _json.load_object(body, provider=endpoint.provider, what="embeddings response")
        vectors = _vectors(endpoint, request, _json.field(document, "embeddings", "float"))
        tokens = _json.token_count(_json.field(document, "meta", "billed_units", "input_tokens"))
        return Embeddings(vectors, endpoint.model, tokens)


Codec = OpenAIEmbeddings | GeminiEmbeddings | CohereEmbeddings
_CODECS: dict[str, Codec] = {"google": GeminiEmbeddings(), "cohere": CohereEmbeddings()}
_OPENAI = OpenAIEmbeddings()


class EmbeddingCall:
    """An embeddings call through the planner: the interface of a chat ``WireFormat`` (build
    the request, read the answer, classify errors), with the chat format's error reading."""

    def __init__(self, codec: Codec, chat: WireFormat) -> None:
        self._codec = codec
        self._chat = chat

    def unsupported(self, endpoint: Endpoint, request: EmbeddingRequest) -> str | None:
        return None

    def build_request(self, endpoint: Endpoint, request: EmbeddingRequest) -> HttpRequest:
        return self._codec.build(endpoint, request)

    def parse_response(self, endpoint: Endpoint, request: EmbeddingRequest, body: bytes) -> Embeddings:
        return self._codec.parse(endpoint, request, body)

    def new_stream_parser(self, endpoint: Endpoint, request: EmbeddingRequest) -> Any:
        raise AssertionError("embeddings are never streamed")

    def classify_error(self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes) -> Any:
        return self._chat.classify_error(endpoint, status_code, headers, body)

    def cost_usd(self, endpoint: Endpoint, tokens: int) -> float:
        """``tokens`` at the embedding model's listed price (0 when it has none)."""
        from .._prices import cost_usd

        return cost_usd(endpoint.provider, endpoint.model, tokens)


def embedding_format(provider: str, chat: WireFormat) -> EmbeddingCall:
    """The embeddings call of ``provider``, whose chat wire format is ``chat``."""
    return EmbeddingCall(_CODECS.get(provider, _OPENAI), chat)

"""``POST /v1/embeddings`` in OpenAI's Embeddings API shapes, over the library's embeddings plan.

The body is ``{model, input, dimensions?, encoding_format?, user?, input_type?}``: ``input`` a
string or an array of strings (checked by the library's ``embedding_request``), ``input_type``
our extension (search_document, search_query, classification, clustering; Cohere and Gemini
use it). ``model`` maps as for chat: ``auto`` routes, a provider's name (or ``provider/model``,
its chat or its embedding model) forces that provider. ``encoding_format`` ``base64`` is the
vector as little-endian float32 bytes in base64, as OpenAI sends it (and its SDK asks for by
default). The node's planner walks the chain (fallback, breaker, accounting) as for
``node.aembed``; the I/O is the node's httpx client.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._drive_async import complete_async
from .._exceptions import TrinityError
from .._results import EmbeddingResponse
from ._errors import bad_request
from ._validation import parse_json_object, served_model

if TYPE_CHECKING:
    from .._node import TrinityHybridNode
    from .._planner import Plan

__all__ = ["EMBEDDINGS_PATH", "EmbeddingParams", "embeddings_document", "parse_embeddings"]

EMBEDDINGS_PATH = "/v1/embeddings"
ENCODING_FORMATS = ("float", "base64")
_FIELDS = frozenset({"model", "input", "dimensions", "encoding_format", "user", "input_type"})


@dataclass(frozen=True, slots=True)
class EmbeddingParams:
    model: str
    texts: Any  # checked by the library's embedding_request
    force_provider: str | None
    dimensions: Any
    input_type: Any
    encoding_format: str


def embedding_models(node: TrinityHybridNode, models: dict[str, str | None]) -> dict[str, str | None]:
    """The chat model names (``models``) and ``provider/<embedding model>`` for every available
    provider that has one."""
    from ..providers.embeddings import EMBEDDING_MODELS

    names = dict(models)
    catalogue = {**EMBEDDING_MODELS, **node.embedding_models}
    for provider in node.available_providers:
        if provider in catalogue:
            names[f"{provider}/{catalogue[provider]}"] = provider
    return names


def parse_embeddings(body: bytes, models: dict[str, str | None]) -> EmbeddingParams:
    document = parse_json_object(body)
    model = served_model(document, models)
    unknown = sorted(set(document) - _FIELDS)
    if unknown:  # as OpenAI: a misspelt option is an error, not silently ignored
        raise bad_request(f"unknown field {unknown[0]!r}", param=unknown[0])
    if "input" not in document:
        raise bad_request("input is required", param="input")
    encoding_format = document.get("encoding_format") or "float"
    if encoding_format not in ENCODING_FORMATS:
        raise bad_request("encoding_format must be 'float' or 'base64'", param="encoding_format")
    user = document.get("user")
    if user is not None and not isinstance(user, str):
        raise bad_request("user must be a string", param="user")
    return EmbeddingParams(
        model, document["input"], models[model], document.get("dimensions"), document.get("input_type"),
        encoding_format,
    )  # fmt: skip


def plan_embeddings(node: TrinityHybridNode, params: EmbeddingParams) -> Plan:
    """The plan; raises ``InvalidInputError`` (a 400 naming the field) before any call."""
    return node.embedding_plan(
        params.texts, dimensions=params.dimensions, input_type=params.input_type, force_provider=params.force_provider
    )


async def run_embeddings(node: TrinityHybridNode, plan: Plan) -> EmbeddingResponse:
    # The node's readers, as node.aembed reads: made once per client, timeouts and bound.
    result: Any = await complete_async(plan, node._async_attempts(plan), None)
    if type(result) is not EmbeddingResponse:
        raise TrinityError("an embeddings plan finished without vectors")
    return result


def embeddings_document(params: EmbeddingParams, response: EmbeddingResponse) -> bytes:
    encode = _base64 if params.encoding_format == "base64" else list
    document = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode(vector)}
            for index, vector in enumerate(response.vectors)
        ],
        "model": f"{response.provider}/{response.model}",
        "usage": {"prompt_tokens": response.usage.prompt_tokens, "total_tokens": response.usage.prompt_tokens},
    }
    return json.dumps(document).encode()


def _base64(vector: tuple[float, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")

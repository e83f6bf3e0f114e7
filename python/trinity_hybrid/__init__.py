"""trinity_hybrid: a multi-provider LLM router with a Zig native core.

    >>> from trinity_hybrid import TrinityHybridNode, detect_language
    >>> detect_language("東京の天気はどうですか").language
    'ja'
    >>> node = TrinityHybridNode.from_env()
    >>> node.route("请解释量子计算").providers[0]   # with ZHIPU_API_KEY set
    'zhipu'
"""

from ._exceptions import (
    AllProvidersFailed,
    CircuitOpenError,
    ClientRequestError,
    ConfigurationError,
    ContextLengthExceededError,
    CredentialError,
    InvalidInputError,
    NativeLibraryError,
    NoProviderAvailable,
    ProviderError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    RateLimitedError,
    StreamInterruptedError,
    TransientError,
    TrinityError,
)
from ._node import ProviderStats, Route, Secret, TrinityHybridNode, mask_key
from ._text import Detection, detect_language, estimate_tokens

__version__ = "0.1.0"

# The HTTP stack (httpx, aiohttp) and the wire formats load on first use, so that importing the
# package for routing alone stays cheap: see the import-time figures in bench/results/.
_LAZY = {
    "Attempt": "._results",
    "EmbeddingResponse": "._results",
    "Response": "._results",
    "StreamChunk": "._results",
    "providers": ".providers",
    "Timeouts": "._results",
    "ResponseCache": "._cache",
    "RetryPolicy": "._plan_retry",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'trinity_hybrid' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(module_name, __name__)
    value = module if name == "providers" else getattr(module, name)
    globals()[name] = value
    return value

__all__ = [
    "AllProvidersFailed",
    "Attempt",
    "CircuitOpenError",
    "ClientRequestError",
    "ConfigurationError",
    "ContextLengthExceededError",
    "CredentialError",
    "Detection",
    "EmbeddingResponse",
    "InvalidInputError",
    "NativeLibraryError",
    "NoProviderAvailable",
    "ProviderError",
    "ProviderStats",
    "ProviderUnavailableError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "Response",
    "ResponseCache",
    "RetryPolicy",
    "Route",
    "Secret",
    "StreamChunk",
    "StreamInterruptedError",
    "Timeouts",
    "TransientError",
    "TrinityError",
    "TrinityHybridNode",
    "__version__",
    "detect_language",
    "estimate_tokens",
    "mask_key",
    "providers",
]

"""Routing: a prompt's features and the ordered provider chain, both from the native core.

``Router.route`` is the hot path of every call (about 1.5 µs from Python): the common call is one
cffi call with two arguments, and decoded chains are cached by their packed word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import _native
from ._board import Board, non_negative
from ._exceptions import InvalidInputError
from ._text import Detection, detect_language_bytes, encode_text, estimate_bytes

__all__ = ["Route", "Router", "prompt_text"]

Message = Mapping[str, Any]
Prompt = str | Sequence[Message]

# th_node_route_packed: the options word's fields and the result word's layout (see the header).
ROUTE_OPTION_FORCE_SHIFT = 32
ROUTE_OPTION_STRATEGY_SHIFT = 40
ROUTE_OPTION_QUALITY = 1 << 48
ROUTE_TOKENS_RESERVED_MAX = (1 << 32) - 1
ROUTE_PACKED_ERROR_LEN = 15
ROUTE_PACKED_PROVIDERS_SHIFT = 16
NOW_MS_CLOCK = (1 << 64) - 1
# Distinct route words are few (chains × reasons), so their decoding is cached; the
# bound keeps a long run of the random strategy from growing the cache without limit.
ROUTE_CACHE_ENTRIES_MAX = 4096


class Route:
    """The ordered provider chain for one request, and why. ``detection`` and
    ``tokens_estimated`` are computed on first use: most callers only need the chain.

    Made by ``TrinityHybridNode.route`` only, which sets the slots itself: a class without
    ``__init__`` is created by ``Route()`` for about 900 instructions fewer than a call of an
    ``__init__`` with three arguments (callgrind), a tenth of a route."""

    __slots__ = ("_decoded", "_detection", "_text", "_tokens", "_tokens_reserved")
    # Set by the node: the decoded route word, shared between routes: (providers, reason).
    _decoded: tuple[tuple[str, ...], str]
    _text: bytes
    _tokens_reserved: int

    @property
    def providers(self) -> tuple[str, ...]:
        """Provider names, in the order to try them."""
        return self._decoded[0]

    @property
    def reason(self) -> str:
        """The rule that chose the head of the chain."""
        return self._decoded[1]

    @property
    def language(self) -> str:
        """The prompt's language (ISO 639-1, or ``und``), detected on first use: the chain
        itself needs only the prompt's scripts."""
        return self.detection.language

    @property
    def tokens_estimated(self) -> int:
        """Estimated tokens of the prompt plus the reserved output (``max_tokens``)."""
        try:
            return self._tokens
        except AttributeError:
            self._tokens: int = estimate_bytes(self._text) + self._tokens_reserved
            return self._tokens

    @property
    def detection(self) -> Detection:
        try:
            return self._detection
        except AttributeError:
            self._detection: Detection = detect_language_bytes(self._text)
            return self._detection

    def __repr__(self) -> str:
        return (
            f"Route(providers={self.providers!r}, reason={self.reason!r}, language={self.language!r}, "
            f"tokens_estimated={self.tokens_estimated})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Route):
            return NotImplemented
        return (self._decoded, self._text, self._tokens_reserved) == (
            other._decoded,
            other._text,
            other._tokens_reserved,
        )

    __hash__ = None  # type: ignore[assignment]


def prompt_text(prompt: object) -> str:
    """The text a prompt's language and size are judged on: the string itself, or the contents
    of an OpenAI-style message list joined by newlines."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        parts: list[str] = []
        for position, message in enumerate(prompt):
            if not isinstance(message, Mapping):
                raise InvalidInputError(f"messages[{position}] must be a mapping with role and content")
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                # OpenAI content parts: only text parts count towards language and size.
                parts.extend(
                    part["text"] for part in content if isinstance(part, Mapping) and isinstance(part.get("text"), str)
                )
            elif content is not None:
                raise InvalidInputError(f"messages[{position}].content must be str or a list of parts")
        return "\n".join(parts)
    raise InvalidInputError(f"prompt must be str or a list of messages, not {type(prompt).__name__}")


class Router:
    """Routes prompts on one board's native node."""

    def __init__(self, board: Board) -> None:
        self._board = board
        self._handle = board.handle
        self.provider_names = board.provider_names
        self.reason_names = board.reason_names
        # Decoded route words; dict reads and writes are atomic, so threads may share it.
        self._routes: dict[int, tuple[tuple[str, ...], str]] = {}
        self._route_packed = board.lib.th_node_route_packed
        self._route_default = board.lib.th_node_route_default
        self._route_text = board.lib.th_node_route_text

    def route(
        self,
        prompt: Prompt,
        # Meant to be passed by keyword, but not keyword-only: CPython fills a missing
        # keyword-only argument by a dict lookup in __kwdefaults__ and a positional one from a
        # tuple, and the five lookups were 745 instructions, 8 % of a route (callgrind).
        quality: bool = False,
        force_provider: str | None = None,
        strategy: str | None = None,
        max_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> Route:
        """The ordered chain of eligible providers for ``prompt`` and the rule that chose it.
        Pass the options by keyword."""
        if type(prompt) is str:
            # encode_text inlined for the common case: the call alone was 5 % of a route's
            # instructions (about 500 of 10,700, callgrind).
            try:
                data = prompt.encode()
            except UnicodeEncodeError:
                data = prompt.encode("utf-8", "surrogatepass")
            if (
                quality is False
                and force_provider is None
                and strategy is None
                and max_tokens is None
                and now_ms is None
                and "\0" not in prompt
            ):
                # The common call, in two arguments: cffi passes the NUL that ends every bytes
                # object, and each argument through cffi's ABI mode costs about 650 instructions,
                # more than the NUL search (callgrind).
                word = self._route_text(self._handle, data)
                route = Route()
                try:
                    route._decoded = self._routes[word]
                except KeyError:
                    route._decoded = self._decode_route(word)
                route._text = data
                route._tokens_reserved = 0
                return route
        else:
            data = encode_text(prompt_text(prompt), "prompt")
        options = 0
        if max_tokens is not None:
            options = min(non_negative(max_tokens, "max_tokens"), ROUTE_TOKENS_RESERVED_MAX)
        if force_provider is not None:
            options |= (self._board.index(force_provider, "force_provider") + 1) << ROUTE_OPTION_FORCE_SHIFT
        if strategy is not None:
            options |= (self._board.strategy_index(strategy) + 1) << ROUTE_OPTION_STRATEGY_SHIFT
        if quality:
            options |= ROUTE_OPTION_QUALITY
        if options == 0 and now_ms is None:
            word = self._route_default(self._handle, data, len(data))
        else:
            moment = NOW_MS_CLOCK if now_ms is None else non_negative(now_ms, "now_ms")
            word = self._route_packed(self._handle, data, len(data), options, moment)
        route = Route()
        route._decoded = self._routes.get(word) or self._decode_route(word)
        route._text = data
        route._tokens_reserved = max_tokens or 0
        return route

    def route_targets(
        self, text: str, targets: Sequence[tuple[str, str | None]], reason: str, max_tokens: int | None = None
    ) -> tuple[Route, tuple[str | None, ...]]:
        """A chain the request names itself (``provider/model``, an alias's targets), in its
        order, without the providers that are not available: the route (features as for any
        prompt, ``reason`` as given) and the model asked at each position."""
        if not targets:
            raise InvalidInputError("a model list needs at least one provider/model target")
        for provider, _ in targets:
            self._board.index(provider, "model")
        available = set(self._board.available_providers)
        kept = [(provider, model) for provider, model in targets if provider in available]
        route = self.route(text, max_tokens=max_tokens)
        route._decoded = (tuple(provider for provider, _ in kept), reason)
        return route, tuple(model for _, model in kept)

    def _decode_route(self, word: int) -> tuple[tuple[str, ...], str]:
        length = word & 0xF
        if length == ROUTE_PACKED_ERROR_LEN:
            _native.check(word >> 32, "route")
        chain = tuple(
            self.provider_names[word >> (ROUTE_PACKED_PROVIDERS_SHIFT + 4 * position) & 0xF]
            for position in range(length)
        )
        decoded = (chain, self.reason_names[word >> 4 & 0xF])
        if len(self._routes) < ROUTE_CACHE_ENTRIES_MAX:
            self._routes[word] = decoded
        return decoded

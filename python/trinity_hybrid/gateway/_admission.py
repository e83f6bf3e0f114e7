"""Who may call the gateway, and what a virtual key may spend: the app's side of
``_virtual_keys`` (issue 17, point 3), as that module's docstring says it is called.

    authorize   every request but /health and /admin/*: a key of ``TRINITY_API_KEYS`` (the
                operators' keys: no limits), else, when virtual keys are on, a virtual key's
                secret (Bearer or ``x-api-key``), kept in the scope for ``admit``
    admit       a chat, messages, responses or embeddings request, after its body is parsed and
                its plan made, before any provider is called: the key's models, rpm, tpm and
                budgets; refused with 401 / 403 / 429 / 402 / 503 and Retry-After
    settle      when the request ends, however it ends (``Gateway._answer``'s ``finally``):
                what the answer used, from ``Exchange.answered``; nothing when no provider
                answered; a stream that had begun but never finished (the client left, or the
                provider broke off) is charged what was reserved for it, so that hanging up
                before the last chunk does not make a stream free

Virtual keys are on when TRINITY_CONFIG has ``[virtual_keys]`` or ``TRINITY_ADMIN_KEY`` is set;
then a request with neither an operator key nor a known virtual key is a 401, even when
``TRINITY_API_KEYS`` is empty. ``/v1/models`` takes any known virtual key; ``/status`` and
``/metrics`` (which list every key's spend) take an operator key or the admin key (with
neither configured, nobody may read them). The secret,
and its digest, are never answered, logged, or shown in /status or /metrics: only the key's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._prices import cost_usd
from ..providers._types import EmbeddingRequest
from ..providers.embeddings import EMBEDDING_MODELS
from ._admin import ADMIN_KEY_VARIABLE, AdminApi
from ._asgi import JSON_HEADERS, Receive, Scope, Send, header, read_body, send_whole
from ._auth import BEARER_PREFIX, Authenticator
from ._errors import ApiError
from ._key_definitions import digest_of
from ._virtual_keys import VirtualKeys

if TYPE_CHECKING:
    from .._node import TrinityHybridNode
    from .._planner import Plan
    from ._key_decisions import Reservation

__all__ = ["ADMIN_PREFIX", "Admission", "Ticket", "virtual_keys_on"]

SECRET = "trinity.secret"  # the scope's key for a virtual key's secret, between authorize and admit
ADMIN_PREFIX = "/admin/"
# Output tokens reserved for a request that sets no max_tokens (settled to what it used).
OUTPUT_TOKENS_RESERVED_DEFAULT = 512
ADMIN_BODY_BYTES_MAX = 64 * 1024
STATUS_CLOSED = ApiError(
    401,
    "with virtual keys on, /status and /metrics need the admin key (TRINITY_ADMIN_KEY) or an operator key "
    "(TRINITY_API_KEYS), and neither is set",
    "invalid_request_error",
    None,
    "invalid_api_key",
    "unauthorized",
)
UNAUTHORIZED = ApiError(
    401,
    "a valid API key is required: Authorization: Bearer <key> (or x-api-key: <key>)",
    "invalid_request_error",
    None,
    "invalid_api_key",
    "unauthorized",
)


@dataclass(slots=True)
class Ticket:
    """One admitted request's hold, and what its answer used (``spent``, from the Exchange)."""

    reservation: Reservation
    tokens: int = 0
    cost_usd: float = 0.0
    answered: bool = False
    streaming: bool = False  # a 200 was sent before the answer was complete

    @property
    def key_name(self) -> str:
        return self.reservation.key_name

    def spent(self, result: Any) -> None:
        usage = result.usage
        if usage is not None:
            self.tokens = usage.prompt_tokens + usage.completion_tokens
        self.cost_usd, self.answered = result.cost_usd, True


def virtual_keys_on(document: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether TRINITY_CONFIG (``document``) has ``[virtual_keys]`` or TRINITY_ADMIN_KEY is set:
    then every request needs a key (``serve`` counts the gateway as protected)."""
    return "virtual_keys" in document or bool(environ.get(ADMIN_KEY_VARIABLE, "").strip())


class Admission:
    """The gateway's keys: operators' (``Authenticator``), virtual (``VirtualKeys``), admin."""

    def __init__(
        self, authenticator: Authenticator, keys: VirtualKeys | None = None, admin: AdminApi | None = None
    ) -> None:
        self.authenticator = authenticator
        self.keys = keys
        self.admin = admin

    @classmethod
    def from_config(
        cls, authenticator: Authenticator, document: Mapping[str, Any], environ: Mapping[str, str]
    ) -> Admission:
        """Virtual keys from ``[virtual_keys]`` of TRINITY_CONFIG, shared through
        ``TRINITY_REDIS_URL`` (else ``[shared_state].url``; else this process's memory)."""
        if not virtual_keys_on(document, environ):
            return cls(authenticator)
        shared = document.get("shared_state", {})
        redis_url = environ.get("TRINITY_REDIS_URL", "").strip() or (shared.get("url") if shared else None)
        keys = VirtualKeys.from_config(document, redis_url or None)
        return cls(authenticator, keys, AdminApi.from_env(keys, environ))

    def __repr__(self) -> str:
        return f"Admission(virtual_keys={self.keys!r}, admin={self.admin!r})"

    # ------------------------------------------------------------------------------------------

    def authorize(self, scope: Scope, path: str) -> None:
        """Raises a 401 unless the request may go on; a virtual key's secret is kept for ``admit``."""
        authorization = header(scope, b"authorization")
        authenticator = self.authenticator
        if self.keys is None:
            if authenticator.allows(authorization) or authenticator.allows_key(header(scope, b"x-api-key")):
                return
            raise UNAUTHORIZED
        if authenticator.required and (
            authenticator.allows(authorization) or authenticator.allows_key(header(scope, b"x-api-key"))
        ):
            return  # an operator's key: no limits
        if path in ("/status", "/metrics"):
            if self._admin_allows(authorization):
                return
            # They list every key's name and spend: never open while keys are in use. Without an
            # operator or admin key configured, nobody may read them, and the answer says how.
            raise UNAUTHORIZED if authenticator.required or self._admin_enabled() else STATUS_CLOSED
        secret = _offered(authorization, header(scope, b"x-api-key"))
        if secret is None:
            raise UNAUTHORIZED
        scope[SECRET] = secret  # type: ignore[index]

    async def admit(self, scope: Scope, exchange: Any, model: str, plan: Plan, node: TrinityHybridNode) -> None:
        """A virtual key's admission for a planned call (nothing for an operator's key); the
        ticket goes on the Exchange, which records what the answer used and the key's name."""
        secret = scope.get(SECRET)
        if secret is None or self.keys is None:
            return
        tokens, cost = estimate(plan, node)
        decision = await self.keys.admit(secret, model, tokens, cost)
        if not decision.allowed or decision.reservation is None:
            exchange.key_name = decision.key_name
            raise ApiError(
                decision.status, decision.message, decision.type, None, decision.code, _outcome(decision.status),
                retry_after_s=decision.retry_after_s,
            )  # fmt: skip
        exchange.ticket = Ticket(decision.reservation)
        exchange.key_name = decision.key_name

    async def known(self, scope: Scope) -> None:
        """A request that spends nothing (``/v1/models``, counting tokens): its virtual key must exist."""
        secret = scope.get(SECRET)
        if secret is None or self.keys is None:
            return
        definitions = await self.keys.definitions()
        digest = digest_of(secret)
        if definitions is None or not any(definition.digest == digest for definition in definitions):
            raise UNAUTHORIZED

    async def settle(self, exchange: Any) -> None:
        ticket: Ticket | None = exchange.ticket
        if ticket is None or self.keys is None:
            return
        exchange.ticket = None  # once
        if ticket.answered:
            await self.keys.settle(ticket.reservation, ticket.tokens, ticket.cost_usd)
        elif ticket.streaming:  # begun, never finished: what was reserved
            hold = ticket.reservation.hold
            await self.keys.settle(ticket.reservation, hold.tokens, hold.cost_nano_usd / 1e9)
        else:
            await self.keys.settle(ticket.reservation, 0, 0.0)

    # ------------------------------------------------------------------------------------------
    # /status, /metrics, /admin/*.

    async def status(self) -> dict[str, Any] | None:
        """The /status section: per key its limits, spend and counters (no secret, no digest)."""
        if self.keys is None:
            return None
        return {**await self.keys.usage(), "counters_total": self.keys.status()}

    async def admin_route(self, scope: Scope, receive: Receive, send: Send, body_bytes_max: int) -> None:
        if self.admin is None:
            raise ApiError(404, f"no such endpoint: {scope['method']} {scope['path']}", code="not_found")
        document = None
        if scope["method"] == "POST":
            body = await read_body(scope, receive, min(body_bytes_max, ADMIN_BODY_BYTES_MAX))
            try:
                document = json.loads(body.decode("utf-8")) if body else None
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise ApiError(400, "the body must be a JSON object", code="invalid_body") from None
        status, answer = await self.admin.handle(
            scope["method"], scope["path"], header(scope, b"authorization"), document
        )
        await send_whole(send, status, json.dumps(answer).encode(), JSON_HEADERS)

    def add_collectors(self, metrics: Any) -> None:
        """The virtual keys' series on ``metrics`` (``_key_metrics``), when they are on."""
        if self.keys is not None:
            from ._key_metrics import VirtualKeysCollector

            metrics.add_collector(VirtualKeysCollector(self.keys))

    async def refresh(self) -> None:
        """Before a scrape: each key's counters, read once for its series."""
        if self.keys is not None:
            await self.keys.usage()

    async def close(self) -> None:
        if self.keys is not None:
            await self.keys.close()

    def _admin_allows(self, authorization: bytes | None) -> bool:
        return self.admin is not None and self.admin.allows(authorization)

    def _admin_enabled(self) -> bool:
        return self.admin is not None and self.admin.enabled


def estimate(plan: Plan, node: TrinityHybridNode) -> tuple[int, float]:
    """Tokens (the prompt's estimate plus max_tokens, or a default) and their cost at the
    dearest model of the chain: what is reserved until the answer says what was used. An
    embeddings call has no output: its input at the dearest embedding model's price."""
    request = plan.request
    tokens_input = plan.route.tokens_estimated
    if isinstance(request, EmbeddingRequest):  # an embeddings plan (typed as a chat one)
        return tokens_input, embedding_cost(plan, node, tokens_input)
    tokens_output = getattr(request, "max_tokens", None) or OUTPUT_TOKENS_RESERVED_DEFAULT
    models = plan.options.models
    dearest = 0.0
    for position, provider in enumerate(plan.route.providers):
        info = node.provider_info(provider)
        model = models[position] if position < len(models) and models[position] else info["model"]
        listed = cost_usd(provider, model, tokens_input, tokens_output)
        configured = (
            tokens_input * info["price_input_usd_per_mtok"] + tokens_output * info["price_output_usd_per_mtok"]
        ) / 1e6
        dearest = max(dearest, listed, configured)
    return tokens_input + tokens_output, dearest


def embedding_cost(plan: Plan, node: TrinityHybridNode, tokens: int) -> float:
    """``tokens`` at the dearest listed price among the chain's embedding models (the providers
    without one are skipped by the plan); an answer is charged by the same list
    (``providers.embeddings``), so an unlisted model holds nothing, as it will cost nothing."""
    catalogue = {**EMBEDDING_MODELS, **node.embedding_models}
    return max(
        (cost_usd(provider, catalogue[provider], tokens) for provider in plan.route.providers if provider in catalogue),
        default=0.0,
    )


def _offered(authorization: bytes | None, api_key: bytes | None) -> str | None:
    """The secret a request offers, as a Bearer token or ``x-api-key``."""
    if authorization is not None and authorization[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
        offered = authorization[len(BEARER_PREFIX) :].strip()
    elif api_key is not None:
        offered = api_key.strip()
    else:
        return None
    try:
        return offered.decode("utf-8") or None
    except UnicodeDecodeError:
        return None


def _outcome(status: int) -> str:
    return {401: "unauthorized", 403: "forbidden", 429: "rate_limited", 402: "budget_exceeded"}.get(
        status, "unavailable"
    )

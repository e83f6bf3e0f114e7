"""Untrusted request bodies, checked before anything else looks at them.

A body becomes a ``ChatParams`` (or a plan goal) or an ``ApiError`` naming the field at fault:
whatever JSON or bytes arrive, the answer is a 4xx or a valid request, never an exception
escaping to the server. The request itself (messages, tools, parameters) is checked by the
library's own ``ChatRequest``, the one parser the library and the gateway share; this module
checks the body's envelope and the gateway's own fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidInputError
from .._messages import json_type
from .._plan_retry import ATTEMPTS_MAX
from .._request import ChatRequest
from ._errors import ApiError, bad_request
from ._models import ServedModels

__all__ = [
    "ChatParams",
    "gateway_fields",
    "parse_chat",
    "parse_goal",
    "parse_json_object",
    "request_from_openai",
    "served_model",
]

GOAL_CHARS_MAX = 20_000
MODEL_SHOWN_CHARS_MAX = 100  # of an unknown model's name, quoted in the 404


# The gateway's own fields of a chat body, beside OpenAI's: how to route, and the cache.
GATEWAY_FIELDS = frozenset({"model", "quality", "strategy", "cache", "retries"})


# Not frozen (a frozen __init__ sets each field through object.__setattr__, per request);
# never changed once parsed: dataclasses.replace makes a new one.
@dataclass(slots=True)
class ChatParams:
    """A Chat Completions request as the gateway acts on it: the library's one request model
    (``request``), and the gateway's routing fields. ``model`` is the name as sent;
    ``force_provider`` is what it forces (None for ``auto``)."""

    model: str
    request: ChatRequest
    force_provider: str | None
    quality: bool
    strategy: str | None
    # The response cache, per request (the library's ``cache`` argument): True, "always" (also
    # with temperature > 0), False, or None for what the gateway's configuration says.
    cache: bool | str | None = None
    # The chain the request names (``_models.ModelRoute``: ``provider/model``, an alias, or the
    # ``x-trinity-providers`` header), as (provider, model or None); None: the rules' chain.
    # ``rules_fallback``: the rules' chain's other providers follow the targets.
    targets: tuple[tuple[str, str | None], ...] | None = None
    rules_fallback: bool = False
    # ``x-trinity-timeout-s``: the whole call's bound in seconds (None: the gateway's timeouts).
    timeout_s: float | None = None
    # ``retries`` or ``x-trinity-retries``: same-provider retries of a transient failure, 0 to
    # ``ATTEMPTS_MAX`` (None: the node's).
    retries: int | None = None

    @property
    def stream(self) -> bool:
        return self.request.stream

    @property
    def include_usage(self) -> bool:
        return self.request.include_usage


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why not."""
    if not body:
        raise bad_request("the request body is empty; expected a JSON object")
    try:
        # Strict UTF-8 (RFC 8259): json.loads on bytes would also take UTF-16/32 and decode
        # surrogates encoded in UTF-8 (b"\xed\xa0\x80"), which no valid UTF-8 text contains.
        document = json.loads(body.decode("utf-8"))
    except RecursionError:
        # json's C scanner counts nesting against the recursion limit: deep JSON ends here.
        raise bad_request("the request body is nested too deeply", code="invalid_json") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise bad_request(f"the request body is not valid JSON{where}", code="invalid_json") from None
    if not isinstance(document, dict):
        raise bad_request(f"the request body must be a JSON object, not {json_type(document)}")
    return document


def parse_chat(body: bytes, models: dict[str, str | None], strategies: tuple[str, ...]) -> ChatParams:
    """A Chat Completions body: the gateway's fields checked here, the request itself by the
    library's ``ChatRequest.from_openai`` (the one parser of messages and parameters), whose
    ``InvalidInputError`` names the field at fault. ``models`` maps each model name the
    gateway serves to the provider it forces (``auto`` to None)."""
    document = parse_json_object(body)
    model = served_model(document, models)
    _required(document, "messages", list)
    quality, strategy, cache, retries = gateway_fields(document, strategies)
    request = request_from_openai({name: value for name, value in document.items() if name not in GATEWAY_FIELDS})
    return ChatParams(model=model, request=request, force_provider=models[model], quality=quality, strategy=strategy,
                      cache=cache, retries=retries)  # fmt: skip


def served_model(document: dict[str, Any], models: dict[str, str | None]) -> str:
    """The body's ``model``, one of those the gateway serves (else a 404 naming the list).
    With ``_models.ServedModels`` (the gateway's), ``<provider>/<any model>`` is served too;
    what a name routes to is ``models.route(name)``."""
    model: str = _required(document, "model", str)
    if model not in models:
        names = models.names() if isinstance(models, ServedModels) else [name for name in models if name]
        shown = model if len(model) <= MODEL_SHOWN_CHARS_MAX else model[:MODEL_SHOWN_CHARS_MAX] + "..."
        raise ApiError(
            404,
            f"the model {shown!r} does not exist here; routable: {', '.join(names)} (GET /v1/models)",
            "invalid_request_error",
            "model",
            "model_not_found",
        )
    return model


def request_from_openai(document: dict[str, Any]) -> ChatRequest:
    """The library's request for an OpenAI-shaped document, or a 400 naming the field at fault."""
    try:
        return ChatRequest.from_openai(document)
    except InvalidInputError as error:
        raise bad_request(str(error), param=error.param, code=error.code) from None


def gateway_fields(
    document: dict[str, Any], strategies: tuple[str, ...]
) -> tuple[bool, str | None, bool | str | None, int | None]:
    """The gateway's own fields of a body (quality, strategy, cache, retries), checked."""
    quality = _optional(document, "quality", bool) or False
    strategy = _optional(document, "strategy", str)
    if strategy is not None and strategy not in strategies:
        raise bad_request(f"strategy must be one of {', '.join(strategies)}", param="strategy")
    cache = document.get("cache")
    if not (cache is None or isinstance(cache, bool) or cache == "always"):
        raise bad_request('cache must be true, false or "always"', param="cache", code="invalid_type")
    retries = document.get("retries")
    if retries is not None and (type(retries) is not int or not 0 <= retries <= ATTEMPTS_MAX):
        raise bad_request(f"retries must be a whole number from 0 to {ATTEMPTS_MAX}", param="retries",
                          code="invalid_type" if type(retries) is not int else "invalid_value")  # fmt: skip
    return quality, strategy, cache, retries


def parse_goal(body: bytes) -> tuple[str, bool, str | None]:
    """``{"goal": str, "quality"?: bool, "strategy"?: str}`` of a plan request."""
    document = parse_json_object(body)
    goal = _required(document, "goal", str)
    if not goal.strip():
        raise bad_request("goal must not be blank", param="goal")
    if len(goal) > GOAL_CHARS_MAX:
        raise bad_request(f"goal must be at most {GOAL_CHARS_MAX} characters", param="goal")
    return goal, _optional(document, "quality", bool) or False, _optional(document, "strategy", str)


def _required(document: dict[str, Any], name: str, kind: type) -> Any:
    if name not in document or document[name] is None:
        raise bad_request(f"missing required parameter: {name!r}", param=name, code="missing_required_parameter")
    return _optional(document, name, kind)


def _optional(document: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = document.get(name)
    if value is None:
        return None
    # bool is an int in Python, but not in JSON: true is no token count.
    if isinstance(value, bool) and kind is not bool:
        raise bad_request(f"{name} must be {_kind_name(kind)}, not a boolean", param=name, code="invalid_type")
    if not isinstance(value, kind):
        raise bad_request(f"{name} must be {_kind_name(kind)}, not {json_type(value)}", param=name, code="invalid_type")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", list: "an array", dict: "an object", bool: "a boolean", int: "an integer"}
    if isinstance(kind, tuple):
        return "a number"
    return names.get(kind, kind.__name__)

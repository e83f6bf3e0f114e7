"""Google Gemini (Generative Language API) on the wire.

`POST /{v1,v1beta}/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`. Shapes follow
the `google-genai` SDK's `GenerateContentResponse` and the API's errors
(`{"error": {code, message, status, details?}}`), including how it treats keys: the key comes in
`x-goog-api-key` or `?key=`; a missing key is 403, a wrong key is 400 `API_KEY_INVALID` (not 401).

Thought signatures as Gemini 3 does them (https://ai.google.dev/gemini-api/docs/thought-signatures).
An answer that calls functions signs its first `functionCall` part only (later parallel calls carry
none): the part gets `"thoughtSignature"`, the base64 of HMAC-SHA256(secret drawn when the server
starts, b"thought\0" + the call's canonical JSON `{"args": ..., "name": ...}`), so the same call gets
the same signature; streamed, it is on the part of the chunk that carries that call. Every `model`
turn a request sends back with `functionCall` parts must carry a signature on its first one, else
400 "Function call is missing a thought_signature ..." naming the call and the turn's position (1-based,
as the API counts `contents`); every signature sent back (on any part of a model turn) must be one
this server issued for that very call or a documented dummy (`skip_thought_signature_validator`,
`context_engineering_is_the_way_to_go`), else 400 "Corrupted thought signature.". Signatures are
bytes: standard or URL-safe base64, padded or not, are all read (the SDK sends URL-safe). The server
counts, per accepted request, each model turn's first-call signature in `thought_signatures_seen`
(keys "issued" and "dummy").
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections import Counter
from typing import Any

from ._server import (
    Endpoint,
    ErrorReply,
    LoopbackServer,
    Reply,
    Request,
    Responder,
    Route,
    StreamPlan,
    Wire,
    echo,
    sse,
)
from ._signer import Signer

THOUGHT_SIGNATURES_DOCS = "https://ai.google.dev/gemini-api/docs/thought-signatures"
# The documented values that skip the validation, as they go on the wire.
DUMMY_THOUGHT_SIGNATURES = ("skip_thought_signature_validator", "context_engineering_is_the_way_to_go")
CORRUPTED_THOUGHT_SIGNATURE = "Corrupted thought signature."


def missing_thought_signature(name: str, position: int) -> str:
    """The API's message for a model turn whose first function call has no signature; `position`
    is the turn's 1-based place in `contents`."""
    return (
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
        "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
        f"function call `default_api:{name}` , position {position}. Please refer to {THOUGHT_SIGNATURES_DOCS} for "
        "more details."
    )


def _signature_bytes(signature: Any) -> bytes | None:
    """A wire signature's bytes (a proto `bytes` field: standard or URL-safe base64, padding optional)."""
    if not isinstance(signature, str) or not signature:
        return None
    text = signature.translate(str.maketrans("-_", "+/"))
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


_DUMMY_BYTES = frozenset(filter(None, map(_signature_bytes, DUMMY_THOUGHT_SIGNATURES)))

# (google.rpc status, message) of the errors the API returns for these HTTP statuses.
_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
            "valid authentication credential."
        ),
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: (
        "INTERNAL",
        (
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting"
        ),
    ),
    502: ("UNAVAILABLE", "Bad gateway."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}


def _error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> ErrorReply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return ErrorReply(code, {"error": error})


def _parts_text(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return ""
    return "".join(part.get("text", "") for part in parts if isinstance(part, dict))


class GeminiWire(Wire):
    name = "gemini"
    base_path = ""

    def __init__(self) -> None:
        self._signer = Signer()  # signs the function calls this server answers
        # Per accepted request, each model turn's first-call signature by kind: "issued", "dummy".
        self.thought_signatures_seen: Counter[str] = Counter()

    def _mac(self, call: dict[str, Any]) -> bytes:
        canonical = json.dumps(
            {"args": call.get("args", {}), "name": call.get("name")},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return self._signer.mac(b"thought", canonical.encode())

    def sign(self, name: str, args: dict[str, Any]) -> str:
        """The `thoughtSignature` of an answer whose first call is this one: base64 HMAC-SHA256."""
        return base64.b64encode(self._mac({"name": name, "args": args})).decode()

    def signature_kind(self, signature: Any, call: Any) -> str | None:
        """The kind of a signature sent back on `call`'s part: "issued" when this server signed
        that call, "dummy" for a documented skip value, None otherwise (corrupted)."""
        raw = _signature_bytes(signature)
        if raw is None:
            return None
        if raw in _DUMMY_BYTES:
            return "dummy"
        if isinstance(call, dict) and hmac.compare_digest(raw, self._mac(call)):
            return "issued"
        return None

    def _check_thought_signatures(self, contents: list[Any]) -> ErrorReply | None:
        seen: list[str] = []
        for position, content in enumerate(contents, start=1):
            parts = content.get("parts")
            if content.get("role") != "model" or not isinstance(parts, list):
                continue
            first_call = True
            for part in parts:
                if not isinstance(part, dict):
                    continue
                call = part.get("functionCall")
                signature = part.get("thoughtSignature")
                if call is not None and first_call and signature is None:
                    name = call.get("name") if isinstance(call, dict) else None
                    return _error(400, "INVALID_ARGUMENT", missing_thought_signature(str(name), position))
                if signature is not None:
                    kind = self.signature_kind(signature, call)
                    if kind is None:
                        return _error(400, "INVALID_ARGUMENT", CORRUPTED_THOUGHT_SIGNATURE)
                    if call is not None and first_call:
                        seen.append(kind)
                if call is not None:
                    first_call = False
        self.thought_signatures_seen.update(seen)
        return None

    def routes(self) -> list[Route]:
        # The API serves both versions; google-genai 3.x asks for v1 unless told otherwise.
        routes = []
        for version in ("v1", "v1beta"):
            routes.append(Route("POST", f"/{version}/models/{{model}}:generateContent", Endpoint.GENERATE))
            routes.append(Route("POST", f"/{version}/models/{{model}}:streamGenerateContent", Endpoint.STREAM_GENERATE))
        return routes

    def check(self, request: Request, endpoint: Endpoint, api_key: str) -> ErrorReply | None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            return _error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). Please use API "
                "Key or other form of API consumer identity to call this API.",
            )
        if key != api_key:
            error_info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
            return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [error_info])
        if endpoint is Endpoint.STREAM_GENERATE and request.query.get("alt") != "sse":
            # The API would stream a JSON array; every SDK asks for SSE, so that is all we serve.
            return _error(400, "INVALID_ARGUMENT", "loopback: only alt=sse streaming is served")
        body = request.json
        if not isinstance(body, dict):
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return _error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n")
        for content in contents:
            if not isinstance(content, dict) or content.get("role", "user") not in ("user", "model"):
                return _error(400, "INVALID_ARGUMENT", "Please use a valid role: user, model.")
        return self._check_thought_signatures(contents)

    def model(self, request: Request) -> str:
        return request.path_params["model"]

    def user_text(self, body: Any) -> str:
        contents = body.get("contents") if isinstance(body, dict) else None
        for content in reversed(contents if isinstance(contents, list) else []):
            if isinstance(content, dict) and content.get("role", "user") == "user":
                return _parts_text(content)
        return ""

    def prompt_texts(self, body: Any) -> list[str]:
        return [_parts_text(body.get("systemInstruction")), *(_parts_text(content) for content in body["contents"])]

    def max_output_tokens(self, body: Any) -> int | None:
        config = body.get("generationConfig")
        limit = config.get("maxOutputTokens") if isinstance(config, dict) else None
        return limit if isinstance(limit, int) else None

    def render(self, request: Request, reply: Reply) -> dict[str, Any]:
        if reply.tool_calls:
            preface = [{"text": reply.text}] if reply.text else []
            return _response(reply, reply.text, final=True, parts=[*preface, *self._function_calls(reply)])
        return _response(reply, reply.text, final=True)

    def render_stream(self, request: Request, reply: Reply) -> StreamPlan:
        # Gemini streams a preface's text in pieces, then each function call whole, in a chunk of its own
        # (the first with its thought signature).
        calls = [sse(_response(reply, "", final=False, parts=[part])) for part in self._function_calls(reply)]
        return StreamPlan(
            head=[],
            deltas=[*(sse(_response(reply, piece, final=False)) for piece in reply.pieces), *calls],
            tail=[sse(_response(reply, "", final=True))],
        )

    def _function_calls(self, reply: Reply) -> list[dict[str, Any]]:
        """The reply's tool calls as `functionCall` parts (Gemini 3 gives each call an id), the
        first signed as Gemini 3 signs parallel calls: the first only."""
        parts: list[dict[str, Any]] = [
            {"functionCall": {"id": call_id, "name": name, "args": args}} for call_id, name, args in reply.tool_calls
        ]
        if parts:
            _, name, args = reply.tool_calls[0]
            parts[0]["thoughtSignature"] = self.sign(name, args)
        return parts

    def error_for_status(self, status: int, retry_after_s: float | None = None) -> ErrorReply:
        rpc_status, message = _STATUS_ERRORS.get(status, ("UNKNOWN", f"HTTP {status}."))
        details = None
        if retry_after_s is not None:
            # The API's own retry hint is in the body; `Retry-After` is added by the server as well.
            details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_s:g}s"}]
        return _error(status, rpc_status, message, details)

    def error_quota(self) -> ErrorReply:
        quota_failure = {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                }
            ],
        }
        return _error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details. For more information on "
            "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
            [quota_failure],
        )

    def error_context_length(self, prompt_tokens: int, limit_tokens: int) -> ErrorReply:
        return _error(
            400,
            "INVALID_ARGUMENT",
            f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens allowed ({limit_tokens}).",
        )

    def stream_error_event(self) -> bytes:
        return sse(self.error_for_status(503).body)

    def response_headers(self, reply_id: str) -> dict[str, str]:
        return {"x-goog-request-id": reply_id}


def _response(reply: Reply, text: str, *, final: bool, parts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    parts = [{"text": text}] if parts is None else parts
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": reply.model, "responseId": reply.id}
    if final:
        candidate["finishReason"] = "MAX_TOKENS" if reply.truncated else "STOP"
        response["usageMetadata"] = {
            "promptTokenCount": reply.prompt_tokens,
            "candidatesTokenCount": reply.completion_tokens,
            "totalTokenCount": reply.total_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.prompt_tokens}],
        }
    return response


class GeminiServer(LoopbackServer):
    """A Gemini API server; `base_url` is the origin (the SDK adds `/v1beta/models/...`)."""

    def __init__(
        self,
        *,
        api_key: str = "AIza-loopback-gemini",
        responder: Responder = echo,
    ) -> None:
        wire = GeminiWire()
        super().__init__(wire, api_key=api_key, responder=responder)
        self.gemini_wire = wire

    @property
    def thought_signatures_seen(self) -> Counter[str]:
        """How many model turns' first-call signatures accepted requests carried, by kind:
        "issued" (this server's) and "dummy" (a documented skip value)."""
        return self.gemini_wire.thought_signatures_seen

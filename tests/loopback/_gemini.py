"""Google Gemini (Generative Language API) on the wire.

`POST /{v1,v1beta}/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`. Shapes follow
the `google-genai` SDK's `GenerateContentResponse` and the API's errors
(`{"error": {code, message, status, details?}}`), including how it treats keys: the key comes in
`x-goog-api-key` or `?key=`; a missing key is 403, a wrong key is 400 `API_KEY_INVALID` (not 401).
"""

from __future__ import annotations

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
        return None

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
            return _response(reply, reply.text, final=True, parts=[*preface, *_function_calls(reply)])
        return _response(reply, reply.text, final=True)

    def render_stream(self, request: Request, reply: Reply) -> StreamPlan:
        # Gemini streams a preface's text in pieces, then each function call whole, in a chunk of its own.
        calls = [sse(_response(reply, "", final=False, parts=[part])) for part in _function_calls(reply)]
        return StreamPlan(
            head=[],
            deltas=[*(sse(_response(reply, piece, final=False)) for piece in reply.pieces), *calls],
            tail=[sse(_response(reply, "", final=True))],
        )

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


def _function_calls(reply: Reply) -> list[dict[str, Any]]:
    """The reply's tool calls as `functionCall` parts (Gemini 3 gives each call an id)."""
    return [{"functionCall": {"id": call_id, "name": name, "args": args}} for call_id, name, args in reply.tool_calls]


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
        super().__init__(GeminiWire(), api_key=api_key, responder=responder)

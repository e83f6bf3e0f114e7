"""The OpenAI-compatible gateway: ``trinity-hybrid serve``, or ``create_app()`` under any ASGI
server.

    from trinity_hybrid.gateway import create_app
    app = create_app()          # uvicorn, granian, hypercorn: any ASGI server

Modules, one concern each: ``_app`` (routing and responses), ``_validation`` (untrusted bodies),
``_errors`` (exceptions to OpenAI-style errors, in one place), ``_shapes`` (OpenAI's JSON),
``_chat`` (the call through the node), ``_auth``, ``_metrics``, ``_autonomous``, ``_serve``.
"""

from ._app import Gateway, create_app
from ._chat import ChatService
from ._errors import ApiError

__all__ = ["ApiError", "ChatService", "Gateway", "create_app"]

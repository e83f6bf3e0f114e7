"""The admin API for virtual keys, guarded by ``TRINITY_ADMIN_KEY``: plain functions from a
parsed request to ``(status, document)``; the app only routes and writes JSON.

    POST   /admin/keys          {"name", "models"?, "rpm"?, "tpm"?, "budget_day_usd"?, "budget_month_usd"?}
                                → 201 {"key": {...}, "secret": "tk-…"}: the secret, shown this once
    GET    /admin/keys          → 200 {"keys": [{...}, ...]}
    GET    /admin/keys/<name>   → 200 {"key": {... limits and spend ...}}
    DELETE /admin/keys/<name>   → 200 {"deleted": "<name>"}
    GET    /admin/spend         → 200 what ``VirtualKeys.usage`` gives

The app calls ``await admin.handle(method, path, authorization, document)`` for every path
under ``/admin/`` (``document``: the parsed JSON body, or None). Without ``TRINITY_ADMIN_KEY``
the admin API does not exist (404). Errors are OpenAI-shaped. Keys configured in TRINITY_CONFIG
are listed but cannot be deleted here (409). Nothing answered or logged holds a digest, and the
only secret ever answered is a new key's, in the 201 that creates it.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

from .._exceptions import ConfigurationError
from ._key_definitions import KEY_CHECKS, NAME_PATTERN, check_fields, definition_from_fields, digest_of, new_secret
from ._virtual_keys import VirtualKeys

__all__ = ["ADMIN_KEY_VARIABLE", "AdminApi"]

ADMIN_KEY_VARIABLE = "TRINITY_ADMIN_KEY"
BEARER_PREFIX = b"bearer "
CREATE_CHECKS = {name: check for name, check in KEY_CHECKS.items() if name != "secret_sha256"}
# An admin key shorter than this is refused at startup: it guards every key's budget.
ADMIN_KEY_CHARS_MIN = 16

Answer = tuple[int, dict[str, Any]]


def error(status: int, message: str, code: str, *, param: str | None = None) -> Answer:
    kind = {401: "authentication_error", 404: "not_found_error", 503: "server_error"}.get(
        status, "invalid_request_error"
    )
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}


class AdminApi:
    """Routes ``/admin/...`` requests to the virtual keys. ``repr`` never shows the admin key."""

    def __init__(self, keys: VirtualKeys, admin_key: str | None) -> None:
        if admin_key is not None and len(admin_key) < ADMIN_KEY_CHARS_MIN:
            raise ConfigurationError(f"{ADMIN_KEY_VARIABLE} must be at least {ADMIN_KEY_CHARS_MIN} characters")
        self._keys = keys
        self._admin_key = admin_key.encode("utf-8") if admin_key else None

    @classmethod
    def from_env(cls, keys: VirtualKeys, environ: Mapping[str, str]) -> AdminApi:
        return cls(keys, environ.get(ADMIN_KEY_VARIABLE, "").strip() or None)

    def __repr__(self) -> str:
        return f"AdminApi(enabled={self.enabled})"

    @property
    def enabled(self) -> bool:
        return self._admin_key is not None

    def allows(self, authorization: bytes | None) -> bool:
        """A Bearer token equal to the admin key, compared in constant time."""
        if self._admin_key is None or authorization is None:
            return False
        if authorization[: len(BEARER_PREFIX)].lower() != BEARER_PREFIX:
            return False
        return hmac.compare_digest(authorization[len(BEARER_PREFIX) :].strip(), self._admin_key)

    async def handle(self, method: str, path: str, authorization: bytes | None, document: Any) -> Answer:
        if not self.enabled:
            return error(404, f"the admin API is off: set {ADMIN_KEY_VARIABLE} to enable it", "not_found")
        if not self.allows(authorization):
            return error(401, "the admin API needs the admin key as a Bearer token", "invalid_admin_key")
        parts = [part for part in path.split("/") if part]
        if parts == ["admin", "keys"] and method == "POST":
            return await self.create(document)
        if parts == ["admin", "keys"] and method == "GET":
            return await self.list()
        if parts == ["admin", "spend"] and method == "GET":
            return 200, await self._keys.usage()
        if len(parts) == 3 and parts[:2] == ["admin", "keys"] and method in ("GET", "DELETE"):
            return await (self.show(parts[2]) if method == "GET" else self.delete(parts[2]))
        return error(404, f"no admin route {method} {path}", "not_found")

    async def create(self, document: Any) -> Answer:
        if not isinstance(document, dict):
            return error(400, "the body must be a JSON object", "invalid_body")
        try:
            check_fields(document, CREATE_CHECKS, "key")
        except ConfigurationError as problem:
            field = str(problem).split(":", 1)[0].removeprefix("key.")
            return error(400, str(problem), "invalid_field", param=field)
        if "name" not in document:
            return error(400, "key.name: missing", "invalid_field", param="name")
        secret = new_secret()
        definition = definition_from_fields(
            document, digest=digest_of(secret), source="admin", created_unix_s=int(time.time())
        )
        created = await self._keys.create(definition)
        if created is None:
            return error(503, "the key store is unreachable; the key was not created", "limits_unavailable")
        if not created:
            return error(409, f"a key named {definition.name!r} exists already", "key_exists", param="name")
        return 201, {
            "key": definition.public(),
            "secret": secret,
            "note": "the secret is shown this once; only its SHA-256 is kept",
        }

    async def list(self) -> Answer:
        definitions = await self._keys.definitions()
        if definitions is None:
            return error(503, "the key store is unreachable", "limits_unavailable")
        return 200, {"keys": [definition.public() for definition in definitions]}

    async def show(self, name: str) -> Answer:
        usage = await self._keys.usage()
        for line in usage["keys"]:
            if line["name"] == name:
                return 200, {"key": line, "mode": usage["mode"]}
        return error(404, f"no key named {name!r}", "key_not_found")

    async def delete(self, name: str) -> Answer:
        if not NAME_PATTERN.fullmatch(name):
            return error(404, "no such key", "key_not_found")
        if self._keys.is_configured(name):
            return error(409, f"{name!r} is defined in TRINITY_CONFIG; remove it there", "key_configured")
        deleted = await self._keys.delete(name)
        if deleted is None:
            if self._keys.mode == "degraded":
                return error(503, "the key store is unreachable; nothing was deleted", "limits_unavailable")
            return error(404, f"no key named {name!r}", "key_not_found")
        return 200, {"deleted": name}

"""What a virtual key is: its name, the hash of its secret, its models and its limits; the
``[virtual_keys]`` table of ``TRINITY_CONFIG``, checked.

    [virtual_keys]
    failure_mode = "open"          # when Redis is unreachable: "open" (local limits) or "closed" (503)
    op_timeout_s = 0.5             # the longest a request waits on Redis before the failure mode
    reservation_ttl_s = 900        # an unsettled reservation is released after this long
    namespace = "trinity"          # Redis key prefix (defaults to [shared_state].namespace)

    [[virtual_keys.keys]]
    name = "team-a"                # letters, digits, '.', '_', '-'; at most 64
    secret_sha256 = "9f86d0…"      # printf %s "$SECRET" | sha256sum; never the secret itself
    models = ["openai/gpt-4o-mini", "fast"]   # empty or absent: every model
    rpm = 60                       # requests per minute (UTC clock minute)
    tpm = 100000                   # tokens per minute, input + output
    budget_day_usd = 5.0           # per UTC calendar day
    budget_month_usd = 100.0       # per UTC calendar month

Every limit is optional. Only a secret's SHA-256 is ever stored (a 256-bit random secret needs
no slow hash: nothing can be guessed from its digest). Money is kept in integer nano-USD so
that sums over replicas are exact.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import ConfigurationError

__all__ = [
    "KeyDefinition",
    "VirtualKeysSettings",
    "digest_of",
    "nano_usd",
    "new_secret",
    "parse_virtual_keys",
]

NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
SECRET_PREFIX = "tk-"
NANO_PER_USD = 1_000_000_000
# Bounds: an allowed-models list, and a budget (2**53 nano-USD stays exact in Redis's Lua).
MODELS_MAX = 256
BUDGET_USD_MAX = 1_000_000.0
LIMIT_MAX = 2**40
FAILURE_MODES = ("open", "closed")


def digest_of(secret: str) -> str:
    """The SHA-256 of a secret, hex: the only form of it kept anywhere."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def nano_usd(usd: float) -> int:
    return round(usd * NANO_PER_USD)


@dataclass(frozen=True)
class KeyDefinition:
    """One virtual key. ``repr`` shows the digest's first 8 hex digits only."""

    name: str
    digest: str = field(repr=False)
    models: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    budget_day_nano_usd: int | None = None
    budget_month_nano_usd: int | None = None
    source: str = "config"
    created_unix_s: int = 0

    def __post_init__(self) -> None:
        assert NAME_PATTERN.fullmatch(self.name), "a key name is checked before a definition is made"
        assert DIGEST_PATTERN.fullmatch(self.digest), "a digest is 64 lower-case hex digits"

    def to_json(self, *, digest: bool = True) -> str:
        """The stored form (Redis and the Lua scripts read it): limits absent when unset."""
        document: dict[str, Any] = {"name": self.name, "models": list(self.models)}
        if digest:
            document["digest"] = self.digest
        for name in ("rpm", "tpm", "budget_day_nano_usd", "budget_month_nano_usd"):
            value = getattr(self, name)
            if value is not None:
                document[name] = value
        document["source"] = self.source
        document["created_unix_s"] = self.created_unix_s
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyDefinition:
        document = json.loads(text)
        return cls(
            name=document["name"],
            digest=document["digest"],
            models=tuple(document.get("models", ())),
            rpm=document.get("rpm"),
            tpm=document.get("tpm"),
            budget_day_nano_usd=document.get("budget_day_nano_usd"),
            budget_month_nano_usd=document.get("budget_month_nano_usd"),
            source=document.get("source", "admin"),
            created_unix_s=document.get("created_unix_s", 0),
        )

    def public(self) -> dict[str, Any]:
        """What the admin API and /status show: no digest, budgets in USD."""
        return {
            "name": self.name,
            "source": self.source,
            "models": list(self.models),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "budget_day_usd": None if self.budget_day_nano_usd is None else self.budget_day_nano_usd / NANO_PER_USD,
            "budget_month_usd": (
                None if self.budget_month_nano_usd is None else self.budget_month_nano_usd / NANO_PER_USD
            ),
            "created_unix_s": self.created_unix_s,
        }


@dataclass(frozen=True)
class VirtualKeysSettings:
    keys: tuple[KeyDefinition, ...] = ()
    failure_mode: str = "open"
    op_timeout_s: float = 0.5
    reservation_ttl_s: float = 900.0
    namespace: str | None = None


def _limit(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 < value <= LIMIT_MAX


def _budget(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and 0 < value <= BUDGET_USD_MAX
    )


def _models(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MODELS_MAX
        and all(isinstance(model, str) and model != "" for model in value)
    )


KEY_CHECKS: dict[str, tuple[Any, str]] = {
    "name": (
        lambda value: isinstance(value, str) and NAME_PATTERN.fullmatch(value) is not None,
        "1 to 64 letters, digits, '.', '_' or '-'",
    ),
    "secret_sha256": (
        lambda value: isinstance(value, str) and DIGEST_PATTERN.fullmatch(value) is not None,
        "the secret's SHA-256 as 64 lower-case hex digits",
    ),
    "models": (_models, f"a list of at most {MODELS_MAX} model names"),
    "rpm": (_limit, "a positive integer"),
    "tpm": (_limit, "a positive integer"),
    "budget_day_usd": (_budget, f"a positive number of USD up to {BUDGET_USD_MAX:.0f}"),
    "budget_month_usd": (_budget, f"a positive number of USD up to {BUDGET_USD_MAX:.0f}"),
}
SETTINGS_CHECKS: dict[str, tuple[Any, str]] = {
    "failure_mode": (lambda value: value in FAILURE_MODES, "open or closed"),
    "op_timeout_s": (lambda value: _budget(value) and float(value) <= 5, "a number of seconds in (0, 5]"),
    "reservation_ttl_s": (lambda value: _budget(value) and float(value) <= 86_400, "a number of seconds in (0, 86400]"),
    "namespace": (
        lambda value: isinstance(value, str) and NAME_PATTERN.fullmatch(value) is not None,
        "1 to 64 letters, digits, '.', '_' or '-'",
    ),
    "keys": (lambda value: isinstance(value, list), "an array of tables ([[virtual_keys.keys]])"),
}


def check_fields(table: Mapping[str, Any], checks: Mapping[str, tuple[Any, str]], where: str) -> None:
    """Raises ``ConfigurationError`` naming the first unknown or wrong field (``where.field``)."""
    for key, value in table.items():
        name = f"{where}.{key}"
        if key not in checks:
            raise ConfigurationError(f"{name}: unknown key; expected one of {', '.join(sorted(checks))}")
        check, expected = checks[key]
        if not check(value):
            raise ConfigurationError(f"{name}: must be {expected}, got {value!r}")


def definition_from_fields(table: Mapping[str, Any], *, digest: str, source: str, created_unix_s: int) -> KeyDefinition:
    """A definition from checked fields (the config's or the admin API's)."""
    day, month = table.get("budget_day_usd"), table.get("budget_month_usd")
    return KeyDefinition(
        name=table["name"],
        digest=digest,
        models=tuple(table.get("models", ())),
        rpm=table.get("rpm"),
        tpm=table.get("tpm"),
        budget_day_nano_usd=None if day is None else nano_usd(float(day)),
        budget_month_nano_usd=None if month is None else nano_usd(float(month)),
        source=source,
        created_unix_s=created_unix_s,
    )


def parse_virtual_keys(document: Mapping[str, Any]) -> VirtualKeysSettings:
    """The ``[virtual_keys]`` table of a TOML document (absent: no keys, the defaults)."""
    table = document.get("virtual_keys", {})
    if not isinstance(table, dict):
        raise ConfigurationError("TRINITY_CONFIG virtual_keys: must be a table")
    check_fields(table, SETTINGS_CHECKS, "TRINITY_CONFIG virtual_keys")
    keys: list[KeyDefinition] = []
    names: set[str] = set()
    digests: set[str] = set()
    for index, entry in enumerate(table.get("keys", [])):
        where = f"TRINITY_CONFIG virtual_keys.keys[{index}]"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where}: must be a table")
        check_fields(entry, KEY_CHECKS, where)
        for required in ("name", "secret_sha256"):
            if required not in entry:
                raise ConfigurationError(f"{where}.{required}: missing")
        if entry["name"] in names:
            raise ConfigurationError(f"{where}.name: {entry['name']!r} is defined twice")
        if entry["secret_sha256"] in digests:
            raise ConfigurationError(f"{where}.secret_sha256: the same secret is given to two keys")
        names.add(entry["name"])
        digests.add(entry["secret_sha256"])
        keys.append(definition_from_fields(entry, digest=entry["secret_sha256"], source="config", created_unix_s=0))
    return VirtualKeysSettings(
        keys=tuple(keys),
        failure_mode=table.get("failure_mode", "open"),
        op_timeout_s=float(table.get("op_timeout_s", 0.5)),
        reservation_ttl_s=float(table.get("reservation_ttl_s", 900.0)),
        namespace=table.get("namespace"),
    )

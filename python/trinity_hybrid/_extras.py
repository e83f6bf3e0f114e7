"""The optional extras: the modules each one brings, and how to say that one is missing.

A command that needs an extra asks here before it imports anything from it, so a missing extra is
one line naming the pip command, never a ``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRA_MODULES", "install_command", "missing_module"]

# Only the modules the code imports itself: uvloop is left out of the gateway's, since uvicorn
# falls back to asyncio's own loop without it.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "gateway": ("uvicorn", "httptools", "prometheus_client"),
    "demo": ("rich",),
    "plot": ("matplotlib",),
    "local": ("llama_cpp",),
    "redis": ("redis",),
    "otel": ("opentelemetry",),
    "postgres": ("psycopg",),
}


def install_command(extra: str) -> str:
    if extra not in EXTRA_MODULES:
        raise KeyError(f"no extra named {extra!r}; expected one of {', '.join(EXTRA_MODULES)}")
    return f"pip install 'trinity-hybrid[{extra}]'"


def missing_module(extra: str) -> str | None:
    """The first of ``extra``'s modules that this interpreter cannot import, or None when all are
    there. Nothing is imported: ``find_spec`` only looks (and treats a module set to None in
    ``sys.modules``, the way to block an import, as missing)."""
    for module in EXTRA_MODULES[extra]:
        if importlib.util.find_spec(module) is None:
            return module
    return None

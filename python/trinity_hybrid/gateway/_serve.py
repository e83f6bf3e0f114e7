"""``trinity-hybrid serve``: the gateway under uvicorn (httptools parser, uvloop event loop).

Metrics with ``--workers N`` (N > 1): each worker is a process of its own, so the command puts
prometheus_client in its multiprocess mode, every worker writing its series to files in one
directory (``PROMETHEUS_MULTIPROC_DIR``, a temporary one made here and removed on exit unless the
variable was set already) and any worker's ``/metrics`` adding them all up. One worker keeps
the faster in-memory values.

Binding: when the gateway is protected (every request needs a key: ``TRINITY_API_KEYS``, or
virtual keys, which ``[virtual_keys]`` in TRINITY_CONFIG or ``TRINITY_ADMIN_KEY`` turn on) it
listens on every interface by default; otherwise only on loopback, and a ``--host`` given
explicitly is obeyed with a warning on stderr, since anyone who can reach the port can then
spend the providers' keys. With virtual keys from ``[virtual_keys]`` alone (no operator key, no
admin key) nobody may read ``/status`` and ``/metrics`` (``_admission``): a note says so.

Before uvicorn starts, the command checks that it can listen (a busy port is one line and exit
code 1), then prints the address and the providers it found: their names only, never a key.
The ``gateway`` extra is checked before this module is imported (``trinity_hybrid._cli``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from .._extras import install_command
from ._admin import ADMIN_KEY_VARIABLE
from ._admission import virtual_keys_on
from ._auth import KEYS_VARIABLE, Authenticator
from ._listen import ListenError, address_url, reserve_port
from ._server_limits import read_server_limits

if TYPE_CHECKING:
    from .. import TrinityHybridNode

__all__ = ["serve"]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
LOOPBACK = "127.0.0.1"
EVERYWHERE = "0.0.0.0"
LOOPBACK_NAMES = frozenset({LOOPBACK, "localhost", "::1"})


def choose_host(host: str | None, protected: bool) -> tuple[str, str | None]:
    """(the address to bind, a warning to print or None); ``protected``: see ``protection``."""
    if host is None:
        return (EVERYWHERE if protected else LOOPBACK), None
    if not protected and host not in LOOPBACK_NAMES:
        return host, (
            f"warning: neither {KEYS_VARIABLE} nor virtual keys are set, so the gateway on {host} answers "
            f"anyone who can reach it with your providers' keys; set {KEYS_VARIABLE} (or [virtual_keys] in "
            f"TRINITY_CONFIG, or {ADMIN_KEY_VARIABLE}) to require a key"
        )
    return host, None


def protection(environ: Mapping[str, str]) -> tuple[bool, bool]:
    """(whether every request needs a key, whether /status and /metrics do). A request needs an
    operator key (``TRINITY_API_KEYS``, at least one non-blank entry, as ``Authenticator`` reads
    it) or, with virtual keys on (as ``Admission`` turns them on), a virtual key; /status and
    /metrics an operator key or the admin key. TRINITY_CONFIG was checked by ``from_env``."""
    operators = Authenticator.from_env(environ).required
    admin = bool(environ.get(ADMIN_KEY_VARIABLE, "").strip())
    path = environ.get("TRINITY_CONFIG", "").strip()
    document: dict[str, Any] = {}
    if path and not operators:
        from .._config import load_config

        document = load_config(path)
    return operators or virtual_keys_on(document, environ), operators or admin


def providers_line(node: TrinityHybridNode) -> str:
    """The available providers by name (no key, not even masked), and a word on the local model
    when its runtime is not installed and no server stands in for it."""
    from .._local import runtime_installed

    names = []
    for name in node.available_providers:
        if name == "local" and "local" not in node.base_urls and not runtime_installed():
            name = f"local (not installed: {install_command('local')})"
        names.append(name)
    return ", ".join(names) or "none"


@contextmanager
def _startup_failure_is_exit_1() -> Iterator[None]:
    """uvicorn exits with 3 when it cannot start (it has logged why); the CLI's code for every
    error is 1, as README lists."""
    try:
        yield
    except SystemExit as stop:
        if stop.code not in (None, 0):
            raise SystemExit(1) from None
        raise


@contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """The multiprocess metrics directory for ``workers`` processes (None for one worker):
    made and set in the environment the workers inherit, then removed; one the caller set is
    used as it is and left in place."""
    given = os.environ.get(MULTIPROCESS_VARIABLE)
    if given or workers == 1:
        yield given
        return
    directory = tempfile.mkdtemp(prefix="trinity-metrics-")
    os.environ[MULTIPROCESS_VARIABLE] = directory
    try:
        yield directory
    finally:
        del os.environ[MULTIPROCESS_VARIABLE]
        shutil.rmtree(directory, ignore_errors=True)


@click.command()
@click.option(
    "--host",
    default=None,
    help=f"Address to bind [default: {EVERYWHERE} with {KEYS_VARIABLE} or virtual keys set, else {LOOPBACK}].",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes; each keeps its own provider state, and /metrics adds up all of theirs.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request (costs time).")
def serve(host: str | None, port: int, workers: int, log_level: str, access_log: bool) -> None:
    """Run the OpenAI-compatible gateway: POST /v1/chat/completions, GET /v1/models, /health,
    /status, /metrics, /autonomous/plan and /autonomous/status."""
    import uvicorn

    from .. import TrinityError, TrinityHybridNode
    from ._protocol import GatewayProtocol

    given = os.environ.get(MULTIPROCESS_VARIABLE)
    if given and not os.path.isdir(given):
        click.echo(f"error: {MULTIPROCESS_VARIABLE} is set to {given!r}, which is not a directory", err=True)
        raise SystemExit(1)
    try:
        node = TrinityHybridNode.from_env()  # a bad configuration fails here, once, with a clear message
        limits = read_server_limits(os.environ)  # and so does a bad limit (each worker reads them again)
        protected, status_guarded = protection(os.environ)
        bound, warning = choose_host(host, protected)
        if warning:
            click.echo(warning, err=True)
        elif not status_guarded and bound not in LOOPBACK_NAMES:
            click.echo(f"note: /status and /metrics answer 401 to everyone (they list every virtual key's spend); "
                       f"set {ADMIN_KEY_VARIABLE} or {KEYS_VARIABLE} to read them", err=True)  # fmt: skip
        port = reserve_port(bound, port)
    except (TrinityError, ListenError) as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    click.echo(f"listening on {address_url(bound, port)} (OpenAI-compatible API at /v1"
               + (f", {workers} workers)" if workers > 1 else ")"))  # fmt: skip
    click.echo(f"providers: {providers_line(node)}")
    # Each worker makes its own node from the environment; this one only checked it.
    node.close()
    node.close_shared_state()
    with metrics_directory(workers), _startup_failure_is_exit_1():
        uvicorn.run(
            "trinity_hybrid.gateway._app:app_from_env",
            factory=True,
            host=bound,
            port=port,
            workers=workers,
            # uvicorn's httptools protocol with header and body deadlines and header limits
            # (``_protocol``, ``_server_limits``); uvloop when installed.
            http=GatewayProtocol,
            loop="auto",
            limit_concurrency=limits.connections_max,
            log_level=log_level,
            access_log=access_log,
            server_header=False,
            date_header=False,
            # uvicorn's X-Forwarded-For/-Proto middleware rewrites the scope's client and scheme,
            # which the gateway never reads (no answer carries an absolute URL, nothing is keyed
            # by address): off, it is one coroutine and a scan of the headers less per request.
            proxy_headers=False,
            lifespan="on",
        )

"""The request log: one structured record per gateway request, written off the request's path.

What the app does (the whole integration)::

    log = RequestLog.from_env(environ, config=document.get("request_log"),   # once, at startup
                              secrets=[key.reveal() for provider in node.status()["providers"]
                                       if (key := node.key(provider)) is not None])
    log.add_secret(secret)                                                  # a key created later
    request_id = request_id_of(_header(scope, REQUEST_ID_HEADER))          # per request
    ... answer with (REQUEST_ID_HEADER, request_id.encode()) among the headers ...
    log.submit(RequestRecord(request_id=request_id, time_s=time.time() at arrival, endpoint="chat",
                             status=200, outcome="success", latency_ms=..., key_name=...,
                             model_requested=params.model, provider=response.provider, ...,
                             attempts=response.attempts, trace_id=span.trace_id))
    log.counts()          # for /metrics: per sink, records written / dropped / failed
    log.close()           # lifespan shutdown: what was accepted is written, then the sinks close

``submit`` never blocks and never raises: each sink has a bounded queue and its own writer
thread; when a queue is full the record is dropped for that sink and counted. Measured on this
machine: building a record and submitting it to one sink costs about 6 µs on the request's path;
the writer then spends about 15 µs per record (its document and the masking) plus the sink's own
write, off the request's path. Every string of a
record is masked on the writer thread (``_redact.Redactor``: the known keys and their pieces,
and anything shaped like a key), so an upstream error that echoes a key never writes it down.

Sinks (``_log_sinks``), from the environment (which wins) or the ``[request_log]`` table of
``TRINITY_CONFIG``:

    TRINITY_REQUEST_LOG_STDOUT      stdout = true        one JSON line per request (default off:
                                                         measured at 120-190 µs of the gateway's
                                                         CPU per request, 2-3x its own cost)
    TRINITY_REQUEST_LOG_SQLITE      sqlite = "log.db"    an SQLite file (table trinity_request_log)
    TRINITY_REQUEST_LOG_POSTGRES    postgres = "dsn"     PostgreSQL, through psycopg 3
    TRINITY_REQUEST_LOG_QUEUE_MAX   queue_max = 10000    records waiting per sink, at most
    TRINITY_REQUEST_LOG_RETENTION_DAYS  retention_days = 30  SQLite/PostgreSQL rows older than this
                                                         are deleted (hourly); unset keeps all
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from queue import Empty, Full, Queue
from typing import Any

from .._exceptions import ConfigurationError
from .._results import Attempt
from ._log_sinks import PostgresSink, Sink, SqliteSink, StdoutSink, iso_time
from ._redact import Redactor, secrets_of

__all__ = ["REQUEST_ID_HEADER", "RequestLog", "RequestRecord", "request_id_of"]

logger = logging.getLogger("trinity_hybrid.gateway.request_log")

REQUEST_ID_HEADER = b"x-request-id"
# A client's id is kept when it is 1 to 128 of these characters (UUIDs, ULIDs, base64, the ids
# of common proxies); anything else (spaces, quotes, control or non-ASCII characters, a
# megabyte) is replaced by one of ours, so a log line cannot be forged or bloated through it.
REQUEST_ID_PATTERN = re.compile(rb"[A-Za-z0-9._:@/+=\-]{1,128}")
QUEUE_MAX_DEFAULT = 10_000
QUEUE_MAX_LIMIT = 1_000_000
BATCH_MAX = 256  # records per write: one transaction, one stdout write
ATTEMPTS_MAX = 32  # a record keeps the first attempts of a longer chain (hedges included)
ERROR_CHARS_MAX = 500
REQUEST_ID_CHARS_MAX = 128
MODEL_CHARS_MAX = 256  # a client's model string, bounded
RETENTION_DAYS_MAX = 36_500
CLOSE_TIMEOUT_S = 10.0
WARNING_INTERVAL_S = 60.0
# A password in a DSN, URL form (postgresql://user:password@host) or key=value form.
_DSN_PASSWORD = re.compile(r"(?<=://)[^:/@\s]*:([^@\s]+)(?=@)|\bpassword\s*=\s*(?:'([^']*)'|(\S+))")
# The [request_log] table of TRINITY_CONFIG, named in errors as the other tables are.
_TABLE = "TRINITY_CONFIG request_log"
_KEYS = ("postgres", "queue_max", "retention_days", "sqlite", "stdout")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def request_id_of(header: bytes | None) -> str:
    """The client's ``x-request-id`` when it is sane, else a new random id (32 hex digits)."""
    if header is not None and REQUEST_ID_PATTERN.fullmatch(header):
        return header.decode("ascii")
    # An identifier, not a secret: the random module's generator (reseeded in each worker
    # process) spares each request the system call os.urandom makes.
    return f"{random.getrandbits(128):032x}"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One gateway request, as the app knows it when the answer is sent: cheap to build (the
    library's own ``Attempt`` values, a float time); turned into a document on the writer
    thread. ``key_name`` is a gateway key's name, never its secret; ``cache_hit`` is None when
    the request did not go through the response cache; tokens are None when no provider
    reported them (a failed request)."""

    request_id: str
    time_s: float  # time.time() when the request came in; written as ISO 8601 UTC, "time"
    endpoint: str  # "chat", "messages", "plan", …
    status: int  # the HTTP status answered
    outcome: str  # "success", or the error's outcome ("client_error", "upstream_error", …)
    latency_ms: float
    key_name: str | None = None
    model_requested: str | None = None
    provider: str | None = None  # the provider that answered
    model: str | None = None  # the model that answered, "provider/model"
    error_type: str | None = None
    stream: bool = False
    cache_hit: bool | None = None
    tokens_input: int | None = None
    tokens_output: int | None = None
    cost_usd: float = 0.0
    attempts: tuple[Attempt, ...] = ()
    trace_id: str | None = None

    def document(self) -> dict[str, Any]:
        """The record as written: the sinks' columns (``_log_sinks.COLUMNS``), not yet masked."""
        return {
            "request_id": self.request_id[:REQUEST_ID_CHARS_MAX],
            "time": iso_time(datetime.fromtimestamp(self.time_s, timezone.utc)),
            "endpoint": self.endpoint,
            "key_name": self.key_name,
            "model_requested": self.model_requested[:MODEL_CHARS_MAX] if self.model_requested else None,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "outcome": self.outcome,
            "error_type": self.error_type,
            "stream": self.stream,
            "cache_hit": self.cache_hit,
            "tokens_input": self.tokens_input,
            "tokens_output": self.tokens_output,
            "cost_usd": self.cost_usd,
            "latency_ms": round(self.latency_ms, 3),
            "attempts": [_attempt_document(attempt) for attempt in self.attempts[:ATTEMPTS_MAX]],
            "trace_id": self.trace_id,
        }


def _attempt_document(attempt: Attempt) -> dict[str, Any]:
    return {
        "provider": attempt.provider,
        "outcome": attempt.outcome,
        "error_type": attempt.error_type,
        "error": attempt.error[:ERROR_CHARS_MAX] if attempt.error is not None else None,
        "latency_ms": round(attempt.latency_s * 1000, 3),
        "status_code": attempt.status_code,
    }


@dataclass(frozen=True, slots=True)
class _Flush:
    done: threading.Event


_STOP = object()


class _Writer:
    """One sink's queue and thread."""

    def __init__(self, sink: Sink, queue_max: int, redactor: Redactor) -> None:
        self.sink = sink
        self.redactor = redactor
        self.queue: Queue[Any] = Queue(queue_max)
        self.written = 0
        self.failed = 0  # records of batches the sink could not take
        self.dropped = 0  # records refused because the queue was full
        self._lock = threading.Lock()
        self._warned_s = -WARNING_INTERVAL_S
        self.thread = threading.Thread(target=self._run, name=f"trinity-request-log-{sink.name}", daemon=True)
        self.thread.start()

    def offer(self, record: RequestRecord, closed: bool) -> None:
        try:
            if closed:
                raise Full
            self.queue.put_nowait(record)
        except Full:
            with self._lock:
                self.dropped += 1

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self.queue.get_nowait())
                except Empty:
                    break
            records = [item for item in batch if isinstance(item, RequestRecord)]
            if records:
                self._write(records)
            for item in batch:
                if isinstance(item, _Flush):
                    item.done.set()
            if any(item is _STOP for item in batch):
                self._close_sink()
                return

    def _write(self, records: Sequence[RequestRecord]) -> None:
        try:
            redactor = self.redactor  # one table for the whole batch (add_secret replaces it)
            self.sink.write([redactor.document(record.document()) for record in records])
            self.written += len(records)
        except Exception as error:  # noqa: BLE001 - a sink's failure costs its batch, never the gateway
            self.failed += len(records)
            self._warn("request log: %s could not write %d records (%s)", self.sink.name, len(records), error)

    def _warn(self, message: str, *args: Any) -> None:
        now_s = time.monotonic()
        if now_s - self._warned_s >= WARNING_INTERVAL_S:
            self._warned_s = now_s
            # The error's text is masked too: a driver's message may quote a DSN or a row.
            logger.warning(self.redactor.text(message % args))

    def _close_sink(self) -> None:
        try:
            self.sink.close()
        except Exception as error:  # noqa: BLE001 - the thread ends either way
            self._warn("request log: closing %s failed (%s)", self.sink.name, type(error).__name__)


class RequestLog:
    """Records handed to ``submit`` reach every sink, off the caller's thread."""

    def __init__(self, sinks: Sequence[Sink], *, secrets: Iterable[str] = (), queue_max: int = QUEUE_MAX_DEFAULT):
        if not 1 <= queue_max <= QUEUE_MAX_LIMIT:
            raise ValueError(f"queue_max must be 1 to {QUEUE_MAX_LIMIT}, got {queue_max}")
        self._redactor = Redactor(secrets)
        self._writers = tuple(_Writer(sink, queue_max, self._redactor) for sink in sinks)
        self._secrets_lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, config: Mapping[str, Any] | None = None, secrets: Iterable[str] = ()
    ) -> RequestLog:
        """Sinks from ``environ`` over ``config`` (the ``[request_log]`` table); the keys to
        mask are ``secrets`` and every credential variable of ``environ``."""
        if config is not None and not isinstance(config, Mapping):
            raise ConfigurationError(f"{_TABLE}: must be a table")
        table = dict(config or {})
        for key in table:
            if key not in _KEYS:
                raise ConfigurationError(f"{_TABLE}.{key}: unknown key; expected one of {', '.join(_KEYS)}")
        retention_days = _retention_days(environ, table.get("retention_days"))
        sinks: list[Sink] = []
        if _flag(environ, "TRINITY_REQUEST_LOG_STDOUT", table.get("stdout", False)):
            sinks.append(StdoutSink())
        sqlite = _text(environ, "TRINITY_REQUEST_LOG_SQLITE", table.get("sqlite"), "sqlite")
        if sqlite:
            sinks.append(SqliteSink(sqlite, retention_days=retention_days))
        postgres = _text(environ, "TRINITY_REQUEST_LOG_POSTGRES", table.get("postgres"), "postgres")
        if postgres:
            sinks.append(PostgresSink(postgres, retention_days=retention_days))
            # A driver's error may quote the DSN's password: it is masked like a key.
            secrets = (*secrets, *(next(filter(None, found), "") for found in _DSN_PASSWORD.findall(postgres)))
        queue_max = _queue_max(environ, table.get("queue_max", QUEUE_MAX_DEFAULT))
        return cls(sinks, secrets=(*secrets, *secrets_of(environ)), queue_max=queue_max)

    @property
    def sinks(self) -> tuple[str, ...]:
        return tuple(writer.sink.name for writer in self._writers)

    def submit(self, record: RequestRecord) -> None:
        """Hands ``record`` to every sink's queue; never blocks, never raises (after ``close``,
        the record is counted as dropped)."""
        for writer in self._writers:
            writer.offer(record, self._closed)

    def add_secret(self, secret: str) -> None:
        """A key created after startup (a virtual key's secret at creation): masked from now on."""
        with self._secrets_lock:
            self._redactor = self._redactor.with_secret(secret)
            for writer in self._writers:
                writer.redactor = self._redactor

    def counts(self) -> dict[str, dict[str, int]]:
        """Per sink: records ``written``, ``dropped`` (queue full) and ``failed`` (sink error)."""
        return {
            writer.sink.name: {"written": writer.written, "dropped": writer.dropped, "failed": writer.failed}
            for writer in self._writers
        }

    @property
    def dropped_total(self) -> int:
        return sum(writer.dropped for writer in self._writers)

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Waits until every record submitted so far is written (or failed); False on timeout."""
        deadline_s = time.monotonic() + timeout_s
        marks: list[threading.Event] = []
        for writer in self._writers:
            if not writer.thread.is_alive():
                continue
            mark = _Flush(threading.Event())
            try:
                writer.queue.put(mark, timeout=max(0.0, deadline_s - time.monotonic()))
            except Full:
                return False
            marks.append(mark.done)
        return all(done.wait(max(0.0, deadline_s - time.monotonic())) for done in marks)

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Writes what was accepted, closes the sinks and stops the threads; False when a sink
        did not finish within ``timeout_s`` (its thread is a daemon: it dies with the process)."""
        if self._closed:
            return True
        self._closed = True
        deadline_s = time.monotonic() + timeout_s
        for writer in self._writers:
            try:
                writer.queue.put(_STOP, timeout=max(0.0, deadline_s - time.monotonic()))
            except Full:
                pass
        for writer in self._writers:
            writer.thread.join(max(0.0, deadline_s - time.monotonic()))
        return not any(writer.thread.is_alive() for writer in self._writers)

    def prometheus_collector(self) -> Any:
        """A prometheus_client collector of ``trinity_request_log_records_total{sink, result}``
        (result: written, dropped, failed), read at scrape time."""
        from prometheus_client.core import CounterMetricFamily
        from prometheus_client.registry import Collector

        log = self

        class _RequestLogCollector(Collector):
            def collect(self) -> Iterable[Any]:
                family = CounterMetricFamily(
                    "trinity_request_log_records",
                    "Request log records per sink: written, dropped (queue full), failed (sink error).",
                    labels=("sink", "result"),
                )
                for sink, counts in log.counts().items():
                    for result, count in counts.items():
                        family.add_metric((sink, result), count)
                yield family

        return _RequestLogCollector()


def _flag(environ: Mapping[str, str], name: str, default: object) -> bool:
    value = environ.get(name, "").strip().lower()
    if not value:
        if not isinstance(default, bool):
            raise ConfigurationError(f"{_TABLE}.stdout: must be true or false, got {default!r}")
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name}={value!r}: expected one of {', '.join(_TRUE + _FALSE)}")


def _text(environ: Mapping[str, str], name: str, default: object, field: str) -> str | None:
    value = environ.get(name, "").strip()
    if value:
        return value
    if default is None or default == "":
        return None
    if not isinstance(default, str):
        raise ConfigurationError(f"{_TABLE}.{field}: must be a string, got {type(default).__name__}")
    return default


def _queue_max(environ: Mapping[str, str], default: object) -> int:
    raw = environ.get("TRINITY_REQUEST_LOG_QUEUE_MAX", "").strip()
    value: object = raw if raw else default
    where = "TRINITY_REQUEST_LOG_QUEUE_MAX" if raw else f"{_TABLE}.queue_max"
    try:
        number = int(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not 1 <= number <= QUEUE_MAX_LIMIT:
        raise ConfigurationError(f"{where}={value!r}: expected a whole number from 1 to {QUEUE_MAX_LIMIT}")
    return number


def _retention_days(environ: Mapping[str, str], default: object) -> float | None:
    raw = environ.get("TRINITY_REQUEST_LOG_RETENTION_DAYS", "").strip()
    value: object = raw if raw else default
    if value is None:
        return None
    where = "TRINITY_REQUEST_LOG_RETENTION_DAYS" if raw else f"{_TABLE}.retention_days"
    try:
        days = float(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    except ValueError:
        days = None
    if days is None or not 0 < days <= RETENTION_DAYS_MAX:
        raise ConfigurationError(
            f"{where}={value!r}: expected a number of days, more than 0, at most {RETENTION_DAYS_MAX}"
        )
    return days

"""Where request log records go: stdout as JSON lines, an SQLite file, a PostgreSQL table.

A sink is written by one thread only (its writer in ``_request_log``), a batch at a time, with
documents already masked; it opens its connection on the first batch, in that thread. A sink
that fails raises: the writer counts the batch as failed and goes on; the next batch reconnects.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TextIO

__all__ = ["COLUMNS", "TABLE", "PostgresSink", "Retention", "Sink", "SqliteSink", "StdoutSink", "iso_time"]

TABLE = "trinity_request_log"
# The record's fields, in column order; ``attempts`` is a JSON array.
COLUMNS = (
    "request_id", "time", "endpoint", "key_name", "model_requested", "provider", "model", "status",
    "outcome", "error_type", "stream", "cache_hit", "tokens_input", "tokens_output", "cost_usd",
    "latency_ms", "attempts", "trace_id",
)  # fmt: skip
# Looked up by time (the last hour's requests) and by request id (a client's report).
_INDEXES = tuple(
    f"CREATE INDEX IF NOT EXISTS {TABLE}_{column} ON {TABLE} ({column})" for column in ("time", "request_id")
)
SQLITE_SCHEMA = (
    (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "request_id TEXT NOT NULL, time TEXT NOT NULL, endpoint TEXT NOT NULL, key_name TEXT, "
        "model_requested TEXT, provider TEXT, model TEXT, status INTEGER NOT NULL, "
        "outcome TEXT NOT NULL, error_type TEXT, stream INTEGER NOT NULL, cache_hit INTEGER, "
        "tokens_input INTEGER, tokens_output INTEGER, cost_usd REAL NOT NULL, "
        "latency_ms REAL NOT NULL, attempts TEXT NOT NULL, trace_id TEXT)"
    ),
    *_INDEXES,
)
POSTGRES_SCHEMA = (
    (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL, time TIMESTAMPTZ NOT NULL, "
        "endpoint TEXT NOT NULL, key_name TEXT, model_requested TEXT, provider TEXT, model TEXT, "
        "status INTEGER NOT NULL, outcome TEXT NOT NULL, error_type TEXT, stream BOOLEAN NOT NULL, "
        "cache_hit BOOLEAN, tokens_input BIGINT, tokens_output BIGINT, "
        "cost_usd DOUBLE PRECISION NOT NULL, latency_ms DOUBLE PRECISION NOT NULL, "
        "attempts JSONB NOT NULL, trace_id TEXT)"
    ),
    *_INDEXES,
)
CONNECT_TIMEOUT_S = 5
PRUNE_INTERVAL_S = 3600.0
BUSY_TIMEOUT_MS = 5000
WRITE_TRIES = 3

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Sink(Protocol):
    name: str

    def write(self, documents: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class StdoutSink:
    """One JSON object per line, flushed after each batch."""

    name = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def write(self, documents: Sequence[dict[str, Any]]) -> None:
        stream = self._stream or sys.stdout
        stream.write("".join(_JSON.encode(document) + "\n" for document in documents))
        stream.flush()

    def close(self) -> None:
        pass


def iso_time(moment: datetime) -> str:
    """A record's ``time``: ISO 8601, UTC, milliseconds, ``Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


class Retention:
    """When a database sink deletes what is older than ``days``: after the first batch it
    writes, then at most once per ``PRUNE_INTERVAL_S``. None keeps everything."""

    def __init__(self, days: float | None) -> None:
        self.days = days
        self._next_s = 0.0

    def cutoff(self) -> datetime | None:
        if self.days is None:
            return None
        now_s = time.monotonic()
        if now_s < self._next_s:
            return None
        self._next_s = now_s + PRUNE_INTERVAL_S
        return datetime.now(timezone.utc) - timedelta(days=self.days)


def _row(document: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_JSON.encode(document[column]) if column == "attempts" else document[column] for column in COLUMNS)


class SqliteSink:
    """A table in an SQLite file (WAL mode, so readers never block the writer; several
    processes may share the file)."""

    name = "sqlite"

    def __init__(self, path: str, *, retention_days: float | None = None) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._retention = Retention(retention_days)

    def write(self, documents: Sequence[dict[str, Any]]) -> None:
        # Several processes may share the file: a lock that outlasts the busy timeout (or a
        # journal-mode switch by another connection, which does not wait) is tried again on a
        # fresh connection before the batch counts as failed.
        for attempt in range(WRITE_TRIES):
            try:
                self._write(documents)
                return
            except sqlite3.OperationalError:
                if attempt == WRITE_TRIES - 1:
                    raise

    def _write(self, documents: Sequence[dict[str, Any]]) -> None:
        connection = self._connection or self._connect()
        try:
            with connection:  # one transaction per batch
                connection.executemany(
                    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [_row(document) for document in documents],
                )
                cutoff = self._retention.cutoff()
                if cutoff is not None:  # the records' own text form sorts as time does
                    connection.execute(f"DELETE FROM {TABLE} WHERE time < ?", (iso_time(cutoff),))
        except sqlite3.Error:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            with connection:
                for statement in SQLITE_SCHEMA:
                    connection.execute(statement)
        except sqlite3.Error:
            connection.close()
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()


class PostgresSink:
    """A table in PostgreSQL through psycopg 3 (``attempts`` as JSONB, ``time`` as
    TIMESTAMPTZ). psycopg is imported on the first batch, in the writer thread."""

    name = "postgres"

    def __init__(self, dsn: str, *, retention_days: float | None = None) -> None:
        self._dsn = dsn
        self._connection: Any = None
        self._retention = Retention(retention_days)

    def __repr__(self) -> str:
        return "PostgresSink(dsn=<hidden>)"  # a DSN may hold a password

    def write(self, documents: Sequence[dict[str, Any]]) -> None:
        connection = self._connection or self._connect()
        rows = [_postgres_row(document) for document in documents]
        placeholders = ", ".join("%s::jsonb" if column == "attempts" else "%s" for column in COLUMNS)
        try:
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({placeholders})", rows)
                cutoff = self._retention.cutoff()
                if cutoff is not None:
                    cursor.execute(f"DELETE FROM {TABLE} WHERE time < %s", (cutoff,))
        except Exception:
            self.close()
            raise

    def _connect(self) -> Any:
        import psycopg

        connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        try:
            for statement in POSTGRES_SCHEMA:
                connection.execute(statement)
        except Exception:
            connection.close()
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):  # closing a broken connection: nothing more to lose
                connection.close()


def _postgres_row(document: dict[str, Any]) -> tuple[Any, ...]:
    row = list(_row(document))
    row[COLUMNS.index("time")] = datetime.fromisoformat(document["time"].replace("Z", "+00:00"))
    return tuple(row)

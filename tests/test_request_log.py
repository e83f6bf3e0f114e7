"""The request log (gateway/_request_log): records reach a real SQLite file and a real
PostgreSQL under concurrency, the queue is bounded and counts what it drops, a failing sink
costs nothing but its batch, no key is ever written, and x-request-id is kept only when sane."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from request_records import PROVIDER_KEY, record, submit_from_threads, submit_old_and_new
from trinity_hybrid import mask_key
from trinity_hybrid._exceptions import ConfigurationError
from trinity_hybrid._results import Attempt
from trinity_hybrid.gateway._log_sinks import COLUMNS, TABLE, SqliteSink
from trinity_hybrid.gateway._redact import FRAGMENT_CHARS_MIN, Redactor, secrets_of
from trinity_hybrid.gateway._request_log import (
    ATTEMPTS_MAX,
    ERROR_CHARS_MAX,
    REQUEST_ID_PATTERN,
    RequestLog,
    RequestRecord,
    request_id_of,
)

KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
COHERE_KEY = "Qm3xN7vB9zL2kJ5hG8fD1sA4pO6iU0yT3rE5wQ7e"  # no prefix: only the known-secret net sees it
GATEWAY_KEY = "gw-team-a-5f1e0c2b9d8a7e6f"


class ListSink:
    name = "list"

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []

    def write(self, documents: Sequence[dict[str, Any]]) -> None:
        self.documents.extend(documents)

    def close(self) -> None:
        pass


class BlockingSink(ListSink):
    """Blocks its writer on the first batch until released."""

    name = "blocking"

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, documents: Sequence[dict[str, Any]]) -> None:
        self.entered.set()
        assert self.release.wait(30), "the test never released the sink"
        super().write(documents)


class FailingSink(ListSink):
    name = "failing"

    def write(self, documents: Sequence[dict[str, Any]]) -> None:
        raise sqlite3.OperationalError(f"disk I/O error near {PROVIDER_KEY}")


# ----------------------------------------------------------------------------------------------
# x-request-id


@given(st.from_regex(rb"[A-Za-z0-9._:@/+=\-]{1,128}", fullmatch=True))
def test_a_sane_request_id_is_kept(header: bytes) -> None:
    assert request_id_of(header) == header.decode()


@given(st.binary(max_size=300))
def test_any_request_id_comes_out_bounded_and_plain(header: bytes) -> None:
    request_id = request_id_of(header)
    assert REQUEST_ID_PATTERN.fullmatch(request_id.encode())
    assert 1 <= len(request_id) <= 128
    if request_id != header.decode("latin-1"):
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)


@pytest.mark.parametrize(
    "header",
    [None, b"", b"a" * 129, b"has space", b'quo"te', b"line\nbreak", b"tab\tid", "é".encode(), b"\x00", b"{}"],
)
def test_an_unsafe_request_id_is_replaced(header: bytes | None) -> None:
    request_id = request_id_of(header)
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert request_id_of(header) != request_id  # a new one each time


# ----------------------------------------------------------------------------------------------
# The record as written


def test_a_record_is_written_as_its_columns_and_bounded() -> None:
    many = tuple(Attempt("openai", "failure", "x" * 10_000, "TransientError", 0.001) for _ in range(100))
    built = RequestRecord("r" * 500, 1796558400.25, "chat", 502, "upstream_error", 3.14159, attempts=many,
                          model_requested="m" * 10_000)  # fmt: skip
    document = built.document()
    assert list(document) == list(COLUMNS)
    assert document["time"] == "2026-12-06T12:00:00.250Z"
    assert len(document["request_id"]) == 128 and len(document["model_requested"]) == 256
    assert len(document["attempts"]) == ATTEMPTS_MAX
    assert {len(attempt["error"]) for attempt in document["attempts"]} == {ERROR_CHARS_MAX}
    assert document["latency_ms"] == 3.142 and document["attempts"][0]["latency_ms"] == 1.0


# ----------------------------------------------------------------------------------------------
# Keys never written


def _assert_no_piece_of(secret: str, text: str) -> None:
    assert secret not in text
    width = min(FRAGMENT_CHARS_MIN, len(secret))
    pieces = {secret[start : start + width] for start in range(len(secret) - width + 1)}
    outside_masks = text.replace(mask_key(secret), "\x00")
    for start in range(len(outside_masks) - width + 1):
        assert outside_masks[start : start + width] not in pieces, (secret, text)


secrets_strategy = st.text(alphabet=KEY_CHARS, min_size=4, max_size=80)


# Surrounding text: any characters, or the keys' own (a piece then sits inside a longer run).
around = st.one_of(st.text(max_size=80), st.text(alphabet=KEY_CHARS, max_size=80))


@settings(max_examples=500)
@given(secret=secrets_strategy, before=around, after=around, data=st.data())
def test_a_known_secret_and_its_pieces_never_come_out(
    secret: str, before: str, after: str, data: st.DataObject
) -> None:
    redactor = Redactor([secret, "another-configured-key-0000"])
    whole = redactor.text(before + secret + after)
    _assert_no_piece_of(secret, whole)
    # Upstream errors often echo a key cut short, or a piece of it.
    width = min(FRAGMENT_CHARS_MIN, len(secret))
    start = data.draw(st.integers(0, len(secret) - width), label="start")
    end = data.draw(st.integers(start + width, len(secret)), label="end")
    _assert_no_piece_of(secret, redactor.text(before + secret[start:end] + after))


@settings(max_examples=300)
@given(
    prefix=st.sampled_from(["sk-", "sk-ant-api03-", "sk-proj-", "tk-", "AIza", "gsk_", "nvapi-", "xai-"]),
    body=st.text(alphabet=KEY_CHARS.replace("_", "").replace("-", ""), min_size=36, max_size=64),
    before=st.text(max_size=60),
    after=st.text(max_size=60),
)
def test_a_key_by_its_shape_never_comes_out_unknown(prefix: str, body: str, before: str, after: str) -> None:
    key = prefix + body
    masked = Redactor().text(before + key + after)
    assert key not in masked
    tail = body[-16:]  # what is left of the key past its mask
    assert masked.count(tail) <= before.count(tail) + after.count(tail)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer 0123456789abcdefXYZ",
        '{"api_key": "0123456789abcdefXYZ"}',
        "GET /v1beta/models?key=0123456789abcdefXYZ&alt=sse",
        "x-goog-api-key=0123456789abcdefXYZ",
    ],
)
def test_a_credential_field_is_masked_whatever_its_value(text: str) -> None:
    masked = Redactor().text(text)
    assert "0123456789abcdefXYZ" not in masked
    assert mask_key("0123456789abcdefXYZ") in masked


def test_secrets_come_from_every_credential_variable() -> None:
    environ = {
        "OPENAI_API_KEY": PROVIDER_KEY, "OPENAI_API_KEYS": "k-one-1234, k-two-5678", "TRINITY_API_KEYS": GATEWAY_KEY,
        "TRINITY_ADMIN_KEY": "admin-secret", "PGPASSWORD": "hunter22", "HOME": "/root", "OPENAI_MODEL": "gpt-4o",
    }  # fmt: skip
    found = set(secrets_of(environ))
    assert found == {PROVIDER_KEY, "k-one-1234", "k-two-5678", GATEWAY_KEY, "admin-secret", "hunter22"}


def test_no_key_reaches_any_sink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Keys in attempts' error texts, a request id, a key name and a model: the stdout line and
    the SQLite row hold only masks."""
    environ = {
        "OPENAI_API_KEY": PROVIDER_KEY, "COHERE_API_KEY": COHERE_KEY, "TRINITY_API_KEYS": GATEWAY_KEY,
        "TRINITY_REQUEST_LOG_SQLITE": str(tmp_path / "log.db"), "TRINITY_REQUEST_LOG_STDOUT": "true",
    }  # fmt: skip
    log = RequestLog.from_env(environ)
    late_key = "tk-created-later-by-the-admin-api-00000000"
    log.add_secret("created-later-no-shape-0000000000")
    log.submit(record("r1", error=f"Incorrect API key provided: {PROVIDER_KEY[:20]}. Your key: {PROVIDER_KEY}"))
    log.submit(record("r2", error=f"invalid api token {COHERE_KEY}", key_name=GATEWAY_KEY))
    log.submit(record(GATEWAY_KEY, error=f"{late_key} / created-later-no-shape-0000000000", model_requested=COHERE_KEY))
    assert log.close()
    assert log.counts()["sqlite"] == {"written": 3, "dropped": 0, "failed": 0}
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    rows = sqlite3.connect(tmp_path / "log.db").execute(f"SELECT * FROM {TABLE}").fetchall()
    written = "\n".join(lines) + "\n" + repr(rows)
    for secret in (PROVIDER_KEY, COHERE_KEY, GATEWAY_KEY, "created-later-no-shape-0000000000"):
        _assert_no_piece_of(secret, written)
    assert late_key not in written
    assert mask_key(PROVIDER_KEY) in written


# ----------------------------------------------------------------------------------------------
# SQLite under concurrency


def test_sqlite_takes_every_record_from_many_threads_and_two_logs(tmp_path: Path) -> None:
    path = str(tmp_path / "requests.db")
    # Two logs on one file: two gateway processes sharing it.
    logs = [RequestLog([SqliteSink(path)], queue_max=5000) for _ in range(2)]
    submitters = [
        threading.Thread(target=submit_from_threads, args=(log, f"log{number}", 6, 400))
        for number, log in enumerate(logs)
    ]
    for submitter in submitters:
        submitter.start()
    for submitter in submitters:
        submitter.join()
    for log in logs:
        assert log.close()
        assert log.counts() == {"sqlite": {"written": 2400, "dropped": 0, "failed": 0}}
    connection = sqlite3.connect(path)
    rows = connection.execute(f"SELECT request_id, stream, cache_hit, attempts, tokens_input FROM {TABLE}").fetchall()
    assert len(rows) == 4800
    assert {row[0] for row in rows} == {f"log{n}-{i}-{k}" for n in range(2) for i in range(6) for k in range(400)}
    by_id = {row[0]: row for row in rows}
    assert by_id["log1-5-3"][1:3] == (0, 1)
    assert json.loads(by_id["log0-0-0"][3])[0] == {
        "provider": "groq", "outcome": "success", "error_type": None, "error": None, "latency_ms": 250.0,
        "status_code": 200,
    }  # fmt: skip


def test_sqlite_keeps_only_the_retention_window(tmp_path: Path) -> None:
    path = tmp_path / "requests.db"
    submit_old_and_new(RequestLog([SqliteSink(str(path))]))  # no retention: everything kept
    assert sqlite3.connect(path).execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (4,)
    log = RequestLog.from_env(
        {"TRINITY_REQUEST_LOG_SQLITE": str(path), "TRINITY_REQUEST_LOG_RETENTION_DAYS": "30",
         "TRINITY_REQUEST_LOG_STDOUT": "0"}
    )  # fmt: skip
    log.submit(record("later"))
    assert log.close()
    kept = sqlite3.connect(path).execute(f"SELECT request_id FROM {TABLE}").fetchall()
    assert sorted(kept) == [("later",), ("new-29d",), ("new-now",)]


# ----------------------------------------------------------------------------------------------
# The queue's bound, failing sinks


def test_a_full_queue_drops_and_counts_and_never_blocks() -> None:
    sink = BlockingSink()
    log = RequestLog([sink], queue_max=10)
    log.submit(record("first"))
    assert sink.entered.wait(30)  # the writer holds "first" and waits in the sink
    for number in range(10):
        log.submit(record(f"queued-{number}"))
    for number in range(7):
        log.submit(record(f"over-{number}"))  # returns at once: the queue is full
    assert log.counts()["blocking"] == {"written": 0, "dropped": 7, "failed": 0}
    assert log.dropped_total == 7
    sink.release.set()
    assert log.close()
    assert [document["request_id"] for document in sink.documents] == ["first"] + [f"queued-{n}" for n in range(10)]
    assert log.counts()["blocking"] == {"written": 11, "dropped": 7, "failed": 0}


def test_a_failing_sink_costs_only_its_own_records(caplog: pytest.LogCaptureFixture) -> None:
    good, bad = ListSink(), FailingSink()
    log = RequestLog([bad, good], secrets=[PROVIDER_KEY])
    for number in range(5):
        log.submit(record(f"r{number}"))
    assert log.flush()
    assert log.counts() == {
        "failing": {"written": 0, "dropped": 0, "failed": 5},
        "list": {"written": 5, "dropped": 0, "failed": 0},
    }
    assert "failing could not write" in caplog.text
    assert PROVIDER_KEY not in caplog.text  # the sink's error text is masked too
    assert log.close()


def test_the_drop_count_is_exported_for_prometheus() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    sink = BlockingSink()
    log = RequestLog([sink], queue_max=1)
    log.submit(record("held"))
    assert sink.entered.wait(30)
    log.submit(record("queued"))
    log.submit(record("dropped"))
    registry = CollectorRegistry()
    registry.register(log.prometheus_collector())
    exposition = generate_latest(registry).decode()
    assert 'trinity_request_log_records_total{result="dropped",sink="blocking"} 1.0' in exposition
    sink.release.set()
    assert log.close()


# ----------------------------------------------------------------------------------------------
# Configuration


@pytest.mark.parametrize(
    "dsn", ["postgresql://writer:pg-Pa55word-xyz@127.0.0.1:1/logs", "host=127.0.0.1 port=1 password='pg-Pa55word-xyz'"]
)
def test_a_dsns_password_is_masked_like_a_key(dsn: str) -> None:
    log = RequestLog.from_env({"TRINITY_REQUEST_LOG_POSTGRES": dsn, "TRINITY_REQUEST_LOG_STDOUT": "0"})
    log.close()
    assert "pg-Pa55word-xyz" not in log._redactor.text(f"connection to {dsn} failed")
    log.submit(record("after-close"))  # counted, never queued
    assert log.counts()["postgres"]["dropped"] == 1


def test_sinks_come_from_the_environment_over_the_config_file(tmp_path: Path) -> None:
    log = RequestLog.from_env({}, config={"sqlite": str(tmp_path / "a.db"), "stdout": False})
    assert log.sinks == ("sqlite",)
    log.close()
    log = RequestLog.from_env({"TRINITY_REQUEST_LOG_STDOUT": "1"}, config={"stdout": False})
    assert log.sinks == ("stdout",)
    log.close()
    assert RequestLog.from_env({}).sinks == ()  # the default: no sink (the stdout line costs, so it is asked for)


@pytest.mark.parametrize(
    ("environ", "config", "named"),
    [
        ({"TRINITY_REQUEST_LOG_STDOUT": "maybe"}, None, "TRINITY_REQUEST_LOG_STDOUT"),
        ({"TRINITY_REQUEST_LOG_QUEUE_MAX": "0"}, None, "TRINITY_REQUEST_LOG_QUEUE_MAX"),
        ({"TRINITY_REQUEST_LOG_QUEUE_MAX": "lots"}, None, "TRINITY_REQUEST_LOG_QUEUE_MAX"),
        ({}, {"queue_max": True}, "queue_max"),
        ({}, {"sqlite": 3}, "sqlite"),
        ({}, {"stdout": "yes"}, "stdout"),
        ({}, {"file": "x"}, "TRINITY_CONFIG request_log.file: unknown key"),
        ({"TRINITY_REQUEST_LOG_RETENTION_DAYS": "0"}, None, "TRINITY_REQUEST_LOG_RETENTION_DAYS"),
        ({"TRINITY_REQUEST_LOG_RETENTION_DAYS": "nan"}, None, "TRINITY_REQUEST_LOG_RETENTION_DAYS"),
        ({}, {"retention_days": "thirty"}, "retention_days"),
        ({}, {"retention_days": True}, "retention_days"),
    ],
)
def test_a_bad_setting_is_named(environ: dict[str, str], config: dict[str, Any] | None, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        RequestLog.from_env(environ, config=config)

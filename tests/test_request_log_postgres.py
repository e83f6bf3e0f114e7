"""The request log in a real PostgreSQL (Debian's postgresql package, started by the test;
skipped with the reason where it is not installed): every record from many threads, no key, an
outage, retention."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres_server import PostgresServer, postgres_binaries
from request_records import PROVIDER_KEY, record, submit_from_threads, submit_old_and_new
from trinity_hybrid import mask_key
from trinity_hybrid.gateway._log_sinks import TABLE, PostgresSink
from trinity_hybrid.gateway._request_log import RequestLog


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    binaries, reason = postgres_binaries()
    if binaries is None:
        pytest.skip(reason)
    pytest.importorskip("psycopg")
    with PostgresServer(binaries) as server:
        yield server


def test_postgres_takes_every_record_from_many_threads_without_keys(postgres: PostgresServer) -> None:
    import psycopg

    log = RequestLog.from_env(
        {
            "TRINITY_REQUEST_LOG_POSTGRES": postgres.dsn,
            "TRINITY_REQUEST_LOG_STDOUT": "0",
            "OPENAI_API_KEY": PROVIDER_KEY,
        }
    )
    submit_from_threads(log, "pg", 4, 300)
    log.submit(record("pg-key", error=f"invalid key {PROVIDER_KEY}"))
    assert log.close()
    assert log.counts() == {"postgres": {"written": 1201, "dropped": 0, "failed": 0}}
    with psycopg.connect(postgres.dsn) as connection:
        count, ids = connection.execute(
            f"SELECT count(*), count(DISTINCT request_id) FROM {TABLE} WHERE request_id LIKE 'pg-%'"
        ).fetchone()
        assert (count, ids) == (1201, 1201)
        attempts, stream, moment = connection.execute(
            f"SELECT attempts, stream, time FROM {TABLE} WHERE request_id = 'pg-key'"
        ).fetchone()
    assert attempts[0]["error"] == f"invalid key {mask_key(PROVIDER_KEY)}"
    assert stream is False and moment.tzinfo is not None


def test_postgres_back_after_an_outage_takes_the_next_batches(postgres: PostgresServer) -> None:
    import psycopg

    log = RequestLog.from_env({"TRINITY_REQUEST_LOG_POSTGRES": postgres.dsn, "TRINITY_REQUEST_LOG_STDOUT": "0"})
    log.submit(record("before-outage"))
    assert log.flush()
    postgres.halt()
    try:
        log.submit(record("during-outage"))
        assert log.flush()
    finally:
        postgres.resume()
    log.submit(record("after-outage"))
    assert log.close()
    assert log.counts()["postgres"] == {"written": 2, "dropped": 0, "failed": 1}
    with psycopg.connect(postgres.dsn) as connection:
        found = connection.execute(
            f"SELECT request_id FROM {TABLE} WHERE request_id LIKE '%-outage' ORDER BY request_id"
        ).fetchall()
    assert found == [("after-outage",), ("before-outage",)]


def test_postgres_keeps_only_the_retention_window(postgres: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {TABLE}")
    submit_old_and_new(RequestLog([PostgresSink(postgres.dsn)]))
    log = RequestLog([PostgresSink(postgres.dsn, retention_days=30)])
    log.submit(record("later"))
    assert log.close()
    with psycopg.connect(postgres.dsn) as connection:
        kept = connection.execute(f"SELECT request_id FROM {TABLE}").fetchall()
    assert sorted(kept) == [("later",), ("new-29d",), ("new-now",)]


def test_postgres_unreachable_fails_batches_never_requests() -> None:
    log = RequestLog.from_env(
        {"TRINITY_REQUEST_LOG_POSTGRES": "host=127.0.0.1 port=1 user=nobody connect_timeout=1",
         "TRINITY_REQUEST_LOG_STDOUT": "0"}
    )  # fmt: skip
    for number in range(3):
        log.submit(record(f"lost-{number}"))
    assert log.flush()
    counts = log.counts()["postgres"]
    assert counts["written"] == 0 and counts["failed"] == 3
    assert log.close()

"""Stuck writers: a writer frozen while it holds the write lock (SIGSTOP here; a laptop lid
closed on a PostgreSQL session in real life) costs the other writers at most their busy
timeout, and on PostgreSQL the server ends the frozen session and discards its work.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from reliability.support import (
    Forked,
    child_env,
    current_facts,
    pipeline_workbook,
    record,
    setup_programme,
)

#: The waiters' TLEDGER_BUSY_TIMEOUT, and what a loaded 2-core machine may add to it
#: (starting the child, reading its workbook, printing). Kept below BUSY_S so that a waiter
#: that waits the timeout twice over (what PostgreSQL waiters used to do) fails the test.
BUSY_S = 5.0
MARGIN_S = 3.5


@pytest.fixture
def frozen_url(request: pytest.FixtureRequest, databases: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    kind = request.param
    if kind == "postgresql":
        url = databases.postgres()
        yield url, {}
        databases.drop(url)
    else:
        url = databases.sqlite(tmp_path / "ledger.db")
        yield url, ({"TLEDGER_SQLITE_JOURNAL": "delete"} if kind == "sqlite-delete" else {})


def _rows(prefix: str, amount: int, n: int = 6) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "name": f"Frozen {i}", "amounts": [amount] * 24}
            for i in range(n)]


def _frozen_holder(url: str, tmp_path: Path, env: dict[str, str]) -> tuple[Forked, Path]:
    """An import that took the write lock, reached ``before_commit`` and was SIGSTOPped."""
    release = tmp_path / "release"
    holder = Forked(["import", "initiatives",
                     str(pipeline_workbook(tmp_path / "frozen.xlsx", _rows("FZ", 3)))],
                    child_env(url, TLEDGER_TEST_PAUSE_AT="before_commit",
                              TLEDGER_TEST_PAUSE_SECONDS="300",
                              TLEDGER_TEST_RELEASE_FILE=str(release), **env),
                    tmp_path / "holder.err")
    holder.wait_for("tledger-paused-at before_commit")
    os.kill(holder.proc.pid, signal.SIGSTOP)
    return holder, release


def _thaw(holder: Forked, release: Path) -> int:
    release.touch()
    os.kill(holder.proc.pid, signal.SIGCONT)
    return holder.finish(timeout=60)


@pytest.mark.parametrize("frozen_url", ["sqlite-wal", "sqlite-delete", "postgresql"],
                         indirect=True)
def test_writers_queued_behind_a_frozen_writer_hear_busy_within_their_busy_timeout(
        frozen_url: Any, tmp_path: Path) -> None:
    url, env = frozen_url
    setup_programme(url)
    holder, release = _frozen_holder(url, tmp_path, env)
    try:
        waiters = []
        for n in range(2):  # the second queues behind the first, not only the holder
            waiters.append(Forked(
                ["phasing", "set", "FZ-1", "--month", "2027-01", "--amount", str(10 + n)],
                child_env(url, TLEDGER_BUSY_TIMEOUT=str(BUSY_S), **env),
                tmp_path / f"waiter-{n}.err"))
            time.sleep(0.5)
        for w in waiters:
            assert w.finish(timeout=120) == 1, w.stderr()
            took = time.monotonic() - w.started
            err = w.stderr()
            assert err.startswith("error: ledger is busy"), err
            assert err.count("\n") == 1, err
            assert "Traceback" not in err, err
            assert took < BUSY_S + MARGIN_S, f"told after {took:.1f} s"
    finally:
        assert _thaw(holder, release) == 0, holder.stderr()
    assert current_facts(url)[("FZ-1", "benefit", "plan", "2027-01-01")] == 300
    record("stuck: queued writers told busy in time", 2,
           backend="pg" if url.startswith("postgresql") else env.get(
               "TLEDGER_SQLITE_JOURNAL", "wal"))


def test_a_frozen_postgresql_writer_is_ended_and_its_work_discarded(databases: Any,
                                                                    tmp_path: Path) -> None:
    url = databases.postgres()
    try:
        setup_programme(url)
        holder, release = _frozen_holder(
            url, tmp_path, {"TLEDGER_PG_IDLE_IN_TRANSACTION_TIMEOUT": "2"})
        try:
            # A patient writer (default 30 s busy timeout) gets through once the server has
            # ended the frozen session, without anybody waking the frozen process.
            writer = Forked(["import", "initiatives",
                             str(pipeline_workbook(tmp_path / "next.xlsx", _rows("NX", 4)))],
                            child_env(url), tmp_path / "writer.err")
            assert writer.finish(timeout=60) == 0, writer.stderr()
            assert time.monotonic() - writer.started < 2 + 10
            facts = current_facts(url)
            assert facts
            assert all(key[0].startswith("NX-") for key in facts)
        finally:
            code = _thaw(holder, release)
        # Woken, the frozen writer learns in one line that nothing of its work was kept.
        assert code == 1
        last = holder.stderr().strip().splitlines()[-1]
        assert last.startswith("error: "), holder.stderr()
        assert "nothing it was writing was kept" in last, holder.stderr()
        assert "Traceback" not in holder.stderr()
        assert not any(key[0].startswith("FZ-") for key in current_facts(url))
        record("stuck: frozen sessions ended by the server", 1, backend="pg")
    finally:
        databases.drop(url)


def test_postgresql_sessions_carry_the_time_limits_from_the_environment(
        databases: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.api import Ledger

    url = databases.postgres()
    monkeypatch.setenv("TLEDGER_BUSY_TIMEOUT", "4s")
    monkeypatch.setenv("TLEDGER_PG_STATEMENT_TIMEOUT", "7")
    monkeypatch.setenv("TLEDGER_PG_IDLE_IN_TRANSACTION_TIMEOUT", "2.5")
    setup_programme(url)
    led = Ledger.open(url)
    names = ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout",
             "tcp_keepalives_idle")
    try:
        for session in (led.reading, led.writing):
            with session() as conn:
                shown = [conn.exec_driver_sql(f"SHOW {n}").scalar() for n in names]
                # Inside a write, after the write lock: the session's limits, not the lock's.
                assert shown == ["4s", "7s", "2500ms", "30"], session
    finally:
        led.dispose()
        databases.drop(url)


@pytest.mark.parametrize(("value", "expected"), [
    ("nan", "expected a duration such as 30, 30s, 500ms or 2m"),
    ("-1", "expected a duration such as 30, 30s, 500ms or 2m"),
    ("inf", "expected a duration such as 30, 30s, 500ms or 2m"),
    ("1e7", "expected a duration such as 30, 30s, 500ms or 2m"),
    ("3000000", "expected at most 2,147,483 seconds (PostgreSQL's limit)"),
])
def test_a_bad_postgresql_time_limit_is_refused_in_one_line(databases: Any, tmp_path: Path,
                                                            value: str, expected: str) -> None:
    url = databases.postgres()
    try:
        child = Forked(["gap", "--format", "csv"],
                       child_env(url, TLEDGER_PG_STATEMENT_TIMEOUT=value),
                       tmp_path / "child.err")
        assert child.finish(timeout=60) != 0
        err = child.stderr()
        assert err.startswith(f"error: environment variable TLEDGER_PG_STATEMENT_TIMEOUT="
                              f"{value!r}: {expected}"), err
        assert err.count("\n") == 1, err
    finally:
        databases.drop(url)


def _timed(read: Any) -> tuple[Any, float]:
    start = time.monotonic()
    value = read()
    return value, time.monotonic() - start


def test_readers_keep_reading_the_last_commit_during_a_postgresql_first_bulk_import(
        databases: Any, tmp_path: Path) -> None:
    from sqlalchemy import text

    from ledger.api import Ledger

    url = databases.postgres()
    try:
        setup_programme(url)
        # The committed state: initiatives without phasing yet (a first import of amounts
        # always finds the phasing table empty, which is when the bulk load runs).
        names = {f"BL-{i}": f"Blank {i}" for i in range(40)}
        led = Ledger.open(url)
        from importers import import_initiatives

        import_initiatives(led, [pipeline_workbook(tmp_path / "blank.xlsx", [
            {"id": k, "name": v, "amounts": [None] * 24} for k, v in names.items()])],
            user="setup")
        rows = [{"id": k, "name": v + " phased", "amounts": [i + 1] * 24}
                for i, (k, v) in enumerate(names.items())]
        release = tmp_path / "release"
        holder = Forked(["import", "initiatives",
                         str(pipeline_workbook(tmp_path / "phased.xlsx", rows))],
                        child_env(url, TLEDGER_BULK_LOAD_MIN_FACTS="1",
                                  TLEDGER_TEST_PAUSE_AT="mid_write",
                                  TLEDGER_TEST_PAUSE_SECONDS="120",
                                  TLEDGER_TEST_RELEASE_FILE=str(release)),
                        tmp_path / "holder.err")
        holder.wait_for("tledger-paused-at mid_write")
        try:
            facts, took = _timed(lambda: current_facts(url))
            assert facts == {}, took
            assert took < 1.0, took
            read = led.reading()
            conn = read.__enter__()  # a report's snapshot, taken before the import commits
            try:
                (loaded, took) = _timed(lambda: conn.execute(text(
                    "SELECT COUNT(*) FROM initiative_version WHERE name LIKE '%phased'"
                )).scalar_one())
                assert loaded == 0, took
                assert took < 1.0, took
                release.touch()
                assert holder.finish(timeout=60) == 0, holder.stderr()
                # The import committed; the older snapshot still reads the state it began
                # with (no phasing), not an error and not the new rows.
                assert conn.execute(text("SELECT COUNT(*) FROM phasing")).scalar_one() == 0
            finally:
                read.__exit__(None, None, None)
        finally:
            release.touch()
            if holder.proc.poll() is None:
                holder.kill()
        assert len(current_facts(url)) == 40 * 24
        led.dispose()
    finally:
        databases.drop(url)


def test_a_statement_over_the_postgresql_time_limit_is_refused_in_one_line(
        databases: Any, tmp_path: Path) -> None:
    url = databases.postgres()
    try:
        setup_programme(url)
        rows = [{"id": f"ST-{i}", "name": f"Slow {i}", "amounts": [i + 1] * 24}
                for i in range(300)]
        child = Forked(["import", "initiatives",
                        str(pipeline_workbook(tmp_path / "big.xlsx", rows))],
                       child_env(url, TLEDGER_PG_STATEMENT_TIMEOUT="0.001"),
                       tmp_path / "child.err")
        assert child.finish(timeout=60) == 1
        err = child.stderr()
        assert err.startswith("error: a statement on "), err
        assert err.count("\n") == 1, err
        assert "ran longer than TLEDGER_PG_STATEMENT_TIMEOUT allows" in err
        assert current_facts(url) == {}
    finally:
        databases.drop(url)

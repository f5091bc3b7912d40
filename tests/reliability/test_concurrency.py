"""Concurrency: racing writers lose nothing, and a busy ledger says so in one line.

PostgreSQL: N worker processes import workbooks and re-phase single months of the same
overlapping initiatives for a bounded time (see :mod:`reliability.race`). Afterwards:

* every submission in the ledger was reported as accepted to exactly one caller, and every
  refused attempt (a bad cell, a busy ledger) left no submission and got a one-line reason;
* the history replays: the state "as of" each accepted submission, read back from the
  version rows, equals the replay of the accepted submissions in commit (id) order, and
  the current state equals the replay's end;
* no process crashed or hung: each accepted work and ended before its deadline.

Both backends: while one writer holds the write lock, a second with a short
``TLEDGER_BUSY_TIMEOUT`` gets ``error: ledger is busy ...`` (never "database is locked"
or a traceback) and a third with the default timeout waits and then lands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from importers import import_initiatives
from ledger.api import Ledger
from ledger.models import OPEN
from reliability.race import POOL, initial_rows, race_worker, replay
from reliability.support import (
    Forked,
    child_env,
    current_facts,
    pipeline_workbook,
    record,
    setup_programme,
)

WORKERS = 4
RACE_SECONDS = 8.0


def _versions(url: str) -> tuple[list[tuple[str, str, int, int, int]], list[tuple[Any, ...]],
                                 list[tuple[int, Any]]]:
    led = Ledger.open(url)
    try:
        with led.reading() as conn:
            phasing = conn.execute(text(
                "SELECT i.external_id, CAST(p.month AS VARCHAR(10)), p.amount_minor, "
                "p.valid_from, p.valid_to FROM phasing p "
                "JOIN initiative i ON i.id = p.initiative_id")).all()
            names = conn.execute(text(
                "SELECT i.external_id, v.name, v.valid_from, v.valid_to FROM initiative_version v "
                "JOIN initiative i ON i.id = v.initiative_id")).all()
            subs = conn.execute(text("SELECT id, created_at FROM submission ORDER BY id")).all()
    finally:
        led.dispose()
    return ([(r[0], str(r[1])[:10], int(r[2]), int(r[3]), int(r[4])) for r in phasing],
            [tuple(r) for r in names], [(int(r[0]), r[1]) for r in subs])


def test_postgresql_racing_writers_lose_nothing(databases: Any, tmp_path: Path) -> None:
    url = databases.postgres()
    try:
        setup_programme(url)
        led = Ledger.open(url)
        start = import_initiatives(led, [pipeline_workbook(tmp_path / "start.xlsx",
                                                           initial_rows())], user="setup")
        led.dispose()
        first_race_sub = int(start.submission_ids[-1]) + 1
        start = tmp_path / "start"
        logs = [tmp_path / f"worker-{n}.jsonl" for n in range(WORKERS)]
        workers = []
        for n in range(WORKERS):
            # Worker 0 is impatient: with a 0.2 s busy timeout, some of its attempts are
            # refused as "ledger is busy" (and must leave nothing behind).
            extra = {"TLEDGER_BUSY_TIMEOUT": "0.2"} if n == 0 else {}
            workers.append(Forked([url, str(n), str(start), str(logs[n]), str(tmp_path)],
                                  child_env(url, **extra), tmp_path / f"worker-{n}.err",
                                  target=race_worker))
        # All at once: when every worker is ready, the race runs RACE_SECONDS from now.
        for n, w in enumerate(workers):
            ready = Path(f"{start}.ready-{n}")
            while not ready.exists():
                assert w.proc.poll() is None, w.stderr()
                time.sleep(0.01)
        tmp = tmp_path / "start.tmp"
        tmp.write_text(str(time.time() + RACE_SECONDS))
        tmp.rename(start)
        for n, w in enumerate(workers):
            code = w.finish(timeout=RACE_SECONDS + 120)
            assert code == 0, f"worker {n} ended with {code}: {w.stderr()[-3000:]}"
        entries = [json.loads(line) for log in logs for line in log.read_text().splitlines()]

        crashed = [e for e in entries if e["outcome"] == "crashed"]
        assert not crashed, crashed[0]["message"]
        accepted = [e for e in entries if e["outcome"] == "accepted"]
        refused = [e for e in entries if e["outcome"] == "refused"]
        assert len(entries) >= 3 * WORKERS, f"only {len(entries)} attempts: no race"
        for n in range(WORKERS):  # nobody was stopped for good
            assert any(e["worker"] == n for e in accepted), f"worker {n} never got through"
        for e in refused:
            assert e["message"], e
            assert "\n" not in e["message"].strip(), e
            assert "Traceback" not in e["message"]
            assert "database is locked" not in e["message"]
        assert all(e["outcome"] == "refused" for e in entries if e.get("bad")), \
            "a workbook with a bad cell was accepted"

        phasing, names, subs = _versions(url)
        reported = sorted(s for e in accepted for s in e["subs"])
        written = [s for s, _ in subs if s >= first_race_sub]
        assert reported == written, "a submission nobody was told of, or one that vanished"
        assert len(set(reported)) == len(reported)
        times = [t for _, t in subs]
        assert times == sorted(times), "submission times disagree with commit order"

        states = replay(entries)
        assert [s for s, _, _ in states] == written
        for sub, facts, who in states:
            as_of = {(e, m): a for e, m, a, vf, vt in phasing if vf <= sub < vt}
            assert as_of == facts, f"history as of submission {sub} differs from the replay"
            named = {e: nm for e, nm, vf, vt in names if vf <= sub < vt}
            assert named == who, f"names as of submission {sub} differ from the replay"
        final = {(e, m): a for (e, _, _, m), a in current_facts(url).items()}
        assert final == (states[-1][1] if states else final)
        assert {e for e, _ in final} <= set(POOL)
        assert all(vt == OPEN or vf < vt for _, _, _, vf, vt in phasing)
        # Racing writers each sealed their own submissions, in commit order.
        from ledger import chain

        led = Ledger.open(url)
        with led.reading() as conn:
            verified = chain.verify(conn)
        led.dispose()
        assert verified.ok, verified.problem
        assert verified.submissions >= len(written), verified.problem

        busy = [e for e in refused if e["kind"] == "LedgerBusy"]
        record("race: processes", WORKERS, backend="pg")
        record("race: attempts", len(entries), backend="pg")
        record("race: accepted submissions", len(reported), backend="pg")
        record("race: refused and reported", len(refused), backend="pg", busy=len(busy))
        record("race: states replayed", len(states), backend="pg")
    finally:
        databases.drop(url)


@pytest.fixture
def journal_url(request: pytest.FixtureRequest, databases: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    kind = request.param
    if kind == "postgresql":
        url = databases.postgres()
        yield url, {}
        databases.drop(url)
    else:
        import sqlite3

        url = databases.sqlite(tmp_path / "ledger.db")
        if kind == "sqlite-delete":
            with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
                raw.execute("PRAGMA journal_mode = delete")
            raw.close()
        yield url, ({"TLEDGER_SQLITE_JOURNAL": "delete"} if kind == "sqlite-delete" else {})


@pytest.mark.parametrize("journal_url", ["sqlite-wal", "sqlite-delete", "postgresql"],
                         indirect=True)
def test_second_writer_waits_or_is_told_the_ledger_is_busy(journal_url: Any,
                                                            tmp_path: Path) -> None:
    url, env = journal_url
    setup_programme(url)
    rows = [{"id": f"BZ-{i}", "name": f"Busy {i}", "amounts": [i + 1] * 24} for i in range(20)]
    first = pipeline_workbook(tmp_path / "first.xlsx", rows)
    second = pipeline_workbook(tmp_path / "second.xlsx",
                               [{**r, "amounts": [7] * 24} for r in rows[:5]])
    release = tmp_path / "release"
    holder = Forked(["import", "initiatives", str(first)],
                    child_env(url, TLEDGER_TEST_PAUSE_AT="before_commit",
                              TLEDGER_TEST_PAUSE_SECONDS="120",
                              TLEDGER_TEST_RELEASE_FILE=str(release), **env),
                    tmp_path / "holder.err")
    holder.wait_for("tledger-paused-at before_commit")
    # Impatient: told, in one line, and nothing written.
    impatient = Forked(["import", "initiatives", str(second)],
                       child_env(url, TLEDGER_BUSY_TIMEOUT="0.3", **env),
                       tmp_path / "impatient.err")
    assert impatient.finish(timeout=60) == 1
    err = impatient.stderr()
    assert err.startswith("error: ledger is busy"), err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "locked" not in err
    # Patient (default 30 s): waits for the holder's commit, then lands after it.
    patient = Forked(["phasing", "set", "BZ-3", "--month", "2027-01", "--amount", "99"],
                     child_env(url, **env), tmp_path / "patient.err")
    time.sleep(1.0)
    assert patient.proc.poll() is None, patient.stderr()  # waiting for the lock
    release.touch()  # the holder commits now
    assert holder.finish(timeout=60) == 0, holder.stderr()
    assert patient.finish(timeout=60) == 0, patient.stderr()
    facts = current_facts(url)
    assert facts[("BZ-3", "benefit", "plan", "2027-01-01")] == 9900
    assert facts[("BZ-4", "benefit", "plan", "2027-01-01")] == 500  # holder's, not second's
    led = Ledger.open(url)
    try:
        with led.reading() as conn:
            kinds = [r[0] for r in conn.execute(text(
                "SELECT kind FROM submission WHERE kind IN ('import', 'edit') ORDER BY id"))]
    finally:
        led.dispose()
    assert kinds == ["import", "edit"]
    record("busy: second writers", 2, backend=env.get("TLEDGER_SQLITE_JOURNAL", "wal")
           if url.startswith("sqlite") else "pg")

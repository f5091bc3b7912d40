"""Crash safety: an import SIGKILLed at any point leaves the ledger exactly as it was.

A child ``tledger import initiatives`` is stopped at each fault point of
:mod:`ledger.faults` (while reading the workbook; after superseded versions were closed but
before the new ones are in; with everything written but not committed) and at random
moments in between, then killed with SIGKILL: no exception handler, no rollback, no atexit.
Every table's row count and checksum must then equal the snapshot taken before, SQLite's
file must pass ``PRAGMA integrity_check``, and the very same import must then run to
completion (the killed runs were never recorded as imported).
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from importers import import_initiatives
from ledger.api import Ledger
from ledger.faults import IMPORT_POINTS
from reliability.support import (
    TLEDGER,
    Child,
    Forked,
    child_env,
    current_facts,
    current_names,
    facts_of,
    pipeline_workbook,
    record,
    setup_programme,
    snapshot,
    sqlite_integrity,
)

#: Initiatives in the ledger before the crash; the crashing workbook changes half of them
#: and adds as many again (about 13,000 facts written per attempt).
BASE = 300
RANDOM_KILLS = 2


def _rows(rng: random.Random, n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": f"GR-{i:05d}", "name": f"Initiative {i}",
             "amounts": [rng.randint(-10**6, 10**8) / 100 if rng.random() > 0.1 else None
                         for _ in range(24)]} for i in range(start, start + n)]


def _phasing_oid(url: str) -> int:
    from sqlalchemy import text

    from ledger.db import make_engine, resolve_url

    engine = make_engine(resolve_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT CAST('phasing'::regclass AS OID)")).scalar_one())
    finally:
        engine.dispose()


def _crash_then_succeed(url: str, tmp_path: Path, journal: str, bulk: bool = False) -> None:
    """``bulk``: the import takes the bulk-load path even at this small size (SQLite:
    indexes dropped and recreated inside the transaction; PostgreSQL: the phasing table,
    empty before, loaded as a copy that replaces it)."""
    rng = random.Random(20261122)
    setup_programme(url)
    base = _rows(rng, BASE)
    if bulk and url.startswith("postgresql"):
        base = [{**r, "amounts": [None] * len(r["amounts"])} for r in base]
    first = pipeline_workbook(tmp_path / "base.xlsx", base)
    led = Ledger.open(url)
    import_initiatives(led, [first], user="setup")
    led.dispose()
    # The crashing workbook rewrites every other initiative (new amounts, emptied months, a
    # new name) and adds BASE new ones: closes old versions and inserts new ones.
    changed = [dict(r) for r in base]
    for row in changed[::2]:
        row["amounts"] = [None if v is None or rng.random() < 0.1 else v + 1 for v in
                          row["amounts"]]
        row["name"] = row["name"] + " (revised)"
    rows = changed + _rows(rng, BASE, start=BASE)
    book = pipeline_workbook(tmp_path / "pipeline.xlsx", rows)
    if journal == "delete":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
            assert raw.execute("PRAGMA journal_mode = delete").fetchone()[0] == "delete"
        raw.close()
    before = snapshot(url)
    swapped = bulk and url.startswith("postgresql")
    oid = _phasing_oid(url) if swapped else None
    env = {"TLEDGER_SQLITE_JOURNAL": journal} if journal else {}
    if bulk:
        # More new versions than the table holds, so the bulk-load path really runs.
        assert len(facts_of(rows)) > len(facts_of(base))
        env["TLEDGER_BULK_LOAD_MIN_FACTS"] = "1"
    args = [TLEDGER, "import", "initiatives", str(book), "--note", "crash test"]
    db_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None

    reached: dict[str, float] = {}
    for n, point in enumerate(IMPORT_POINTS):
        child = Forked(args[1:], child_env(url, TLEDGER_TEST_PAUSE_AT=point, **env),
                       tmp_path / f"kill-{point}.err")
        reached[point] = child.wait_for(f"tledger-paused-at {point}")
        if db_file is not None and point != "reading":
            # The write is really under way: SQLite's journal holds the transaction.
            side = db_file.with_name(db_file.name + ("-wal" if journal == "wal"
                                                      else "-journal"))
            assert side.exists(), f"no {side.name} at {point}"
        child.kill()
        assert child.proc.returncode == -9
        assert snapshot(url) == before, f"ledger changed by an import killed at {point} ({n})"
    # Random moments between opening the workbook and the commit (the child can never
    # commit: it would pause before).
    for k in range(RANDOM_KILLS):
        delay = rng.uniform(reached["reading"] * 0.8, reached["before_commit"])
        child = Forked(args[1:], child_env(url, TLEDGER_TEST_PAUSE_AT="before_commit", **env),
                       tmp_path / f"kill-random-{k}.err")
        time.sleep(delay)
        assert child.proc.poll() is None, child.stderr()  # it cannot commit, nor may it fail
        child.kill()
        assert snapshot(url) == before, f"ledger changed by an import killed at {delay:.2f}s"
    if db_file is not None:
        assert sqlite_integrity(url) == "ok"
        with sqlite3.connect(db_file) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == journal
        raw.close()
    record("crash: faults injected", len(IMPORT_POINTS) + RANDOM_KILLS, backend=journal or "pg")

    # The same import now succeeds, completely: the real console script, a cold start.
    child = Child(args, child_env(url, **env), tmp_path / "succeed.err")
    assert child.finish() == 0, child.stderr()
    assert "submission" in child.stdout()
    assert "already imported" not in child.stdout()
    after = snapshot(url)
    assert after["submission"][0] == before["submission"][0] + 1
    if swapped:  # the import really loaded a copy of the table and swapped it in
        assert _phasing_oid(url) != oid
    assert current_facts(url) == facts_of(rows)
    names = current_names(url)
    assert names == {r["id"]: r["name"] for r in rows}
    record("crash: facts checked after recovery", len(facts_of(rows)),
           backend=journal or "pg")


@pytest.mark.parametrize(("journal", "bulk"), [("wal", False), ("delete", False),
                                               ("wal", True)])
def test_sqlite_import_killed_at_any_point_changes_nothing(journal: str, bulk: bool,
                                                           databases: Any,
                                                           tmp_path: Path) -> None:
    url = databases.sqlite(tmp_path / "ledger.db")
    _crash_then_succeed(url, tmp_path, journal, bulk=bulk)


@pytest.mark.parametrize("bulk", [False, True], ids=["incremental", "bulk-load"])
def test_postgresql_import_killed_at_any_point_changes_nothing(databases: Any,
                                                               tmp_path: Path,
                                                               bulk: bool) -> None:
    url = databases.postgres()
    try:
        _crash_then_succeed(url, tmp_path, "", bulk=bulk)
    finally:
        databases.drop(url)


def test_other_writers_killed_before_commit_change_nothing(programme: Ledger, db_url: str,
                                                          cli: Any, tmp_path: Path) -> None:
    """A target revision, an owner workbook and a single edit, each killed mid-write and
    just before its commit (both backends), leave the ledger as it was; then each lands."""
    from fixtures_workbooks import targets_workbook
    from openpyxl import load_workbook

    rows = [{"id": f"OW-{i}", "name": f"Owned {i}", "owner": "Ana Lima",
             "amounts": [100 + i] * 24} for i in range(40)]
    r = cli("import", "initiatives", str(pipeline_workbook(tmp_path / "p.xlsx", rows)))
    assert r.exit_code == 0, r.output
    targets = targets_workbook(tmp_path / "t.xlsx", [["benefit", "programme", *[5000] * 24]])
    r = cli("import", "targets", str(targets))
    assert r.exit_code == 0, r.output
    revised = targets_workbook(tmp_path / "t2.xlsx", [["benefit", "programme", *[6000] * 24],
                                                      ["benefit", "unit:PRO", *[3000] * 24]])
    owner = tmp_path / "ana.xlsx"
    r = cli("phasing", "export", "--owner", "Ana Lima", "--out", str(owner))
    assert r.exit_code == 0, r.output
    book = load_workbook(owner)
    sheet = book["Initiatives"]
    edited = 0
    for row in sheet.iter_rows(min_row=5):
        for cell in row[9:21]:  # the first twelve months of every initiative
            if isinstance(cell.value, (int, float)):
                cell.value = cell.value + 7
                edited += 1
    assert edited >= 40 * 12
    book.save(owner)
    both = ("mid_write", "before_commit")
    writes = {
        "target revision": (["import", "targets", str(revised)], both),
        "owner workbook": (["import", "initiatives", str(owner)], both),
        # A single edit closes and inserts one version without the bulk path: it has no
        # mid_write point; before_commit has everything written.
        "single edit": (["phasing", "set", "OW-3", "--month", "2027-02", "--amount", "12.34"],
                        ("before_commit",)),
    }
    before = snapshot(db_url)
    kills = 0
    for what, (args, points) in writes.items():
        for point in points:
            child = Forked(args, child_env(db_url, TLEDGER_TEST_PAUSE_AT=point),
                           tmp_path / f"{what}-{point}.err".replace(" ", "-"))
            child.wait_for(f"tledger-paused-at {point}", timeout=60)
            child.kill()
            kills += 1
            assert snapshot(db_url) == before, f"{what} killed at {point} changed the ledger"
    record("crash: faults injected", kills, backend="other writers")
    for what, (args, _) in writes.items():
        r = cli(*args)
        assert r.exit_code == 0, f"{what}: {r.output}"
    assert len(snapshot(db_url)) == len(before)
    facts = current_facts(db_url)
    assert facts[("OW-3", "benefit", "plan", "2027-02-01")] == 1234
    assert facts[("OW-5", "benefit", "plan", "2026-07-01")] == (105 + 7) * 100

"""Experiment: would another storage of phasing versions meet issue 3's 5 %-changed goal?

Not a benchmark of tledger's code: it measures raw ``sqlite3`` writes on a copy of a real
ledger, to support the storage decision described in docs/benchmarks.md ("Where a
5 %-changed import spends its time").

It imports the benchmark's 10,000 x 2 x 60 workbook (built by ``bench_import.py``) into a
fresh SQLite ledger once, then, on fresh copies of that ledger, times:

* **today's layout** (one ``phasing`` table, four indexes): close 60,000 versions chosen at
  random (``UPDATE ... valid_to``) and insert their successors, then commit;
* **current + history layout**: current facts in a ``WITHOUT ROWID`` table keyed by
  (metric, scenario, initiative, month), changed in place; each replaced version appended
  to a history table with a covering as-of index and an initiative index;
* the **first import's write** in the second layout: 1.2 M facts inserted, sorted, into
  the clustered table (today's figure is the ``write`` phase of ``bench_import.py``).

Usage::

    .venv/bin/python benchmarks/bench_storage_layout.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_import

OPEN = 9223372036854775807
CHANGES = 60_000
WORK = bench_import.CACHE / "storage-layout"


def _ledger_after_first_import() -> Path:
    """A SQLite ledger holding the first import of the benchmark workbook (cached)."""
    from importers import import_initiatives
    from ledger.api import Ledger

    WORK.mkdir(parents=True, exist_ok=True)
    done = WORK / f"after-first-v{bench_import.BUILD_VERSION}.db"
    if done.exists():
        return done
    base = bench_import.build_workbooks(False)[0]
    url = bench_import._fresh_ledger("sqlite", None)
    ledger = Ledger.open(url)
    import_initiatives(ledger, [base], note="first import")
    ledger.dispose()
    shutil.move(url[len("sqlite:///"):], done)
    return done


def _copy(src: Path, name: str) -> sqlite3.Connection:
    db = WORK / name
    shutil.copy(src, db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _new_submission(conn: sqlite3.Connection) -> int:
    conn.execute("INSERT INTO submission (kind, user, created_at, note) "
                 "VALUES ('import', 'bench', '2026-11-23 00:00:00', 'storage experiment')")
    return int(conn.execute("SELECT MAX(id) FROM submission").fetchone()[0])


def _picks(conn: sqlite3.Connection) -> list[tuple[int, int, int, str, str, int]]:
    rows = conn.execute("SELECT id, initiative_id, metric_id, scenario, month, amount_minor "
                        f"FROM phasing WHERE valid_to = {OPEN}").fetchall()
    return sorted(random.Random(1).sample(rows, CHANGES))


def today(src: Path) -> dict[str, float]:
    conn = _copy(src, "today.db")
    picks = _picks(conn)
    sub = _new_submission(conn)
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    ids = [p[0] for p in picks]
    for k in range(0, len(ids), 30_000):
        conn.execute(f"UPDATE phasing SET valid_to = ? WHERE id IN "
                     f"(SELECT value FROM json_each(?)) AND valid_to = {OPEN}",
                     (sub, json.dumps(ids[k:k + 30_000])))
    t1 = time.perf_counter()
    conn.executemany(
        "INSERT INTO phasing (initiative_id, metric_id, scenario, month, amount_minor, "
        "valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(p[1], p[2], p[3], p[4], p[5] + 1, sub, OPEN) for p in picks])
    t2 = time.perf_counter()
    conn.execute("COMMIT")
    t3 = time.perf_counter()
    conn.close()
    return {"close": t1 - t0, "insert": t2 - t1, "commit": t3 - t2, "total": t3 - t0}


_CURRENT = """CREATE TABLE cur (
    initiative_id INTEGER NOT NULL REFERENCES initiative(id),
    metric_id INTEGER NOT NULL REFERENCES metric(id),
    scenario TEXT NOT NULL, month DATE NOT NULL, amount_minor BIGINT NOT NULL,
    valid_from INTEGER NOT NULL REFERENCES submission(id),
    PRIMARY KEY (metric_id, scenario, initiative_id, month)) WITHOUT ROWID"""
_HISTORY = """CREATE TABLE hist (
    id INTEGER PRIMARY KEY, initiative_id INTEGER NOT NULL, metric_id INTEGER NOT NULL,
    scenario TEXT NOT NULL, month DATE NOT NULL, amount_minor BIGINT NOT NULL,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL)"""


def current_and_history(src: Path) -> dict[str, float]:
    conn = _copy(src, "split.db")
    picks = _picks(conn)
    conn.execute("BEGIN")
    conn.execute(_CURRENT)
    conn.execute("INSERT INTO cur SELECT initiative_id, metric_id, scenario, month, "
                 f"amount_minor, valid_from FROM phasing WHERE valid_to = {OPEN} "
                 "ORDER BY metric_id, scenario, initiative_id, month")
    conn.execute(_HISTORY)
    conn.execute("CREATE INDEX ix_hist_scan ON hist (metric_id, scenario, valid_to, "
                 "valid_from, month, initiative_id, amount_minor)")
    conn.execute("CREATE INDEX ix_hist_initiative ON hist (initiative_id)")
    conn.execute("DROP TABLE phasing")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sub = _new_submission(conn)
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TEMP TABLE chg (metric_id INTEGER, scenario TEXT, initiative_id "
                 "INTEGER, month DATE, amount_minor BIGINT, PRIMARY KEY (metric_id, scenario, "
                 "initiative_id, month)) WITHOUT ROWID")
    conn.executemany("INSERT INTO temp.chg VALUES (?, ?, ?, ?, ?)",
                     sorted((p[2], p[3], p[1], p[4], p[5] + 1) for p in picks))
    conn.execute("INSERT INTO hist (initiative_id, metric_id, scenario, month, amount_minor, "
                 "valid_from, valid_to) SELECT c.initiative_id, c.metric_id, c.scenario, "
                 "c.month, c.amount_minor, c.valid_from, ? FROM temp.chg x JOIN cur c "
                 "USING (metric_id, scenario, initiative_id, month)", (sub,))
    t1 = time.perf_counter()
    conn.execute("UPDATE cur SET amount_minor = x.amount_minor, valid_from = ? FROM temp.chg x "
                 "WHERE cur.metric_id = x.metric_id AND cur.scenario = x.scenario AND "
                 "cur.initiative_id = x.initiative_id AND cur.month = x.month", (sub,))
    t2 = time.perf_counter()
    conn.execute("COMMIT")
    t3 = time.perf_counter()
    conn.close()
    return {"history": t1 - t0, "update": t2 - t1, "commit": t3 - t2, "total": t3 - t0}


def first_write_current(src: Path) -> dict[str, float]:
    conn = _copy(src, "first.db")
    rows = conn.execute("SELECT initiative_id, metric_id, scenario, month, amount_minor, "
                        "valid_from FROM phasing").fetchall()
    conn.execute("DROP TABLE phasing")
    conn.execute(_CURRENT)
    rows.sort(key=lambda r: (r[1], r[2], r[0], r[3]))
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO cur VALUES (?, ?, ?, ?, ?, ?)", rows)
    t1 = time.perf_counter()
    conn.execute("COMMIT")
    t2 = time.perf_counter()
    conn.close()
    return {"insert": t1 - t0, "commit": t2 - t1, "total": t2 - t0}


def _line(label: str, figures: dict[str, float]) -> str:
    parts = ", ".join(f"{k} {v:.2f}" for k, v in figures.items() if k != "total")
    return f"{label:<46}{figures['total']:>7.2f} s   ({parts})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="repetitions of each write")
    args = parser.parse_args()
    src = _ledger_after_first_import()
    print(f"ledger after the first import: {src} ({src.stat().st_size / 1e6:.0f} MB)")
    for run in range(1, args.runs + 1):
        print(f"run {run}")
        print(_line(f"  today's layout: {CHANGES:,} changes", today(src)))
        print(_line(f"  current + history: {CHANGES:,} changes", current_and_history(src)))
        print(_line("  current + history: first import, 1.2 M", first_write_current(src)))
    for name in ("today.db", "split.db", "first.db"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{WORK / name}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()

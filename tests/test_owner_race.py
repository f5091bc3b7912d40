"""Two owner imports racing on the same initiative: one is applied, the other is reported
as a conflict; never a lost update. Real processes, real databases (SQLite and PostgreSQL).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from decimal import Decimal
from pathlib import Path

from helpers.owner_seed import plan_of, seed
from openpyxl import load_workbook
from sqlalchemy import text

from importers.owner import OwnerConflict, import_owner_workbook
from ledger.api import Ledger
from ledger.phasing import find_initiative, replace_initiative_phasing
from ledger.store import new_submission
from reports.owner_workbook import collect_owner_export, write_owner_workbook


def _two_stale_copies(led: Ledger, tmp_path: Path) -> tuple[Path, Path]:
    """Two workbooks exported at the same ledger version, each re-phasing GR-0001's July."""
    src = write_owner_workbook(collect_owner_export(led, "Ana Lima"), tmp_path / "ana.xlsx")
    paths = []
    for name, value in (("first.xlsx", 1111), ("second.xlsx", 2222)):
        wb = load_workbook(src)
        wb["Initiatives"]["J5"] = value
        wb.save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths[0], paths[1]


def _worker(db_url: str, path: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    led = Ledger.open(db_url)
    try:
        barrier.wait(timeout=60)
        result = import_owner_workbook(led, path, user=Path(path).stem)
        results.put((path, "applied", result.submission_id, None))
    except OwnerConflict as exc:
        now = exc.conflicts["ledger_now"].tolist()
        results.put((path, "conflict", None, [str(v) for v in now]))
    except Exception as exc:
        results.put((path, "error", None, repr(exc)))
    finally:
        led.dispose()


def test_two_processes_importing_at_once_end_with_one_applied_and_one_conflict(
        programme, db_url, tmp_path):
    seed(programme)
    first, second = _two_stale_copies(programme, tmp_path)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db_url, str(p), barrier, results))
             for p in (first, second)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    kinds = sorted(o[1] for o in outcomes)
    assert kinds == ["applied", "conflict"], outcomes
    applied = next(o for o in outcomes if o[1] == "applied")
    conflict = next(o for o in outcomes if o[1] == "conflict")
    winner_value = Decimal("1111.00") if applied[0].endswith("first.xlsx") else Decimal(
        "2222.00")
    # The loser saw the winner's committed value, and the ledger holds exactly that.
    assert conflict[3] == [str(winner_value)]
    assert plan_of(programme, "GR-0001")["2026-07"] == winner_value
    with programme.reading() as conn:
        imports = conn.execute(text(
            "SELECT COUNT(*) FROM submission WHERE kind = 'import' AND source_name IN "
            "('first.xlsx', 'second.xlsx')")).scalar_one()
    assert imports == 1


def test_an_import_waiting_for_the_write_lock_checks_after_it_gets_it(
        programme, db_url, backend, tmp_path):
    """Deterministic form of the race: a writer holds the lock and changes GR-0001 while an
    owner import waits on the lock; once the writer commits, the import sees the change."""
    seed(programme)
    stale, _ = _two_stale_copies(programme, tmp_path)
    outcome: dict[str, object] = {}

    def run_import() -> None:
        led = Ledger.open(db_url)
        try:
            outcome["result"] = import_owner_workbook(led, stale)
        except OwnerConflict as exc:
            outcome["conflict"] = exc.conflicts
        finally:
            led.dispose()

    waiter = threading.Thread(target=run_import)
    with programme.writing() as conn:
        sub = new_submission(conn, kind="edit", user="office", note="holding the lock")
        ini = find_initiative(conn, "GR-0001")
        waiter.start()
        deadline = time.monotonic() + 20
        if backend == "postgresql":
            # Wait until the import really blocks on the programme row lock.
            probe = Ledger.open(db_url)
            while time.monotonic() < deadline:
                with probe.engine.connect() as c:
                    waiting = c.execute(text(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'")).scalar_one()
                if waiting:
                    break
                time.sleep(0.05)
            probe.dispose()
            assert waiting, "the import never waited for the write lock"
        else:
            time.sleep(1.5)  # reading the workbook takes well under a second
        assert waiter.is_alive()
        import pandas as pd

        metric = programme.metric("benefit", conn)
        replace_initiative_phasing(conn, [ini.id], metric.id, "plan", pd.DataFrame({
            "initiative_id": [ini.id], "month": ["2026-07-01"], "amount_minor": [99_00]}),
            sub.id)
    waiter.join(timeout=60)
    assert "result" not in outcome
    conflicts = outcome["conflict"]
    assert conflicts.to_dict("records")[0]["ledger_now"] == Decimal("99.00")  # type: ignore[attr-defined]
    assert plan_of(programme, "GR-0001") == {"2026-07": Decimal("99.00")}

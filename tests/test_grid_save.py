"""A grid save is checked and diffed before the write lock and confirmed under it: a change
that lands in between is seen under the lock (refused when it conflicts, kept when not)."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from helpers.owner_seed import plan_of, seed

from ledger.grid import GridConflict, read_grid, save_grid
from ledger.phasing import set_phasing


def _save_paused_after_planning(programme, monkeypatch, tmp_path, cells, other_change):
    """Save ``cells`` on GR-0001 read now; ``other_change`` runs after the save's plan is
    made and before it takes the write lock. Returns the save's result or exception."""
    grid = read_grid(programme, "GR-0001", ["plan", "forecast"])
    release = tmp_path / "release"
    monkeypatch.setenv("TLEDGER_TEST_PAUSE_AT", "grid_planned")
    monkeypatch.setenv("TLEDGER_TEST_RELEASE_FILE", str(release))
    monkeypatch.setenv("TLEDGER_TEST_PAUSE_SECONDS", "60")
    outcome: list[object] = []

    def save() -> None:
        try:
            outcome.append(save_grid(programme, "GR-0001", read_as_of=grid.as_of,
                                     read_versions=grid.versions, cells=cells,
                                     user="ana@example.com", note="mine"))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=save)
    thread.start()
    time.sleep(0.5)  # the save is now paused between its plan and the lock
    assert not outcome, "the save did not pause after planning"
    other_change()
    release.touch()
    thread.join(60)
    return outcome[0]


#: (cell the other writer changes, its new value) -> what the paused save must end with
CASES = {
    "2026-07": "refused",  # the cell the save changes: refused, read/now/yours shown
    "2026-08": "kept",     # another cell: the save goes through, the other change stays
}


@pytest.mark.parametrize("month", list(CASES))
def test_a_change_between_the_plan_and_the_lock_is_seen_under_the_lock(
        programme, monkeypatch, tmp_path, month):
    seed(programme)
    result = _save_paused_after_planning(
        programme, monkeypatch, tmp_path, {("benefit", "plan", "2026-07-01"): 150_000},
        lambda: set_phasing(programme, "GR-0001", date.fromisoformat(f"{month}-01"),
                            Decimal("1234"), user="office", note="finance call"))
    if CASES[month] == "refused":
        assert isinstance(result, GridConflict), result
        assert [(d.read, d.now, d.yours) for d in result.differences] == [
            (Decimal("1000.00"), Decimal("1234.00"), Decimal("1500.00"))]
        assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1234.00")
    else:
        assert not isinstance(result, Exception), result
        assert result.changed == 1
        assert plan_of(programme, "GR-0001") == {"2026-07": Decimal("1500.00"),
                                                 "2026-08": Decimal("1234.00"),
                                                 "2027-03": Decimal("3000.00")}

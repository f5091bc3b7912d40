"""Stage-gate approvals and the committed plan (ledger.approvals), on both backends."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from helpers.owner_seed import plan_of, seed

from ledger.approvals import (
    approval_gates,
    approve,
    commitment,
    commitments,
    committed_plan,
    pending,
    reject,
    request_stage,
    set_approval_gates,
)
from ledger.errors import LedgerError, NotFound
from ledger.grid import read_grid, save_grid
from ledger.history import history
from ledger.phasing import find_initiative, set_phasing, set_stage

ANA = "Ana Lima"


def _save(led, ext, cells, *, owner=ANA, note="", user="ana@example.com"):
    grid = read_grid(led, ext, ["plan", "forecast"])
    return save_grid(led, ext, read_as_of=grid.as_of, read_versions=grid.versions,
                     cells=cells, user=user, note=note, owner=owner,
                     lock_plan=owner is not None)


def _stage(led, ext):
    with led.reading() as conn:
        return find_initiative(conn, ext).stage


def test_request_approve_moves_the_stage_commits_the_plan_and_locks_it_for_the_owner(
        programme):
    seed(programme)
    asked = request_stage(programme, "GR-0001", "L3", note="business case signed",
                          user="ana@example.com", owner=ANA)
    assert asked.request_id is not None
    assert _stage(programme, "GR-0001") == "L2"
    [waiting] = pending(programme)
    assert (waiting.external_id, waiting.from_stage, waiting.to_stage, waiting.requested_by,
            waiting.note) == ("GR-0001", "L2", "L3", "ana@example.com", "business case signed")
    # Before approval the plan is the owner's to change.
    _save(programme, "GR-0001", {("benefit", "plan", "2026-07-01"): 110_000}, note="rephase")

    done = approve(programme, asked.request_id, note="steerco 3 Dec", user="off@example.com")
    assert done.committed
    assert _stage(programme, "GR-0001") == "L3"
    assert pending(programme) == []
    with programme.reading() as conn:
        iid = find_initiative(conn, "GR-0001").id
        c = commitment(conn, iid)
    assert c is not None
    assert (c.submission, c.stage, c.who) == (
        done.submission_id, "L3", "off@example.com")

    with pytest.raises(LedgerError, match=r"plan committed at L3 on .* by off@example\.com"):
        _save(programme, "GR-0001", {("benefit", "plan", "2026-07-01"): 1}, note="x")
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1100.00")
    # The forecast stays the owner's.
    assert _save(programme, "GR-0001",
                 {("benefit", "forecast", "2026-07-01"): 90_000}).changed == 1
    # The office changes the committed plan only with a note.
    with pytest.raises(LedgerError, match=r"committed .* a note is required"):
        _save(programme, "GR-0001", {("benefit", "plan", "2026-08-01"): 5}, owner=None,
              user="off@example.com")
    with pytest.raises(LedgerError, match="give --note"):
        set_phasing(programme, "GR-0001", date(2026, 8, 1), Decimal(5), user="office")
    set_phasing(programme, "GR-0001", date(2026, 8, 1), Decimal(5), user="office",
                note="re-plan agreed at steerco")

    # The committed plan is the plan as approved, beside the current plan and forecast.
    plan = committed_plan(programme, metric="benefit")
    row = plan[(plan["external_id"] == "GR-0001") & (plan["month"] == "2026-08")].iloc[0]
    assert (row["committed_plan"], row["plan"]) == (Decimal("2000.50"), Decimal("5.00"))
    row = plan[(plan["external_id"] == "GR-0001") & (plan["month"] == "2026-07")].iloc[0]
    assert (row["committed_plan"], row["forecast"]) == (Decimal("1100.00"), Decimal("900.00"))
    # GR-0002 was seeded at L3: committed at its import; GR-0003 (L1) is not committed.
    assert set(plan["external_id"]) == {"GR-0001", "GR-0002"}

    changes = history(programme, "GR-0001")
    request_row = changes[changes["what"] == f"stage request #{asked.request_id}"].iloc[0]
    assert (request_row["who"], request_row["note"], request_row["new"]) == (
        "ana@example.com", "business case signed", "L3")
    decided = changes[changes["what"] == f"stage request #{asked.request_id} approved"].iloc[0]
    assert (decided["who"], decided["note"], int(decided["submission"])) == (
        "off@example.com", "steerco 3 Dec", done.submission_id)
    stage_row = changes[changes["what"] == "stage"].iloc[0]
    assert (stage_row["old"], stage_row["new"], int(stage_row["submission"])) == (
        "L2", "L3", done.submission_id)


def test_reject_needs_a_note_keeps_the_stage_and_frees_the_initiative(programme):
    seed(programme)
    asked = request_stage(programme, "GR-0001", "L3", note="ready", user="ana@example.com",
                          owner=ANA)
    with pytest.raises(LedgerError, match="already has a request pending"):
        request_stage(programme, "GR-0001", "L3", note="again", user="ana@example.com",
                      owner=ANA)
    with pytest.raises(LedgerError, match="note is required"):
        reject(programme, asked.request_id, note="  ", user="off@example.com")
    done = reject(programme, asked.request_id, note="no business case yet",
                  user="off@example.com")
    assert done.decision == "rejected"
    assert _stage(programme, "GR-0001") == "L2"
    with pytest.raises(LedgerError, match=r"already rejected by off@example\.com"):
        approve(programme, asked.request_id, user="off@example.com")
    changes = history(programme, "GR-0001")
    assert f"stage request #{asked.request_id} rejected" in set(changes["what"])
    # The owner may ask again.
    assert request_stage(programme, "GR-0001", "L3", note="now with the case",
                         user="ana@example.com", owner=ANA).request_id is not None


def test_a_request_overtaken_by_another_stage_change_is_refused_on_approval(programme):
    seed(programme)
    asked = request_stage(programme, "GR-0001", "L3", note="ready", user="ana@example.com",
                          owner=ANA)
    set_stage(programme, "GR-0001", "L1", user="office", note="back to validation")
    set_stage(programme, "GR-0001", "L2", user="office", note="and forward again")
    [waiting] = pending(programme)
    assert waiting.stale
    with pytest.raises(LedgerError, match="stale"):
        approve(programme, asked.request_id, user="off@example.com")
    assert _stage(programme, "GR-0001") == "L2"


def test_owner_requests_are_their_own_forward_and_never_skip_an_approval(programme):
    seed(programme)
    with pytest.raises(NotFound, match="no initiative 'GR-0003'"):
        request_stage(programme, "GR-0003", "L2", note="mine?", user="ana@example.com",
                      owner=ANA)
    with pytest.raises(LedgerError, match="note is required"):
        request_stage(programme, "GR-0001", "L3", note="", user="ana@example.com", owner=ANA)
    with pytest.raises(LedgerError, match="may ask for L3"):
        request_stage(programme, "GR-0001", "L4", note="skip", user="ana@example.com",
                      owner=ANA)
    with pytest.raises(LedgerError, match="may ask for L3"):
        request_stage(programme, "GR-0001", "L1", note="back", user="ana@example.com",
                      owner=ANA)
    assert pending(programme) == []
    # A gate that needs no approval moves at once, as the owner's stage change.
    moved = request_stage(programme, "GR-0002", "L4", note="implemented",
                          user="ana@example.com", owner=ANA)
    assert moved.request_id is None
    assert _stage(programme, "GR-0002") == "L4"


def test_approval_gates_setting_and_what_counts_as_committed(programme):
    seed(programme)
    assert approval_gates(programme) == ["L3", "L5"]
    assert set_approval_gates(programme, ["l5", "L4"], user="office") == ["L4", "L5"]
    assert approval_gates(programme) == ["L4", "L5"]
    with pytest.raises(NotFound, match="no stage gate 'L9'"):
        set_approval_gates(programme, ["L9"], user="office")
    with programme.reading() as conn:
        ids = {e: find_initiative(conn, e).id for e in ("GR-0001", "GR-0002", "GR-0003")}
        before = commitments(conn)
    assert set(before) == {ids["GR-0002"]}
    # L3 no longer needs approval: the owner's move commits at once; back below L3 frees it.
    moved = request_stage(programme, "GR-0001", "L3", note="go", user="ana@example.com",
                          owner=ANA)
    set_stage(programme, "GR-0002", "L2", user="office", note="paused")
    with programme.reading() as conn:
        after = commitments(conn)
    assert after == {ids["GR-0001"]: moved.submission_id}

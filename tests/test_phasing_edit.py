"""Single edits: one month's amount, a stage move; each a submission with who and why."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from helpers.owner_seed import plan_of, seed
from sqlalchemy import text

from ledger.errors import LedgerError, NotFound
from ledger.initiatives import current_initiatives
from ledger.phasing import phasing_versions, set_phasing, set_stage


def _submission(led, sub_id):
    with led.reading() as conn:
        return conn.execute(text(
            'SELECT kind, "user", note, source_name, details FROM submission WHERE id = :i'),
            {"i": sub_id}).one()


def test_set_changes_one_month_and_records_who_and_why(programme):
    seed(programme)
    edit = set_phasing(programme, "GR-0001", date(2027, 3, 15), Decimal("125000"),
                       user="ana", note="slipped a month")
    assert (edit.old, edit.new) == (Decimal("3000.00"), Decimal("125000.00"))
    assert plan_of(programme, "GR-0001") == {"2026-07": Decimal("1000.00"),
                                             "2026-08": Decimal("2000.50"),
                                             "2027-03": Decimal("125000.00")}
    kind, user, note, source, details = _submission(programme, edit.submission_id)
    assert (kind, user, note, source) == ("edit", "ana", "slipped a month", None)
    assert json.loads(details)["month"] == "2027-03-01"
    # The old value is still on record (append-only).
    with programme.reading() as conn:
        old = conn.execute(text(
            "SELECT amount_minor FROM phasing WHERE valid_to = :s"),
            {"s": edit.submission_id}).scalar_one()
    assert old == 300000


def test_set_adds_clears_rounds_and_skips_no_ops(programme):
    seed(programme)
    add = set_phasing(programme, "GR-0002", date(2026, 10, 1), Decimal("2.345"), user="x",
                      note="GR-0002 is at L3: a committed plan changes with a note")
    assert add.old is None
    assert add.new == Decimal("2.35")
    same = set_phasing(programme, "GR-0002", date(2026, 10, 1), Decimal("2.35"), user="x")
    assert same.submission_id is None
    cleared = set_phasing(programme, "GR-0002", date(2026, 10, 1), None, user="x",
                          note="cleared")
    assert cleared.old == Decimal("2.35")
    assert cleared.new is None
    assert plan_of(programme, "GR-0002") == {"2026-09": Decimal("500.25")}


def test_set_on_another_scenario_leaves_plan_alone_and_moves_its_version(programme):
    ids = seed(programme)
    metric = programme.metric("benefit")
    with programme.reading() as conn:
        before = phasing_versions(conn, [ids["GR-0001"]], metric.id, "plan")
    edit = set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("9"),
                       scenario="forecast", user="x")
    with programme.reading() as conn:
        plan_after = phasing_versions(conn, [ids["GR-0001"]], metric.id, "plan")
        fc = phasing_versions(conn, [ids["GR-0001"]], metric.id, "forecast")
    assert plan_after == before
    assert fc == {ids["GR-0001"]: edit.submission_id}
    # Emptying a month (no successor version) also counts as a change of the phasing.
    cleared = set_phasing(programme, "GR-0001", date(2026, 7, 1), None, scenario="forecast",
                          user="x")
    with programme.reading() as conn:
        assert phasing_versions(conn, [ids["GR-0001"]], metric.id, "forecast") == {
            ids["GR-0001"]: cleared.submission_id}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"external_id": "GR-0404"}, NotFound, "no initiative 'GR-0404'"),
        ({"month": date(2030, 1, 1)}, LedgerError, "outside the programme's horizon"),
        ({"metric": "nope"}, NotFound, "no metric 'nope'"),
        ({"scenario": "wish"}, LedgerError, "expected one of plan, forecast, actual"),
    ],
)
def test_set_refusals_write_nothing(programme, kwargs, error, message):
    seed(programme)
    args = {"external_id": "GR-0001", "month": date(2026, 7, 1), "amount": Decimal(1)}
    args.update(kwargs)
    before = len(programme.submissions())
    with pytest.raises(error, match=message):
        set_phasing(programme, args.pop("external_id"), args.pop("month"), args.pop("amount"),
                    **args)
    assert len(programme.submissions()) == before


def test_stage_move_is_a_submission_and_keeps_the_old_version(programme):
    seed(programme)
    move = set_stage(programme, "GR-0001", "l3", user="pmo", note="approved at steerco")
    assert (move.old, move.new) == ("L2", "L3")
    assert _submission(programme, move.submission_id)[:3] == ("stage", "pmo",
                                                              "approved at steerco")
    with programme.reading() as conn:
        now = current_initiatives(conn).set_index("external_id")
        then = current_initiatives(conn, as_of=move.submission_id - 1).set_index("external_id")
    assert now.loc["GR-0001", "stage"] == "L3"
    assert then.loc["GR-0001", "stage"] == "L2"
    assert now.loc["GR-0001", "name"] == "Spares pooling"  # other attributes carried over
    assert set_stage(programme, "GR-0001", "L3").submission_id is None
    with pytest.raises(NotFound, match="no stage gate 'L9'"):
        set_stage(programme, "GR-0001", "L9")


def test_cli_phasing_set_and_stage_set(programme, cli, monkeypatch):
    seed(programme)
    r = cli("phasing", "set", "GR-0001", "--month", "2027-03", "--amount", "125000",
            "--note", "re-phased")
    assert r.exit_code == 0, r.output
    assert "GR-0001 2027-03 benefit plan: 3,000.00 -> 125,000.00" in r.stdout
    subs = programme.submissions()
    assert subs.iloc[0]["user"] == "tester"
    assert subs.iloc[0]["note"] == "re-phased"
    r = cli("phasing", "set", "GR-0001", "--month", "2027-03", "--clear", "--user", "ana")
    assert r.exit_code == 0
    assert "-> (empty)" in r.stdout
    assert programme.submissions().iloc[0]["user"] == "ana"
    r = cli("phasing", "set", "GR-0001", "--month", "2027-03", "--amount", "abc")
    assert r.exit_code == 1
    assert "error: --amount 'abc'" in r.stderr
    r = cli("phasing", "set", "GR-0001", "--month", "2027-13", "--amount", "1")
    assert r.exit_code == 1
    assert "--month" in r.stderr
    r = cli("phasing", "set", "GR-0001", "--month", "2027-03")
    assert r.exit_code == 1
    assert "either --amount or --clear" in r.stderr
    r = cli("stage", "set", "GR-0001", "L4", "--note", "implemented")
    assert r.exit_code == 0
    assert "GR-0001: L2 -> L4" in r.stdout
    r = cli("stage", "set", "GR-0404", "L4")
    assert r.exit_code == 1
    assert "no initiative 'GR-0404'" in r.stderr
    r = cli("stage", "--help")
    assert "set-weight" in r.stdout
    assert "set " in r.stdout

"""The committed plan (plan as approved at L3) in finance's view and `tledger outturn`, and
committed plans changed by office imports; on both backends."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from helpers.owner_seed import seed

from ledger.api import Ledger
from ledger.approvals import committed_plan
from ledger.closing import close_month
from ledger.engine import finance
from ledger.initiative_admin import set_status
from ledger.phasing import set_phasing, set_stage

D = Decimal


def _committed(led: Ledger) -> int:
    """GR-0002 committed at the seed (L3: Sep-26 500.25); GR-0001 committed by a stage move
    (plan Jul 1000.00, Aug 2000.50, Mar-27 3000.00), then re-planned by the office (Aug
    5.00) and forecast (Jul 900.00, Jul-27 40.00). Returns the stage move's submission."""
    seed(led)
    moved = set_stage(led, "GR-0001", "L3", user="office", note="steerco")
    assert moved.submission_id is not None
    set_phasing(led, "GR-0001", date(2026, 8, 1), D(5), user="office", note="re-plan")
    set_phasing(led, "GR-0001", date(2026, 7, 1), D(900), scenario="forecast", user="o")
    set_phasing(led, "GR-0001", date(2027, 7, 1), D(40), scenario="forecast", user="o")
    return moved.submission_id


def _row(frame: Any, period: str) -> dict[str, Any]:
    return dict(frame[frame["period"] == period].iloc[0])


def test_finance_committed_plan_beside_its_outturn_ties_and_reads_as_of(
        programme: Ledger) -> None:
    moved = _committed(programme)
    # July 2026 closed, GR-0001's actual 950.10 (its forecast said 900.00).
    set_phasing(programme, "GR-0001", date(2026, 7, 1), D("950.10"), scenario="actual",
                user="finance")
    close_month(programme, date(2026, 7, 1), user="finance", note="July close",
                now=datetime(2026, 12, 1, tzinfo=UTC))
    rep = finance(programme)
    assert rep.committed_initiatives == 2
    fy27, fy28 = _row(rep.fiscal, "FY27"), _row(rep.fiscal, "FY28")
    # Committed plan FY27: 1000 + 2000.50 + 3000 (GR-0001 as approved) + 500.25 (GR-0002);
    # the office's later re-plan (Aug 5.00) does not move it. Outturn of committed FY27:
    # GR-0001 Jul closed: its actual 950.10 (not the forecast 900); Aug and Mar open, it
    # has a forecast: its forecast there, 0 (not the plan 5.00 / 3000); GR-0002 has no
    # forecast: its plan Sep 500.25. 950.10 + 500.25 = 1450.35. FY28: GR-0001's forecast 40.
    assert (fy27["committed_plan"], fy27["committed_outturn"],
            fy27["committed_plan_variance"]) == (D("6500.75"), D("1450.35"), D("-5050.40"))
    assert (fy28["committed_plan"], fy28["committed_outturn"],
            fy28["committed_plan_variance"]) == (D("0.00"), D("40.00"), D("40.00"))
    horizon = _row(rep.fiscal, "Horizon")
    assert (horizon["committed_outturn"], horizon["committed_plan_variance"]) == (
        D("1490.35"), D("-5010.40"))
    # The same initiatives as Committed (L3-L5): their outturn is that column's.
    assert fy27["committed_outturn"] == fy27["committed"]
    monthly = rep.monthly.set_index(rep.monthly["month"].map(lambda m: m.strftime("%Y-%m")))
    assert [monthly.at[m, "committed_outturn"] for m in ("2026-07", "2026-08", "2026-09")] \
        == [D("950.10"), D("0.00"), D("500.25")]
    assert monthly.at["2027-03", "committed_plan_variance"] == D("-3000.00")
    # The committed plan: to the cent, the totals of `tledger stage committed` per fiscal
    # year and per month.
    detail = committed_plan(programme, metric="benefit")
    for period in ("FY27", "FY28"):
        part = detail[detail["fiscal_year"] == period]
        assert _row(rep.fiscal, period)["committed_plan"] == sum(part["committed_plan"], D(0))
    by_month = detail.groupby("month")["committed_plan"].sum()
    for month, amount in by_month.items():
        assert monthly.at[month, "committed_plan"] == amount
    assert sum(rep.monthly["committed_plan"], D(0)) == sum(detail["committed_plan"], D(0))
    # As of the submission before the stage move, only GR-0002 was committed (no month
    # closed then): its plan, its outturn the plan (no forecast).
    before = _row(finance(programme, as_of=moved - 1).fiscal, "FY27")
    assert (before["committed_plan"], before["committed_outturn"]) == (D("500.25"),
                                                                       D("500.25"))
    assert finance(programme, as_of=moved - 1).committed_initiatives == 1


def test_a_withdrawn_committed_initiative_leaves_both_committed_plans(
        programme: Ledger) -> None:
    _committed(programme)
    assert "GR-0002" in set(committed_plan(programme, metric="benefit")["external_id"])
    set_status(programme, "GR-0002", "withdrawn", user="office", note="merged")
    detail = committed_plan(programme, metric="benefit")
    assert set(detail["external_id"]) == {"GR-0001"}
    rep = finance(programme)
    assert rep.committed_initiatives == 1
    fy27 = _row(rep.fiscal, "FY27")
    # GR-0001 only: plan 1000 + 2000.50 + 3000; outturn its forecast Jul 900.
    assert (fy27["committed_plan"], fy27["committed_outturn"]) == (D("6000.50"), D("900.00"))
    assert fy27["committed_plan"] == sum(
        detail[detail["fiscal_year"] == "FY27"]["committed_plan"], D(0))


def test_cli_outturn_committed_rows_and_keys(programme: Ledger, cli: Any) -> None:
    people = cli("outturn")
    assert people.exit_code == 0, people.output
    assert "no initiative is committed" in people.stdout
    _committed(programme)
    people = cli("outturn", "--fiscal-year", "FY27")
    assert people.exit_code == 0, people.output
    for label in ("Committed plan (at L3)", "Committed - committed plan"):
        assert label in people.stdout
    assert "-5,100.50" in people.stdout or "-5100.50" in people.stdout
    assert "no initiative is committed" not in people.stdout
    rows = {r["period"]: r for r in json.loads(cli("outturn", "--format", "json").stdout)}
    # Outturn of committed FY27: GR-0001's forecast Jul 900 + GR-0002's plan Sep 500.25.
    assert (rows["FY27"]["committed_plan"], rows["FY27"]["committed_outturn"],
            rows["FY27"]["committed_plan_variance"]) == ("6500.75", "1400.25", "-5100.50")
    assert rows["FY27"]["outturn"]  # the existing keys stay
    monthly = json.loads(cli("outturn", "--view", "monthly", "--format", "json").stdout)
    aug = next(r for r in monthly if r["month"] == "2026-08-01")
    assert (aug["committed_plan"], aug["committed_outturn"]) == ("2000.50", "0.00")


def _committed_workbook(path: Any) -> Any:
    """GR-0002 (committed at the seed: plan Sep-26 500.25): plan Sep-26 600, Jul-27 100
    (FY27 +99.75, FY28 +100.00) and a forecast; GR-0003 (L1, not committed) re-planned."""
    from fixtures_workbooks import canonical_workbook, initiative_row

    sep = [None, None, 600]
    return canonical_workbook(path, [
        initiative_row("GR-0002", [*sep, *[None] * 9, 100], name="Shift roster", unit="MIN",
                       lever="LAB", stage="L3"),
        initiative_row("GR-0002", [None, 50], name="Shift roster", unit="MIN", lever="LAB",
                       stage="L3", scenario="forecast"),
        initiative_row("GR-0003", [800], name="Energy audit", owner="Ben Okafor",
                       lever="ENERGY", stage="L1"),
    ])


LINES = ("plan of committed initiative GR-0002 changed: benefit FY27 +99.75",
         "plan of committed initiative GR-0002 changed: benefit FY28 +100.00")


def test_an_import_changing_a_committed_plan_lists_it_and_needs_a_note(
        programme: Ledger, cli: Any, tmp_path: Any) -> None:
    from helpers.web import submissions
    from helpers.web_imports import last_submission

    seed(programme)
    book = _committed_workbook(tmp_path / "pipeline.xlsx")
    dry = cli("import", "initiatives", str(book), "--dry-run")
    assert dry.exit_code == 0, dry.output
    for line in LINES:
        assert line in dry.stdout
    assert "GR-0003 changed" not in dry.stdout  # not committed: no line
    assert "the plan of 1 committed initiative" in dry.stdout
    as_json = cli("import", "initiatives", str(book), "--dry-run", "--format", "json")
    assert LINES[0] in as_json.stderr
    json.loads(as_json.stdout)  # the JSON itself keeps its shape
    before = submissions(programme)
    refused = cli("import", "initiatives", str(book))
    assert refused.exit_code != 0
    assert "committed initiative GR-0002 would change" in refused.output
    assert "a note is required to change a committed plan; give --note" in refused.output
    assert "GR-0002 benefit FY27 +99.75" in refused.output
    assert submissions(programme) == before  # nothing written
    done = cli("import", "initiatives", str(book), "--note", "re-plan agreed at steerco")
    assert done.exit_code == 0, done.output
    assert LINES[1] in done.stdout
    assert submissions(programme) == before + 1
    with programme.reading() as conn:
        from sqlalchemy import text

        note = conn.execute(text("SELECT note FROM submission WHERE id = :i"),
                            {"i": last_submission(programme)["id"]}).scalar_one()
    assert note == "re-plan agreed at steerco"
    # The committed plan stays the plan as approved: the import moved the current plan only.
    detail = committed_plan(programme, metric="benefit")
    sep = detail[(detail["external_id"] == "GR-0002") & (detail["month"] == "2026-09")]
    assert (sep.iloc[0]["committed_plan"], sep.iloc[0]["plan"]) == (D("500.25"), D("600.00"))


def test_web_import_confirm_asks_for_the_note_of_a_committed_plan_change(
        programme: Ledger, tmp_path: Any) -> None:
    from helpers.web import csrf_of, submissions
    from helpers.web_imports import last_submission, token_of, upload
    from helpers.web_sessions import quick_site, session_client

    site = quick_site(programme)
    office = session_client(site, "off@example.com")
    book = _committed_workbook(tmp_path / "pipeline.xlsx")
    token = token_of(upload(office, book))
    page = office.get(f"/imports/{token}").text
    for line in LINES:
        assert line in page
    assert 'name="note"' in page
    before = submissions(programme)
    again = office.post(f"/imports/{token}/confirm", data={"csrf": csrf_of(page)})
    assert again.status_code == 303
    assert again.headers["location"] == f"/imports/{token}"
    shown = office.get(f"/imports/{token}").text
    assert "a note is required to change a committed plan" in shown
    assert submissions(programme) == before
    done = office.post(f"/imports/{token}/confirm",
                       data={"csrf": csrf_of(shown), "note": "steerco re-plan"})
    assert done.headers["location"] == "/imports"
    assert submissions(programme) == before + 1
    with programme.reading() as conn:
        from sqlalchemy import text

        row = conn.execute(text('SELECT note, "user" FROM submission WHERE id = :i'),
                           {"i": last_submission(programme)["id"]}).one()
    assert tuple(row) == ("steerco re-plan", "off@example.com")

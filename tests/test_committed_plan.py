"""The committed plan (plan as approved at L3) in finance's view and `tledger outturn`, and
committed plans changed by office imports; on both backends."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from helpers.owner_seed import seed

from ledger.api import Ledger
from ledger.approvals import committed_plan
from ledger.engine import finance
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


def test_finance_committed_plan_ties_to_committed_plan_and_reads_as_of(
        programme: Ledger) -> None:
    moved = _committed(programme)
    rep = finance(programme)
    assert rep.committed_initiatives == 2
    fy27, fy28 = _row(rep.fiscal, "FY27"), _row(rep.fiscal, "FY28")
    # FY27: 1000 + 2000.50 + 3000 (GR-0001 as approved) + 500.25 (GR-0002); the office's
    # later re-plan (Aug 5.00) does not move it. Forecast: 900; FY28: 40.
    assert (fy27["committed_plan"], fy27["committed_forecast"],
            fy27["committed_plan_variance"]) == (D("6500.75"), D("900.00"), D("-5600.75"))
    assert (fy28["committed_plan"], fy28["committed_forecast"],
            fy28["committed_plan_variance"]) == (D("0.00"), D("40.00"), D("40.00"))
    assert _row(rep.fiscal, "Horizon")["committed_plan_variance"] == D("-5560.75")
    # To the cent, the totals of `tledger stage committed` per fiscal year and per month.
    detail = committed_plan(programme, metric="benefit")
    for period in ("FY27", "FY28"):
        part = detail[detail["fiscal_year"] == period]
        row = _row(rep.fiscal, period)
        assert row["committed_plan"] == sum(part["committed_plan"], D(0))
        assert row["committed_forecast"] == sum(part["forecast"], D(0))
    monthly = rep.monthly.set_index(rep.monthly["month"].map(lambda m: m.strftime("%Y-%m")))
    by_month = detail.groupby("month")["committed_plan"].sum()
    for month, amount in by_month.items():
        assert monthly.at[month, "committed_plan"] == amount
    assert sum(rep.monthly["committed_plan"], D(0)) == sum(detail["committed_plan"], D(0))
    # As of the submission before the stage move, only GR-0002 was committed.
    before = finance(programme, as_of=moved - 1)
    assert before.committed_initiatives == 1
    assert _row(before.fiscal, "FY27")["committed_plan"] == D("500.25")
    assert _row(before.fiscal, "FY27")["committed_forecast"] == D("0.00")


def test_cli_outturn_committed_rows_and_keys(programme: Ledger, cli: Any) -> None:
    people = cli("outturn")
    assert people.exit_code == 0, people.output
    assert "no initiative is committed" in people.stdout
    _committed(programme)
    people = cli("outturn", "--fiscal-year", "FY27")
    assert people.exit_code == 0, people.output
    for label in ("Committed plan (at L3)", "Forecast of committed",
                  "Forecast - committed plan"):
        assert label in people.stdout
    assert "-5,600.75" in people.stdout or "-5600.75" in people.stdout
    assert "no initiative is committed" not in people.stdout
    rows = {r["period"]: r for r in json.loads(cli("outturn", "--format", "json").stdout)}
    assert (rows["FY27"]["committed_plan"], rows["FY27"]["committed_forecast"],
            rows["FY27"]["committed_plan_variance"]) == ("6500.75", "900.00", "-5600.75")
    assert rows["FY27"]["outturn"]  # the existing keys stay
    monthly = json.loads(cli("outturn", "--view", "monthly", "--format", "json").stdout)
    aug = next(r for r in monthly if r["month"] == "2026-08-01")
    assert (aug["committed_plan"], aug["committed_forecast"]) == ("2000.50", "0.00")

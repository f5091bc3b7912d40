"""The finance view (ledger.finance, ledger.engine.finance) and the month-end close, on a
small ledger whose every figure is computed by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from helpers.book import Book, mon
from helpers.clock import between

from ledger.api import Ledger
from ledger.closing import close_month, closed_through, closes
from ledger.engine import finance
from ledger.errors import LedgerError

D = Decimal
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def seed(led: Ledger) -> Book:
    """A (L3, weight 0.75) and B (L1, weight 0.25); a programme target of 50.00 a month in
    FY27; October is not used, July 2026 will be closed.

    A: plan Jul 100, Aug 200, Jul-27 300; forecast Aug 150, Sep 50; actual Jul 90;
       cost plan Aug 350.
    B: plan Aug 80, Sep 10.01, Jun-27 5; no forecast, no actual.
    """
    book = Book(led)
    book.initiatives([{"ext": "A", "stage": "L3"}, {"ext": "B", "stage": "L1"}])
    book.phasing({"A": {mon(0): "100", mon(1): "200", mon(12): "300"},
                  "B": {mon(1): "80", mon(2): "10.01", mon(11): "5"}})
    book.phasing({"A": {mon(1): "150", mon(2): "50"}}, scenario="forecast")
    book.phasing({"A": {mon(0): "90"}}, scenario="actual")
    book.phasing({"A": {mon(1): "350"}}, metric="cost")
    book.targets({("programme", ""): {mon(i): "50" for i in range(12)}})
    return book


def _row(frame, period: str) -> dict:  # type: ignore[no-untyped-def]
    return dict(frame[frame["period"] == period].iloc[0])


def test_outturn_committed_pipeline_and_gap_by_hand(programme: Ledger) -> None:
    seed(programme)
    close_month(programme, date(2026, 7, 1), user="fin", note="July close", now=NOW)
    rep = finance(programme)
    assert rep.closed_through == date(2026, 7, 1)
    fy27 = _row(rep.fiscal, "FY27")
    # Outturn: Jul closed -> A's actual 90 (B has none: 0). Open months: A has a forecast,
    # so its forecast (Aug 150, Sep 50; its Jul-27 plan of 300 is not used); B has none,
    # so its plan (Aug 80, Sep 10.01, Jun-27 5). FY27: 90+150+50+80+10.01+5 = 385.01.
    assert fy27["outturn"] == D("385.01")
    assert fy27["plan"] == D("395.01")          # 100+200 + 80+10.01+5
    assert fy27["target"] == D("600.00")        # 12 x 50
    assert fy27["variance"] == D("-214.99")     # 385.01 - 600
    assert fy27["favourable"] is False          # a benefit below its target
    # Committed: A (L3): 90+150+50 = 290; weighted per fact at 0.75: 67.50+112.50+37.50.
    assert fy27["committed"] == D("290.00")
    assert fy27["committed_weighted"] == D("217.50")
    # Pipeline: B (L1): 80+10.01+5 = 95.01; weighted at 0.25: 20.00 + 2.50 (2.5025
    # rounded per fact) + 1.25 = 23.75.
    assert fy27["pipeline"] == D("95.01")
    assert fy27["pipeline_weighted"] == D("23.75")
    # Gap: 600 - 290 - 23.75; coverage (290 + 23.75) / 600 = 0.522916.. -> 0.5229.
    assert fy27["gap"] == D("286.25")
    assert fy27["coverage"] == D("0.5229")
    # YTD: one closed month (Jul): actual 90 against plan 100.
    assert (fy27["closed_months"], fy27["actual_ytd"], fy27["plan_ytd"],
            fy27["ytd_variance"]) == (1, D("90.00"), D("100.00"), D("-10.00"))
    # Exit run-rate: June 2027's outturn (B's 5) x 12.
    assert fy27["exit_run_rate"] == D("60.00")
    fy28 = _row(rep.fiscal, "FY28")
    assert (fy28["plan"], fy28["outturn"], fy28["target"], fy28["coverage"]) == (
        D("300.00"), D("0.00"), D("0.00"), None)
    horizon = _row(rep.fiscal, "Horizon")
    assert (horizon["plan"], horizon["outturn"], horizon["months"]) == (D("695.01"),
                                                                       D("385.01"), 24)


def test_net_value_and_payback_by_hand(programme: Ledger) -> None:
    seed(programme)
    close_month(programme, date(2026, 7, 1), user="fin", now=NOW)
    rep = finance(programme)
    # Benefit outturn 385.01 less the cost outturn 350 (Aug, open, A's plan) = 35.01.
    fy27 = _row(rep.net, "FY27")
    assert (fy27["benefit"], fy27["cost"], fy27["net"]) == (D("385.01"), D("350.00"),
                                                            D("35.01"))
    # Cumulative net: Jul +90, Aug 90+150+80-350 = -30, Sep -30+50+10.01 = 30.01 and it
    # never falls below zero again: payback in September 2026.
    horizon = _row(rep.net, "Horizon")
    assert horizon["payback_month"] == date(2026, 9, 1)
    assert horizon["cumulative_net"] == D("35.01")
    by = rep.net_by_initiative.set_index("external_id")
    # A: 290 - 350 = -60; cumulative Jul 90, Aug -110, Sep -60: no payback.
    assert (by.loc["A", "net"], by.loc["A", "payback_month"]) == (D("-60.00"), None)
    # B: no cost at all: no payback month to speak of.
    assert (by.loc["B", "net"], by.loc["B", "payback_month"]) == (D("95.01"), None)


def test_totals_are_the_sum_of_their_parts(programme: Ledger) -> None:
    seed(programme)
    close_month(programme, date(2026, 7, 1), user="fin", now=NOW)
    rep = finance(programme)
    m = rep.monthly
    for _, row in m.iterrows():
        assert row["committed"] + row["pipeline"] == row["outturn"]
    for period in ("FY27", "FY28"):
        part = m[m["fiscal_year"] == period]
        fy = _row(rep.fiscal, period)
        for col in ("target", "plan", "outturn", "committed", "committed_weighted",
                    "pipeline", "pipeline_weighted"):
            assert sum(part[col], D(0)) == fy[col], (period, col)
    assert m["closed"].tolist() == [True] + [False] * 23
    assert m.iloc[-1]["cumulative_outturn"] == D("385.01")


def test_fiscal_year_and_as_of(programme: Ledger) -> None:
    seed(programme)
    before = between()
    close_month(programme, date(2026, 7, 1), user="fin", now=NOW)
    rep = finance(programme, fiscal_year="FY28")
    assert rep.fiscal["period"].tolist() == ["FY28", "Horizon"]
    assert len(rep.monthly) == 12
    # Before the close nothing is closed: A's July is its forecast (none: 0), not 90.
    old = finance(programme, as_of=before)
    assert old.closed_through is None
    assert _row(old.fiscal, "FY27")["outturn"] == D("295.01")
    with pytest.raises(LedgerError, match="outside the horizon"):
        finance(programme, fiscal_year=2031)


def test_cost_metric_favourable_when_below_target(programme: Ledger) -> None:
    book = seed(programme)
    book.targets({("programme", ""): {mon(1): "400"}}, metric="cost")
    fy27 = _row(finance(programme, metric="cost").fiscal, "FY27")
    assert (fy27["outturn"], fy27["variance"], fy27["favourable"]) == (
        D("350.00"), D("-50.00"), True)


def test_close_is_a_submission_and_backwards_needs_force_and_note(programme: Ledger) -> None:
    seed(programme)
    first = close_month(programme, date(2026, 9, 1), user="fin", note="Q1 close", now=NOW)
    assert (first.previous, first.forced) == (None, False)
    with pytest.raises(LedgerError, match="already the last closed month"):
        close_month(programme, date(2026, 9, 1), now=NOW)
    with pytest.raises(LedgerError, match="needs --force and a --note"):
        close_month(programme, date(2026, 8, 1), force=True, now=NOW)
    with pytest.raises(LedgerError, match="has not ended yet"):
        close_month(programme, date(2026, 12, 1), now=NOW)
    with pytest.raises(LedgerError, match="outside the horizon"):
        close_month(programme, date(2026, 6, 1), now=NOW)
    back = close_month(programme, date(2026, 8, 1), user="cfo", force=True,
                       note="September re-opened: late accrual", now=NOW)
    assert (back.previous, back.forced) == (date(2026, 9, 1), True)
    with programme.reading() as conn:
        assert closed_through(conn) == date(2026, 8, 1)
        assert closed_through(conn, first.submission_id) == date(2026, 9, 1)
    log = closes(programme)
    assert log[["month", "who", "note", "forced"]].values.tolist() == [
        ["2026-09", "fin", "Q1 close", False],
        ["2026-08", "cfo", "September re-opened: late accrual", True]]
    subs = programme.submissions().set_index("id")
    assert subs.loc[back.submission_id, "user"] == "cfo"


def test_cli_outturn_json_csv_and_programme_close(programme: Ledger, cli: Any) -> None:
    import csv
    import io
    import json

    seed(programme)
    done = cli("programme", "close", "2026-07", "--note", "July close")
    assert done.exit_code == 0, done.output
    assert "closed through 2026-07" in done.stdout
    refused = cli("programme", "close", "2026-06")
    assert refused.exit_code != 0
    assert "outside the horizon" in refused.output
    back = cli("programme", "close", "2026-07")
    assert back.exit_code != 0
    assert "already the last closed month" in back.output
    out = cli("outturn", "--format", "json", "--fiscal-year", "FY27")
    assert out.exit_code == 0, out.output
    rows = {r["period"]: r for r in json.loads(out.stdout)}
    assert list(rows) == ["FY27", "Horizon"]
    assert (rows["FY27"]["outturn"], rows["FY27"]["gap"], rows["FY27"]["coverage"]) == (
        "385.01", "286.25", "0.5229")
    assert "closed through 2026-07" in out.stderr
    net = cli("outturn", "--view", "net", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(net.stdout)))
    assert [(r["period"], r["net"], r["payback_month"]) for r in table] == [
        ("FY27", "35.01", ""), ("FY28", "0.00", ""), ("Horizon", "35.01", "2026-09-01")]
    people = cli("outturn")
    assert people.exit_code == 0
    assert "286.25" in people.stdout
    assert "52.3%" in people.stdout
    shown = json.loads(cli("programme", "show", "-f", "json").stdout)
    assert {"field": "last closed month", "value": "2026-07"} in shown
    log = cli("programme", "closes", "--format", "json")
    assert [(r["month"], r["who"], r["note"]) for r in json.loads(log.stdout)] == [
        ("2026-07", "tester", "July close")]

"""The dashboard of a ratio metric (unit cost = benefit / volume): every level, money gap,
numerator and denominator is `tledger gap --metric unit_cost --format json`'s (monthly and
``--view fiscal``) for the same switches, a missing level is "n/a" (never 0), the unit
rows and the contributions are the CLI's, the chart carries the monthly levels.

A small ledger: the standard programme with the web seed (GR-0001..3 savings), the worked
example's cost base (FY27 only: FY28's levels are n/a), PRO's own baselines, a unit-cost
target of 25.00 AUD/t in FY27."""

from __future__ import annotations

import html
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from helpers.baseline_seed import flexed_cost_base
from helpers.dashboard import dashboard_figures
from helpers.web import Site, make_site

from ledger.baselines import set_baseline
from ledger.ratio import add_ratio_metric
from ledger.targets import set_target


@pytest.fixture
def site(programme) -> Site:
    made = make_site(programme)
    flexed_cost_base(programme)
    set_baseline(programme, metric="volume", per_month="4000", fiscal_year="FY27",
                 scope="unit:PRO", note="PRO volume")
    set_baseline(programme, metric="benefit", per_month="50000", fiscal_year="FY27",
                 scope="unit:PRO", note="PRO cost base")
    add_ratio_metric(programme, code="unit_cost", ratio="benefit/volume", unit="AUD/t",
                     decimals=2)
    set_target(programme, metric="unit_cost", amount="25", fiscal_year="FY27", note="board")
    return made


def _compare(figures: dict[tuple[str, str, str, str], tuple[str, str]], table: str,
             rows: list[dict[str, Any]], period_key: str, columns: list[str]) -> int:
    """Each CLI row's ``columns`` are on the page's ``table``, exactly: a value as its
    decimal string and the CLI's grouping, None as "n/a"; the table shows nothing else."""
    compared = 0
    seen = set()
    for row in rows:
        period = str(row[period_key])[:7] if period_key == "month" else str(row[period_key])
        for col in columns:
            key = (table, str(row["part"]), period, col)
            assert key in figures, key
            value, text = figures[key]
            if row[col] is None:
                assert (value, text) == ("", "n/a"), key
            else:
                assert value == row[col], key
                assert text == f"{Decimal(row[col]):,}", key
            seen.add(key)
            compared += 1
    assert {k for k in figures if k[0] == table} == seen
    return compared


LEVELS = ["baseline_level", "target", "implied", "gap", "money_gap", "numerator",
          "denominator"]


def test_the_ratio_dashboard_shows_the_cli_figures(site, cli) -> None:
    fin = site.login("fin@example.com")
    for query, args in (("", []), ("&weighted=1&fy=FY27", ["--weighted", "--fiscal-year",
                                                           "FY27"])):
        page = fin.get(f"/dashboard?metric=unit_cost{query}")
        assert page.status_code == 200, page.text
        figures = dashboard_figures(page.text)
        monthly = json.loads(cli("gap", "--metric", "unit_cost", *args, "--format",
                                 "json").stdout)
        fiscal = json.loads(cli("gap", "--metric", "unit_cost", *args, "--view", "fiscal",
                                "--format", "json").stdout)
        n = _compare(figures, "monthly", monthly, "month", LEVELS)
        assert n == len(LEVELS) * (12 if query else 24)
        _compare(figures, "fiscal", fiscal, "period", LEVELS)
        # FY27's level is the ratio of its sums: (sum of numerators) / (sum of denominators)
        months = [k for k in figures if k[0] == "monthly" and k[2] < "2027-07"]
        num, den = (sum(Decimal(figures[k][0]) for k in months if k[3] == col)
                    for col in ("numerator", "denominator"))
        assert figures[("fiscal", "Programme", "FY27", "implied")][0] == str(
            (num / den).quantize(Decimal("0.01"), ROUND_HALF_UP))
        assert "ratio of its sums, not the average" in page.text
        assert "not on the dashboard yet" not in page.text
    # FY28 has no baselines: its levels are n/a with a reason, never 0
    page = fin.get("/dashboard?metric=unit_cost")
    cell = re.search(r'<tr data-period="2027-07">.*?data-col="implied"[^>]*>', page.text)
    assert cell
    assert 'title="no baseline' in cell.group(0)
    assert 'data-value=""' in cell.group(0)
    assert figures[("fiscal", "Programme", "FY27", "target")][1] == "25.00"
    # the chart: the programme's monthly target and implied levels, null where n/a
    blob = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>',
                     page.text, re.S)
    assert blob
    chart = json.loads(html.unescape(blob.group(1)))
    assert chart["bottom_up"] == [r["implied"] for r in json.loads(
        cli("gap", "--metric", "unit_cost", "--format", "json").stdout)]
    assert chart["target"][0] == "25.00"
    assert chart["target"][12] is None
    assert '<script src="/static/dashboard.js">' in page.text
    assert "<script>" not in page.text  # no inline script


def test_units_and_contributions_are_the_clis(site, cli) -> None:
    off = site.login("off@example.com")
    page = off.get("/dashboard?metric=unit_cost&by=business_unit&view=fiscal")
    assert page.status_code == 200, page.text
    figures = dashboard_figures(page.text)
    fiscal = json.loads(cli("gap", "--metric", "unit_cost", "--by", "business_unit",
                            "--view", "fiscal", "--format", "json").stdout)
    ours = [r for r in fiscal if r["part"] == "Programme"]
    units = [r for r in fiscal if r["part"] != "Programme"]
    assert {r["part"] for r in units} == {"MIN", "PRO"}
    _compare(figures, "fiscal", ours, "period", LEVELS)
    _compare(figures, "units", units, "period", LEVELS)
    assert figures[("units", "PRO", "FY27", "implied")][0] not in ("", None)
    assert "do not add up" in page.text
    assert not any(k[0] == "monthly" for k in figures)  # view=fiscal: no month table

    for by in ("lever", "stage", "owner"):
        page = off.get(f"/dashboard?metric=unit_cost&by={by}")
        assert page.status_code == 200, page.text
        figures = dashboard_figures(page.text)
        rows = json.loads(cli("gap", "--metric", "unit_cost", "--by", by, "--view",
                              "fiscal", "--format", "json").stdout)
        assert _compare(figures, "contributions", rows, "period",
                        ["savings", "uplift", "contribution"]) == len(rows) * 3
        first = re.search(r'<table class="list" id="contributions">.*?<tr data-part="([^"]+)"',
                          page.text, re.S)
        assert first
        assert first.group(1) == "Programme"
        fy27 = [r for r in rows if r["period"] == "FY27"]
        assert sum(Decimal(r["contribution"]) for r in fy27[1:]) == Decimal(
            fy27[0]["contribution"])


def test_owners_may_not_break_a_ratio_down_by_owner_and_the_cache_sees_writes(site) -> None:
    ana = site.login("ana@example.com")
    assert ana.get("/dashboard?metric=unit_cost&by=owner").status_code == 403
    assert ana.get("/dashboard?metric=unit_cost&by=lever").status_code == 200
    off = site.login("off@example.com")
    before = dashboard_figures(off.get("/dashboard?metric=unit_cost").text)
    assert before == dashboard_figures(off.get("/dashboard?metric=unit_cost").text)
    set_target(site.ledger, metric="unit_cost", amount="20", fiscal_year="FY27",
               note="tighter")
    after = dashboard_figures(off.get("/dashboard?metric=unit_cost").text)
    assert after[("fiscal", "Programme", "FY27", "target")][0] == "20.00"
    assert before[("fiscal", "Programme", "FY27", "target")][0] == "25.00"

"""The Dashboard and Finance sheets: after a real LibreOffice recalculation every figure
equals the engine's finance view to the cent (SQLite and PostgreSQL); the Dashboard prints
on exactly one landscape page with its charts inside the print area; the charts carry their
cached values; the Summary's run-rate lines tie to the engine's exit run-rates."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers.book import Book, mon
from helpers.libreoffice import cents, pdf_pages, print_pdf, recalculate

from ledger.api import Ledger
from ledger.closing import close_month
from ledger.engine import finance, gap
from ledger.phasing import set_stage
from reports.excel import write_gap_report
from reports.excel.committed import BLOCK_COLUMNS, TITLE
from reports.excel.dashboard import COMMITTED_COLUMNS, FINANCE_COLUMNS, FY_COLUMNS, HEADLINES
from reports.excel.layout import rag_text
from reports.gap_report import load_report
from reports.summary_csv import summary_table

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
D = Decimal


def seed_finance(ledger: Ledger) -> None:
    """Five initiatives at every kind of stage (one withdrawn, one without unit), cents and
    a negative month, plans over both fiscal years, forecasts that replace some plans,
    actuals (benefit and cost) in the closed months, one-off costs, a programme target
    with a zero month, a committed plan; closed through August 2026."""
    book = Book(ledger)
    book.initiatives([{"ext": "GR-0001", "stage": "L3", "bu": "PRO"},
                      {"ext": "GR-0002", "stage": "L1", "bu": "MIN"},
                      {"ext": "GR-0003", "stage": "L5"},
                      {"ext": "GR-0004", "stage": "L4", "bu": "MIN"},
                      {"ext": "GR-0005", "stage": "L0", "bu": "PRO"}])
    plan: dict[str, dict[str, str]] = {f"GR-000{n}": {} for n in range(1, 6)}
    for i in range(24):
        plan["GR-0001"][mon(i)] = f"{12_345.67 + 1_000 * i:.2f}"
        plan["GR-0003"][mon(i)] = f"{8_000.01 * (i % 5):.2f}"
        if i % 2:
            plan["GR-0002"][mon(i)] = f"{33_333.33 - 2_000 * i:.2f}"
        if i > 5:
            plan["GR-0004"][mon(i)] = "4500.50"
            plan["GR-0005"][mon(i)] = "999.99"
    book.phasing(plan)
    book.phasing({"GR-0001": {mon(2): "11111.11", mon(9): "20000.01"},
                  "GR-0005": {mon(14): "7777.77"}}, scenario="forecast")
    book.phasing({"GR-0001": {mon(0): "9999.99", mon(1): "-1.23"},
                  "GR-0002": {mon(1): "1234.57"}, "GR-0003": {mon(0): "500.05"}},
                 scenario="actual")
    book.phasing({"GR-0001": {mon(0): "25000.00", mon(1): "12345.65"},
                  "GR-0004": {mon(3): "40000.33"}}, metric="cost")
    book.phasing({"GR-0004": {mon(1): "20000.33"}}, metric="cost", scenario="actual")
    # GR-0001 back to L2 and approved again: committed with its plan (GR-0003 and GR-0004
    # were committed at their creation, before any plan: their committed plan is empty).
    set_stage(ledger, "GR-0001", "L2", user="office", note="re-case")
    set_stage(ledger, "GR-0001", "L3", user="office", note="approved")
    book.targets({("programme", ""): {mon(i): "0" if i == 4 else f"{60_000 + 10.01 * i:.2f}"
                                      for i in range(24)}})
    book.initiatives([{"ext": "GR-0005", "stage": "L0", "bu": "PRO", "status": "withdrawn"}])
    close_month(ledger, date(2026, 8, 1), user="finance", note="August close", now=NOW)


def _check(found: Any, expected: Any, key: str, decimals: int, where: str) -> None:
    if key == "coverage":
        got = None if found in (None, "") else Decimal(str(found)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP)
        assert got == expected, f"{where}: coverage {got} != engine {expected}"
    else:
        assert cents(found, decimals) == expected, f"{where}: {found!r} != engine {expected}"


def _by_label(ws: Any, col: int = 1) -> dict[Any, int]:
    return {ws.cell(r, col).value: r for r in range(1, ws.max_row + 1)
            if ws.cell(r, col).value is not None}


def assert_dashboard_ties(path: Path, ledger: Ledger) -> int:
    """Every Dashboard and Finance figure equals the engine's finance view to the cent."""
    rep = finance(ledger)
    dec, net_dec = rep.metric.decimals, 2
    wb = openpyxl.load_workbook(path, data_only=True)
    compared = 0
    # Finance sheet: one row per month from row 5.
    fin = wb["Finance"]
    net_monthly = {r["month"]: r for r in rep.net_monthly.to_dict("records")}
    for i, rec in enumerate(rep.monthly.to_dict("records")):
        row = 5 + i
        assert fin.cell(row, 1).value.date() == rec["month"]
        assert fin.cell(row, 3).value == ("closed" if rec["closed"] else "open")
        for col, (key, _h) in enumerate(FINANCE_COLUMNS, start=1):
            if key in ("month", "fiscal_year", "closed"):
                continue
            source = net_monthly[rec["month"]] if key in ("benefit", "cost", "net",
                                                          "cumulative_net") else rec
            assert cents(fin.cell(row, col).value, dec) == source[key], (
                f"Finance {key} {rec['month']}")
            compared += 1
        for col, (key, _h) in enumerate(COMMITTED_COLUMNS, start=len(FINANCE_COLUMNS) + 1):
            assert cents(fin.cell(row, col).value, dec) == rec[key], (
                f"Finance {key} {rec['month']}")
            compared += 1
    # Below the waterfall: the committed plan per fiscal year (SUMIFS over the months),
    # the variance a live formula, the Horizon the sum of the years.
    title = next(r for r in range(1, fin.max_row + 1)
                 if str(fin.cell(r, 1).value or "").startswith(TITLE))
    block = {fin.cell(r, 1).value: r for r in range(title + 2, title + 2 + len(rep.fiscal))}
    for rec in rep.fiscal.to_dict("records"):
        for col, (key, _h) in enumerate(BLOCK_COLUMNS[1:], start=2):
            assert cents(fin.cell(block[rec["period"]], col).value, dec) == rec[key], (
                f"Finance committed {rec['period']} {key}")
            compared += 1
    # Dashboard: the fiscal-year table (row 8 on) and the headline.
    dash = wb["Dashboard"]
    rows = _by_label(dash)
    net = {r["period"]: r["net"] for r in rep.net.to_dict("records")}
    for rec in rep.fiscal.to_dict("records"):
        row = rows[rec["period"]]
        for col, (key, _h) in enumerate(FY_COLUMNS, start=1):
            if key == "period":
                continue
            expected = net[rec["period"]] if key == "net" else rec[key]
            _check(dash.cell(row, col).value, expected, key,
                         net_dec if key == "net" else dec, f"Dashboard {rec['period']} {key}")
            compared += 1
    year = next(str(dash.cell(4, c).value).split()[0] for c in range(2, 4))
    fy = rep.fiscal.set_index("period").loc[year]
    for pos, (key, _label) in enumerate(HEADLINES):
        _check(dash.cell(5, 2 + 2 * pos).value, fy[key], key, dec, f"headline {key}")
        compared += 1
    # The RAG: the one rule, with the programme's thresholds (h-pack's programme settings).
    assert dash.cell(5, 2 + 2 * len(HEADLINES)).value == rag_text(load_report(ledger),
                                                                  fy["coverage"])
    # The movement lines equal the Bridge sheet's.
    bridge = wb["Bridge"]
    assert dash.cell(rows["Bottom-up now"], 2).value == pytest.approx(
        bridge.cell(5 + 7, 2).value)
    return compared


def assert_run_rates_tie(path: Path, ledger: Ledger) -> int:
    """The Summary's run-rate lines: month x 12, subtotals the engine's exit run-rates."""
    rep = gap(ledger)
    ws = openpyxl.load_workbook(path, data_only=True)["Summary"]
    rows = _by_label(ws)
    monthly = {f"{r['month']:%Y-%m}": r for r in rep.monthly.to_dict("records")}
    fiscal = {r["period"]: r for r in rep.fiscal.to_dict("records")}
    compared = 0
    for col in range(2, ws.max_column + 1):
        head = ws.cell(4, col).value
        if head is None:
            continue
        for line, month_key, exit_key in (
                ("Run-rate (x 12)", "bottom_up", "exit_run_rate"),
                ("Target run-rate (x 12)", "target", "target_exit_run_rate")):
            found = ws.cell(rows[line], col).value
            if isinstance(head, datetime):
                expected = monthly[f"{head:%Y-%m}"][month_key] * 12
            else:
                expected = fiscal[head][exit_key]
            assert cents(found, 2) == expected, f"{line} {head}"
            compared += 1
    return compared


def test_dashboard_recalculates_to_the_engine_in_libreoffice(programme: Ledger,
                                                             tmp_path: Path) -> None:
    seed_finance(programme)
    rep = finance(programme)
    fy27 = rep.fiscal.set_index("period").loc["FY27"]
    # The seed makes every figure matter: actuals in closed months, a forecast that
    # replaces a plan, committed and pipeline both non-zero, one-off costs.
    assert rep.closed_through == date(2026, 8, 1)
    assert fy27["actual_ytd"] != fy27["plan_ytd"]
    assert fy27["outturn"] != fy27["plan"]
    assert fy27["committed"]
    assert fy27["pipeline"]
    assert fy27["committed_plan"] not in (fy27["committed_outturn"], 0)
    path = write_gap_report(load_report(programme), tmp_path / "gap.xlsx")
    # Cached results (what a mail preview shows) are the engine's ...
    assert assert_dashboard_ties(path, programme) > 300
    # ... and so is LibreOffice's own recalculation of every formula.
    recalculated = recalculate([path], tmp_path)[0]
    assert assert_dashboard_ties(recalculated, programme) > 300
    assert assert_run_rates_tie(recalculated, programme) > 50


def test_summary_csv_carries_the_run_rates(programme: Ledger) -> None:
    """The CSV Summary has the workbook's run-rate lines: month x 12, exit run-rates."""
    seed_finance(programme)
    rep = gap(programme)
    table = summary_table(rep).set_index("line")
    fiscal = rep.fiscal.set_index("period")
    # June 2028 (i = 23): GR-0001 12,345.67 + 23,000 = 35,345.67; GR-0003 8,000.01 x 3 =
    # 24,000.03; GR-0002 (odd month) 33,333.33 - 46,000 = -12,666.67; GR-0004 4,500.50;
    # GR-0005 withdrawn. Sum 51,179.53, x 12 = 614,154.36.
    assert fiscal.loc["FY28", "exit_run_rate"] == D("51179.53") * 12
    assert table.loc["Run-rate (x 12)", "FY28"] == D("614154.36")
    assert table.loc["Run-rate (x 12)", "2028-06"] == D("614154.36")
    assert table.loc["Target run-rate (x 12)", "2026-07"] == D("720000.00")
    assert table.loc["Target run-rate (x 12)", "Horizon"] == (D("60000") + D("10.01") * 23) * 12


def _anchors(path: Path) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """The Dashboard's charts' bottom-right anchor cells and its print area's last cell
    (0-based row, column)."""
    with zipfile.ZipFile(path) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        drawing = re.search(r'Target="\.\./drawings/(drawing\d+\.xml)"', rels)
        assert drawing, "the Dashboard has a drawing"
        xml = z.read(f"xl/drawings/{drawing.group(1)}").decode()
    area = re.search(r'<definedName name="_xlnm.Print_Area" localSheetId="0">'
                     r"Dashboard!\$A\$1:\$([A-Z]+)\$(\d+)</definedName>", workbook)
    assert area, workbook
    last_col = sum((ord(ch) - 64) * 26 ** i for i, ch in enumerate(reversed(area.group(1)))) - 1
    ends = [(int(r), int(c)) for c, r in re.findall(
        r"<xdr:to><xdr:col>(\d+)</xdr:col><xdr:colOff>-?\d+</xdr:colOff>"
        r"<xdr:row>(\d+)</xdr:row>", xml)]
    return ends, (int(area.group(2)) - 1, last_col)


def test_dashboard_is_one_landscape_page_with_its_charts_inside(programme: Ledger,
                                                               tmp_path: Path,
                                                               backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the printed layout does not depend on the database: printed once, on "
                    "SQLite (the ties to the engine run on both)")
    seed_finance(programme)
    path = write_gap_report(load_report(programme), tmp_path / "gap.xlsx")
    ws = openpyxl.load_workbook(path)["Dashboard"]
    assert openpyxl.load_workbook(path).sheetnames[0] == "Dashboard"
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # One page wide and one page tall (1 is the file format's default, left unwritten).
    assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight or 1) == (1, 1)
    # Unfavourable shading follows the metric's kind: a benefit's positive gap and
    # negative variance (outturn below target).
    rules = {str(r.sqref): [(x.operator, x.formula) for x in r.rules]
             for r in ws.conditional_formatting}
    assert rules["L8:L10"] == [("greaterThan", ["0"]), ("lessThan", ["0"])]
    assert rules["E8:E10"] == [("lessThan", ["0"]), ("greaterThan", ["0"])]
    ends, (last_row, last_col) = _anchors(path)
    assert len(ends) == 2, "the line chart and the waterfall"
    for row, col in ends:
        assert row <= last_row, "a chart reaches below the print area"
        assert col <= last_col, "a chart reaches right of the print area"
    pages = pdf_pages(print_pdf(path, tmp_path), layout=True)
    # Page 1 is the whole Dashboard, from its title to its last movement line; page 2 is
    # already the Summary's.
    assert "dashboard (AUD 000)" in pages[0]
    assert "Bottom-up now" in pages[0]
    assert re.search(r"\bDashboard\b", pages[0]), "the page header names the sheet"
    assert "Bottom-up now" not in pages[1]
    assert re.search(r"\bSummary\b", pages[1])
    assert "gap to target" in pages[1]


def test_dashboard_charts_carry_cached_values(programme: Ledger, tmp_path: Path) -> None:
    """A mail preview draws the charts from their caches: every point is there."""
    seed_finance(programme)
    rep = finance(programme)
    path = write_gap_report(load_report(programme), tmp_path / "gap.xlsx")
    with zipfile.ZipFile(path) as z:
        rels = z.read("xl/drawings/_rels/drawing1.xml.rels").decode()
        charts = [z.read(f"xl/charts/{n}").decode()
                  for n in re.findall(r'Target="\.\./charts/(chart\d+\.xml)"', rels)]
    line, waterfall = charts
    caches = re.findall(r"<c:val>.*?</c:val>", line, re.DOTALL)
    assert len(caches) == 3
    for cache, key in zip(caches, ("cumulative_target", "cumulative_plan",
                                   "cumulative_outturn"), strict=True):
        points = [Decimal(v) for v in re.findall(r"<c:v>([^<]*)</c:v>", cache)]
        assert len(points) == len(rep.monthly)
        assert [p.quantize(Decimal("0.01")) for p in points] == list(rep.monthly[key])
    assert '<c:formatCode>#,##0,</c:formatCode>' in line or 'formatCode="#,##0,"' in line
    fy = rep.fiscal.set_index("period").loc["FY27"]
    bars = re.findall(r"<c:val>.*?</c:val>", waterfall, re.DOTALL)[1]
    values = [Decimal(v).quantize(Decimal("0.01"))
              for v in re.findall(r"<c:v>([^<]*)</c:v>", bars)]
    assert values == [fy["target"], fy["committed"], abs(fy["pipeline_weighted"]),
                      abs(fy["gap"])]
    assert "<c:v>Weighted pipeline</c:v>" in waterfall


def test_dashboard_rag_takes_the_programmes_thresholds_at_its_as_of(programme: Ledger,
                                                                   tmp_path: Path) -> None:
    """One RAG rule (the report's coverage colours): the thresholds are programme settings,
    and a report as of an earlier instant uses those then in force."""
    seed_finance(programme)
    before = datetime.now(UTC)
    data = load_report(programme)
    cov = finance(programme).fiscal.set_index("period")["coverage"]
    year = next(p for p in cov.index if p != "Horizon" and cov[p] is not None)
    coverage = Decimal(cov[year])
    # Red below the year's coverage + 1 %, amber below + 2 %: the headline shows Red.
    programme.set_coverage_thresholds(red=coverage + Decimal("0.01"),
                                      amber=coverage + Decimal("0.02"), note="tighter")
    now = load_report(programme)
    assert (now.coverage_red, now.coverage_amber) == (coverage + Decimal("0.01"),
                                                      coverage + Decimal("0.02"))
    assert rag_text(now, coverage) == "Red"
    assert rag_text(load_report(programme, as_of=before), coverage) == rag_text(data, coverage)
    path = write_gap_report(now, tmp_path / "gap.xlsx")
    dash = openpyxl.load_workbook(path)["Dashboard"]
    formula = dash.cell(5, 2 + 2 * len(HEADLINES)).value
    assert f"<{coverage + Decimal('0.01')}" in formula
    assert f"<{coverage + Decimal('0.02')}" in formula

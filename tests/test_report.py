"""The Excel gap report: it recalculates (in real LibreOffice) to the engine's figures,
keeps ledger text as text, refuses to write a report that would not tie, and looks the part.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers.libreoffice import recalculate
from helpers.report_checks import (
    EVIL_NAME,
    LINE_FIELDS,
    assert_bridge_ties,
    assert_ties_to_engine,
    engine_lookup,
    seed,
)

from ledger.api import Ledger
from ledger.engine import gap
from reports.excel import ReportMismatch, write_gap_report
from reports.excel.about import COMMITTED_BLOCK
from reports.excel.committed import NONE_COMMITTED
from reports.gap_report import load_report

SHEETS = ["Dashboard", "Summary", "By unit", "By lever", "Funnel", "By owner",
          "Top initiatives", "Initiatives", "Checks", "Bridge", "Finance", "About"]


# --------------------------------------------------------------------------- tests


def test_report_recalculates_to_the_engine_in_libreoffice(programme: Ledger,
                                                           tmp_path: Path) -> None:
    """The proof: cached results stripped, LibreOffice recalculates every formula, and
    every Summary and breakdown figure equals the engine's to the cent; for the current
    state and for a risk-weighted report as of an earlier submission."""
    marks = seed(programme)
    as_of = marks["first_instant"]
    plain = write_gap_report(load_report(programme, bridge_from=as_of), tmp_path / "plain.xlsx")
    weighted = write_gap_report(load_report(programme, as_of=as_of, weighted=True),
                                tmp_path / "weighted.xlsx")
    recalculated = recalculate([plain, weighted], tmp_path)
    assert assert_ties_to_engine(recalculated[0], programme) > 400
    assert_bridge_ties(recalculated[0], programme, as_of)
    assert assert_ties_to_engine(recalculated[1], programme, as_of=as_of, weighted=True) > 400
    # The as-of report really is the earlier state: the withdrawn initiative still counts.
    earlier = gap(programme, as_of=as_of).fiscal
    now = gap(programme).fiscal
    assert earlier.iloc[-1]["bottom_up"] != now.iloc[-1]["bottom_up"]


def test_workbook_structure_and_finance_look(programme: Ledger, tmp_path: Path) -> None:
    seed(programme)
    path = write_gap_report(load_report(programme), tmp_path / "gap.xlsx")
    # A viewer that does not recalculate still shows the engine's numbers (cached results).
    assert assert_ties_to_engine(path, programme) > 400
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == SHEETS  # the Bridge (since the last month-end) is standard
    s = wb["Summary"]
    # Bottom-up cells are SUMIFS over the Initiatives sheet; gap/cumulative over cells above.
    assert s["A6"].value == "Bottom-up"
    assert s["B6"].value.startswith("=SUMIFS(Initiatives!$I$5:$I$")
    assert '"=benefit"' in s["B6"].value
    assert s["B7"].value == "=B5-B6"
    assert s["C8"].value == "=B8+C5"
    assert s["B11"].value == '=IF(B5=0,"",B6/B5)'
    assert s["N4"].value == "FY27"
    assert s["N5"].value == "=SUM(B5:M5)"
    assert s["AB4"].value == "Horizon"
    assert s["AB6"].value == "=SUM(N6,AA6)"
    assert s.freeze_panes == "B5"
    assert s.page_setup.orientation == "landscape"
    assert s.page_setup.paperSize == 9, "A4 unless --paper A3"
    assert s.print_title_rows == "$1:$4"
    assert "Red" not in s["B5"].number_format, "a sign is not a judgement: colour by kind"
    assert "(" in s["B5"].number_format
    assert s.conditional_formatting, "favourable and unfavourable months are coloured"
    # Every sheet has the same paper, orientation, a header and page numbers.
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize == 9, ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert "Cost 2028" in ws.oddHeader.left.text, ws.title
        assert "&P" in ws.oddFooter.right.text, ws.title
    # The chart and its caches: months and amounts cached, axes in the report's format,
    # no second axis; the charts are inside the print area, their data outside.
    assert s.print_area is not None
    # The lever with wildcard characters is matched literally; unallocated by empty cell.
    lev = wb["By lever"]
    formulas = [c.value for row in lev.iter_rows(min_col=4, max_col=4) for c in row
                if isinstance(c.value, str) and "SUMIFS" in c.value]
    assert any('"=X~*~?~~"' in f for f in formulas)
    assert any(f.endswith(',"=")') for f in formulas)
    # Initiatives: text stays text, whatever it starts with.
    ini = wb["Initiatives"]
    assert [c.value for c in ini[4]][:8] == ["ID", "Name", "Owner", "Business unit", "Lever",
                                             "Stage", "Metric", "Unit"]
    evil = ini["B5"]
    assert evil.value == EVIL_NAME
    assert evil.data_type == "s"
    assert ini["C5"].value == "+Ann"
    assert ini["C5"].data_type == "s"
    assert ini.freeze_panes == "B5"
    assert ini.auto_filter.ref.startswith("A4:")
    ids = [ini.cell(r, 1).value for r in range(5, ini.max_row + 1)]
    assert "GR-0005" not in ids, "withdrawn initiatives do not count"
    total_col = ini.max_column
    assert ini.cell(4, total_col).value == "Total"
    assert ini.cell(5, total_col).value.startswith("=SUM(I5:")
    about = {r[0].value: r[1].value for r in wb["About"].iter_rows(min_row=3, max_row=18)}
    assert about["Programme"] == "Cost 2028"
    assert about["Scenario"] == "plan"
    assert about["Written by"].startswith("tledger ")
    assert isinstance(about["Ledger's last submission id"], int)
    # How to audit it: the Finance sheet's committed plan block is described.
    assert COMMITTED_BLOCK in [r[1].value for r in wb["About"].iter_rows()]
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert charts
        xml = "".join(z.read(c).decode() for c in charts)
        assert "<c:barChart>" in xml
        assert "<c:lineChart>" in xml
        assert xml.count("<c:valAx>") == len(charts), "one value axis per chart"
        body = s["B5"].number_format.split("_")[0]  # the table's own format, e.g. #,##0,
        # Every value axis (Summary, Dashboard, Bridge) in the table's scale.
        value_axes = re.findall(r"<c:valAx>.*?</c:valAx>", xml, re.DOTALL)
        assert len(value_axes) == len(charts)
        assert all(f'<c:numFmt formatCode="{body}"' in ax for ax in value_axes), "axes in scale"
        assert re.search(r"<c:numCache><c:formatCode>[^<]*</c:formatCode><c:ptCount "
                         r'val="24"/><c:pt idx="0"><c:v>-?\d', xml), "series values cached"
        assert "<c:strCache>" in xml
        # No ledger text anywhere became a formula.
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "HYPERLINK" not in re.sub(r"<is>.*?</is>|<v>.*?</v>", "",
                                                 z.read(name).decode())


@pytest.mark.parametrize("metric", ["volume", "cost"])
def test_other_metrics_units_and_shortfall_direction(programme: Ledger, tmp_path: Path,
                                                      metric: str) -> None:
    """Tonnes to 3 decimals shown as they are; a cost metric flags overruns (gap < 0)."""
    seed(programme)
    path = write_gap_report(load_report(programme, metric=metric, weighted=True),
                            tmp_path / f"{metric}.xlsx")
    assert assert_ties_to_engine(path, programme, metric=metric, weighted=True) > 400
    wb = openpyxl.load_workbook(path)
    s = wb["Summary"]
    assert s["A4"].value == ("t" if metric == "volume" else "AUD")
    if metric == "volume":
        assert "#,##0.000" in s["B5"].number_format
    rules = {r.operator: r for rng in s.conditional_formatting for r in rng.rules
             if r.type == "cellIs"}
    # Unfavourable red, favourable green: for a cost the overrun (gap < 0) is red.
    red, green = ("lessThan", "greaterThan") if metric == "cost" else ("greaterThan", "lessThan")
    assert rules[red].dxf.fill.fgColor.rgb.endswith("FFC7CE") or \
        rules[red].dxf.fill.bgColor.rgb.endswith("FFC7CE")
    assert rules[green].dxf.fill.fgColor.rgb.endswith("C6EFCE") or \
        rules[green].dxf.fill.bgColor.rgb.endswith("C6EFCE")
    coverage = [r.formula[0] for rng in s.conditional_formatting for r in rng.rules
                if r.type == "expression"]
    assert any(("<0.9" if metric != "cost" else ">1.1") in f for f in coverage), coverage
    ini = wb["Initiatives"]
    assert ini.cell(4, 9).value == "Weight", "a risk-weighted report shows each weight"


def test_refuses_a_report_that_would_not_tie(programme: Ledger, tmp_path: Path) -> None:
    seed(programme)
    data = load_report(programme)
    data.detail.amounts[0, 0] += 1  # one cent off in the detail
    with pytest.raises(ReportMismatch, match="would not tie"):
        write_gap_report(data, tmp_path / "bad.xlsx")
    assert not [p for p in tmp_path.iterdir() if "xlsx" in p.name], \
        "nothing written, not even a temporary file"


def test_cli_report_gap_xlsx_and_errors(programme: Ledger, cli: Any, tmp_path: Path) -> None:
    seed(programme)
    out = tmp_path / "sub" / "gap.xlsx"
    r = cli("report", "gap", "--out", str(out), "--metric", "benefit", "--scale", "thousands")
    assert r.exit_code == 0, r.output
    assert "wrote" in r.stdout
    assert "initiative rows" in r.stdout
    wb = openpyxl.load_workbook(out)
    assert wb["Summary"]["A4"].value == "AUD 000"
    assert wb["Summary"]["B5"].number_format.startswith("#,##0,")
    r = cli("report", "gap", "--out", str(tmp_path / "x.xlsx"), "--metric", "nope")
    assert r.exit_code == 1
    assert "error:" in r.stderr
    assert "nope" in r.stderr
    assert not (tmp_path / "x.xlsx").exists()
    r = cli("report", "gap", "--out", str(tmp_path / "x.xlsx"), "--as-of", "yesterday")
    assert r.exit_code == 1
    assert "as-of" in r.stderr
    r = cli("report", "gap", "--help")
    assert r.exit_code == 0
    assert "Example:" in r.stdout


def test_cli_report_gap_csv_is_the_summary_exactly(programme: Ledger, cli: Any) -> None:
    seed(programme)
    r = cli("report", "gap", "--format", "csv", "--metric", "benefit")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    header = rows[0]
    assert header[0] == "line"
    assert header[1] == "2026-07"
    assert "FY27" in header
    assert header[-1] == "Horizon"
    table = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows[1:]}
    rep = gap(programme, metric="benefit")
    look = engine_lookup(rep)
    for line, field in LINE_FIELDS.items():
        for key, text in table[line].items():
            expected = look[("Programme", key, field)]
            assert text == ("" if expected is None else str(expected)), (line, key)
    # Exact decimal strings, never floats.
    assert all(re.fullmatch(r"-?\d+\.\d\d", table["Gap"][k]) for k in table["Gap"])


def test_empty_ledger_still_writes_a_report(programme: Ledger, tmp_path: Path) -> None:
    path = write_gap_report(load_report(programme), tmp_path / "empty.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb["Summary"]["B6"].value.startswith("=SUMIFS(")
    assert wb["Initiatives"].max_row <= 5
    finance_sheet = [c.value for row in wb["Finance"].iter_rows() for c in row if c.value]
    assert NONE_COMMITTED in finance_sheet  # one line, not a block of zeros
    assert "Committed plan (at L3)" not in finance_sheet


def test_as_of_report_is_stamped_with_its_submission(programme: Ledger, tmp_path: Path) -> None:
    marks = seed(programme)
    data = load_report(programme, as_of=marks["first_instant"])
    assert data.as_of_submission < data.last_submission_id
    assert data.as_of == marks["first_instant"].astimezone(UTC)
    assert "GR-0005" in data.detail.attributes["external_id"].tolist()
    assert date(2026, 7, 1) in data.detail.months

"""The Excel gap report: it recalculates (in real LibreOffice) to the engine's figures,
keeps ledger text as text, refuses to write a report that would not tie, and looks the part.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ledger.api import Ledger
from ledger.engine import gap
from ledger.initiatives import write_initiatives
from ledger.store import new_submission, write_phasing, write_targets
from reports.excel import ReportMismatch, write_gap_report
from reports.gap_report import load_report

EVIL_NAME = '=HYPERLINK("http://evil.example","click")'
SHEETS = ["Summary", "By unit", "By lever", "By owner", "Funnel", "Top initiatives",
          "Initiatives", "Checks", "About"]


# --------------------------------------------------------------------------- data


def seed(ledger: Ledger) -> dict[str, Any]:
    """Initiatives with awkward text, an unallocated one, a withdrawn one, negatives, cents,
    a lever code with wildcard characters, two metrics; targets for programme, a unit and a
    lever (one month with a zero target). A second submission changes one initiative, so
    the first one is a distinct as-of point."""
    ledger.add_lever("X*?~", "Wildcards in a code")
    bu = dict(zip(ledger.business_units()["code"], ledger.business_units()["id"], strict=True))
    lv = dict(zip(ledger.levers()["code"], ledger.levers()["id"], strict=True))
    sg = dict(zip(ledger.stage_gates()["code"], ledger.stage_gates()["id"], strict=True))
    benefit, cost = ledger.metric("benefit"), ledger.metric("cost")
    volume = ledger.metric("volume")
    months = ledger.programme().months
    rng = np.random.default_rng(7)
    specs = [
        ("GR-0001", EVIL_NAME, "+Ann", "PRO", "PROC", "L3"),
        ("GR-0002", "-Fuel switch", "@Bob", "MIN", "X*?~", "L1"),
        ("GR-0003", "No unit or lever", "Cy", None, None, "L5"),
        ("GR-0004", "Haul roads", "Dee", "MIN", "MAINT", "L4"),
        ("GR-0005", "Withdrawn later", "Eve", "PRO", "ENERGY", "L2"),
        ("gr-0006", "Lower-case id", "Fay", "pro" if False else "PRO", "LAB", "L0"),
    ]
    with ledger.writing() as conn:
        sub = new_submission(conn, kind="import", user="tester", note="seed")
        frame = pd.DataFrame([{
            "external_id": e, "name": n, "owner": o, "business_unit_id": bu.get(u) if u else None,
            "lever_id": lv.get(lc) if lc else None, "stage_gate_id": sg[s], "description": "",
        } for e, n, o, u, lc, s in specs])
        ids = write_initiatives(conn, frame, sub.id).ids
        rows = []
        for ext, *_ in specs:
            for i, m in enumerate(months):
                if rng.random() < 0.8:
                    rows.append((ids[ext], benefit.id, "plan", m.isoformat(),
                                 int(rng.integers(-50_000, 2_500_000))))
                if ext in ("GR-0001", "GR-0004") and i < 6:
                    rows.append((ids[ext], cost.id, "plan", m.isoformat(), 1_234_567))
                if ext == "GR-0004" and i % 2:
                    rows.append((ids[ext], volume.id, "plan", m.isoformat(), 1_500_250 + i))
        write_phasing(conn, pd.DataFrame(rows, columns=["initiative_id", "metric_id",
                                                        "scenario", "month", "amount_minor"]),
                      sub.id)
        targets = []
        for i, m in enumerate(months):
            targets.append((benefit.id, "programme", "", m.isoformat(), 0 if i == 4 else
                            9_000_000 + 10_000 * i))
            targets.append((benefit.id, "business_unit", "PRO", m.isoformat(), 4_000_000))
            targets.append((benefit.id, "lever", "PROC", m.isoformat(), 1_500_001))
        write_targets(conn, pd.DataFrame(targets, columns=["metric_id", "scope_kind",
                                                           "scope_code", "month",
                                                           "amount_minor"]), sub.id)
    first_instant = ledger.submissions().iloc[0]["created_at"]
    with ledger.writing() as conn:
        sub2 = new_submission(conn, kind="edit", user="tester", note="withdraw GR-0005")
        w = frame[frame["external_id"] == "GR-0005"].assign(status="withdrawn")
        write_initiatives(conn, w, sub2.id)
        write_phasing(conn, pd.DataFrame([(ids["GR-0004"], benefit.id, "plan",
                                           months[3].isoformat(), 777)],
                                         columns=["initiative_id", "metric_id", "scenario",
                                                  "month", "amount_minor"]),
                      sub2.id, replace_scope=None)
    return {"first_instant": first_instant}


# --------------------------------------------------------------------------- LibreOffice


def _soffice() -> str:
    exe = shutil.which("soffice")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("soffice (libreoffice-calc) is required in CI for the recalculation test")
        pytest.skip("soffice not installed (install libreoffice-calc)")
    return exe


_RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode"
 oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def strip_cached_results(src: Path, dst: Path) -> int:
    """Copy ``src`` dropping every formula's cached value, so only a real recalculation
    can produce the figures the test reads. Returns the number of formulas stripped."""
    count = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text, n = re.subn(r"(<f>[^<]*</f>)<v>[^<]*</v>", r"\1", data.decode("utf-8"))
                count += n
                data = text.encode("utf-8")
            zout.writestr(item, data)
    return count


def recalculate(paths: list[Path], workdir: Path) -> list[Path]:
    """Recalculate workbooks in headless LibreOffice (private profile, recalc always) and
    return the recalculated copies."""
    exe = _soffice()
    profile = workdir / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_RECALC_ALWAYS)
    stripped = []
    for i, p in enumerate(paths):
        dst = workdir / f"in{i}.xlsx"
        assert strip_cached_results(p, dst) > 0
        stripped.append(dst)
    out = workdir / "out"
    subprocess.run([exe, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                    "--convert-to", "xlsx", "--outdir", str(out), *map(str, stripped)],
                   check=True, capture_output=True, timeout=300)
    results = [out / p.name for p in stripped]
    for r in results:
        assert r.exists(), f"LibreOffice did not write {r}"
    return results


# --------------------------------------------------------------------------- reading back


def _cents(value: Any, decimals: int) -> Decimal:
    assert isinstance(value, (int, float)), f"expected a number, found {value!r}"
    return Decimal(str(round(value, decimals))).quantize(Decimal(1).scaleb(-decimals))


def _columns(ws: Any, first_col: int) -> dict[int, str]:
    """Header row 4: month columns -> 'YYYY-MM', subtotal columns -> 'FY27' / 'Horizon'."""
    out = {}
    for col in range(first_col, ws.max_column + 1):
        v = ws.cell(4, col).value
        if isinstance(v, datetime):
            out[col] = f"{v:%Y-%m}"
        elif isinstance(v, str):
            out[col] = v
    return out


def _engine_lookup(report: Any) -> dict[tuple[str, str, str], Any]:
    """(part, column key, field) -> engine value, cumulative subtotals at their last month."""
    look: dict[tuple[str, str, str], Any] = {}
    last_month: dict[tuple[str, str], str] = {}
    for rec in report.monthly.to_dict("records"):
        key = f"{rec['month']:%Y-%m}"
        for f in ("target", "bottom_up", "gap", "cumulative_target", "cumulative_bottom_up",
                  "cumulative_gap", "coverage"):
            look[(rec["part"], key, f)] = rec[f]
        last_month[(rec["part"], rec["fiscal_year"])] = key
        last_month[(rec["part"], "Horizon")] = key
    for rec in report.fiscal.to_dict("records"):
        for f in ("target", "bottom_up", "gap", "coverage"):
            look[(rec["part"], rec["period"], f)] = rec[f]
        last = last_month[(rec["part"], rec["period"])]
        for f in ("cumulative_target", "cumulative_bottom_up", "cumulative_gap"):
            look[(rec["part"], rec["period"], f)] = look[(rec["part"], last, f)]
    return look


def _check_value(found: Any, expected: Any, field: str, decimals: int, where: str) -> None:
    if field == "coverage":
        if expected is None:
            assert found in (None, ""), f"{where}: expected blank coverage, found {found!r}"
        else:
            got = Decimal(str(found)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            assert got == expected, f"{where}: coverage {got} != engine {expected}"
        return
    assert _cents(found, decimals) == expected, f"{where}: {found!r} != engine {expected}"


_FIELD = {"Target": "target", "Bottom-up": "bottom_up", "Gap": "gap",
          "Cumulative target": "cumulative_target",
          "Cumulative bottom-up": "cumulative_bottom_up", "Cumulative gap": "cumulative_gap",
          "Coverage": "coverage"}


def assert_ties_to_engine(path: Path, ledger: Ledger, **kwargs: Any) -> int:
    """Every Summary and breakdown figure in the (recalculated) workbook equals the engine's
    to the cent. Returns the number of figures compared."""
    wb = openpyxl.load_workbook(path, data_only=True)
    compared = 0
    summary = gap(ledger, **kwargs)
    decimals = summary.metric.decimals
    look = _engine_lookup(summary)
    ws = wb["Summary"]
    cols = _columns(ws, 2)
    lines_seen = set()
    for row in range(5, 12):
        line = ws.cell(row, 1).value
        lines_seen.add(line)
        for col, key in cols.items():
            _check_value(ws.cell(row, col).value, look[("Programme", key, _FIELD[line])],
                         _FIELD[line], decimals, f"Summary {line} {key}")
            compared += 1
    assert lines_seen == set(_FIELD)
    for by, sheet in (("business_unit", "By unit"), ("lever", "By lever"),
                      ("owner", "By owner")):
        rep = gap(ledger, by=by, **kwargs)
        look = _engine_lookup(rep)
        ws = wb[sheet]
        cols = _columns(ws, 4)
        parts_seen = set()
        for row in range(5, ws.max_row + 1):
            part, line = ws.cell(row, 1).value, ws.cell(row, 3).value
            if part in (None, "Total", "Summary", "Difference") or line not in _FIELD:
                continue
            parts_seen.add(part)
            for col, key in cols.items():
                _check_value(ws.cell(row, col).value, look[(part, key, _FIELD[line])],
                             _FIELD[line], decimals, f"{sheet} {part} {line} {key}")
                compared += 1
        assert parts_seen == set(rep.parts)
        # Totals equal the Summary's; the difference rows are zero.
        for row in range(5, ws.max_row + 1):
            label, line = ws.cell(row, 1).value, ws.cell(row, 3).value
            if label in ("Total", "Summary") and line in ("Target", "Bottom-up", "Gap"):
                for col, key in cols.items():
                    expected = _engine_lookup(summary)[("Programme", key, _FIELD[line])]
                    _check_value(ws.cell(row, col).value, expected, _FIELD[line], decimals,
                                 f"{sheet} {label} {line} {key}")
                    compared += 1
            if label == "Difference":
                for col in cols:
                    assert _cents(ws.cell(row, col).value, decimals) == 0
    compared += assert_funnel_ties(wb, ledger, **kwargs)
    return compared


def assert_funnel_ties(wb: Any, ledger: Ledger, **kwargs: Any) -> int:
    """The Funnel: each gate's unweighted and risk-weighted horizon value equal the
    engine's by-stage figures, the totals their sums, the live column's difference to the
    Summary 0."""
    weighted = kwargs.pop("weighted", False)
    ws = wb["Funnel"]
    header = [c.value for c in ws[4]]
    assert header[0] == "Stage gate"
    assert header[3].startswith("Unweighted")
    assert header[5].startswith("Risk-weighted")
    compared = 0
    totals = {}
    for col, w in ((4, False), (6, True)):
        rep = gap(ledger, by="stage", weighted=w, **kwargs)
        decimals = rep.metric.decimals
        horizon = rep.fiscal[rep.fiscal["period"] == "Horizon"]
        engine = dict(zip(horizon["part"], horizon["bottom_up"], strict=True))
        total = Decimal(0)
        for row in range(5, ws.max_row + 1):
            code = ws.cell(row, 1).value
            if code == "Total":
                assert _cents(ws.cell(row, col).value, decimals) == total
                totals[w] = total
                break
            expected = engine.get(code, Decimal(0))
            assert _cents(ws.cell(row, col).value, decimals) == expected, (code, w)
            total += expected
            compared += 1
    summary = gap(ledger, weighted=weighted, **kwargs).fiscal
    assert totals[weighted] == summary[summary["period"] == "Horizon"].iloc[0]["bottom_up"]
    diff = [r for r in range(5, ws.max_row + 1) if ws.cell(r, 1).value == "Difference"]
    assert diff
    assert _cents(ws.cell(diff[0], 6 if weighted else 4).value, 2) == 0
    return compared


def assert_bridge_ties(path: Path, ledger: Ledger, start: datetime) -> None:
    """The Bridge sheet: start, steps, end (a formula over the steps) equal the bridge's
    figures, and the difference to the ledger's end total is 0."""
    from ledger.bridge import bridge

    result = bridge(ledger, start=start, end=datetime.now(UTC), metric="benefit")
    ws = openpyxl.load_workbook(path, data_only=True)["Bridge"]
    rows: dict[Any, Any] = {}
    in_steps = True
    for r in range(5, ws.max_row + 1):
        label = ws.cell(r, 1).value
        if label == "Initiatives behind each step":
            in_steps = False
        if label and (in_steps or label.startswith(("Difference", "Bottom-up at end per"))):
            rows[label] = ws.cell(r, 2).value
    start_label = next(k for k in rows if str(k).startswith("Bottom-up at start"))
    end_label = next(k for k in rows if str(k).startswith("Bottom-up at end ("))
    assert _cents(rows[start_label], 2) == result.start_total
    assert _cents(rows[end_label], 2) == result.end_total
    for rec in result.steps.to_dict("records"):
        assert _cents(rows[rec["step"]], 2) == rec["amount"]
    assert _cents(rows["Difference (0 when the bridge ties)"], 2) == 0
    assert result.start_total != result.end_total, "the bridge has something to explain"


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
    assert wb.sheetnames == SHEETS  # no Bridge sheet unless asked for
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
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert charts
        xml = "".join(z.read(c).decode() for c in charts)
        assert "<c:barChart>" in xml
        assert "<c:lineChart>" in xml
        assert xml.count("<c:valAx>") == len(charts), "one value axis per chart"
        body = s["B5"].number_format.split("_")[0]  # the table's own format, e.g. #,##0,
        assert xml.count(f'<c:numFmt formatCode="{body}"') == len(charts), "axes in scale"
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
    look = _engine_lookup(rep)
    for line, field in _FIELD.items():
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


def test_as_of_report_is_stamped_with_its_submission(programme: Ledger, tmp_path: Path) -> None:
    marks = seed(programme)
    data = load_report(programme, as_of=marks["first_instant"])
    assert data.as_of_submission < data.last_submission_id
    assert data.as_of == marks["first_instant"].astimezone(UTC)
    assert "GR-0005" in data.detail.attributes["external_id"].tolist()
    assert date(2026, 7, 1) in data.detail.months

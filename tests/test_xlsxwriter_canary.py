"""Canary: the two XlsxWriter internals the reports rely on still behave as they did.

If an XlsxWriter upgrade changes either, these fail loudly (rather than the reports
silently losing their styles or mangling formulas); see reports/xlsxwriter_internals.py.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import xlsxwriter

from reports.xlsxwriter_internals import cached_series, style_index, write_formulas_verbatim


def _sheet_xml(path: Path, number: int = 1) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(f"xl/worksheets/sheet{number}.xml").decode()


def test_style_index_is_the_s_attribute_xlsxwriter_writes(tmp_path: Path) -> None:
    path = tmp_path / "styles.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    indices = {"bold": style_index(bold), "money": style_index(money)}
    ws.write_string(0, 0, "x", bold)
    ws.write_number(0, 1, 1.5, money)
    wb.close()
    xml = _sheet_xml(path)
    assert re.search(rf'<c r="A1" s="{indices["bold"]}" t="s"', xml), xml
    assert re.search(rf'<c r="B1" s="{indices["money"]}"', xml), xml
    assert indices["bold"] != indices["money"]


def test_verbatim_formulas_replace_the_hook_xlsxwriter_calls_for_every_formula(
        tmp_path: Path) -> None:
    import inspect

    from xlsxwriter.worksheet import Worksheet

    # The hook's signature and default behaviour, as write_formulas_verbatim assumes them.
    params = list(inspect.signature(Worksheet._prepare_formula).parameters)
    assert params == ["self", "formula", "expand_future_functions"]
    path = tmp_path / "formulas.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    plain, verbatim = wb.add_worksheet(), wb.add_worksheet()
    assert plain._prepare_formula("=SUM(A1:A2)") == "SUM(A1:A2)"
    assert plain._prepare_formula("=XLOOKUP(1,B:B,C:C)") == "_xlfn.XLOOKUP(1,B:B,C:C)"
    assert write_formulas_verbatim(verbatim)
    seen: list[str] = []
    hook = verbatim._prepare_formula

    def counting(formula: str, expand_future_functions: bool = False) -> str:
        seen.append(formula)
        return hook(formula, expand_future_functions)

    verbatim._prepare_formula = counting  # type: ignore[method-assign]
    verbatim.write_formula(0, 0, '=SUMIFS(B:B,C:C,"x")+ROUND(1.5,0)', None, 2)
    wb.close()
    assert seen == ['=SUMIFS(B:B,C:C,"x")+ROUND(1.5,0)']
    assert '<f>SUMIFS(B:B,C:C,"x")+ROUND(1.5,0)</f><v>2</v>' in _sheet_xml(path, 2)



def test_cached_series_fills_the_chart_caches_in_constant_memory_mode(tmp_path: Path) -> None:
    """Without the cached data a constant-memory workbook's chart has empty caches (blank in
    a mail preview); with it, the chart XML carries every value and category."""
    path = tmp_path / "chart.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Data")
    for row, (label, value) in enumerate([("Target", 120.5), ("Committed", 80.25)]):
        ws.write_string(row, 0, label)
        ws.write_number(row, 1, value)
    plain, cached = wb.add_chart({"type": "column"}), wb.add_chart({"type": "column"})
    refs = {"categories": ["Data", 0, 0, 1, 0], "values": ["Data", 0, 1, 1, 1]}
    plain.add_series(dict(refs))
    cached.add_series(cached_series(refs, [120.5, 80.25], ["Target", "Committed"]))
    ws.insert_chart(3, 0, plain)
    ws.insert_chart(3, 8, cached)
    wb.close()
    with zipfile.ZipFile(path) as zf:
        empty, full = (zf.read(f"xl/charts/chart{i}.xml").decode() for i in (1, 2))
    assert "<c:v>120.5</c:v>" not in empty
    assert "<c:v>120.5</c:v>" in full
    assert "<c:v>80.25</c:v>" in full
    assert "<c:v>Committed</c:v>" in full

"""The Dashboard (the workbook's first sheet, one landscape page) and the Finance sheet
its figures are formulas over.

* **Finance**: one row per month: target (a link to the Summary), plan (a link to the
  Summary when the report is the unweighted plan), actual, forecast, committed and pipeline
  (weighted and not) as the engine's numbers, outturn as committed + pipeline, running
  totals, and the net value (benefits less one-off costs). Below it, the waterfall's data.
* **Dashboard**: the headline figures of one fiscal year (target, outturn, committed,
  weighted pipeline, gap, coverage with its RAG), a fiscal-year table (``SUMIFS`` over the
  Finance sheet by fiscal year), a cumulative target vs bottom-up vs outturn line chart, a
  waterfall target -> committed -> weighted pipeline -> gap, and the month's movement
  (links to the Bridge sheet). Prints on exactly one A4 landscape page; the charts sit
  inside the print area and carry cached values (:func:`cached_series`).

Definitions: :mod:`ledger.finance`. Every cached result is the engine's figure, so a viewer
that does not recalculate shows the same numbers as one that does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from ledger.months import fiscal_year, fiscal_year_label
from reports.excel.columns import Column, column_layout
from reports.excel.figures import as_decimal, num
from reports.excel.formulas import cell, criterion
from reports.excel.inputs import SCALES, ReportInput
from reports.excel.layout import (
    FIRST_DATA_ROW,
    HEADER_ROW,
    Formats,
    colour_gap,
    favourable_is,
    print_setup,
    rag_formula,
    rag_text,
    title,
    unit_label,
)
from reports.safe import safe_text
from reports.xlsxwriter_internals import cached_series

#: The Finance sheet's columns: engine field, header.
FINANCE_COLUMNS: list[tuple[str, str]] = [
    ("month", "Month"), ("fiscal_year", "Fiscal year"), ("closed", "Closed"),
    ("target", "Target"), ("plan", "Plan"), ("actual", "Actual"), ("forecast", "Forecast"),
    ("committed", "Committed (L3-L5)"), ("committed_weighted", "Committed, weighted"),
    ("pipeline", "Pipeline (L0-L2)"), ("pipeline_weighted", "Pipeline, weighted"),
    ("outturn", "Outturn"), ("cumulative_target", "Cumulative target"),
    ("cumulative_plan", "Cumulative plan"), ("cumulative_outturn", "Cumulative outturn"),
    ("benefit", "Benefits"), ("cost", "One-off costs"), ("net", "Net value"),
    ("cumulative_net", "Cumulative net value"),
]
#: Written after them when some initiative is committed (reports/excel/committed.py).
COMMITTED_COLUMNS: list[tuple[str, str]] = [
    ("committed_plan", "Committed plan (at L3)"), ("committed_outturn", "Outturn of committed"),
    ("committed_plan_variance", "Outturn - committed plan"),
]
_FCOL = {key: i for i, (key, _h) in enumerate(FINANCE_COLUMNS + COMMITTED_COLUMNS)}

#: The Dashboard's fiscal-year table: key, header.
FY_COLUMNS: list[tuple[str, str]] = [
    ("period", "Period"), ("target", "Target"), ("plan", "Plan"), ("outturn", "Outturn"),
    ("variance", "Outturn - target"), ("plan_ytd", "YTD plan"), ("actual_ytd", "YTD actual"),
    ("committed", "Committed"), ("committed_weighted", "Committed, wtd"),
    ("pipeline", "Pipeline"), ("pipeline_weighted", "Pipeline, wtd"), ("gap", "Gap"),
    ("coverage", "Coverage"), ("net", "Net value"), ("exit_run_rate", "Exit run-rate"),
]
_DCOL = {key: i for i, (key, _h) in enumerate(FY_COLUMNS)}
#: Fiscal-year sums read from a Finance column.
_SUMMED = {"target": "target", "plan": "plan", "outturn": "outturn",
           "committed": "committed", "committed_weighted": "committed_weighted",
           "pipeline": "pipeline", "pipeline_weighted": "pipeline_weighted", "net": "net"}

HEADLINES: list[tuple[str, str]] = [
    ("target", "target"), ("outturn", "Outturn"), ("committed", "Committed"),
    ("pipeline_weighted", "Weighted pipeline"), ("gap", "Gap"), ("coverage", "Coverage"),
]
_TITLE_ROW, _HEAD_LABEL_ROW, _HEAD_VALUE_ROW = 0, 3, 4
_FY_HEADER_ROW = 6
_CHART_ROWS = 19
_LAST_COL = len(FY_COLUMNS) - 1


@dataclass(frozen=True)
class DashboardCells:
    """Where the Dashboard's figures are (row and column, 0-based), for tests and links."""

    headline_row: int
    headline_cols: dict[str, int]
    fy_rows: dict[str, int]
    movement_rows: list[int]
    last_row: int


def _closed_text(rep: Any) -> str:
    return (f"closed through {rep.closed_through:%Y-%m}" if rep.closed_through
            else "no month closed yet")


def _sheet_ref(sheet: str, row: int, col: int) -> str:
    return f"{sheet}!{cell(row, col, absolute=True)}"


def axis_format(scale: str) -> str:
    """The chart axes' number format in the report's scale."""
    return "#,##0" + "," * (SCALES[scale][0] // 3)


def headline_year(data: ReportInput) -> str:
    """The fiscal year the headline figures show: the one containing the report's instant
    (or when it was written), within the horizon."""
    moment = data.as_of or data.written_at
    months = data.programme.months
    month = min(max(date(moment.year, moment.month, 1), months[0]), months[-1])
    return fiscal_year_label(fiscal_year(month, data.programme.fy_start_month))


# --------------------------------------------------------------------------- Finance sheet


@dataclass(frozen=True)
class FinanceLayout:
    sheet: str
    first_row: int
    last_row: int
    month_rows: dict[str, int]
    """Fiscal year -> the row of its last month (the exit run-rate)."""
    waterfall_rows: dict[str, int]


def fin_range(layout: FinanceLayout, key: str) -> str:
    name = xl_col_to_name(_FCOL[key])
    return f"{layout.sheet}!${name}${layout.first_row + 1}:${name}${layout.last_row + 1}"


def waterfall_row(fin: FinanceLayout) -> int:
    """The header row of the waterfall's data below the Finance sheet's table (its title
    one row above; four steps below)."""
    return fin.last_row + 3


def write_finance(sheet: Worksheet, data: ReportInput, fmt: Formats, scale: str,
                  summary_rows: dict[str, int]) -> FinanceLayout:
    """The Finance sheet: the month-by-month figures the Dashboard sums."""
    rep = data.finance
    assert rep is not None  # noqa: S101  (narrows the type)
    unit = unit_label(data, scale)
    title(sheet, fmt, f"{safe_text(data.programme.name)}: finance view ({unit})",
          f"Outturn = actuals of closed months ({_closed_text(rep)}), forecast of open ones "
          "(plan where an initiative has no forecast). Committed L3-L5, pipeline L0-L2; "
          f"net value = benefits less one-off costs ({rep.net_unit}). "
          f"Submission {rep.as_of_submission}.")
    money = ("benefit", "cost", "net", "cumulative_net")
    with_committed = rep.committed_initiatives > 0
    headings = FINANCE_COLUMNS + (COMMITTED_COLUMNS if with_committed else [])
    for col, (key, heading) in enumerate(headings):
        # The net value is in the programme's currency, whatever the report's metric.
        suffix = f" ({rep.net_unit})" if key in money else ""
        sheet.write_string(HEADER_ROW, col, heading + suffix, fmt.header)
    summary_cols = {c.month: c for c in column_layout(data.detail.months,
                                                      data.programme.fy_start_month, 1)
                    if c.kind == "month"}
    plan_linked = data.scenario == "plan" and not data.weighted
    monthly = rep.monthly.to_dict("records")
    net_by_month = _net_by_month(data)
    first = FIRST_DATA_ROW
    last_of_year: dict[str, int] = {}
    for pos, rec in enumerate(monthly):
        row = first + pos
        month: date = rec["month"]
        last_of_year[str(rec["fiscal_year"])] = row
        sheet.write_datetime(row, 0, datetime(month.year, month.month, 1), fmt.month)
        sheet.write_string(row, 1, str(rec["fiscal_year"]), fmt.text)
        sheet.write_string(row, 2, "closed" if rec["closed"] else "open", fmt.text)
        summary_col: Column | None = summary_cols.get(month)
        for key in ("target", "plan"):
            linked = summary_col is not None and (key == "target" or plan_linked)
            if linked:
                assert summary_col is not None  # noqa: S101  (narrows the type)
                line = "Target" if key == "target" else "Bottom-up"
                sheet.write_formula(row, _FCOL[key],
                                    f"=Summary!{cell(summary_rows[line], summary_col.index)}",
                                    fmt.amount, num(rec[key]))
            else:
                sheet.write_number(row, _FCOL[key], num(rec[key]), fmt.amount)
        for key in ("actual", "forecast", "committed", "committed_weighted", "pipeline",
                    "pipeline_weighted"):
            sheet.write_number(row, _FCOL[key], num(rec[key]), fmt.amount)
        c = {key: cell(row, i) for key, i in _FCOL.items()}
        sheet.write_formula(row, _FCOL["outturn"], f"={c['committed']}+{c['pipeline']}",
                            fmt.amount, num(rec["outturn"]))
        for key, source in (("cumulative_target", "target"), ("cumulative_plan", "plan"),
                            ("cumulative_outturn", "outturn"), ("cumulative_net", "net")):
            before = "" if pos == 0 else f"{cell(row - 1, _FCOL[key])}+"
            value = rec.get(key) if key != "cumulative_net" else net_by_month[month][3]
            sheet.write_formula(row, _FCOL[key], f"={before}{c[source]}", fmt.amount,
                                num(value))
        benefit, cost, net, _cum = net_by_month[month]
        sheet.write_number(row, _FCOL["benefit"], num(benefit), fmt.amount)
        sheet.write_number(row, _FCOL["cost"], num(cost), fmt.amount)
        sheet.write_formula(row, _FCOL["net"], f"={c['benefit']}-{c['cost']}", fmt.amount,
                            num(net))
        if with_committed:
            for key in ("committed_plan", "committed_outturn"):
                sheet.write_number(row, _FCOL[key], num(rec[key]), fmt.amount)
            sheet.write_formula(row, _FCOL["committed_plan_variance"],
                                f"={c['committed_outturn']}-{c['committed_plan']}",
                                fmt.amount, num(rec["committed_plan_variance"]))
    last = first + max(len(monthly), 1) - 1
    layout = FinanceLayout(sheet.name, first, last, last_of_year, {})
    sheet.set_column(0, 2, 11)
    sheet.set_column(3, len(headings) - 1, 13)
    sheet.freeze_panes(HEADER_ROW + 1, 1)
    print_setup(sheet, data, header_row=HEADER_ROW, label_cols=1)
    return layout


def _net_by_month(data: ReportInput) -> dict[date, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """Per month: benefits, costs, net and cumulative net (the engine's, in the net unit's
    decimals), from the finance view's monthly money flows."""
    rep = data.finance
    assert rep is not None  # noqa: S101  (narrows the type)
    out: dict[date, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    for rec in rep.net_monthly.to_dict("records"):
        out[rec["month"]] = (rec["benefit"], rec["cost"], rec["net"], rec["cumulative_net"])
    return out


# --------------------------------------------------------------------------- Dashboard


def write_dashboard(workbook: Workbook, sheet: Worksheet, data: ReportInput, fmt: Formats,
                    scale: str, fin: FinanceLayout, waterfall_sheet: Worksheet,
                    bridge_rows: Sequence[tuple[str, int]] | None) -> DashboardCells:
    """The Dashboard; ``bridge_rows`` are the Bridge sheet's (label, row) of start, steps
    and end (None: no movement lines). The waterfall's data goes on ``waterfall_sheet``
    (the Finance sheet, below its table), written last there."""
    rep = data.finance
    assert rep is not None  # noqa: S101  (narrows the type)
    unit = unit_label(data, scale)
    fiscal = [{str(k): v for k, v in r.items()} for r in rep.fiscal.to_dict("records")]
    periods = [str(r["period"]) for r in fiscal]
    fy_rows = {p: _FY_HEADER_ROW + 1 + i for i, p in enumerate(periods)}
    year = headline_year(data)
    if year not in fy_rows:
        year = periods[0]
    by_period = {str(r["period"]): r for r in fiscal}
    title(sheet, fmt, f"{safe_text(data.programme.name)}: dashboard ({unit})",
          f"{data.metric.code}; outturn = actuals ({_closed_text(rep)}) + forecast; gap = "
          "target - committed - weighted pipeline; coverage = (committed + weighted "
          f"pipeline) / target; as of submission {rep.as_of_submission}.")
    head_cols = _headline(workbook, sheet, data, fmt, year, fy_rows[year], by_period[year])

    # The fiscal-year table (its headers on two lines).
    sheet.set_row(_FY_HEADER_ROW, 26)
    for col, (_key, heading) in enumerate(FY_COLUMNS):
        sheet.write_string(_FY_HEADER_ROW, col, heading, fmt.header)
    for rec in fiscal:
        _write_fy_row(sheet, fmt, fin, fy_rows, str(rec["period"]), rec, periods,
                      _net_of(data, str(rec["period"])))
    _shade_unfavourable(sheet, fmt, data, fy_rows[periods[0]], fy_rows[periods[-1]])

    # Charts, inside the print area, then the month's movement below them.
    chart_row = fy_rows[periods[-1]] + 2
    _line_chart(workbook, sheet, data, fin, scale, unit, chart_row)
    _waterfall_chart(workbook, sheet, waterfall_sheet, fmt, fin, scale, unit, chart_row,
                     head_cols, year, by_period[year])
    movement_rows = _movement(sheet, data, fmt, chart_row + _CHART_ROWS + 1, bridge_rows)
    last_row = max([chart_row + _CHART_ROWS, *movement_rows])
    _one_page(sheet, data, last_row)
    return DashboardCells(_HEAD_VALUE_ROW, head_cols, fy_rows, movement_rows, last_row)


def _headline(workbook: Workbook, sheet: Worksheet, data: ReportInput, fmt: Formats,
              year: str, fy_row: int, rec: dict[str, Any]) -> dict[str, int]:
    """The headline tiles (a label over a value, two columns each; each value a link to the
    year's row of the table) and the coverage's RAG (the programme's thresholds in force at
    the report's as-of: :func:`reports.excel.layout.rag_bands`). Returns each figure's
    column."""
    def add(**props: Any) -> Any:
        return workbook.add_format({"font_name": "Calibri", "align": "center", **props})

    big = add(font_size=14, bold=True, num_format=fmt.amount_fmt)
    big_pct = add(font_size=14, bold=True, num_format="0.0%")
    tile = add(font_size=9, bold=True, font_color="#FFFFFF", bg_color="#1F3864",
               text_wrap=True)
    head_cols = {key: 1 + 2 * i for i, (key, _l) in enumerate(HEADLINES)}
    rag_col = head_cols["coverage"] + 2
    for key, label in HEADLINES:
        text = f"{year} {label}" if key == "target" else f"{label} {year}"
        sheet.merge_range(_HEAD_LABEL_ROW, head_cols[key], _HEAD_LABEL_ROW,
                          head_cols[key] + 1, text, tile)
    # Constant-memory sheets are written row by row: the RAG's label goes in this row too.
    sheet.write_string(_HEAD_LABEL_ROW, rag_col, "RAG", tile)
    sheet.set_row(_HEAD_VALUE_ROW, 24)
    for key, _label in HEADLINES:
        value = rec[key]
        style = big_pct if key == "coverage" else big
        cached: Any = ("" if value is None else float(value)) if key == "coverage" \
            else num(value)
        sheet.merge_range(_HEAD_VALUE_ROW, head_cols[key], _HEAD_VALUE_ROW,
                          head_cols[key] + 1, None, style)
        sheet.write_formula(_HEAD_VALUE_ROW, head_cols[key],
                            f"={cell(fy_row, _DCOL[key])}", style, cached)
    cov = cell(_HEAD_VALUE_ROW, head_cols["coverage"])
    sheet.write_formula(_HEAD_VALUE_ROW, rag_col, rag_formula(data, cov),
                        add(font_size=10, bold=True), rag_text(data, rec["coverage"]))
    for text, colour in (("Green", "#C6EFCE"), ("Amber", "#FFEB9C"), ("Red", "#FFC7CE")):
        rag_colour = workbook.add_format({"bg_color": colour})
        for col in (head_cols["coverage"], rag_col):
            sheet.conditional_format(_HEAD_VALUE_ROW, col, _HEAD_VALUE_ROW, col, {
                "type": "formula", "criteria": f'=${xl_col_to_name(rag_col)}$'
                f'{_HEAD_VALUE_ROW + 1}="{text}"', "format": rag_colour})
    return head_cols


def _movement(sheet: Worksheet, data: ReportInput, fmt: Formats, row: int,
              bridge_rows: Sequence[tuple[str, int]] | None) -> list[int]:
    """The month's movement in a few lines, each a link to the Bridge sheet."""
    bridge = data.bridge
    if bridge is None or bridge_rows is None:
        return []
    since = getattr(bridge, "start", None)
    sheet.write_string(row, 0, f"Movement of the bottom-up ({data.scenario}) since "
                       + (f"{since:%Y-%m-%d %H:%M} UTC" if since else "the start"),
                       fmt.label_bold)
    rows = []
    amounts = [bridge.start_total, *bridge.steps["amount"].tolist(), bridge.end_total]
    for (label, bridge_row), amount in zip(bridge_rows, amounts, strict=True):
        row += 1
        sheet.write_string(row, 0, safe_text(label), fmt.label)
        sheet.write_formula(row, 1, f"=Bridge!{cell(bridge_row, 1, absolute=True)}",
                            fmt.amount, num(amount))
        rows.append(row)
    return rows


def _one_page(sheet: Worksheet, data: ReportInput, last_row: int) -> None:
    """The pack's page set-up (paper, header and footer), everything on one landscape
    page, no gridlines."""
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, _LAST_COL, 11)
    sheet.hide_gridlines(2)
    print_setup(sheet, data)
    sheet.fit_to_pages(1, 1)
    sheet.print_area(0, 0, last_row, _LAST_COL)


def _shade_unfavourable(sheet: Worksheet, fmt: Formats, data: ReportInput, first: int,
                        last: int) -> None:
    """The metric's kind decides what is unfavourable: for a benefit, a gap above zero and
    an outturn below target; for a cost, the opposite signs. Unfavourable red, favourable
    green, as on every sheet."""
    colour_gap(sheet, data, fmt, first, _DCOL["gap"], last, _DCOL["gap"])
    bad, good = favourable_is(data)  # the variance (outturn - target) is a negated gap
    for comparison, cell_format in ((good, fmt.unfavourable), (bad, fmt.favourable)):
        sheet.conditional_format(first, _DCOL["variance"], last, _DCOL["variance"], {
            "type": "cell", "criteria": comparison, "value": 0, "format": cell_format})


def _net_of(data: ReportInput, period: str) -> Decimal:
    rep = data.finance
    assert rep is not None  # noqa: S101  (narrows the type)
    net = rep.net[rep.net["period"] == period]
    return Decimal(0) if net.empty else Decimal(net.iloc[0]["net"])


def _write_fy_row(sheet: Worksheet, fmt: Formats, fin: FinanceLayout, fy_rows: dict[str, int],
                  period: str, rec: dict[str, Any], periods: list[str], net: Decimal) -> None:
    """One fiscal year (SUMIFS over the Finance sheet) or the Horizon (sums of the years)."""
    row = fy_rows[period]
    years = [p for p in periods if p != "Horizon"]
    horizon = period == "Horizon"
    style = fmt.amount_sub if horizon else fmt.amount
    sheet.write_string(row, 0, period, fmt.label_bold if horizon else fmt.label)
    c = {key: cell(row, i) for key, i in _DCOL.items()}
    values = {**rec, "net": net}
    for key, source in _SUMMED.items():
        if horizon:
            formula = "=SUM(" + ",".join(cell(fy_rows[y], _DCOL[key]) for y in years) + ")"
        else:
            formula = (f"=SUMIFS({fin_range(fin, source)},{fin_range(fin, 'fiscal_year')},"
                       f"{criterion(period)})")
        sheet.write_formula(row, _DCOL[key], formula, style, num(values[key]))
    for key, source in (("plan_ytd", "plan"), ("actual_ytd", "actual")):
        if horizon:
            formula = "=SUM(" + ",".join(cell(fy_rows[y], _DCOL[key]) for y in years) + ")"
        else:
            formula = (f"=SUMIFS({fin_range(fin, source)},{fin_range(fin, 'fiscal_year')},"
                       f"{criterion(period)},{fin_range(fin, 'closed')},\"=closed\")")
        sheet.write_formula(row, _DCOL[key], formula, style, num(values[key]))
    sheet.write_formula(row, _DCOL["variance"], f"={c['outturn']}-{c['target']}", style,
                        num(values["variance"]))
    sheet.write_formula(row, _DCOL["gap"],
                        f"={c['target']}-{c['committed']}-{c['pipeline_weighted']}", style,
                        num(values["gap"]))
    cov = values["coverage"]
    sheet.write_formula(row, _DCOL["coverage"],
                        f'=IF({c["target"]}=0,"",({c["committed"]}+{c["pipeline_weighted"]})'
                        f'/{c["target"]})', fmt.pct_sub if horizon else fmt.pct,
                        "" if cov is None else float(cov))
    last_year = years[-1] if horizon else period
    exit_row = fin.month_rows[last_year]
    sheet.write_formula(row, _DCOL["exit_run_rate"],
                        f"={_sheet_ref(fin.sheet, exit_row, _FCOL['outturn'])}*12", style,
                        num(values["exit_run_rate"]))


def _line_chart(workbook: Workbook, sheet: Worksheet, data: ReportInput, fin: FinanceLayout,
                scale: str, unit: str, row: int) -> None:
    """Cumulative target vs bottom-up (plan) vs outturn, month by month."""
    rep = data.finance
    assert rep is not None  # noqa: S101  (narrows the type)
    monthly = rep.monthly
    months = [_excel_serial(m) for m in monthly["month"]]
    chart = workbook.add_chart({"type": "line"})
    for key, name, colour, dash in (("cumulative_target", "Cumulative target", "#1F3864", None),
                                    ("cumulative_plan", "Cumulative bottom-up (plan)",
                                     "#8FAADC", "dash"),
                                    ("cumulative_outturn", "Cumulative outturn", "#C55A11",
                                     None)):
        line: dict[str, Any] = {"color": colour, "width": 2.0}
        if dash:
            line["dash_type"] = dash
        chart.add_series(cached_series({
            "name": name,
            "categories": [fin.sheet, fin.first_row, _FCOL["month"], fin.last_row,
                           _FCOL["month"]],
            "values": [fin.sheet, fin.first_row, _FCOL[key], fin.last_row, _FCOL[key]],
            "line": line, "marker": {"type": "none"},
        }, [num(v) for v in monthly[key]], months))
    chart.set_title({"name": f"Cumulative target vs bottom-up and outturn ({unit})",
                     "name_font": {"size": 10}})
    chart.set_x_axis({"num_format": "mmm-yy", "num_font": {"rotation": -45, "size": 8}})
    chart.set_y_axis({"num_format": axis_format(scale), "num_font": {"size": 8},
                      "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"position": "bottom", "font": {"size": 8}})
    # Columns A (24 wide) to G (11 wide): 173 + 6 x 82 pixels; 19 rows of 20 pixels.
    chart.set_size({"width": 660, "height": _CHART_ROWS * 20 - 10})
    sheet.insert_chart(row, 0, chart, {"x_offset": 2, "y_offset": 2, "object_position": 3})


def _waterfall_chart(workbook: Workbook, sheet: Worksheet, data_sheet: Worksheet,
                     fmt: Formats, fin: FinanceLayout, scale: str, unit: str, row: int,
                     head_cols: dict[str, int], year: str, rec: dict[str, Any]) -> None:
    """Target -> committed -> weighted pipeline -> gap: a stacked column whose invisible
    base series lifts each floating bar; its data (formulas over the headline cells) sits
    below the Finance sheet's table."""
    head = {key: f"Dashboard!{cell(_HEAD_VALUE_ROW, col, absolute=True)}"
            for key, col in head_cols.items()}
    t, c = as_decimal(rec["target"]) or Decimal(0), as_decimal(rec["committed"]) or Decimal(0)
    p = as_decimal(rec["pipeline_weighted"]) or Decimal(0)
    g = t - c - p
    steps = [
        ("Target", "=0", f"={head['target']}", Decimal(0), t),
        ("Committed", "=0", f"={head['committed']}", Decimal(0), c),
        ("Weighted pipeline", f"=MIN({head['committed']},{head['committed']}+"
         f"{head['pipeline_weighted']})", f"=ABS({head['pipeline_weighted']})",
         min(c, c + p), abs(p)),
        ("Gap", f"=MIN({head['target']},{head['committed']}+{head['pipeline_weighted']})",
         f"=ABS({head['gap']})", min(t, c + p), abs(g)),
    ]
    first = waterfall_row(fin)
    data_sheet.write_string(first - 1, 0, f"Dashboard waterfall ({year}): links to the "
                            "Dashboard's headline; 'Base' lifts each bar", fmt.note)
    for col, heading in enumerate(("Step", "Base", "Amount")):
        data_sheet.write_string(first, col, heading, fmt.header_left)
    for i, (label, base_f, bar_f, base, bar) in enumerate(steps):
        r = first + 1 + i
        data_sheet.write_string(r, 0, label, fmt.label)
        data_sheet.write_formula(r, 1, base_f, fmt.amount, float(base))
        data_sheet.write_formula(r, 2, bar_f, fmt.amount, float(bar))
    last = first + len(steps)
    labels = [s[0] for s in steps]
    chart = workbook.add_chart({"type": "column", "subtype": "stacked"})
    chart.add_series(cached_series({
        "name": "Base", "categories": [fin.sheet, first + 1, 0, last, 0],
        "values": [fin.sheet, first + 1, 1, last, 1],
        "fill": {"none": True}, "border": {"none": True}, "gap": 60,
    }, [float(s[3]) for s in steps], labels))
    colours = ["#1F3864", "#548235", "#8FAADC", "#C00000"]
    chart.add_series(cached_series({
        "name": year, "categories": [fin.sheet, first + 1, 0, last, 0],
        "values": [fin.sheet, first + 1, 2, last, 2],
        "points": [{"fill": {"color": col}} for col in colours], "gap": 60,
        "data_labels": {"value": True, "num_format": axis_format(scale),
                        "font": {"size": 8}},
    }, [float(s[4]) for s in steps], labels))
    chart.set_title({"name": f"{year}: target to committed, pipeline and gap ({unit})",
                     "name_font": {"size": 10}})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_font": {"size": 8}})
    chart.set_y_axis({"num_format": axis_format(scale), "num_font": {"size": 8},
                      "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    # Columns H to N (7 x 82 pixels).
    chart.set_size({"width": 570, "height": _CHART_ROWS * 20 - 10})
    sheet.insert_chart(row, _DCOL["committed"], chart,
                       {"x_offset": 2, "y_offset": 2, "object_position": 3})


def _excel_serial(month: Any) -> float:
    """A month as Excel's date serial (days since 1899-12-30)."""
    return float((month - date(1899, 12, 30)).days)

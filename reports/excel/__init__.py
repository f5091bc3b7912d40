"""Finance's gap report as an Excel workbook that audits itself.

Every figure finance reads is either an input written as a number (targets, each
initiative's in-month phasing) or a live formula over cells it can see:

* **Initiatives**: one row per initiative and metric: attributes, the monthly phasing as
  numbers, and a row total ``=SUM(...)``.
* **Summary**: months as columns with fiscal-year subtotal columns and a horizon total.
  Bottom-up cells are ``SUMIFS`` over the Initiatives sheet; gap, cumulative and subtotal
  cells are formulas over the cells above or beside them; coverage shows nothing where
  the target is zero.
* **By unit / By lever / By stage**: each part's bottom-up (``SUMIFS`` over Initiatives)
  against its target, the unallocated row, totals, and a difference-to-Summary row that is
  zero when the breakdown ties.
* **Checks**, **Bridge** (when asked for) and **About** (what, as of when, written by which
  tledger).

Before a byte is written, :func:`write_gap_report` recomputes every bottom-up cell the way
``SUMIFS`` will (from the detail it is about to write) and refuses to write a report whose
formulas would not recalculate to the engine's numbers. Formulas carry the engine's value
as their cached result, so a viewer that does not recalculate still shows the right number.

The workbook is written with XlsxWriter in ``constant_memory`` mode: each sheet's rows are
written strictly in order and flushed, so memory stays flat however many initiatives there
are. Amounts reach Excel as the nearest double to the exact value (Excel's numbers are
binary floats; cents survive the round trip); text from the ledger goes through
``write_string`` only, so a name such as ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from ledger.errors import LedgerError
from ledger.money import to_minor
from ledger.months import fiscal_year, fiscal_year_label
from ledger.reconcile import weigh
from reports.safe import safe_text
from reports.sheetxml import inject_rows, inline_text
from reports.xlsxwriter_internals import style_index, write_formulas_verbatim

__all__ = [
    "BREAKDOWNS",
    "Breakdown",
    "DetailTable",
    "ReportInput",
    "ReportMismatch",
    "build_detail",
    "write_gap_report",
]

UNALLOCATED = "(unallocated)"

#: The breakdown sheets: engine ``by`` value, sheet name, detail column, heading.
BREAKDOWNS: list[tuple[str, str, str, str]] = [
    ("business_unit", "By unit", "business_unit", "Business unit"),
    ("lever", "By lever", "lever", "Lever"),
    ("stage", "By stage", "stage", "Stage gate"),
]

SCALES: dict[str, tuple[int, str]] = {
    # name: (power of ten shown, header suffix)
    "units": (0, ""),
    "thousands": (3, " 000"),
    "millions": (6, " m"),
}

# Detail sheet layout: rows 0-2 title, note, blank; header row 3; data from row 4.
_HEADER_ROW = 3
_FIRST_DATA_ROW = 4
_DETAIL_ATTRS: list[tuple[str, str, int]] = [
    # (frame column, header, width)
    ("external_id", "ID", 11),
    ("name", "Name", 34),
    ("owner", "Owner", 18),
    ("business_unit", "Business unit", 13),
    ("lever", "Lever", 10),
    ("stage", "Stage", 7),
    ("metric", "Metric", 10),
    ("unit", "Unit", 6),
]


class ReportMismatch(LedgerError):
    """The report's formulas would not recalculate to the engine's numbers: nothing is
    written (a bug to report, never a figure finance should see)."""


# --------------------------------------------------------------------------- inputs


@dataclass
class DetailTable:
    """The Initiatives sheet's content: one row per initiative and metric.

    ``attributes`` has the columns of ``_DETAIL_ATTRS`` (plus ``weight`` when the report is
    risk-weighted); ``amounts`` holds minor units (rows x months), ``present`` says which
    cells have a value (a blank cell means "no amount"); ``decimals`` is each row's
    metric precision.
    """

    attributes: pd.DataFrame
    months: list[date]
    amounts: np.ndarray
    present: np.ndarray
    decimals: np.ndarray

    def __len__(self) -> int:
        return len(self.attributes)


@dataclass
class Breakdown:
    """One breakdown sheet: the engine's report ``by`` a dimension, and the part names."""

    by: str
    sheet: str
    column: str
    heading: str
    report: Any
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class ReportInput:
    """Everything the writer needs, already loaded: the writer itself never reads the
    ledger, so it can be timed and tested on its own."""

    programme: Any  # ledger.api.ProgrammeInfo
    metric: Any  # ledger.api.MetricInfo (the reported metric)
    metrics: list[Any]  # every MetricInfo appearing in the detail
    scenario: str
    weighted: bool
    summary: Any  # ledger.engine.GapReport (by=None)
    breakdowns: list[Breakdown]
    detail: DetailTable
    checks: pd.DataFrame
    as_of: datetime | None
    as_of_submission: int | None
    last_submission_id: int | None
    version: str
    written_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    bridge: Any | None = None
    bridge_from: datetime | None = None
    scale: str = "auto"


def build_detail(
    initiatives: pd.DataFrame,
    phasing: pd.DataFrame,
    metrics: Sequence[Any],
    months: Sequence[date],
    *,
    weighted: bool = False,
    report_metric_id: int | None = None,
) -> DetailTable:
    """Build the Initiatives sheet's table from ledger frames, vectorised.

    Args:
        initiatives: ``ledger.initiatives.current_initiatives`` (withdrawn ones are left out:
            they do not count towards the bottom-up).
        phasing: ``ledger.store.current_phasing`` for one scenario (any metrics).
        metrics: the MetricInfo of every metric in ``phasing``.
        months: the programme's months; phasing outside them is left out.
        weighted: risk-weight each fact by its stage gate's weight, rounded half away from
            zero to the minor unit (as the engine does), so the sheet sums to the weighted
            bottom-up exactly.
        report_metric_id: an initiative without any phasing still gets a row for this metric.

    Returns:
        One row per (initiative, metric) that has phasing, sorted by external id then metric.
    """
    active = initiatives
    if "status" in active.columns:
        active = active[active["status"].fillna("active") == "active"]
    active = active.sort_values("external_id", kind="stable").reset_index(drop=True)
    by_id = {m.id: m for m in metrics}
    month_index = {m.isoformat(): i for i, m in enumerate(months)}

    ph = phasing[["initiative_id", "metric_id", "month", "amount_minor"]]
    ph = ph[ph["initiative_id"].isin(active["initiative_id"]).to_numpy()]
    month = ph["month"]
    col: np.ndarray
    if isinstance(month.dtype, pd.CategoricalDtype):
        # A position per category, then one vectorised lookup (no string per fact).
        pos = np.array([month_index.get(str(c)[:10], -1) for c in month.cat.categories] + [-1],
                       dtype=np.int64)
        col = pos[month.cat.codes.to_numpy()]
    else:
        col = month.astype(str).str.slice(0, 10).map(month_index).fillna(-1) \
            .to_numpy(dtype=np.int64)
    inside = col >= 0  # phasing outside the horizon is not in the report (a check says so)
    ph = ph[inside].assign(col=col[inside])

    pairs = ph[["initiative_id", "metric_id"]].drop_duplicates()
    if report_metric_id is not None:
        missing = active.loc[~active["initiative_id"].isin(pairs["initiative_id"]),
                             ["initiative_id"]].assign(metric_id=report_metric_id)
        pairs = pd.concat([pairs, missing], ignore_index=True)
    order = {m.id: i for i, m in enumerate(metrics)}
    rows = pairs.merge(active, on="initiative_id", how="inner")
    rows = rows.assign(_m=rows["metric_id"].map(order))
    rows = rows.sort_values(["external_id", "_m"], kind="stable").reset_index(drop=True)

    n, k = len(rows), len(months)
    amounts = np.zeros((n, k), dtype=np.int64)
    present = np.zeros((n, k), dtype=bool)
    if n and len(ph):
        row_of = pd.Series(np.arange(n), index=pd.MultiIndex.from_frame(
            rows[["initiative_id", "metric_id"]]))
        r = row_of.reindex(pd.MultiIndex.from_frame(ph[["initiative_id", "metric_id"]])
                           ).to_numpy(dtype=np.int64)
        c = ph["col"].to_numpy(dtype=np.int64)
        values = ph["amount_minor"].to_numpy(dtype=np.int64)
        if weighted:
            # An initiative whose stage gate has no weight counts at 0, as in the engine.
            w = rows["weight_bp"].fillna(0).to_numpy(dtype=np.int64)[r]
            values = weigh(values, w)
        np.add.at(amounts, (r, c), values)
        present[r, c] = True

    attrs = pd.DataFrame({
        "external_id": rows["external_id"].astype(object),
        "name": rows["name"].astype(object),
        "owner": rows["owner"].astype(object),
        "business_unit": rows["business_unit"].astype(object),
        "lever": rows["lever"].astype(object),
        "stage": rows["stage"].astype(object),
        "metric": rows["metric_id"].map(lambda i: by_id[i].code).astype(object),
        "unit": rows["metric_id"].map(lambda i: by_id[i].unit).astype(object),
    })
    if weighted:
        weights: list[Decimal | None] = [None if pd.isna(w) else Decimal(int(w)).scaleb(-4)
                                         for w in rows["weight_bp"]]
        attrs["weight"] = pd.Series(weights, index=attrs.index, dtype=object)
    decimals = rows["metric_id"].map(lambda i: by_id[i].decimals).to_numpy(dtype=np.int64) \
        if n else np.zeros(0, dtype=np.int64)
    return DetailTable(attrs, list(months), amounts, present, decimals)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Col:
    kind: str  # "month" | "fy" | "horizon"
    index: int
    label: str
    month: date | None = None
    period: str | None = None  # "FY27" or "Horizon" for subtotal columns
    members: tuple[int, ...] = ()


def _layout(months: Sequence[date], fy_start: int, first_col: int) -> list[_Col]:
    """Months in order, each fiscal year followed by its subtotal column, then the horizon."""
    cols: list[_Col] = []
    index = first_col
    fy_cols: list[int] = []
    group: list[int] = []
    for i, m in enumerate(months):
        cols.append(_Col("month", index, m.strftime("%b-%y"), month=m))
        group.append(index)
        index += 1
        last_of_fy = i == len(months) - 1 or fiscal_year(months[i + 1], fy_start) != \
            fiscal_year(m, fy_start)
        if last_of_fy:
            label = fiscal_year_label(fiscal_year(m, fy_start))
            cols.append(_Col("fy", index, label, period=label, members=tuple(group)))
            fy_cols.append(index)
            index += 1
            group = []
    cols.append(_Col("horizon", index, "Horizon", period="Horizon", members=tuple(fy_cols)))
    return cols


def _cell(row: int, col: int, absolute: bool = False) -> str:
    return xl_rowcol_to_cell(row, col, row_abs=absolute, col_abs=absolute)


def _criterion(code: str | None) -> str:
    """A SUMIFS criterion matching exactly ``code`` (or an empty cell for None), as a
    formula string literal: ``"=PRO"``. Wildcards in the code are escaped with ``~``."""
    if code is None:
        return '"="'
    escaped = code.replace("~", "~~").replace("*", "~*").replace("?", "~?")
    return '"=' + escaped.replace('"', '""') + '"'


def _as_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, float):
        return None if np.isnan(value) else Decimal(repr(value))
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return Decimal(str(value))


def _num(value: Any) -> float:
    """The number Excel stores for an exact amount: the nearest double."""
    dec = _as_decimal(value)
    return 0.0 if dec is None else float(dec)


def _month_key(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date().replace(day=1)
    if isinstance(value, date):
        return value.replace(day=1)
    return date.fromisoformat(str(value)[:10])


class _Figures:
    """The engine's numbers for one report, looked up by part and month or period."""

    def __init__(self, report: Any) -> None:
        monthly = report.monthly
        self.parts: list[str] = list(dict.fromkeys(monthly["part"].tolist()))
        self.monthly: dict[tuple[str, date], dict[str, Any]] = {}
        for rec in monthly.to_dict("records"):
            self.monthly[(rec["part"], _month_key(rec["month"]))] = rec
        self.fiscal: dict[tuple[str, str], dict[str, Any]] = {}
        for rec in report.fiscal.to_dict("records"):
            self.fiscal[(rec["part"], str(rec["period"]))] = rec

    def get(self, part: str, col: _Col, field_name: str) -> Any:
        if col.kind == "month":
            assert col.month is not None
            rec = self.monthly.get((part, col.month))
        else:
            assert col.period is not None
            rec = self.fiscal.get((part, col.period))
        if rec is None:
            return None
        return rec.get(field_name)

    def cumulative(self, part: str, cols: Sequence[_Col], col: _Col, field_name: str) -> Any:
        """Cumulative figures for a subtotal column: the value at its last month."""
        if col.kind == "month":
            return self.get(part, col, field_name)
        last = _last_month_col(cols, col)
        return self.get(part, last, field_name)


def _last_month_col(cols: Sequence[_Col], col: _Col) -> _Col:
    months = [c for c in cols if c.kind == "month" and c.index < col.index]
    return months[-1]


def _coverage_value(bu: Any, target: Any) -> float | str:
    t, b = _as_decimal(target), _as_decimal(bu)
    if t is None or t == 0:
        return ""
    return float((b or Decimal(0)) / t)


# --------------------------------------------------------------------------- self-audit


def _verify(data: ReportInput) -> None:
    """Recompute every bottom-up cell the way SUMIFS will and compare with the engine.

    SUMIFS matches text case-insensitively and an empty criterion matches empty cells, so
    the detail is grouped the same way here.

    Raises:
        ReportMismatch: a cell would not recalculate to the engine's figure.
    """
    detail = data.detail
    dec = data.metric.decimals
    rows = (detail.attributes["metric"].astype(str).str.casefold()
            == data.metric.code.casefold()).to_numpy()
    months = detail.months
    problems: list[str] = []

    def compare(label: str, part: str, mask: np.ndarray, figures: _Figures) -> None:
        sums = detail.amounts[mask].sum(axis=0) if mask.any() else np.zeros(len(months),
                                                                              dtype=np.int64)
        for i, m in enumerate(months):
            rec = figures.monthly.get((part, m))
            engine = 0 if rec is None else to_minor(_as_decimal(rec["bottom_up"]) or
                                                    Decimal(0), dec)
            if int(sums[i]) != engine and len(problems) < 5:
                problems.append(f"{label} {part} {m:%Y-%m}: detail sums to "
                                f"{int(sums[i])} minor units, engine says {engine}")

    summary = _Figures(data.summary)
    for part in summary.parts:
        compare("Summary", part, rows, summary)
    for bd in data.breakdowns:
        figures = _Figures(bd.report)
        column = detail.attributes[bd.column]
        keys = column.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                          else str(v).casefold())
        for part in figures.parts:
            want = None if part == UNALLOCATED else part.casefold()
            mask = rows & (keys.isna().to_numpy() if want is None
                           else (keys == want).to_numpy())
            compare(bd.sheet, part, mask, figures)
    if problems:
        raise ReportMismatch("the report would not tie to the engine, nothing written: "
                             + "; ".join(problems))


# --------------------------------------------------------------------------- writer


class _Formats:
    """The workbook's formats: finance number formats in the chosen scale."""

    def __init__(self, wb: Workbook, decimals: int, power: int) -> None:
        def add(**props: Any) -> Any:
            base = {"font_name": "Calibri", "font_size": 10}
            base.update(props)
            return wb.add_format(base)

        self.amount_fmt = _number_format(decimals, power)
        self.title = add(bold=True, font_size=14, font_color="#1F3864")
        self.note = add(italic=True, font_color="#595959")
        self.header = add(bold=True, bg_color="#1F3864", font_color="#FFFFFF", border=1,
                          text_wrap=True, valign="vcenter", align="center")
        self.header_left = add(bold=True, bg_color="#1F3864", font_color="#FFFFFF", border=1,
                               valign="vcenter")
        self.header_date = add(bold=True, bg_color="#1F3864", font_color="#FFFFFF", border=1,
                               num_format="mmm-yy", align="center")
        self.header_sub = add(bold=True, bg_color="#2F5597", font_color="#FFFFFF", border=1,
                              align="center")
        self.label = add()
        self.label_bold = add(bold=True)
        self.text = add()
        self.amount = add(num_format=self.amount_fmt)
        self.amount_sub = add(num_format=self.amount_fmt, bold=True, bg_color="#D9E1F2")
        self.amount_bold = add(num_format=self.amount_fmt, bold=True, top=1)
        self.pct = add(num_format="0.0%", italic=True)
        self.pct_sub = add(num_format="0.0%", italic=True, bold=True, bg_color="#D9E1F2")
        self.weight = add(num_format="0%")
        self.shortfall = wb.add_format({"bg_color": "#F8CBAD", "font_color": "#9C0006"})
        self.mismatch = wb.add_format({"bg_color": "#FF0000", "font_color": "#FFFFFF",
                                       "bold": True})
        self.ok = wb.add_format({"font_color": "#375623"})
        self.datetime = add(num_format="yyyy-mm-dd hh:mm:ss", align="left")
        self.month = add(num_format="mmm-yy", align="left")
        self._detail: dict[int, Any] = {}
        self._add = add

    def detail(self, decimals: int) -> Any:
        """Detail amounts: exact, in the row's own unit (every decimal shown)."""
        if decimals not in self._detail:
            self._detail[decimals] = self._add(num_format=_number_format(decimals, 0))
        return self._detail[decimals]


def _number_format(decimals: int, power: int) -> str:
    """Thousands separators, negatives in red parentheses, a dash for zero; ``power`` 3
    or 6 shows thousands or millions while the cell keeps the exact amount."""
    shown = max(0, decimals - power) if power == 0 else (1 if power == 6 else 0)
    body = "#,##0" + ("." + "0" * shown if shown else "") + "," * (power // 3)
    return f'{body}_);[Red]({body});"–"_)'


def _pick_scale(data: ReportInput) -> str:
    if data.scale != "auto":
        if data.scale not in SCALES:
            raise LedgerError(f"scale {data.scale!r}: expected auto, units, thousands or "
                              "millions")
        return data.scale
    currency = str(getattr(data.programme, "currency", ""))
    if data.metric.unit != currency:
        return "units"  # tonnes, FTE...: shown as they are
    biggest = Decimal(0)
    for rec in data.summary.fiscal.to_dict("records"):
        for key in ("target", "bottom_up"):
            v = _as_decimal(rec.get(key))
            if v is not None:
                biggest = max(biggest, abs(v))
    return "thousands" if biggest >= 1_000_000 else "units"


def _unit_label(data: ReportInput, scale: str) -> str:
    return f"{data.metric.unit}{SCALES[scale][1]}".strip()


def write_gap_report(
    data: ReportInput,
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the gap report to ``path`` (xlsx) and return it.

    The file appears whole or not at all: it is written to a temporary file beside
    ``path`` and renamed into place.

    Args:
        data: the loaded inputs (see :func:`reports.gap_report.load_report`).
        path: where to write.
        progress: called with the number of Initiatives rows written so far (every 500).

    Raises:
        ReportMismatch: the formulas would not recalculate to the engine's figures.
    """
    _verify(data)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tledger-report-", suffix=".xlsx",
                                    dir=target.parent)
    os.close(fd)
    try:
        frame_name = tmp_name + ".frame"
        try:
            plan = _write(data, frame_name)
            _inject_detail_rows(frame_name, tmp_name, data, plan, progress)
        finally:
            Path(frame_name).unlink(missing_ok=True)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def _write(data: ReportInput, filename: str) -> _DetailPlan:
    scale = _pick_scale(data)
    wb = xlsxwriter.Workbook(filename, {
        "constant_memory": True,
        # Defence in depth: write_string is used for all text, but never let any string
        # turn into a formula, number or link.
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "default_date_format": "yyyy-mm-dd",
    })
    fmt = _Formats(wb, data.metric.decimals, SCALES[scale][0])
    wb.set_properties({
        "title": f"{data.programme.name}: gap report",
        "subject": f"{data.metric.code} {data.scenario}",
        "author": "tledger",
        "comments": f"Written by tledger {data.version}",
    })
    detail_ref = _DetailRefs(data.detail)
    summary_ws = wb.add_worksheet("Summary")
    breakdown_ws = [wb.add_worksheet(bd.sheet) for bd in data.breakdowns]
    detail_ws = wb.add_worksheet("Initiatives")
    checks_ws = wb.add_worksheet("Checks")
    bridge_ws = wb.add_worksheet("Bridge") if data.bridge is not None else None
    about_ws = wb.add_worksheet("About")
    for ws in wb.worksheets():
        # Its formulas use SUM, SUMIF(S), IF, MIN, MAX, ROUND and AND only: no prefixes.
        write_formulas_verbatim(ws)

    summary_rows = _write_summary(wb, summary_ws, data, fmt, scale, detail_ref)
    for ws, bd in zip(breakdown_ws, data.breakdowns, strict=True):
        _write_breakdown(ws, data, bd, fmt, scale, detail_ref, summary_rows)
    plan = _write_detail(detail_ws, data, fmt)
    _write_checks(checks_ws, data, fmt)
    if bridge_ws is not None:
        _write_bridge(wb, bridge_ws, data, fmt, scale)
    _write_about(about_ws, data, fmt, scale)
    summary_ws.activate()
    wb.close()
    return plan


@dataclass
class _DetailRefs:
    """Ranges of the Initiatives sheet that the SUMIFS formulas read."""

    first_row: int
    last_row: int
    first_month_col: int
    attr_col: dict[str, int]

    def __init__(self, detail: DetailTable) -> None:
        self.first_row = _FIRST_DATA_ROW
        self.last_row = _FIRST_DATA_ROW + max(len(detail), 1) - 1
        self.attr_col = {name: i for i, (name, _h, _w) in enumerate(_DETAIL_ATTRS)}
        self.first_month_col = len(_DETAIL_ATTRS) + (1 if "weight" in detail.attributes
                                                     else 0)

    def column(self, col: int) -> str:
        name = xl_col_to_name(col)
        return f"Initiatives!${name}${self.first_row + 1}:${name}${self.last_row + 1}"

    def month(self, i: int) -> str:
        return self.column(self.first_month_col + i)

    def attr(self, name: str) -> str:
        return self.column(self.attr_col[name])

    def sumifs(self, month_i: int, metric: str, part_column: str | None = None,
               part: str | None = None, unallocated: bool = False) -> str:
        formula = f"SUMIFS({self.month(month_i)},{self.attr('metric')},{_criterion(metric)}"
        if part_column is not None:
            formula += f",{self.attr(part_column)},{_criterion(None if unallocated else part)}"
        return "=" + formula + ")"


def _column_headers(ws: Worksheet, fmt: _Formats, cols: Sequence[_Col]) -> None:
    """The header row's month dates and subtotal labels (Summary and breakdown sheets)."""
    for c in cols:
        if c.kind == "month":
            assert c.month is not None
            ws.write_datetime(_HEADER_ROW, c.index, datetime(c.month.year, c.month.month, 1),
                              fmt.header_date)
        else:
            ws.write_string(_HEADER_ROW, c.index, c.label, fmt.header_sub)


def _title(ws: Worksheet, fmt: _Formats, title: str, note: str) -> None:
    ws.write_string(0, 0, title, fmt.title)
    ws.write_string(1, 0, note, fmt.note)


def _note(data: ReportInput, unit_label: str) -> str:
    as_of = (f"as of {data.as_of:%Y-%m-%d %H:%M} UTC" if data.as_of is not None
             else "current")
    weighted = ", risk-weighted" if data.weighted else ""
    return (f"{data.metric.code} ({data.metric.name}), {data.scenario} scenario{weighted}; "
            f"amounts in {unit_label}; {as_of} (submission {data.as_of_submission}).")


def _fit(values: pd.Series, header: str, minimum: int, maximum: int = 60) -> int:
    """A column width that fits the longest value (within bounds), like Excel's autofit."""
    if values.empty:
        return max(minimum, len(header) + 2)
    longest = int(values.map(lambda v: len(str(v)) if v is not None else 0).max())
    return max(min(minimum, len(header) + 2), min(maximum, max(longest, len(header)) + 2))


def _print_setup(ws: Worksheet, header_row: int, label_cols: int, paper: int = 9) -> None:
    """Landscape, one page wide, header rows (and label columns) on every page; ``paper``
    9 is A4, 8 is A3 (for the wide month-by-month sheets)."""
    ws.set_landscape()
    ws.set_paper(paper)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0, header_row)
    if label_cols:
        ws.repeat_columns(0, label_cols - 1)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&L&A&C&D &T&RPage &P of &N")


def _shortfall_criteria(data: ReportInput) -> tuple[str, str]:
    """Gap is target minus bottom-up: for a benefit a positive gap is a shortfall; for a
    cost, a negative gap (bottom-up above target) is the overrun to flag."""
    return (">", "0") if data.metric.kind != "cost" else ("<", "0")


_SUMMARY_LINES = ["Target", "Bottom-up", "Gap", "Cumulative target", "Cumulative bottom-up",
                  "Cumulative gap", "Coverage"]


def _write_summary(wb: Workbook, ws: Worksheet, data: ReportInput, fmt: _Formats, scale: str,
                   refs: _DetailRefs) -> dict[str, int]:
    unit_label = _unit_label(data, scale)
    months = data.detail.months
    cols = _layout(months, data.programme.fy_start_month, 1)
    figures = _Figures(data.summary)
    part = figures.parts[0] if figures.parts else "Programme"
    _title(ws, fmt, f"{safe_text(data.programme.name)}: gap to target ({unit_label})",
           _note(data, unit_label))
    ws.write_string(_HEADER_ROW, 0, unit_label, fmt.header_left)
    _column_headers(ws, fmt, cols)
    r = {name: _HEADER_ROW + 1 + i for i, name in enumerate(_SUMMARY_LINES)}
    month_cols = [c for c in cols if c.kind == "month"]
    month_pos = {c.index: i for i, c in enumerate(month_cols)}

    def amt(c: _Col) -> Any:
        return fmt.amount if c.kind == "month" else fmt.amount_sub

    for line in _SUMMARY_LINES:
        row = r[line]
        ws.write_string(row, 0, line, fmt.label_bold if "gap" in line.lower() else fmt.label)
        for c in cols:
            f = amt(c)
            if line == "Target":
                if c.kind == "month":
                    ws.write_number(row, c.index, _num(figures.get(part, c, "target")), f)
                else:
                    ws.write_formula(row, c.index, _sum_cells(row, c.members), f,
                                     _num(figures.get(part, c, "target")))
            elif line == "Bottom-up":
                value = _num(figures.get(part, c, "bottom_up"))
                if c.kind == "month":
                    formula = refs.sumifs(month_pos[c.index], data.metric.code)
                else:
                    formula = _sum_cells(row, c.members)
                ws.write_formula(row, c.index, formula, f, value)
            elif line == "Gap":
                ws.write_formula(row, c.index,
                                 f"={_cell(r['Target'], c.index)}-{_cell(r['Bottom-up'], c.index)}",
                                 f, _num(figures.get(part, c, "gap")))
            elif line in ("Cumulative target", "Cumulative bottom-up"):
                src = r["Target"] if line == "Cumulative target" else r["Bottom-up"]
                key = "cumulative_target" if line == "Cumulative target" else \
                    "cumulative_bottom_up"
                value = _num(figures.cumulative(part, cols, c, key))
                if c.kind == "month":
                    i = month_pos[c.index]
                    formula = f"={_cell(src, c.index)}" if i == 0 else \
                        f"={_cell(row, month_cols[i - 1].index)}+{_cell(src, c.index)}"
                else:
                    formula = f"={_cell(row, _last_month_col(cols, c).index)}"
                ws.write_formula(row, c.index, formula, f, value)
            elif line == "Cumulative gap":
                ws.write_formula(
                    row, c.index,
                    f"={_cell(r['Cumulative target'], c.index)}-"
                    f"{_cell(r['Cumulative bottom-up'], c.index)}",
                    f, _num(figures.cumulative(part, cols, c, "cumulative_gap")))
            else:  # Coverage
                t, b = _cell(r["Target"], c.index), _cell(r["Bottom-up"], c.index)
                ws.write_formula(row, c.index, f'=IF({t}=0,"",{b}/{t})',
                                 fmt.pct if c.kind == "month" else fmt.pct_sub,
                                 _coverage_value(figures.get(part, c, "bottom_up"),
                                                 figures.get(part, c, "target")))
    last_col = cols[-1].index
    op, limit = _shortfall_criteria(data)
    for line in ("Gap", "Cumulative gap"):
        ws.conditional_format(r[line], 1, r[line], last_col,
                              {"type": "cell", "criteria": op, "value": limit,
                               "format": fmt.shortfall})

    # Chart data: months contiguous (the table above interleaves fiscal-year columns).
    chart_row = r["Coverage"] + 3
    ws.write_string(chart_row, 0, "Chart data (links to the table above)", fmt.note)
    series_rows = {"Month": chart_row + 1, "Target": chart_row + 2, "Bottom-up": chart_row + 3,
                   "Cumulative gap": chart_row + 4}
    ws.write_string(series_rows["Month"], 0, "Month", fmt.label)
    for i, c in enumerate(month_cols):
        assert c.month is not None
        ws.write_datetime(series_rows["Month"], 1 + i, datetime(c.month.year, c.month.month, 1),
                          fmt.month)
    for name, src_row, key in (("Target", r["Target"], "target"),
                               ("Bottom-up", r["Bottom-up"], "bottom_up"),
                               ("Cumulative gap", r["Cumulative gap"], "cumulative_gap")):
        ws.write_string(series_rows[name], 0, name, fmt.label)
        for i, c in enumerate(month_cols):
            ws.write_formula(series_rows[name], 1 + i, f"={_cell(src_row, c.index)}",
                             fmt.amount, _num(figures.get(part, c, key)))
    if month_cols:
        _chart(wb, ws, series_rows, len(month_cols), unit_label,
               anchor=(series_rows["Cumulative gap"] + 2, 0),
               title=f"Target vs bottom-up by month ({unit_label})")

    ws.set_column(0, 0, 24)
    for c in cols:
        ws.set_column(c.index, c.index, 12 if c.kind == "month" else 14)
    ws.freeze_panes(_HEADER_ROW + 1, 1)
    _print_setup(ws, _HEADER_ROW, 1, paper=8)
    ws.print_area(0, 0, r["Coverage"], last_col)
    return r


def _chart(wb: Workbook, ws: Worksheet, rows: dict[str, int], n: int, unit_label: str,
           anchor: tuple[int, int], title: str) -> None:
    def ref(row: int) -> list[Any]:
        return [ws.name, row, 1, row, n]

    columns = wb.add_chart({"type": "column"})
    for name, colour in (("Target", "#1F3864"), ("Bottom-up", "#8FAADC")):
        columns.add_series({
            "name": [ws.name, rows[name], 0],
            "categories": ref(rows["Month"]),
            "values": ref(rows[name]),
            "fill": {"color": colour},
            "gap": 60,
        })
    line = wb.add_chart({"type": "line"})
    line.add_series({
        "name": [ws.name, rows["Cumulative gap"], 0],
        "categories": ref(rows["Month"]),
        "values": ref(rows["Cumulative gap"]),
        "line": {"color": "#C00000", "width": 2.25},
        "y2_axis": True,
    })
    columns.combine(line)
    columns.set_title({"name": title, "name_font": {"size": 12}})
    columns.set_x_axis({"num_format": "mmm-yy", "num_font": {"rotation": -45}})
    columns.set_y_axis({"name": f"In month ({unit_label})", "num_format": "#,##0,"
                        if "000" in unit_label else "#,##0",
                        "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    line.set_y2_axis({"name": f"Cumulative gap ({unit_label})"})
    columns.set_legend({"position": "bottom"})
    columns.set_size({"width": 960, "height": 360})
    ws.insert_chart(anchor[0], anchor[1], columns, {"x_offset": 5, "y_offset": 5})


def _sum_cells(row: int, cols: Iterable[int]) -> str:
    """``=SUM(B5:M5)`` for a contiguous run of columns, else ``=SUM(B5,O5,...)``."""
    cs = list(cols)
    if not cs:
        return "=0"
    if cs == list(range(cs[0], cs[-1] + 1)):
        return f"=SUM({_cell(row, cs[0])}:{_cell(row, cs[-1])})"
    return "=SUM(" + ",".join(_cell(row, c) for c in cs) + ")"


_PART_LINES = ["Target", "Bottom-up", "Gap", "Coverage"]


def _write_breakdown(ws: Worksheet, data: ReportInput, bd: Breakdown, fmt: _Formats,
                     scale: str, refs: _DetailRefs, summary_rows: dict[str, int]) -> None:
    unit_label = _unit_label(data, scale)
    months = data.detail.months
    label_cols = 3
    cols = _layout(months, data.programme.fy_start_month, label_cols)
    summary_cols = _layout(months, data.programme.fy_start_month, 1)
    figures = _Figures(bd.report)
    _title(ws, fmt, f"{safe_text(data.programme.name)}: gap by {bd.heading.lower()} ({unit_label})",
           _note(data, unit_label) + " Totals tie to the Summary: the difference rows are 0.")
    for i, h in enumerate([bd.heading, "Name", unit_label]):
        ws.write_string(_HEADER_ROW, i, h, fmt.header_left)
    _column_headers(ws, fmt, cols)
    month_cols = [c for c in cols if c.kind == "month"]
    month_pos = {c.index: i for i, c in enumerate(month_cols)}
    row = _HEADER_ROW + 1
    first_part_row = row
    for part in figures.parts:
        unallocated = part == UNALLOCATED
        name = "no " + bd.heading.lower() if unallocated else bd.names.get(part, "")
        rows = {line: row + i for i, line in enumerate(_PART_LINES)}
        for line in _PART_LINES:
            ws.write_string(rows[line], 0, safe_text(part), fmt.label_bold)
            ws.write_string(rows[line], 1, safe_text(name), fmt.text)
            ws.write_string(rows[line], 2, line, fmt.label)
            for c in cols:
                f = fmt.amount if c.kind == "month" else fmt.amount_sub
                if line == "Target":
                    if c.kind == "month":
                        ws.write_number(rows[line], c.index,
                                        _num(figures.get(part, c, "target")), f)
                    else:
                        ws.write_formula(rows[line], c.index, _sum_cells(rows[line], c.members),
                                         f, _num(figures.get(part, c, "target")))
                elif line == "Bottom-up":
                    if c.kind == "month":
                        formula = refs.sumifs(month_pos[c.index], data.metric.code, bd.column,
                                              part, unallocated)
                    else:
                        formula = _sum_cells(rows[line], c.members)
                    ws.write_formula(rows[line], c.index, formula, f,
                                     _num(figures.get(part, c, "bottom_up")))
                elif line == "Gap":
                    ws.write_formula(rows[line], c.index,
                                     f"={_cell(rows['Target'], c.index)}-"
                                     f"{_cell(rows['Bottom-up'], c.index)}",
                                     f, _num(figures.get(part, c, "gap")))
                else:
                    t, b = _cell(rows["Target"], c.index), _cell(rows["Bottom-up"], c.index)
                    ws.write_formula(rows[line], c.index, f'=IF({t}=0,"",{b}/{t})',
                                     fmt.pct if c.kind == "month" else fmt.pct_sub,
                                     _coverage_value(figures.get(part, c, "bottom_up"),
                                                     figures.get(part, c, "target")))
        row += len(_PART_LINES)
    last_part_row = row - 1
    row += 1  # a blank row before the totals

    totals = {"Target": row, "Bottom-up": row + 1, "Gap": row + 2}
    summary_ref = {"Target": row + 4, "Bottom-up": row + 5}
    diff = {"Target": row + 7, "Bottom-up": row + 8}
    labels_col = xl_col_to_name(2)
    label_range = f"${labels_col}${first_part_row + 1}:${labels_col}${last_part_row + 1}"
    summary_fig = _Figures(data.summary)
    s_part = summary_fig.parts[0] if summary_fig.parts else "Programme"

    def total_value(line: str, c: _Col) -> float:
        key = {"Target": "target", "Bottom-up": "bottom_up", "Gap": "gap"}[line]
        vals = [_as_decimal(figures.get(p, c, key)) for p in figures.parts]
        return float(sum((v for v in vals if v is not None), Decimal(0)))

    for line in ("Target", "Bottom-up", "Gap"):
        ws.write_string(totals[line], 0, "Total", fmt.label_bold)
        ws.write_string(totals[line], 2, line, fmt.label_bold)
        for c in cols:
            col_name = xl_col_to_name(c.index)
            if line == "Gap":
                formula = f"={_cell(totals['Target'], c.index)}-" \
                          f"{_cell(totals['Bottom-up'], c.index)}"
            elif figures.parts:
                formula = (f'=SUMIF({label_range},"{line}",'
                           f"{col_name}{first_part_row + 1}:{col_name}{last_part_row + 1})")
            else:
                formula = "=0"
            ws.write_formula(totals[line], c.index, formula, fmt.amount_bold,
                             total_value(line, c))
    for line in ("Target", "Bottom-up"):
        ws.write_string(summary_ref[line], 0, "Summary", fmt.label)
        ws.write_string(summary_ref[line], 2, line, fmt.label)
        key = "target" if line == "Target" else "bottom_up"
        for c, sc in zip(cols, summary_cols, strict=True):
            ws.write_formula(summary_ref[line], c.index,
                             f"=Summary!{_cell(summary_rows[line], sc.index)}",
                             fmt.amount, _num(summary_fig.get(s_part, sc, key)))
    for line in ("Target", "Bottom-up"):
        ws.write_string(diff[line], 0, "Difference", fmt.label_bold)
        ws.write_string(diff[line], 1, "total minus Summary: 0 when it ties", fmt.note)
        ws.write_string(diff[line], 2, line, fmt.label)
        for c in cols:
            key = "target" if line == "Target" else "bottom_up"
            expected = total_value(line, c) - _num(summary_fig.get(s_part, _summary_col(c, cols,
                                                                                   summary_cols),
                                                                    key))
            ws.write_formula(diff[line], c.index,
                             f"={_cell(totals[line], c.index)}-{_cell(summary_ref[line], c.index)}",
                             fmt.amount, expected)
    last_col = cols[-1].index
    op, value = _shortfall_criteria(data)
    first_data_col = xl_col_to_name(cols[0].index)
    ws.conditional_format(first_part_row, cols[0].index, last_part_row, last_col, {
        "type": "formula",
        "criteria": f'=AND(${labels_col}{first_part_row + 1}="Gap",'
                    f"{first_data_col}{first_part_row + 1}{op}{value})",
        "format": fmt.shortfall,
    })
    ws.conditional_format(totals["Gap"], cols[0].index, totals["Gap"], last_col,
                          {"type": "cell", "criteria": op, "value": value,
                           "format": fmt.shortfall})
    # A breakdown that does not tie shows red; the bottom-up always ties, a target
    # difference is the cascade gap (the parts' targets do not add up to the programme's).
    ws.conditional_format(diff["Target"], cols[0].index, diff["Bottom-up"], last_col, {
        "type": "formula",
        "criteria": f"=ROUND({first_data_col}{diff['Target'] + 1},6)<>0",
        "format": fmt.mismatch,
    })
    ws.set_column(0, 0, 15)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 2, 11)
    for c in cols:
        ws.set_column(c.index, c.index, 12 if c.kind == "month" else 14)
    ws.freeze_panes(_HEADER_ROW + 1, label_cols)
    _print_setup(ws, _HEADER_ROW, label_cols, paper=8)


def _summary_col(c: _Col, cols: Sequence[_Col], summary_cols: Sequence[_Col]) -> _Col:
    """The Summary column matching breakdown column ``c`` (same position in the layout)."""
    return summary_cols[cols.index(c)]


def _write_detail(ws: Worksheet, data: ReportInput, fmt: _Formats) -> _DetailPlan:
    """The Initiatives sheet's frame: titles, header, widths, filter, panes, print set-up."""
    detail = data.detail
    attrs = list(_DETAIL_ATTRS)
    weighted = "weight" in detail.attributes.columns
    if weighted:
        attrs.append(("weight", "Weight", 8))
    first_month_col = len(attrs)
    n_months = len(detail.months)
    total_col = first_month_col + n_months
    units = sorted({m.unit for m in data.metrics})
    _title(ws, fmt,
           f"{safe_text(data.programme.name)}: initiatives and their {data.scenario} phasing",
           f"One row per initiative and metric; in-month amounts, exact, in the row's unit "
           f"({', '.join(units)})" + ("; risk-weighted by stage gate (weight per fact, rounded "
                                     "half away from zero)" if weighted else "") +
           f"; {_note(data, data.metric.unit)}")
    for i, (name, header, width) in enumerate(attrs):
        ws.write_string(_HEADER_ROW, i, header, fmt.header_left)
        ws.set_column(i, i, _fit(detail.attributes[name], header, width))
    for j, m in enumerate(detail.months):
        ws.write_datetime(_HEADER_ROW, first_month_col + j, datetime(m.year, m.month, 1),
                          fmt.header_date)
    ws.write_string(_HEADER_ROW, total_col, "Total", fmt.header)
    ws.set_column(first_month_col, first_month_col + n_months - 1, 11)
    ws.set_column(total_col, total_col, 14)

    # The data rows are streamed into the sheet's XML after XlsxWriter has finished (see
    # _inject_detail_rows): here only the style indices they will use are fixed.
    plan = _DetailPlan(
        sheet_number=ws.index + 1,
        attrs=[name for name, _h, _w in attrs],
        first_month_col=first_month_col,
        total_col=total_col,
        text_style=style_index(fmt.text),
        weight_style=style_index(fmt.weight),
        amount_styles={int(d): style_index(fmt.detail(int(d)))
                       for d in sorted(set(detail.decimals.tolist()))},
    )
    last_row = _FIRST_DATA_ROW + max(len(detail), 1) - 1
    ws.autofilter(_HEADER_ROW, 0, last_row, total_col)
    ws.freeze_panes(_HEADER_ROW + 1, 1)
    _print_setup(ws, _HEADER_ROW, 1)
    return plan


@dataclass
class _DetailPlan:
    """Where and how the Initiatives rows go into the finished workbook."""

    sheet_number: int
    attrs: list[str]
    first_month_col: int
    total_col: int
    text_style: int
    weight_style: int
    amount_styles: dict[int, int]


def _detail_rows(detail: DetailTable, plan: _DetailPlan,
                 progress: Callable[[int], None] | None, chunk: int = 500
                 ) -> Iterable[str]:
    """The Initiatives sheet's data rows as SpreadsheetML, a chunk of rows at a time.

    Text cells are inline strings (``t="inlineStr"``): a string type, so a name such as
    ``=HYPERLINK(...)`` is text, never a formula. Numbers are the shortest text that reads
    back as the same double (``repr``), the exact amount's nearest double.
    """
    n = len(detail)
    if n == 0:
        return
    letters = [xl_col_to_name(c) for c in range(plan.total_col + 1)]
    month_letters = letters[plan.first_month_col:plan.total_col]
    first_l, last_l, total_l = month_letters[0], month_letters[-1], letters[plan.total_col]
    divisor = np.power(10.0, detail.decimals.astype(np.float64))
    totals = (np.where(detail.present, detail.amounts, 0).sum(axis=1) / divisor).tolist()
    styles = [plan.amount_styles[int(d)] for d in detail.decimals.tolist()]
    # Ledger text is cleaned once per column (characters XML cannot hold dropped).
    columns: list[list[str | None]] = []
    for name in plan.attrs:
        col: list[str | None] = []
        for v in detail.attributes[name].tolist():
            if v is None or (isinstance(v, float) and v != v):
                col.append(None)
            elif isinstance(v, Decimal):
                col.append(f"{float(v)!r}")
            else:
                col.append(inline_text(v))
        columns.append(col)
    is_weight = [name == "weight" for name in plan.attrs]
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block = detail.amounts[start:stop] / divisor[start:stop, None]
        values = block.tolist()
        present = detail.present[start:stop].tolist()
        parts: list[str] = []
        for k in range(stop - start):
            i = start + k
            r = _FIRST_DATA_ROW + i + 1
            s = styles[i]
            parts.append(f'<row r="{r}">')
            for j, column in enumerate(columns):
                v = column[i]
                if v is None:
                    continue
                if is_weight[j]:
                    parts.append(f'<c r="{letters[j]}{r}" s="{plan.weight_style}"><v>{v}</v></c>')
                else:
                    parts.append(f'<c r="{letters[j]}{r}" s="{plan.text_style}" '
                                 f't="inlineStr"><is>{v}</is></c>')
            vals, mask = values[k], present[k]
            parts.extend(f'<c r="{month_letters[j]}{r}" s="{s}"><v>{vals[j]!r}</v></c>'
                         for j in range(len(vals)) if mask[j])
            parts.append(f'<c r="{total_l}{r}" s="{s}"><f>SUM({first_l}{r}:{last_l}{r})</f>'
                         f"<v>{totals[i]!r}</v></c></row>")
        yield "".join(parts)
        if progress is not None:
            progress(stop)


def _inject_detail_rows(src: str, dst: str, data: ReportInput, plan: _DetailPlan,
                        progress: Callable[[int], None] | None) -> None:
    """Copy the workbook ``src`` to ``dst``, streaming the Initiatives rows into its sheet
    (:func:`reports.sheetxml.inject_rows`)."""
    last_row = _FIRST_DATA_ROW + max(len(data.detail), 1)
    inject_rows(src, dst, plan.sheet_number, f"A1:{xl_col_to_name(plan.total_col)}{last_row}",
                _detail_rows(data.detail, plan, progress))


_CHECK_COLUMNS = [("check", "Check", 22), ("severity", "Severity", 9), ("metric", "Metric", 9),
                  ("scope", "Scope", 16), ("month", "Month", 9), ("subject", "Subject", 18),
                  ("detail", "Detail", 70), ("amount", "Amount", 14)]


def _write_checks(ws: Worksheet, data: ReportInput, fmt: _Formats) -> None:
    checks = data.checks
    _title(ws, fmt, f"{safe_text(data.programme.name)}: checks", (
        f"{len(checks)} finding(s) from tledger's checks; amounts in the metric's unit."
        if len(checks) else "No findings: every check passed."))
    present = [c for c in _CHECK_COLUMNS if c[0] in checks.columns]
    for i, (_name, header, width) in enumerate(present):
        ws.write_string(_HEADER_ROW, i, header, fmt.header_left)
        ws.set_column(i, i, width)
    amount_fmt = fmt.detail(data.metric.decimals)
    for r, rec in enumerate(checks.to_dict("records")):
        row = _FIRST_DATA_ROW + r
        for j, (name, _h, _w) in enumerate(present):
            value = rec.get(name)
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            if name == "amount":
                write_amount = _as_decimal(value)
                if write_amount is not None:
                    ws.write_number(row, j, float(write_amount), amount_fmt)
            elif name == "month" and isinstance(value, date):
                ws.write_datetime(row, j, datetime(value.year, value.month, 1), fmt.month)
            else:
                ws.write_string(row, j, safe_text(value), fmt.text)
    if len(checks) and "severity" in checks.columns:
        sev = [c[0] for c in present].index("severity")
        ws.conditional_format(_FIRST_DATA_ROW, sev, _FIRST_DATA_ROW + len(checks) - 1, sev, {
            "type": "text", "criteria": "containing", "value": "error",
            "format": fmt.shortfall})
        ws.autofilter(_HEADER_ROW, 0, _FIRST_DATA_ROW + len(checks) - 1, len(present) - 1)
    ws.freeze_panes(_HEADER_ROW + 1, 0)
    _print_setup(ws, _HEADER_ROW, 0)


def _write_bridge(wb: Workbook, ws: Worksheet, data: ReportInput, fmt: _Formats,
                  scale: str) -> None:
    """The bridge as a waterfall: start total, each step, end total (a formula over the
    steps) beside the ledger's end total, whose difference is 0."""
    bridge = data.bridge
    assert bridge is not None
    steps: pd.DataFrame = bridge.steps
    unit_label = _unit_label(data, scale)
    title = safe_text(getattr(bridge, "title", "Bridge"))
    _title(ws, fmt, f"{safe_text(data.programme.name)}: bottom-up bridge ({unit_label})",
           f"{title}. The steps sum exactly to the change; the chart's invisible 'Base' "
           "lifts each step to the running total.")
    headers = ["Step", unit_label, "Initiatives", "Base", "Up", "Down", "Total"]
    for i, h in enumerate(headers):
        ws.write_string(_HEADER_ROW, i, h, fmt.header_left)
    start_total = _as_decimal(getattr(bridge, "start_total", None)) or Decimal(0)
    end_total = _as_decimal(getattr(bridge, "end_total", None)) or Decimal(0)
    first = _FIRST_DATA_ROW
    start_when = getattr(bridge, "start", None)
    end_when = getattr(bridge, "end", None)
    ws.write_string(first, 0, "Bottom-up at start" + (f" ({start_when:%Y-%m-%d})"
                                                      if start_when else ""), fmt.label_bold)
    ws.write_number(first, 1, float(start_total), fmt.amount)
    ws.write_formula(first, 6, f"=B{first + 1}", fmt.amount, float(start_total))
    running = start_total
    records = steps.to_dict("records")
    for i, rec in enumerate(records):
        row = first + 1 + i
        amount = _as_decimal(rec.get("amount")) or Decimal(0)
        ws.write_string(row, 0, safe_text(rec.get("step")), fmt.text)
        ws.write_number(row, 1, float(amount), fmt.amount)
        initiatives = rec.get("initiatives")
        if initiatives is not None and not pd.isna(initiatives):
            ws.write_number(row, 2, int(initiatives), fmt.text)
        before, after = f"SUM($B${first + 1}:B{row})", f"SUM($B${first + 1}:B{row + 1})"
        lo = min(running, running + amount)
        ws.write_formula(row, 3, f"=MIN({before},{after})", fmt.amount, float(lo))
        up, down = max(amount, Decimal(0)), max(-amount, Decimal(0))
        ws.write_formula(row, 4, f"=MAX(B{row + 1},0)", fmt.amount, float(up))
        ws.write_formula(row, 5, f"=MAX(-B{row + 1},0)", fmt.amount, float(down))
        running += amount
    end_row = first + 1 + len(records)
    ws.write_string(end_row, 0, "Bottom-up at end" + (f" ({end_when:%Y-%m-%d})"
                                                     if end_when else ""), fmt.label_bold)
    ws.write_formula(end_row, 1, f"=SUM(B{first + 1}:B{end_row})", fmt.amount_bold,
                     float(running))
    ws.write_formula(end_row, 6, f"=B{end_row + 1}", fmt.amount, float(running))
    ws.write_string(end_row + 2, 0, "Bottom-up at end per the ledger", fmt.label)
    ws.write_number(end_row + 2, 1, float(end_total), fmt.amount)
    ws.write_string(end_row + 3, 0, "Difference (0 when the bridge ties)", fmt.label_bold)
    ws.write_formula(end_row + 3, 1, f"=B{end_row + 1}-B{end_row + 3}", fmt.amount,
                     float(running - end_total))
    ws.conditional_format(end_row + 3, 1, end_row + 3, 1, {
        "type": "formula", "criteria": f"=ROUND(B{end_row + 4},6)<>0",
        "format": fmt.mismatch})
    ws.set_column(0, 0, 34)
    ws.set_column(1, 6, 14)
    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    for col, colour in ((3, None), (4, "#548235"), (5, "#C00000"), (6, "#1F3864")):
        series: dict[str, Any] = {
            "name": [ws.name, _HEADER_ROW, col],
            "categories": [ws.name, first, 0, end_row, 0],
            "values": [ws.name, first, col, end_row, col],
            "gap": 50,
        }
        series.update({"fill": {"none": True}, "border": {"none": True}} if colour is None
                      else {"fill": {"color": colour}})
        chart.add_series(series)
    chart.set_title({"name": f"Bottom-up bridge ({unit_label})", "name_font": {"size": 12}})
    chart.set_legend({"none": True})
    chart.set_y_axis({"num_format": "#,##0," if "000" in unit_label else "#,##0"})
    chart.set_size({"width": 880, "height": 360})
    ws.insert_chart(end_row + 5, 0, chart)
    detail = getattr(bridge, "detail", None)
    if isinstance(detail, pd.DataFrame) and len(detail):
        row = end_row + 25
        ws.write_string(row, 0, "Initiatives behind each step", fmt.label_bold)
        row += 1
        for i, h in enumerate(["Step", "ID", "Name", unit_label]):
            ws.write_string(row, i, h, fmt.header_left)
        for rec in detail.to_dict("records"):
            row += 1
            ws.write_string(row, 0, safe_text(rec.get("step")), fmt.text)
            ws.write_string(row, 1, safe_text(rec.get("external_id")), fmt.text)
            ws.write_string(row, 2, safe_text(rec.get("name")), fmt.text)
            ws.write_number(row, 3, _num(rec.get("amount")), fmt.amount)
    ws.freeze_panes(_HEADER_ROW + 1, 0)
    _print_setup(ws, _HEADER_ROW, 0)


def _write_about(ws: Worksheet, data: ReportInput, fmt: _Formats, scale: str) -> None:
    ws.write_string(0, 0, "About this report", fmt.title)
    rows: list[tuple[str, Any]] = [
        ("Programme", data.programme.name),
        ("Currency", data.programme.currency),
        ("Metric", f"{data.metric.code} ({data.metric.name}), {data.metric.unit}, "
                   f"{data.metric.kind}"),
        ("Scenario", data.scenario),
        ("Risk-weighted", "yes" if data.weighted else "no"),
        ("Amounts shown in", _unit_label(data, scale) + " (cells hold exact amounts)"),
        ("As of", data.as_of if data.as_of is not None else "current (latest submission)"),
        ("As-of submission", data.as_of_submission),
        ("Ledger's last submission id", data.last_submission_id),
        ("Written at (UTC)", data.written_at.astimezone(UTC).replace(tzinfo=None)),
        ("Written by", f"tledger {data.version}"),
        ("Initiative rows", len(data.detail)),
    ]
    if data.bridge is not None:
        rows.append(("Bridge from", data.bridge_from))
    row = 2
    for key, value in rows:
        ws.write_string(row, 0, key, fmt.label_bold)
        if isinstance(value, datetime):
            ws.write_datetime(row, 1, value.astimezone(UTC).replace(tzinfo=None)
                              if value.tzinfo else value, fmt.datetime)
        elif isinstance(value, int):
            ws.write_number(row, 1, value, fmt.text)
        elif value is not None:
            ws.write_string(row, 1, safe_text(value), fmt.text)
        row += 1
    row += 1
    ws.write_string(row, 0, "How to audit it", fmt.label_bold)
    for line in [
        "Initiatives holds every initiative's in-month phasing as numbers, one row per "
        "initiative and metric.",
        "Summary: Bottom-up cells are SUMIFS over Initiatives for this metric; subtotals, gap "
        "(target minus bottom-up) and cumulative lines are formulas over the cells above.",
        "Coverage is bottom-up divided by target; it is blank where the target is zero.",
        "Each breakdown sheet sums its parts' bottom-up from Initiatives; its Difference rows "
        "compare its totals with the Summary and are 0 when they tie (a target difference is "
        "a cascade gap: the parts' targets do not add up to the programme's).",
        "Shaded gap cells are shortfalls against target.",
    ]:
        row += 1
        ws.write_string(row, 0, "•", fmt.text)
        ws.write_string(row, 1, line, fmt.text)
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 110)

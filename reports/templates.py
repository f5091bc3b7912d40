"""The canonical workbooks people fill in: initiatives and top-down targets.

The layouts are exactly those of ``docs/workbook-format.md`` (the importer reads them):

``Initiatives`` sheet
    row 1 title, row 2 unit note, row 3 blank, row 4 header, data from row 5;
    columns ``ID, Name, Owner, Business unit, Lever, Stage, Description, Metric, Scenario``
    (A-I), then one column per month of the horizon (header: a real date, first of the
    month, shown ``mmm-yy``), then ``Total`` (``=SUM`` of the row's months).

``Targets`` sheet
    the same title rows; columns ``Metric, Scope`` (A-B), the months, ``Total``.

Both workbooks also hold a ``Guide`` sheet (what each column takes, and the codes the ledger
knows) and a hidden ``Lists`` sheet with the codes the dropdowns offer: ``Business unit``
(A), ``Lever`` (B), ``Stage`` (C), ``Metric`` (D), ``Scenario`` (E), ``Scope`` (F), each from
row 2. A dropdown references its column of ``Lists``, so lists of any length work (Excel
limits a typed-in list to 255 characters).

Text from the ledger is always written as string cells (:mod:`reports.safe`): an initiative
called ``=HYPERLINK(...)`` stays text. Amounts leave the ledger as exact Decimals; a cell
holds the nearest double, which reads back as the same Decimal at the metric's decimals.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from sqlalchemy import Connection
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.errors import LedgerError, NotFound
from ledger.initiatives import current_initiatives
from ledger.models import SCENARIOS
from ledger.months import month_iso
from ledger.store import PhasingArrays, current_phasing_arrays, current_targets
from ledger.vocabulary import check_scenario
from reports.safe import looks_like_formula, write_text
from reports.sheetxml import inject_rows, inline_text
from reports.xlsxwriter_internals import style_index

__all__ = [
    "FIRST_DATA_ROW",
    "GUIDE_SHEET",
    "HEADER_ROW",
    "INITIATIVES_SHEET",
    "INITIATIVE_HEADERS",
    "LISTS_COLUMNS",
    "LISTS_SHEET",
    "TARGETS_SHEET",
    "TARGET_HEADERS",
    "TOTAL_HEADER",
    "TemplateContext",
    "TemplateWritten",
    "initiative_lines",
    "load_context",
    "target_lines",
    "write_initiatives_template",
    "write_targets_template",
]

INITIATIVES_SHEET = "Initiatives"
TARGETS_SHEET = "Targets"
GUIDE_SHEET = "Guide"
LISTS_SHEET = "Lists"
TITLE_ROW = 1
NOTE_ROW = 2
HEADER_ROW = 4
FIRST_DATA_ROW = 5
INITIATIVE_HEADERS = ["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Description",
                      "Metric", "Scenario"]
TARGET_HEADERS = ["Metric", "Scope"]
TOTAL_HEADER = "Total"
#: Column of ``Lists`` holding each dropdown's codes (header in row 1, codes from row 2).
LISTS_COLUMNS = {"Business unit": "A", "Lever": "B", "Stage": "C", "Metric": "D",
                 "Scenario": "E", "Scope": "F"}
#: Empty rows below the data that still carry the dropdowns.
SPARE_ROWS = 1000
#: Rows of a blank template that carry the Total formula ready to fill: every row its
#: dropdowns cover.
BLANK_FORMULA_ROWS = SPARE_ROWS
MONTH_FORMAT = "mmm-yy"

_INITIATIVE_WIDTHS = [12, 36, 20, 14, 12, 8, 40, 12, 10]
_MONTH_WIDTH = 11
_TOTAL_WIDTH = 15

_INITIATIVE_GUIDE = [
    ("ID", "The initiative's id as the office writes it, e.g. GR-0042. The same id on every "
     "row of the initiative.", "yes"),
    ("Name", "Short name of the initiative.", "yes"),
    ("Owner", "The accountable owner's name.", "yes"),
    ("Business unit", "A business unit code the ledger knows (dropdown).", "no"),
    ("Lever", "A lever code the ledger knows (dropdown).", "no"),
    ("Stage", "Stage gate code: L0 idea ... L5 realised in the P&L (dropdown).", "yes"),
    ("Description", "Free text: current state, future state, how.", "no"),
    ("Metric", "What the row's amounts count (dropdown); blank means the first metric.", "no"),
    ("Scenario", "plan (committed), forecast (latest estimate) or actual (dropdown); blank "
     "means plan.", "no"),
    ("months", "One column per month of the horizon, headed by the month's date. The "
     "in-month amount (not cumulative) in the metric's unit; blank means no amount.", "no"),
    (TOTAL_HEADER, "=SUM of the row's months, for checking; the import ignores it.", "no"),
]
_TARGET_GUIDE = [
    ("Metric", "The metric the target counts (dropdown).", "yes"),
    ("Scope", "programme, unit:CODE (a business unit) or lever:CODE (dropdown).", "yes"),
    ("months", "One column per month of the horizon, headed by the month's date. The "
     "in-month target in the metric's unit; blank means no target for that month.", "no"),
    (TOTAL_HEADER, "=SUM of the row's months, for checking; the import ignores it.", "no"),
]


@dataclass(frozen=True)
class TemplateContext:
    """What a template offers: the programme, metrics and the codes for the dropdowns."""

    programme: ProgrammeInfo
    metrics: list[MetricInfo]
    business_units: list[tuple[str, str]]
    """(code, name)"""
    levers: list[tuple[str, str]]
    stages: list[tuple[str, str, Decimal | None]]
    """(code, name, risk weight 0-1)"""
    scenarios: tuple[str, ...] = SCENARIOS

    @property
    def scopes(self) -> list[str]:
        """The target scopes users can pick: programme, unit:CODE..., lever:CODE..."""
        return (["programme"] + [f"unit:{c}" for c, _ in self.business_units]
                + [f"lever:{c}" for c, _ in self.levers])

    def metric(self, code: str) -> MetricInfo:
        for m in self.metrics:
            if m.code == code:
                return m
        raise NotFound(f"no metric {code!r} in this template")


@dataclass
class TemplateWritten:
    """What a template writer produced."""

    path: Path
    sheet: str
    headers: list[str]
    """The header row as text (months as ``YYYY-MM``)."""
    rows: int
    """Data rows written (pre-filled lines)."""
    months: list[date]


def load_context(ledger: Ledger, conn: Connection,
                 metrics: Sequence[str] | None = None) -> TemplateContext:
    """Read the programme and the codes a template offers, in one transaction.

    Args:
        metrics: restrict the metric dropdown (and any pre-fill) to these codes, in this
            order; None offers every metric.

    Raises:
        NotFound: an unknown metric code (the closest known one is suggested).
    """
    from ledger.targets import find_metric

    prog = ledger.programme(conn)
    chosen = ([find_metric(ledger, code, conn) for code in dict.fromkeys(metrics)]
              if metrics else ledger.metrics(conn))
    if not chosen:
        raise LedgerError("this ledger has no metrics: run `tledger metric add`")
    units = ledger.business_units(conn)
    levers = ledger.levers(conn)
    stages = ledger.stage_gates(conn)
    return TemplateContext(
        programme=prog,
        metrics=chosen,
        business_units=[(str(c), str(n)) for c, n in zip(units["code"], units["name"],
                                                         strict=True)],
        levers=[(str(c), str(n)) for c, n in zip(levers["code"], levers["name"], strict=True)],
        stages=[(str(c), str(n), w) for c, n, w in zip(stages["code"], stages["name"],
                                                       stages["weight"], strict=True)],
    )


def _wide_amounts(facts: pd.DataFrame, keys: list[str]) -> dict[tuple[Any, ...], dict[str, int]]:
    """{key tuple: {month ISO: amount_minor}} from long facts, keeping exact ints."""
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in facts[[*keys, "month", "amount_minor"]].itertuples(index=False, name=None):
        out.setdefault(tuple(row[:-2]), {})[str(row[-2])[:10]] = int(row[-1])
    return out


def _amounts_by_line(facts: PhasingArrays) -> dict[tuple[int, int], dict[str, int]]:
    """{(initiative_id, metric_id): {month ISO: amount_minor}} from bulk-read facts: one
    sort, then one dict per line (exact ints throughout)."""
    if not len(facts):
        return {}
    order = np.lexsort((facts.month_no, facts.metric_id, facts.initiative_id))
    iid, mid = facts.initiative_id[order], facts.metric_id[order]
    months, codes = np.unique(facts.month_no[order], return_inverse=True)
    iso = np.array([month_iso(int(m)) for m in months], dtype=object)[codes].tolist()
    amounts = facts.amount_minor[order].tolist()
    starts = np.flatnonzero(np.r_[True, (iid[1:] != iid[:-1]) | (mid[1:] != mid[:-1])])
    ends = np.r_[starts[1:], len(order)].tolist()
    return {(int(iid[a]), int(mid[a])): dict(zip(iso[a:b], amounts[a:b], strict=True))
            for a, b in zip(starts.tolist(), ends, strict=True)}


def initiative_lines(conn: Connection, ctx: TemplateContext, scenario: str = "plan"
                     ) -> pd.DataFrame:
    """The current active initiatives as template lines, with their ``scenario`` phasing.

    One line per initiative and metric it has phasing for; an initiative with none in the
    template's metrics gets one line for the first metric, with blank months. Columns:
    ``external_id, name, owner, business_unit, lever, stage, description, metric, scenario,
    amounts`` (a dict ``{"YYYY-MM-01": amount_minor}``).
    """
    check_scenario(scenario)
    inits = current_initiatives(conn)
    inits = inits[inits["status"] == "active"]
    metric_by_id = {m.id: m.code for m in ctx.metrics}
    facts = current_phasing_arrays(conn, metric_ids=list(metric_by_id), scenarios=[scenario],
                                   initiative_ids=inits["initiative_id"].tolist())
    amounts = _amounts_by_line(facts)
    order = {m.id: i for i, m in enumerate(ctx.metrics)}
    metrics_of: dict[int, list[int]] = {}
    for iid, mid in sorted(amounts, key=lambda k: (k[0], order[k[1]])):
        metrics_of.setdefault(int(iid), []).append(int(mid))
    rows: list[dict[str, Any]] = []
    # The id is taken from its column: itertuples' fields carry no column types.
    for raw_id, rec in zip(inits["initiative_id"].tolist(), inits.itertuples(index=False),
                           strict=True):
        iid = int(raw_id)
        for mid in metrics_of.get(iid) or [ctx.metrics[0].id]:
            rows.append({
                "external_id": rec.external_id,
                "name": rec.name,
                "owner": rec.owner,
                "business_unit": rec.business_unit,
                "lever": rec.lever,
                "stage": rec.stage,
                "description": rec.description,
                "metric": metric_by_id[mid],
                "scenario": scenario,
                "amounts": amounts.get((iid, mid), {}),
            })
    return pd.DataFrame(rows, columns=["external_id", "name", "owner", "business_unit",
                                       "lever", "stage", "description", "metric", "scenario",
                                       "amounts"])


def target_lines(conn: Connection, ctx: TemplateContext) -> pd.DataFrame:
    """The current targets as template lines: ``metric, scope, amounts`` (one per metric and
    scope, programme first, then units, then levers)."""
    from ledger.targets import TargetScope

    metric_by_id = {m.id: m.code for m in ctx.metrics}
    facts = current_targets(conn, metric_ids=list(metric_by_id))
    amounts = _wide_amounts(facts, ["metric_id", "scope_kind", "scope_code"])
    kind_order = {"programme": 0, "business_unit": 1, "lever": 2}
    metric_order = {m.id: i for i, m in enumerate(ctx.metrics)}
    keys = sorted(amounts, key=lambda k: (metric_order[k[0]], kind_order[k[1]], k[2]))
    return pd.DataFrame(
        [{"metric": metric_by_id[k[0]], "scope": TargetScope(k[1], k[2]).label,
          "amounts": amounts[k]} for k in keys],
        columns=["metric", "scope", "amounts"],
    )


# --------------------------------------------------------------------------- writing


def _unit_note(ctx: TemplateContext) -> str:
    units = {m.unit for m in ctx.metrics}
    if len(units) == 1:
        return f"Amounts in {units.pop()}"
    return "Amounts in each metric's unit: " + ", ".join(f"{m.code} {m.unit}"
                                                         for m in ctx.metrics)


def _initiative_intro(ctx: TemplateContext) -> list[str]:
    return [
        "One row per initiative, metric and scenario. An initiative's ID, name, owner, "
        "business unit, lever, stage and description are repeated on each of its rows and "
        "must agree.",
        "Keep rows 1-4 as they are (title, unit note, blank, header); write data from row 5 "
        "down. Do not insert columns between the months.",
        f"{_unit_note(ctx)}. Month cells take the in-month amount (not cumulative) as a "
        "number; a blank cell means no amount.",
        "The dropdowns offer the codes the ledger knows; a new business unit, lever or metric "
        "is added in the ledger first (tledger unit add, lever add, metric add).",
        "Import: tledger import initiatives FILE.xlsx (add --dry-run to see what would "
        "change).",
    ]


def _target_intro(ctx: TemplateContext) -> list[str]:
    return [
        "One row per metric and scope: the whole programme, a business unit (unit:CODE) or "
        "a lever (lever:CODE).",
        "Keep rows 1-4 as they are (title, unit note, blank, header); write data from row 5 "
        "down.",
        f"{_unit_note(ctx)}. Month cells take the in-month target (not cumulative) as a "
        "number; a blank cell means no target for that month.",
        "Import: tledger import targets FILE.xlsx. Each import is a new target revision; "
        "earlier ones stay on record (tledger target show --history).",
    ]

def _number_format(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals else "")


class _Formats:
    """The workbook's cell formats, made once (XlsxWriter formats are workbook objects)."""

    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.note = wb.add_format({"italic": True, "font_color": "#595959"})
        head = {"bold": True, "bg_color": "#DDEBF7", "border": 1, "valign": "top",
                "text_wrap": True}
        self.header = wb.add_format(head)
        # Required columns: a warmer header (and a "Required" note on the cell).
        self.header_required = wb.add_format({**head, "bg_color": "#F8CBAD"})
        # The cells to fill in an empty template (a conditional format over the rows the
        # dropdowns cover: the rest of the sheet stays white).
        self.to_fill = wb.add_format({"bg_color": "#FFF2CC"})
        self.month_header = wb.add_format({**head, "num_format": MONTH_FORMAT, "align": "right"})
        self.total_header = wb.add_format({**head, "align": "right"})
        self.text = wb.add_format({"valign": "top"})
        self.wrap = wb.add_format({"valign": "top", "text_wrap": True})
        # Text that starts like a formula: Excel's quote prefix keeps an edit of the cell
        # from turning it into one.
        self.quoted = wb.add_format({"valign": "top", "quote_prefix": True})
        self._amount: dict[int, Any] = {}
        self._total: dict[int, Any] = {}
        self.blank_total = wb.add_format({"bold": True, "num_format": '#,##0.00;-#,##0.00;""'})

    def amount(self, decimals: int) -> Any:
        if decimals not in self._amount:
            self._amount[decimals] = self.wb.add_format({"num_format": _number_format(decimals)})
        return self._amount[decimals]

    def total(self, decimals: int) -> Any:
        if decimals not in self._total:
            self._total[decimals] = self.wb.add_format(
                {"bold": True, "num_format": _number_format(decimals)})
        return self._total[decimals]


def _new_workbook(path: Path) -> Any:
    # Belt and braces: nothing written with worksheet.write() may become a formula or URL.
    # constant_memory streams each row to disk once the next one starts (rows are written
    # in order), so a large pre-filled template does not hold every cell in memory.
    return xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                           "strings_to_urls": False,
                                           "strings_to_numbers": False,
                                           "constant_memory": True})


def _write_lists(wb: Any, ctx: TemplateContext) -> dict[str, str]:
    """Write the hidden ``Lists`` sheet; return {dropdown: "=Lists!$A$2:$A$n"} for each
    non-empty list."""
    ws = wb.add_worksheet(LISTS_SHEET)
    values = {
        "Business unit": [c for c, _ in ctx.business_units],
        "Lever": [c for c, _ in ctx.levers],
        "Stage": [c for c, _, _ in ctx.stages],
        "Metric": [m.code for m in ctx.metrics],
        "Scenario": list(ctx.scenarios),
        "Scope": ctx.scopes,
    }
    sources: dict[str, str] = {}
    columns = [(ord(col) - ord("A"), name) for name, col in LISTS_COLUMNS.items()]
    ws.set_column(0, len(columns) - 1, 16)
    # Row by row: in constant_memory mode a row is final once the next one is started.
    for r in range(1 + max(len(v) for v in values.values())):
        for c, name in columns:
            if r == 0:
                write_text(ws, 0, c, name)
            elif r <= len(values[name]):
                write_text(ws, r, c, values[name][r - 1])
    for name, col in LISTS_COLUMNS.items():
        if values[name]:
            sources[name] = f"={LISTS_SHEET}!${col}$2:${col}${len(values[name]) + 1}"
    ws.hide()
    return sources


def _dropdown(ws: Any, col: int, first_row: int, last_row: int, source: str | None,
              what: str, *, allow_blank: bool = True) -> None:
    """A dropdown of ``source``'s codes; ``allow_blank`` False for a required column (a
    cell cleared is refused, not passed as blank)."""
    if source is None:
        return
    ws.data_validation(first_row, col, last_row, col, {
        "validate": "list",
        "source": source,
        "ignore_blank": allow_blank,
        "error_title": f"Unknown {what}",
        "error_message": f"Pick a {what} from the list: the codes this ledger knows.",
    })


def _write_guide(wb: Any, fmt: _Formats, ctx: TemplateContext, sheet: str,
                 columns: list[tuple[str, str, str]], intro: list[str]) -> None:
    ws = wb.add_worksheet(GUIDE_SHEET)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)
    ws.set_column(2, 4, 14)
    write_text(ws, 0, 0, f"How to fill in the {sheet} sheet", fmt.title)
    row = 2
    for line in intro:
        write_text(ws, row, 0, line, fmt.text)
        row += 1
    row += 1
    for c, head in enumerate(["Column", "What to enter", "Required"]):
        write_text(ws, row, c, head, fmt.header)
    row += 1
    for header, text, required in columns:
        write_text(ws, row, 0, header, fmt.text)
        write_text(ws, row, 1, text, fmt.wrap)
        write_text(ws, row, 2, required, fmt.text)
        row += 1
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        ("Metrics", ["Code", "Name", "Unit", "Kind", "Decimals"],
         [[m.code, m.name, m.unit, m.kind, str(m.decimals)] for m in ctx.metrics]),
        ("Business units", ["Code", "Name"], [[c, n] for c, n in ctx.business_units]),
        ("Levers", ["Code", "Name"], [[c, n] for c, n in ctx.levers]),
        ("Stage gates", ["Code", "Name", "Risk weight"],
         [[c, n, "" if w is None else str(w)] for c, n, w in ctx.stages]),
        ("Scenarios", ["Code"], [[s] for s in ctx.scenarios]),
    ]
    for title, heads, body in sections:
        row += 1
        write_text(ws, row, 0, title, fmt.title)
        row += 1
        if not body:
            write_text(ws, row, 0, f"(none in the ledger yet: the {title.lower()} column "
                       "has no dropdown)", fmt.note)
            row += 1
            continue
        for c, head in enumerate(heads):
            write_text(ws, row, c, head, fmt.header)
        row += 1
        for cells in body:
            for c, value in enumerate(cells):
                write_text(ws, row, c, value, fmt.text)
            row += 1


def _required(guide: Sequence[tuple[str, str, str]]) -> set[str]:
    """The columns a guide marks required."""
    return {header for header, _text, required in guide if required == "yes"}


def _start_sheet(out: Path, ctx: Any, sheet: str, what: str, headers: Sequence[str],
                 widths: Sequence[int], title: str, required: Collection[str] = ()
                 ) -> tuple[Any, _Formats, Any, int]:
    """A new template workbook and its data sheet with the title, unit note, headers,
    real-date month headers and the Total column: ``(workbook, formats, sheet,
    first month column)``."""
    months = ctx.programme.months
    wb = _new_workbook(out)
    wb.set_properties({"title": f"{ctx.programme.name} {what}", "author": "tledger"})
    fmt = _Formats(wb)
    ws = wb.add_worksheet(sheet)
    first_month_col = len(headers)
    total_col = first_month_col + len(months)
    write_text(ws, TITLE_ROW - 1, 0, title, fmt.title)
    write_text(ws, NOTE_ROW - 1, 0, _unit_note(ctx), fmt.note)
    for c, (head, width) in enumerate(zip(headers, widths, strict=True)):
        write_text(ws, HEADER_ROW - 1, c, head,
                   fmt.header_required if head in required else fmt.header)
        if head in required:
            ws.write_comment(HEADER_ROW - 1, c, f"Required: every row needs a {head}.")
        ws.set_column(c, c, width)
    _month_headers(ws, fmt, first_month_col, months)
    write_text(ws, HEADER_ROW - 1, total_col, TOTAL_HEADER, fmt.total_header)
    ws.set_column(total_col, total_col, _TOTAL_WIDTH)
    ws.set_row(HEADER_ROW - 1, 30)
    return wb, fmt, ws, first_month_col


def _month_headers(ws: Any, fmt: _Formats, first_col: int, months: Sequence[date]) -> None:
    for i, m in enumerate(months):
        ws.write_datetime(HEADER_ROW - 1, first_col + i, datetime(m.year, m.month, 1),
                          fmt.month_header)
    ws.set_column(first_col, first_col + len(months) - 1, _MONTH_WIDTH)


def _write_amount_row(ws: Any, fmt: _Formats, row: int, first_col: int,
                      months: Sequence[date], iso: Sequence[str], amounts: dict[str, int],
                      decimals: int) -> None:
    """Write a line's months and its Total (formula with an exact cached value)."""
    cell_fmt = fmt.amount(decimals)
    scale = 10**decimals
    cells, total = _filled_months(iso, amounts)
    for i, minor in cells:
        ws.write_number(row, first_col + i, minor / scale, cell_fmt)
    last_col = first_col + len(months) - 1
    formula = (f"=SUM({xl_rowcol_to_cell(row, first_col)}:"
               f"{xl_rowcol_to_cell(row, last_col)})")
    ws.write_formula(row, last_col + 1, formula, fmt.total(decimals), total / scale)


def _filled_months(iso: Sequence[str], amounts: dict[str, int],
                   ) -> tuple[list[tuple[int, int]], int]:
    """A line's filled months as (position, amount_minor), and their exact total.

    A cell gets ``amount_minor / 10**decimals``: int / int is correctly rounded in Python,
    so the cell holds the double nearest the exact amount, which reads back exactly at the
    metric's decimals (by its shortest repr), without a Decimal per cell.
    """
    cells = [(i, minor) for i, key in enumerate(iso)
             if (minor := amounts.get(key)) is not None]
    return cells, sum(minor for _, minor in cells)


def _blank_totals(ws: Any, fmt: _Formats, first_row: int, rows: int, first_col: int,
                  n_months: int) -> None:
    """An empty template's Total formulas, on every row the dropdowns cover, and the cells
    to fill shaded."""
    last_col = first_col + n_months - 1
    ws.conditional_format(first_row, 0, first_row + rows - 1, last_col,
                          {"type": "formula", "criteria": "=TRUE", "format": fmt.to_fill})
    for row in range(first_row, first_row + rows):
        ws.write_formula(row, last_col + 1,
                         f"=SUM({xl_rowcol_to_cell(row, first_col)}:"
                         f"{xl_rowcol_to_cell(row, last_col)})", fmt.blank_total, 0)


def write_initiatives_template(
    path: str | Path,
    ctx: TemplateContext,
    lines: pd.DataFrame | None = None,
    *,
    title: str | None = None,
    finish: Callable[[Any, TemplateWritten], None] | None = None,
    progress: Callable[[int], None] | None = None,
    properties: dict[str, str] | None = None,
) -> TemplateWritten:
    """Write the canonical initiatives workbook to ``path``.

    Args:
        lines: pre-filled lines (see :func:`initiative_lines`); None writes an empty
            template whose rows carry the Total formula and the shading as far as its
            dropdowns go (1,000 rows).
        title: row 1's text (default: "<programme>: initiative phasing").
        finish: called with the XlsxWriter workbook before it is closed, to add sheets
            (e.g. an export stamp) to the same file.
        progress: called with the number of lines written so far, every 500 lines.
        properties: custom document properties (for a pre-filled template, the ledger and
            submission it shows: :func:`ledger.template_stamp.stamp_properties`).

    Returns:
        What was written; the file is complete when this returns.
    """
    out = Path(path)
    months = ctx.programme.months
    n = 0 if lines is None else len(lines)
    # A pre-filled sheet's rows are streamed in after XlsxWriter has written the rest
    # (reports.sheetxml): XlsxWriter writes to a frame file beside ``out`` first.
    frame = out.with_name(f".{out.name}.{os.getpid()}.frame") if n else out
    wb, fmt, ws, first_month_col = _start_sheet(
        frame, ctx, INITIATIVES_SHEET, "initiatives", INITIATIVE_HEADERS, _INITIATIVE_WIDTHS,
        title or f"{ctx.programme.name}: initiative phasing",
        _required(_INITIATIVE_GUIDE))

    first = FIRST_DATA_ROW - 1
    rows: Iterable[str] = ()
    if lines is not None and n:
        rows = _initiative_rows(lines, ctx, fmt, first_month_col, progress)
    elif lines is None:
        _blank_totals(ws, fmt, first, BLANK_FORMULA_ROWS, first_month_col, len(months))
    last_row = first + n + SPARE_ROWS - 1
    _write_guide(wb, fmt, ctx, INITIATIVES_SHEET, _INITIATIVE_GUIDE, _initiative_intro(ctx))
    sources = _write_lists(wb, ctx)
    for col, name, what in [(3, "Business unit", "business unit"), (4, "Lever", "lever"),
                            (5, "Stage", "stage gate"), (7, "Metric", "metric"),
                            (8, "Scenario", "scenario")]:
        _dropdown(ws, col, first, last_row, sources.get(name), what,
                  allow_blank=name not in _required(_INITIATIVE_GUIDE))
    ws.freeze_panes(HEADER_ROW, 2)
    ws.autofilter(HEADER_ROW - 1, 0, max(HEADER_ROW - 1, first + n - 1),
                  first_month_col + len(months))
    # The data sheet opens first; Guide and the hidden Lists follow it.
    ws.activate()
    written = TemplateWritten(
        path=out, sheet=INITIATIVES_SHEET,
        headers=[*INITIATIVE_HEADERS, *[f"{m:%Y-%m}" for m in months], TOTAL_HEADER],
        rows=n, months=list(months),
    )
    for name, value in (properties or {}).items():
        wb.set_custom_property(name, value)
    if finish is not None:
        finish(wb, written)
    _close(wb, out)
    if frame != out:
        total_col = xl_col_to_name(first_month_col + len(months))
        _stream_into(frame, out, ws.index + 1, f"A1:{total_col}{first + n}", rows)
    return written


def _stream_into(frame: Path, out: Path, sheet_number: int, dimension: str,
                 rows: Iterable[str]) -> None:
    """Write ``out`` as the ``frame`` workbook with ``rows`` streamed into its sheet; the
    file appears whole or not at all (a temporary file beside it, renamed into place)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        inject_rows(frame, tmp, sheet_number, dimension, rows)
        os.replace(tmp, out)
    except OSError as exc:
        raise LedgerError(f"cannot write {out}: {exc}") from exc
    finally:
        frame.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _initiative_rows(lines: pd.DataFrame, ctx: TemplateContext, fmt: _Formats,
                     first_month_col: int, progress: Callable[[int], None] | None,
                     chunk: int = 500) -> Iterator[str]:
    """The pre-filled lines as SpreadsheetML rows, ``chunk`` lines at a time: attribute
    text as inline strings, each month's exact amount as the nearest double (shortest
    ``repr``), the Total as ``=SUM`` with its exact cached value.

    The style indices are fixed now, while the workbook is open (XlsxWriter writes only
    the formats it has given an index); the rows are generated later, while streaming.
    """
    decimals_of = {m.code: m.decimals for m in ctx.metrics}
    default_decimals = ctx.metrics[0].decimals
    text_style = (style_index(fmt.text), style_index(fmt.quoted))
    amount_style: dict[int, int] = {}
    total_style: dict[int, int] = {}
    for d in {*decimals_of.values(), default_decimals}:
        amount_style[d] = style_index(fmt.amount(d))
        total_style[d] = style_index(fmt.total(d))
    return _initiative_row_chunks(lines, ctx, first_month_col, progress, chunk, decimals_of,
                                  default_decimals, text_style, amount_style, total_style)


def _initiative_row_chunks(lines: pd.DataFrame, ctx: TemplateContext, first_month_col: int,
                           progress: Callable[[int], None] | None, chunk: int,
                           decimals_of: dict[str, int], default_decimals: int,
                           text_style: tuple[int, int], amount_style: dict[int, int],
                           total_style: dict[int, int]) -> Iterator[str]:
    months = ctx.programme.months
    iso = [m.isoformat() for m in months]
    letters = [xl_col_to_name(c) for c in range(first_month_col + len(months) + 1)]
    month_letters = letters[first_month_col:first_month_col + len(months)]
    first_l, last_l, total_l = month_letters[0], month_letters[-1], letters[-1]
    text_cols = ["external_id", "name", "owner", "business_unit", "lever", "stage",
                 "description", "metric", "scenario"]
    records = list(lines[[*text_cols, "amounts"]].itertuples(index=False, name=None))
    n = len(records)
    for start in range(0, n, chunk):
        parts: list[str] = []
        for offset in range(start, min(n, start + chunk)):
            rec = records[offset]
            r = FIRST_DATA_ROW + offset
            parts.append(f'<row r="{r}">')
            for c, value in enumerate(rec[:-1]):
                if value is None or value == "" or (not isinstance(value, str)
                                                    and pd.isna(value)):
                    continue
                style = text_style[1] if looks_like_formula(value) else text_style[0]
                parts.append(f'<c r="{letters[c]}{r}" s="{style}" t="inlineStr">'
                             f"<is>{inline_text(value)}</is></c>")
            d = decimals_of.get(str(rec[7]), default_decimals)
            scale = 10**d
            amounts = rec[-1] or {}
            style = amount_style[d]
            cells, total = _filled_months(iso, amounts)
            parts.extend(f'<c r="{month_letters[i]}{r}" s="{style}"><v>{minor / scale!r}</v></c>'
                         for i, minor in cells)
            parts.append(f'<c r="{total_l}{r}" s="{total_style[d]}"><f>SUM({first_l}{r}:'
                         f"{last_l}{r})</f><v>{total / scale!r}</v></c></row>")
        yield "".join(parts)
        if progress is not None:
            progress(min(n, start + chunk))


def write_targets_template(
    path: str | Path,
    ctx: TemplateContext,
    lines: pd.DataFrame | None = None,
    *,
    title: str | None = None,
) -> TemplateWritten:
    """Write the canonical targets workbook to ``path``.

    Args:
        lines: pre-filled lines (see :func:`target_lines`); None writes an empty template
            whose rows carry the Total formula and the shading as far as its dropdowns go.
        title: row 1's text (default: "<programme>: top-down targets").
    """
    out = Path(path)
    months = ctx.programme.months
    iso = [m.isoformat() for m in months]
    wb, fmt, ws, first_month_col = _start_sheet(
        out, ctx, TARGETS_SHEET, "targets", TARGET_HEADERS, [12, 18],
        title or f"{ctx.programme.name}: top-down targets", _required(_TARGET_GUIDE))
    n = 0 if lines is None else len(lines)
    first = FIRST_DATA_ROW - 1
    if lines is not None:
        for offset, (metric, scope, amounts) in enumerate(
                lines[["metric", "scope", "amounts"]].itertuples(index=False, name=None)):
            row = first + offset
            write_text(ws, row, 0, metric, fmt.text)
            write_text(ws, row, 1, scope, fmt.text)
            _write_amount_row(ws, fmt, row, first_month_col, months, iso, amounts or {},
                              ctx.metric(str(metric)).decimals)
    else:
        _blank_totals(ws, fmt, first, BLANK_FORMULA_ROWS, first_month_col, len(months))
    last_row = first + n + SPARE_ROWS - 1
    _write_guide(wb, fmt, ctx, TARGETS_SHEET, _TARGET_GUIDE, _target_intro(ctx))
    sources = _write_lists(wb, ctx)
    _dropdown(ws, 0, first, last_row, sources.get("Metric"), "metric", allow_blank=False)
    _dropdown(ws, 1, first, last_row, sources.get("Scope"), "scope", allow_blank=False)
    ws.freeze_panes(HEADER_ROW, 2)
    ws.activate()
    _close(wb, out)
    return TemplateWritten(
        path=out, sheet=TARGETS_SHEET,
        headers=[*TARGET_HEADERS, *[f"{m:%Y-%m}" for m in months], TOTAL_HEADER],
        rows=n, months=list(months),
    )


def _close(wb: Any, out: Path) -> None:
    try:
        wb.close()
    except (OSError, FileCreateError) as exc:
        raise LedgerError(f"cannot write {out}: {exc}") from exc


def month_columns(n_fixed: int, months: Sequence[date]) -> dict[str, str]:
    """{``YYYY-MM``: column letter} for a sheet whose months start after ``n_fixed``
    columns (the importer's tests use it to address cells)."""
    return {f"{m:%Y-%m}": xl_col_to_name(n_fixed + i) for i, m in enumerate(months)}

"""The owner workbook: one owner's initiatives, pre-filled with their current phasing.

Layout: the canonical initiatives layout (``docs/workbook-format.md``) for one metric and
scenario. The id and descriptive columns are locked (sheet protection without a password:
it stops accidents, not intent; the import re-checks every locked cell anyway); the month
cells are unlocked and accept numbers only. A hidden sheet ``_tledger`` stamps the
exporting ledger's id, the programme, owner, metric, scenario, the ledger version the
export was taken at and, per initiative, the submission that last changed its phasing and
its attributes, and signs all of it with the ledger's stamp key
(:mod:`ledger.owner_format`). The import (:mod:`importers.owner`) checks the signature,
then uses the stamp to refuse rows that are not the owner's and to detect changes made in
the ledger after the export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import xlsxwriter

from ledger.api import Ledger
from ledger.approvals import commitments
from ledger.engine import gap
from ledger.errors import LedgerError
from ledger.initiatives import current_initiatives
from ledger.money import from_minor
from ledger.months import fiscal_year, fiscal_year_label
from ledger.owner_format import (
    DATA_SHEET,
    FIRST_DATA_ROW,
    FIXED_HEADERS,
    HEADER_ROW,
    MAX_CELL,
    SIGNATURE_KEY,
    STAMP_COLUMNS,
    STAMP_FORMAT,
    STAMP_SHEET,
    exported_rows,
    sign,
    stamp_payload,
)
from ledger.phasing import (
    attribute_versions,
    initiative_phasing,
    phasing_versions,
)
from ledger.store import current_user, last_submission_id
from ledger.vocabulary import check_scenario
from reports.excel.formulas import criterion
from reports.safe import looks_like_formula


@dataclass
class OwnerExport:
    """Everything an owner workbook holds, gathered in one read transaction."""

    programme: str
    currency: str
    owner: str
    metric: str
    metric_unit: str
    decimals: int
    scenario: str
    months: list[date]
    as_of: int
    """The newest submission when the export was taken."""
    exported_at: datetime
    exported_by: str
    rows: pd.DataFrame
    """One row per initiative: ``initiative_id, external_id, name, owner, business_unit,
    lever, stage, description, phasing_version, attributes_version``."""
    amounts: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    """``(external_id, 'YYYY-MM-01') -> amount`` in the metric's unit."""
    ledger_id: str = ""
    """The exporting ledger's id (:meth:`ledger.api.Ledger.identity`)."""
    signature: str = ""
    """HMAC of the stamp and the exported cells (:func:`ledger.owner_format.sign`)."""
    fy_start_month: int = 7
    plan_totals: dict[str, Decimal] = field(default_factory=dict)
    """Context (not signed, not imported): each initiative's horizon plan."""
    forecast_totals: dict[str, Decimal] = field(default_factory=dict)
    """Context: each initiative's horizon forecast (the last one recorded)."""
    committed: set[str] = field(default_factory=set)
    """Context: in a plan workbook, the initiatives whose plan is committed (L3+): their
    month cells are written locked, and the import refuses a change to them."""
    units: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    """Context: for each business unit of the owner's initiatives, its horizon target and
    the bottom-up of all its initiatives (every owner), in the export's scenario."""

    def stamp_meta(self) -> dict[str, str]:
        """The stamp's signed metadata, as written (see :data:`META_KEYS`)."""
        return {
            "format": STAMP_FORMAT,
            "ledger_id": self.ledger_id,
            "programme": self.programme,
            "owner": self.owner,
            "metric": self.metric,
            "scenario": self.scenario,
            "decimals": str(self.decimals),
            "first_month": self.months[0].isoformat(),
            "last_month": self.months[-1].isoformat(),
            "as_of": str(self.as_of),
            "exported_at": self.exported_at.isoformat(),
            "exported_by": self.exported_by,
        }

    def stamp_table(self) -> list[list[str]]:
        """The stamp's per-initiative table (:data:`STAMP_COLUMNS`), as written."""
        return [[str(row["external_id"]), str(row["phasing_version"]),
                 str(row["attributes_version"]), str(FIRST_DATA_ROW + k)]
                for k, row in enumerate(self.rows.to_dict("records"))]


def owner_initiatives(frame: pd.DataFrame, owner: str) -> pd.DataFrame:
    """The active initiatives in ``frame`` whose owner is ``owner`` (case and surrounding
    spaces ignored)."""
    key = owner.strip().casefold()
    mask = (frame["owner"].astype(str).str.strip().str.casefold() == key) & (
        frame["status"] == "active")
    return frame[mask]


def collect_owner_export(
    ledger: Ledger,
    owner: str,
    *,
    metric: str | None = None,
    scenario: str = "plan",
    user: str | None = None,
) -> OwnerExport:
    """Gather ``owner``'s active initiatives and their current phasing for one metric and
    scenario, with the versions the import will check against.

    Raises:
        LedgerError: the owner has no active initiatives (the message lists the owners).
    """
    check_scenario(scenario)
    with ledger.reading() as conn:
        prog = ledger.programme(conn)
        m = ledger.metric(metric, conn)
        as_of = last_submission_id(conn)
        every = current_initiatives(conn)
        mine = owner_initiatives(every, owner)
        if mine.empty:
            owners = sorted(set(every.loc[every["status"] == "active", "owner"]))
            known = ", ".join(owners[:20]) + (" ..." if len(owners) > 20 else "")
            raise LedgerError(f"no active initiatives owned by {owner!r} "
                              f"(owners: {known or 'none yet'})")
        ids = mine["initiative_id"].tolist()
        phasing = initiative_phasing(conn, ids, m.id, scenario)
        p_versions = phasing_versions(conn, ids, m.id, scenario)
        a_versions = attribute_versions(conn, ids)
        ledger_id, stamp_key = ledger.identity(conn)
        context = {sc: initiative_phasing(conn, ids, m.id, sc) for sc in ("plan", "forecast")}
        by_unit = gap(ledger, metric=m.code, scenario=scenario, by="business_unit", conn=conn)
        locked = set(commitments(conn, ids)) if scenario == "plan" else set()
    rows = mine[["initiative_id", "external_id", "name", "owner", "business_unit", "lever",
                 "stage", "description"]].copy().reset_index(drop=True)
    rows["phasing_version"] = rows["initiative_id"].map(p_versions).astype("int64")
    rows["attributes_version"] = rows["initiative_id"].map(a_versions).astype("int64")
    ext = dict(zip(mine["initiative_id"], mine["external_id"], strict=True))
    amounts = {
        (ext[i], str(mon)): from_minor(int(a), m.decimals)
        for i, mon, a in zip(phasing["initiative_id"], phasing["month"],
                             phasing["amount_minor"], strict=True)
    }
    inside = {mon.isoformat() for mon in prog.months}

    def totals(frame: pd.DataFrame) -> dict[str, Decimal]:
        kept = frame[frame["month"].astype(str).isin(inside).to_numpy()]
        sums = kept.groupby("initiative_id")["amount_minor"].sum()
        return {ext[int(str(i))]: from_minor(int(v), m.decimals) for i, v in sums.items()}

    horizon = by_unit.fiscal[by_unit.fiscal["period"] == "Horizon"].set_index("part")
    owned_units = sorted({str(u) for u in rows["business_unit"].dropna()})
    export = OwnerExport(
        programme=prog.name, currency=prog.currency, owner=str(mine["owner"].iloc[0]),
        metric=m.code, metric_unit=m.unit, decimals=m.decimals, scenario=scenario,
        months=prog.months, as_of=as_of, exported_at=datetime.now(UTC),
        exported_by=current_user(user), rows=rows, amounts=amounts, ledger_id=ledger_id,
        fy_start_month=prog.fy_start_month,
        committed={str(ext[i]) for i in locked},
        plan_totals=totals(context["plan"]), forecast_totals=totals(context["forecast"]),
        units=[(u, Decimal(str(horizon.at[u, "target"])), Decimal(str(horizon.at[u, "bottom_up"])))
               for u in owned_units if u in horizon.index],
    )
    cells = exported_rows(
        rows.to_dict("records"),
        zip(phasing["initiative_id"].map(ext), phasing["month"], phasing["amount_minor"],
            strict=True),
        [mon.isoformat() for mon in export.months],
    )
    export.signature = sign(stamp_key,
                            stamp_payload(export.stamp_meta(), export.stamp_table(), cells))
    return export


def _text(value: object) -> str:
    # pandas-stubs has no isna(object); a cell here is None, NaN or a scalar.
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return str(value)


def _col(index: int) -> str:
    name: str = xlsxwriter.utility.xl_col_to_name(index)  # XlsxWriter is untyped
    return name


def _header(text: str) -> str:
    return text.replace("&", "&&")[:50]


def _write_context(wb: xlsxwriter.Workbook, ws: xlsxwriter.worksheet.Worksheet,
                   export: OwnerExport, first_month_col: int, total_col: int,
                   num: str) -> None:
    """Context beside the cells to fill (never read back by the import, not signed): the
    column totals in row 3 above the month headers; after the Total column each fiscal
    year's subtotal, the initiative's plan and last forecast over the horizon; then, per
    business unit of the owner's initiatives, its target against the owner's total."""
    n = len(export.rows)
    first, last = FIRST_DATA_ROW, FIRST_DATA_ROW - 1 + max(n, 1)
    ctx_head = wb.add_format({"bold": True, "bg_color": "#E2EFDA", "border": 1,
                              "text_wrap": True, "locked": True, "align": "center"})
    ctx = wb.add_format({"locked": True, "num_format": num, "font_color": "#375623"})
    ctx_bold = wb.add_format({"locked": True, "num_format": num, "bold": True, "top": 1})
    label = wb.add_format({"locked": True, "bold": True, "align": "right"})
    pct = wb.add_format({"locked": True, "num_format": "0.0%", "bold": True})
    ws.write_string(HEADER_ROW - 2, first_month_col - 1, "Column totals", label)
    for col in range(first_month_col, total_col + 1):
        letter = _col(col)
        value = sum((export.amounts.get((str(e), export.months[col - first_month_col]
                                         .isoformat()), Decimal(0))
                     for e in export.rows["external_id"]), Decimal(0)) \
            if col < total_col else sum(export.amounts.values(), Decimal(0))
        ws.write_formula(HEADER_ROW - 2, col, f"=SUM({letter}{first}:{letter}{last})",
                         ctx_bold, float(value))
    groups: dict[str, list[int]] = {}
    for j, mon in enumerate(export.months):
        groups.setdefault(fiscal_year_label(fiscal_year(mon, export.fy_start_month)),
                          []).append(first_month_col + j)
    col = total_col + 1
    ws.set_column(col, col, 2)  # a narrow gap between the cells to fill and the context
    col += 1
    context_cols: list[tuple[str, int]] = []
    for fy, members in groups.items():
        context_cols.append((fy, col))
        ws.write_string(HEADER_ROW - 1, col, fy, ctx_head)
        for k, row in enumerate(export.rows.to_dict("records")):
            rr = FIRST_DATA_ROW - 1 + k
            ext = str(row["external_id"])
            value = sum((export.amounts.get((ext, export.months[c - first_month_col]
                                             .isoformat()), Decimal(0)) for c in members),
                        Decimal(0))
            ws.write_formula(rr, col, f"=SUM({_col(members[0])}{rr + 1}:"
                                      f"{_col(members[-1])}{rr + 1})", ctx, float(value))
        col += 1
    for heading, values in (("Plan (horizon)", export.plan_totals),
                            ("Last forecast (horizon)", export.forecast_totals)):
        ws.write_string(HEADER_ROW - 1, col, heading, ctx_head)
        for k, row in enumerate(export.rows.to_dict("records")):
            amount = values.get(str(row["external_id"]))
            if amount is not None:
                ws.write_number(FIRST_DATA_ROW - 1 + k, col, float(amount), ctx)
        context_cols.append((heading, col))
        col += 1
    ws.set_column(total_col + 2, col - 1, 13)
    if not export.units:
        return
    col += 1
    unit_col = col
    for pos, heading in enumerate(["Business unit", f"Unit target ({export.scenario} "
                                   "horizon)", "Unit bottom-up (all owners)",
                                   "Your initiatives (as filled in)", "Yours / target"]):
        ws.write_string(HEADER_ROW - 1, unit_col + pos, heading, ctx_head)
    units_range = f"$D${first}:$D${last}"
    totals_range = f"${_col(total_col)}${first}:${_col(total_col)}${last}"
    for k, (unit, target, bottom_up) in enumerate(export.units):
        rr = FIRST_DATA_ROW - 1 + k
        ws.write_string(rr, unit_col, unit, wb.add_format({"locked": True, "bold": True}))
        ws.write_number(rr, unit_col + 1, float(target), ctx)
        ws.write_number(rr, unit_col + 2, float(bottom_up), ctx)
        yours = _col(unit_col + 3) + str(rr + 1)
        mine = sum((sum((export.amounts.get((str(r["external_id"]), mon.isoformat()),
                                             Decimal(0)) for mon in export.months), Decimal(0))
                    for r in export.rows.to_dict("records") if r["business_unit"] == unit),
                   Decimal(0))
        ws.write_formula(rr, unit_col + 3,
                         f"=SUMIF({units_range},{criterion(unit)},{totals_range})",
                         ctx_bold, float(mine))
        ws.write_formula(rr, unit_col + 4,
                         f'=IF({_col(unit_col + 1)}{rr + 1}=0,"",{yours}/'
                         f"{_col(unit_col + 1)}{rr + 1})", pct,
                         float(mine / target) if target else "")
    ws.set_column(unit_col, unit_col, 12)
    ws.set_column(unit_col + 1, unit_col + 4, 15)


def write_owner_workbook(export: OwnerExport, path: str | Path) -> Path:
    """Write ``export`` as an owner workbook at ``path`` (overwritten if it exists).

    Text from the ledger is written as text cells (never as formulas), so a name such as
    ``=HYPERLINK(...)`` stays inert. Amounts go to numeric cells; a spreadsheet keeps 15
    significant digits, so every amount below 10^12 reads back exactly.
    """
    out = Path(path)
    wb = xlsxwriter.Workbook(str(out), {"strings_to_formulas": False, "strings_to_urls": False,
                                        "strings_to_numbers": False})
    ws = wb.add_worksheet(DATA_SHEET)
    decimals = export.decimals
    num = "#,##0" + ("." + "0" * decimals if decimals else "")
    title = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "locked": True})
    head_month = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1,
                                "num_format": "mmm-yy", "locked": True})
    locked = wb.add_format({"locked": True, "bg_color": "#F2F2F2"})
    editable = wb.add_format({"locked": False, "num_format": num, "bg_color": "#FFF2CC"})
    committed = wb.add_format({"locked": True, "num_format": num, "bg_color": "#F2F2F2"})
    # Whole amounts show without ".00" (cents still show when there are any).
    total = wb.add_format({"locked": True, "num_format": num, "bold": True})

    locked_wrap = wb.add_format({"locked": True, "bg_color": "#F2F2F2", "text_wrap": True,
                                 "valign": "top"})
    locked_quoted = wb.add_format({"locked": True, "bg_color": "#F2F2F2", "text_wrap": True,
                                   "valign": "top", "quote_prefix": True})
    ws.write_string(0, 0, f"{export.programme}: phasing of {export.owner}'s initiatives "
                          f"({export.metric}, {export.scenario})", title)
    ws.write_string(1, 0, f"Amounts in {export.metric_unit}. Edit the yellow month cells only; "
                          "leave a cell empty for no amount. Send the file back unchanged "
                          "otherwise." + (" Grey month cells are a committed plan (L3 "
                                          "or later): change the forecast, or ask the "
                                          "office." if export.committed else ""))
    headers = FIXED_HEADERS
    r = HEADER_ROW - 1
    for c, h in enumerate(headers):
        ws.write_string(r, c, h, head)
    first_month_col = len(headers)
    for j, mon in enumerate(export.months):
        ws.write_datetime(r, first_month_col + j, datetime(mon.year, mon.month, 1), head_month)
    total_col = first_month_col + len(export.months)
    ws.write_string(r, total_col, "Total", head)

    for k, row in enumerate(export.rows.to_dict("records")):
        rr = FIRST_DATA_ROW - 1 + k
        ext = str(row["external_id"])
        values = [ext, row["name"], row["owner"], row["business_unit"], row["lever"],
                  row["stage"], row["description"], export.metric, export.scenario]
        for c, v in enumerate(values):
            text = _text(v)
            # Text that starts like a formula keeps Excel's quote prefix: editing the cell
            # never turns it into one.
            cell_format = (locked_quoted if looks_like_formula(text) else
                           locked_wrap if c in (1, 6) else locked)
            ws.write_string(rr, c, text, cell_format)
        month_format = committed if ext in export.committed else editable
        for j, mon in enumerate(export.months):
            amount = export.amounts.get((ext, mon.isoformat()))
            if amount is None:
                ws.write_blank(rr, first_month_col + j, None, month_format)
            else:
                # The spreadsheet's number type is binary floating point: this is the
                # boundary where the exact Decimal becomes a cell value.
                ws.write_number(rr, first_month_col + j, float(amount), month_format)
        first = f"{_col(first_month_col)}{rr + 1}"
        last = f"{_col(total_col - 1)}{rr + 1}"
        row_total = sum((export.amounts.get((ext, mon.isoformat()), Decimal(0))
                         for mon in export.months), Decimal(0))
        ws.write_formula(rr, total_col, f"=SUM({first}:{last})", total, float(row_total))
    n = len(export.rows)
    if n and decimals:
        whole = wb.add_format({"num_format": "#,##0"})
        top_left = f"{_col(first_month_col)}{FIRST_DATA_ROW}"
        ws.conditional_format(FIRST_DATA_ROW - 1, first_month_col, FIRST_DATA_ROW - 2 + n,
                              total_col, {"type": "formula", "format": whole,
                                          "criteria": f"=MOD({top_left},1)=0"})
    if n:
        ws.data_validation(
            FIRST_DATA_ROW - 1, first_month_col, FIRST_DATA_ROW - 2 + n, total_col - 1,
            {"validate": "decimal", "criteria": "between", "minimum": -MAX_CELL,
             "maximum": MAX_CELL, "ignore_blank": True,
             "error_title": "Amount expected",
             "error_message": f"Enter an amount in {export.metric_unit} (a number), "
                              "or leave the cell empty."},
        )
    _write_context(wb, ws, export, first_month_col, total_col, num)
    ws.freeze_panes(HEADER_ROW, 2)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 42)
    ws.set_column(2, 5, 13)
    ws.set_column(6, 6, 42)
    ws.set_column(7, 8, 10)
    ws.set_column(first_month_col, total_col, 12)
    fiscal_years = {fiscal_year(mon, export.fy_start_month) for mon in export.months}
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1 + len(fiscal_years), 0)
    ws.repeat_rows(0, HEADER_ROW - 1)
    ws.repeat_columns(0, 1)
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)
    ws.set_header(f"&L&9{_header(export.programme)}&C&9{_header(export.owner)}"
                  f"&R&9{export.metric}, {export.scenario}")
    ws.set_footer("&L&8tledger owner workbook&R&8Page &P of &N")
    # No password: protection stops accidental edits; the import checks locked cells too.
    ws.protect("", {"format_columns": True, "format_rows": True, "select_locked_cells": True,
                    "select_unlocked_cells": True})

    stamp = wb.add_worksheet(STAMP_SHEET)
    meta = [*export.stamp_meta().items(), (SIGNATURE_KEY, export.signature)]
    for i, (key, value) in enumerate(meta):
        stamp.write_string(i, 0, key)
        stamp.write_string(i, 1, value)
    base = len(meta) + 1
    for c, h in enumerate(STAMP_COLUMNS):
        stamp.write_string(base, c, h)
    for k, cells in enumerate(export.stamp_table()):
        for c, text in enumerate(cells):
            stamp.write_string(base + 1 + k, c, text)
    stamp.very_hidden()  # not even listed under Unhide in Excel: no accidental edits
    stamp.protect("")
    ws.activate()
    wb.close()
    return out

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
from ledger.errors import LedgerError
from ledger.initiatives import current_initiatives
from ledger.money import from_minor
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
    export = OwnerExport(
        programme=prog.name, currency=prog.currency, owner=str(mine["owner"].iloc[0]),
        metric=m.code, metric_unit=m.unit, decimals=m.decimals, scenario=scenario,
        months=prog.months, as_of=as_of, exported_at=datetime.now(UTC),
        exported_by=current_user(user), rows=rows, amounts=amounts, ledger_id=ledger_id,
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
    total = wb.add_format({"locked": True, "num_format": num, "bold": True})

    ws.write_string(0, 0, f"{export.programme}: phasing of {export.owner}'s initiatives "
                          f"({export.metric}, {export.scenario})", title)
    ws.write_string(1, 0, f"Amounts in {export.metric_unit}. Edit the yellow month cells only; "
                          "leave a cell empty for no amount. Send the file back unchanged "
                          "otherwise.")
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
            ws.write_string(rr, c, _text(v), locked)
        for j, mon in enumerate(export.months):
            amount = export.amounts.get((ext, mon.isoformat()))
            if amount is None:
                ws.write_blank(rr, first_month_col + j, None, editable)
            else:
                # The spreadsheet's number type is binary floating point: this is the
                # boundary where the exact Decimal becomes a cell value.
                ws.write_number(rr, first_month_col + j, float(amount), editable)
        first = f"{_col(first_month_col)}{rr + 1}"
        last = f"{_col(total_col - 1)}{rr + 1}"
        row_total = sum((export.amounts.get((ext, mon.isoformat()), Decimal(0))
                         for mon in export.months), Decimal(0))
        ws.write_formula(rr, total_col, f"=SUM({first}:{last})", total, float(row_total))
    n = len(export.rows)
    if n:
        ws.data_validation(
            FIRST_DATA_ROW - 1, first_month_col, FIRST_DATA_ROW - 2 + n, total_col - 1,
            {"validate": "decimal", "criteria": "between", "minimum": -MAX_CELL,
             "maximum": MAX_CELL, "ignore_blank": True,
             "error_title": "Amount expected",
             "error_message": f"Enter an amount in {export.metric_unit} (a number), "
                              "or leave the cell empty."},
        )
    ws.freeze_panes(HEADER_ROW, 2)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 30)
    ws.set_column(2, 8, 12)
    ws.set_column(first_month_col, total_col, 12)
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

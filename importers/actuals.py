"""Importing finance's general-ledger extract (``tledger import actuals``): a long table of
period, cost centre (or business unit), account (or account group) and amount, mapped to
business units and metrics, checked, then written all or nothing (docs/reconciliation.md).

Read -> check (every problem in one run, with its cell) -> write one submission whose lines
replace the months the extract covers. The same file again (same SHA-256, same mapping) is
recognised and nothing is written.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from importers.amounts import convert
from importers.command import transaction
from importers.headers import serial_month
from importers.layout import cell_ref
from importers.mapping import read_mapping_toml
from importers.problems import ImportProblems, ProblemLog
from importers.reading import ImportParams, already_imported, is_csv_file, read_csv_grid
from importers.workbook import STAMP_SHEET, content_digest, file_sha256, open_workbook, read_grid
from ledger.api import Ledger, MetricInfo
from ledger.errors import LedgerError
from ledger.models import GlActual
from ledger.months import MonthError, parse_month
from ledger.store import bulk_insert, current_user, new_submission

#: Header texts (normalised: lower case, letters and digits only) recognised per column.
HEADERS: dict[str, tuple[str, ...]] = {
    "period": ("period", "month", "postingperiod", "fiscalperiod", "accountingperiod",
               "date", "postingdate", "periodend"),
    "unit": ("costcentre", "costcenter", "cc", "costcentrecode", "costcentercode",
             "businessunit", "unit", "bu", "profitcentre", "profitcenter"),
    "account": ("account", "accountgroup", "glaccount", "accountname", "accountcode",
                "naturalaccount", "metric", "ledgeraccount"),
    "amount": ("amount", "value", "actual", "actuals", "netamount", "balance", "total",
               "amountaud", "amountlc"),
}
ROLE_NAMES = {"period": "Period", "unit": "Cost centre", "account": "Account",
              "amount": "Amount"}
PNL_KINDS = ("cost", "income")
DEFAULT_SHEETS = ("Actuals", "GL", "General ledger")
_HEADER_SCAN_ROWS = 30


def _norm(value: Any) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(value).casefold()) if isinstance(value, str) else ""


@dataclass
class ActualsMapping:
    """The ``[actuals]`` part of a mapping file (and ``sheet``, ``decimal``)."""

    cost_centres: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    pnl_kind: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None
    decimal: str = "."
    digest: str | None = None

    @classmethod
    def load(cls, path: Path | None) -> ActualsMapping:
        """Read ``path`` (None: no mapping).

        Raises:
            LedgerError: unreadable TOML, an unknown key or an ill-typed value.
        """
        if path is None:
            return cls()
        raw = read_mapping_toml(path)
        unknown = sorted(set(raw) - {"actuals", "sheet", "decimal"})
        if unknown:
            raise LedgerError(f"mapping file {path}: unknown key {unknown[0]!r} for an "
                              "actuals import (known: sheet, decimal, [actuals])")
        section = raw.get("actuals", {})
        tables = ("cost_centres", "accounts", "pnl_kind", "columns")
        if not isinstance(section, dict) or set(section) - set(tables):
            extra = sorted(set(section) - set(tables)) if isinstance(section, dict) else []
            raise LedgerError(f"mapping file {path}: actuals.{extra[0] if extra else ''}: "
                              f"expected the tables {', '.join(tables)}")
        parts: dict[str, dict[str, str]] = {}
        for name in tables:
            table = section.get(name, {})
            if not isinstance(table, dict) or not all(
                    isinstance(v, str) and v.strip() and k.strip() for k, v in table.items()):
                raise LedgerError(f"mapping file {path}: [actuals.{name}]: expected "
                                  "\"text\" = \"text\" lines, none empty")
            parts[name] = {k.strip(): v.strip() for k, v in table.items()}
        for metric, kind in parts["pnl_kind"].items():
            if kind not in PNL_KINDS:
                raise LedgerError(f"mapping file {path}: [actuals.pnl_kind] {metric} = "
                                  f"{kind!r}: expected cost or income")
        for role in parts["columns"]:
            if role not in HEADERS:
                raise LedgerError(f"mapping file {path}: [actuals.columns] {role!r}: "
                                  f"expected one of {', '.join(HEADERS)}")
        decimal = raw.get("decimal", ".")
        if decimal not in (".", ","):
            raise LedgerError(f"mapping file {path}: decimal {decimal!r}: expected \".\" or "
                              "\",\"")
        sheet = raw.get("sheet")
        if sheet is not None and not isinstance(sheet, str):
            raise LedgerError(f"mapping file {path}: sheet: expected one sheet name")
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
        return cls(parts["cost_centres"], parts["accounts"], parts["pnl_kind"],
                   parts["columns"], sheet, decimal, digest.hexdigest())


def match_code(value: str, table: dict[str, str], codes: dict[str, str]) -> str | None:
    """The code ``value`` maps to: an exact key of ``table`` (case and surrounding spaces
    ignored); else the first key with ``*``, ``?`` or ``[...]`` that matches it as a
    shell-style pattern, in the file's order (case ignored); else a code (or name) of
    ``codes`` (folded -> code) equal to it, case ignored. None when nothing matches."""
    text = value.strip()
    folded = text.casefold()
    for key, code in table.items():
        if key.casefold() == folded:
            return code
    for key, code in table.items():
        if any(ch in key for ch in "*?[") and fnmatch.fnmatchcase(folded, key.casefold()):
            return code
    return codes.get(folded)


def _period(value: Any, fy_start: int) -> date | None:
    if isinstance(value, (date, datetime)):
        return parse_month(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return serial_month(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", text):
            text = text[:7]
        try:
            return parse_month(text, fy_start)
        except MonthError:
            return None
    return None


@dataclass
class ActualsResult:
    """What :func:`import_actuals` did (or, for a dry run, would do)."""

    file: str
    submission_id: int | None
    already_imported_as: int | None
    lines: int
    months: list[str]
    replaced_months: list[str]
    totals: pd.DataFrame
    """month, unit, metric, amount (Decimal): the extract summed."""
    dry_run: bool


@dataclass
class _Grid:
    rows: list[list[Any]]
    sheet: str


def _read(path: Path, mapping: ActualsMapping, log: ProblemLog) -> _Grid | None:
    if is_csv_file(path):
        grid = read_csv_grid(path, log)
        return None if grid is None else _Grid(grid, "")
    book = open_workbook(path, log, other_formats=True)
    if book is None:
        return None
    try:
        sheets = [s for s in book.sheets if s != STAMP_SHEET]
        wanted = [mapping.sheet] if mapping.sheet else list(DEFAULT_SHEETS)
        found = next((s for s in (book.find_sheet(w) for w in wanted) if s), None)
        if found is None and mapping.sheet:
            log.error("", "", f"no sheet {mapping.sheet!r} (sheets: {', '.join(sheets)})",
                      "the sheet named in the mapping")
            return None
        sheet = found or next(iter([s for s in book.visible if s != STAMP_SHEET] or sheets),
                              None)
        if sheet is None:
            log.error("", "", "a workbook without worksheets", "a sheet named Actuals")
            return None
        grid = read_grid(book, sheet, log)
        return None if grid is None else _Grid(grid, sheet)
    finally:
        book.close()


def _header(grid: _Grid, mapping: ActualsMapping, log: ProblemLog,
            ) -> tuple[int, dict[str, int]] | None:
    """(header row index, role -> column index)."""
    wanted = {role: ((_norm(mapping.columns[role]),) if role in mapping.columns else names)
              for role, names in HEADERS.items()}
    for r, row in enumerate(grid.rows[:_HEADER_SCAN_ROWS]):
        cols: dict[str, int] = {}
        for c, value in enumerate(row):
            text = _norm(value)
            for role, names in wanted.items():
                if role not in cols and text and (text in names or any(
                        text.startswith(n) for n in names if len(n) > 3)):
                    cols[role] = c
                    break
        if {"period", "amount"} <= set(cols) and len(cols) >= 3:
            missing = [ROLE_NAMES[k] for k in HEADERS if k not in cols]
            if missing:
                log.error(grid.sheet, cell_ref(r, 0), f"a header without {', '.join(missing)}",
                          "columns Period, Cost centre (or Business unit), Account (or "
                          "Account group) and Amount")
                return None
            return r, cols
    log.error(grid.sheet, "", "no header row with Period, Cost centre, Account and Amount",
              "a header row (in the first 30 rows) naming the columns Period, Cost centre "
              "(or Business unit), Account (or Account group) and Amount, or "
              "[actuals.columns] in a --mapping file")
    return None


@dataclass
class _Checked:
    lines: pd.DataFrame
    rows_read: int


def _unknown(log: ProblemLog, sheet: str, what: str, misses: dict[str, list[str]],
             expected: str) -> None:
    for value, cells in misses.items():
        count = f" ({len(cells)} rows)" if len(cells) > 1 else ""
        log.error(sheet, cells[0], f"{what} {value!r}{count}", expected)


def _check_mapping_codes(mapping: ActualsMapping, units: set[str], metrics: set[str]) -> None:
    """Refuse a mapping that names a unit or metric the ledger lacks."""
    for metric in mapping.pnl_kind:
        if metric not in metrics:
            raise LedgerError(f"[actuals.pnl_kind] {metric!r}: no such metric (known: "
                              f"{', '.join(sorted(metrics))})")
    for table, known, what in ((mapping.cost_centres, units, "business unit"),
                               (mapping.accounts, metrics, "metric")):
        for key, code in table.items():
            if code not in known:
                raise LedgerError(f"mapping: {key!r} = {code!r}: no such {what} (known: "
                                  f"{', '.join(sorted(known))})")


def _check(grid: _Grid, header: int, cols: dict[str, int], mapping: ActualsMapping,
           ledger: Ledger, conn: Connection, log: ProblemLog) -> _Checked:
    """Every data row converted (every problem logged)."""
    prog = ledger.programme(conn)
    units = {str(c).casefold(): str(c) for c in ledger.business_units(conn)["code"]}
    units.update({str(n).casefold(): str(c) for c, n in
                  zip(ledger.business_units(conn)["code"], ledger.business_units(conn)["name"],
                      strict=True)})
    metrics: dict[str, MetricInfo] = {m.code: m for m in ledger.metrics(conn)}
    metric_codes = {code.casefold(): code for code in metrics}
    metric_codes.update({m.name.casefold(): m.code for m in metrics.values()})
    _check_mapping_codes(mapping, set(units.values()), set(metrics))
    records: list[dict[str, Any]] = []
    amounts: list[Any] = []
    cells: list[str] = []
    bad_units: dict[str, list[str]] = {}
    bad_accounts: dict[str, list[str]] = {}
    first, last = prog.first_month, prog.last_month
    for r in range(header + 1, len(grid.rows)):
        row = grid.rows[r]

        def at(role: str, row: list[Any] = row) -> Any:
            c = cols[role]
            return row[c] if c < len(row) else ""

        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        ref = {role: cell_ref(r, c) for role, c in cols.items()}
        period = _period(at("period"), prog.fy_start_month)
        if period is None:
            log.bad_value(grid.sheet, ref["period"], at("period"),
                          "a period such as 2026-07, Jul-26, 2026-07-31 or a date")
        elif not first <= period <= last:
            log.bad_value(grid.sheet, ref["period"], at("period"),
                          f"a month inside the horizon ({first:%Y-%m} to {last:%Y-%m})")
            period = None
        cc, account = str(at("unit")).strip(), str(at("account")).strip()
        unit = match_code(cc, mapping.cost_centres, units) if cc else None
        if unit is None:
            bad_units.setdefault(cc, []).append(ref["unit"])
        metric = match_code(account, mapping.accounts, metric_codes) if account else None
        if metric is None:
            bad_accounts.setdefault(account, []).append(ref["account"])
        records.append({"month": period, "unit": unit, "metric": metric, "cost_centre": cc,
                        "account": account})
        amounts.append(at("amount"))
        cells.append(ref["amount"])
    _unknown(log, grid.sheet, "cost centre", bad_units,
             "a cost centre in [actuals.cost_centres] of the --mapping file, or a business "
             "unit code: " + ", ".join(sorted(set(units.values()))))
    _unknown(log, grid.sheet, "account", bad_accounts,
             "an account in [actuals.accounts] of the --mapping file (\"6100*\" = \"cost\"), "
             "or a metric code: " + ", ".join(sorted(metrics)))
    frame = pd.DataFrame(records, columns=["month", "unit", "metric", "cost_centre", "account"])
    frame["amount_minor"] = _amounts(frame, amounts, cells, metrics, mapping, grid.sheet, log)
    for too_long, limit in (("cost_centre", 120), ("account", 200)):
        for pos in np.flatnonzero(frame[too_long].str.len() > limit).tolist():
            log.bad_value(grid.sheet, cells[pos], frame[too_long].iloc[pos],
                          f"at most {limit} characters")
    return _Checked(frame, len(records))


def _amounts(frame: pd.DataFrame, amounts: list[Any], cells: list[str],
             metrics: dict[str, MetricInfo], mapping: ActualsMapping, sheet: str,
             log: ProblemLog) -> np.ndarray:
    """The amounts in their metric's minor units (bad and missing ones logged)."""
    decimals = np.array([metrics[m].decimals if isinstance(m, str) else 2
                         for m in frame["metric"]],
                        dtype=np.int64)
    values = np.array([("" if v is None else v) for v in amounts], dtype=object)
    converted = convert(values, decimals, Decimal(1), mapping.decimal)
    for index, found, expected in converted.errors:
        log.bad_value(sheet, cells[index], found, expected)
    for index, read, kept in converted.rounded[:200]:
        log.warn(sheet, cells[index], str(read),
                 f"at most {int(decimals[index])} decimals: rounded to {kept}")
    missing = np.flatnonzero(~converted.present).tolist()
    error_cells = {cells[i] for i, _, _ in converted.errors}
    for index in missing:
        if cells[index] not in error_cells:
            log.bad_value(sheet, cells[index], values[index], "an amount")
    return converted.minor


def import_actuals(ledger: Ledger, path: Path, *, mapping: Path | None = None,
                   dry_run: bool = False, user: str | None = None, note: str = "",
                   ) -> ActualsResult:
    """Import a general-ledger extract: its lines replace the actuals of the months it
    covers, in one submission; a file imported before (same SHA-256 and mapping) writes
    nothing.

    Raises:
        ImportProblems: the file has errors (all listed); nothing was written.
        LedgerError: a bad mapping file.
    """
    path = Path(path)
    the_mapping = ActualsMapping.load(mapping)
    log = ProblemLog(path.name)
    try:
        sha = file_sha256(path)
    except OSError:
        sha = ""
    params = ImportParams(what="actuals", scale=Decimal(1), mapping_sha256=the_mapping.digest)
    digest = content_digest(path) if path.is_file() else None
    with transaction(ledger, dry_run) as conn:
        previous = already_imported(conn, sha, digest, params) if sha else None
        if previous is not None:
            return ActualsResult(path.name, None, previous[0], 0, [], [],
                                 pd.DataFrame(columns=["month", "unit", "metric", "amount"]),
                                 dry_run)
        grid = _read(path, the_mapping, log)
        found = _header(grid, the_mapping, log) if grid is not None else None
        if grid is None or found is None:
            raise ImportProblems(log.finish())
        checked = _check(grid, *found, the_mapping, ledger, conn, log)
        problems = log.finish()
        if log.has_errors:
            raise ImportProblems(problems)
        if not len(checked.lines):
            raise ImportProblems([*problems, *_no_lines(path.name, grid.sheet)])
        return _write(ledger, conn, path.name, sha, digest, checked.lines, the_mapping,
                      params, dry_run, user, note)


def _no_lines(file: str, sheet: str) -> list[Any]:
    log = ProblemLog(file)
    log.error(sheet, "", "a header without data rows", "at least one GL line")
    return log.finish()


def _write(ledger: Ledger, conn: Connection, name: str, sha: str, digest: Any,
           lines: pd.DataFrame, mapping: ActualsMapping, params: ImportParams,
           dry_run: bool, user: str | None, note: str) -> ActualsResult:
    from ledger.pnl import gl_lines

    metrics = {m.code: m for m in ledger.metrics(conn)}
    unit_ids = dict(zip(ledger.business_units(conn)["code"],
                        ledger.business_units(conn)["id"], strict=True))
    months = sorted({m.isoformat() for m in lines["month"]})
    current = gl_lines(conn)
    replaced = sorted({str(m)[:7] for m in current["month"] if str(m) in months})
    kinds = [mapping.pnl_kind.get(m, "cost" if metrics[m].kind == "cost" else "income")
             for m in lines["metric"]]
    totals = pd.DataFrame(lines.groupby(["month", "unit", "metric"], as_index=False)
                          ["amount_minor"].sum())
    totals["month"] = [f"{m:%Y-%m}" for m in totals["month"]]
    totals["amount"] = pd.Series([Decimal(int(a)).scaleb(-metrics[m].decimals) for a, m in
                                  zip(totals.pop("amount_minor"), totals["metric"],
                                      strict=True)], dtype=object)
    result = ActualsResult(name, None, None, len(lines), [m[:7] for m in months], replaced,
                           totals, dry_run)
    if dry_run:
        return result
    sub = new_submission(conn, kind="import", user=current_user(user), note=note,
                         source_name=name, source_sha256=sha or None,
                         **({"content_parts": digest.parts, "content_sha256": digest.sha256()}
                            if digest is not None and digest.sha256() else {}),
                         details={**params.details(), "rows": len(lines),
                                  "months": [m[:7] for m in months]})
    table = GlActual.metadata.tables[GlActual.__tablename__]
    bulk_insert(conn, table, pd.DataFrame({
        "month": [m.isoformat() for m in lines["month"]],
        "business_unit_id": [int(unit_ids[u]) for u in lines["unit"]],
        "metric_id": [metrics[m].id for m in lines["metric"]],
        "pnl_kind": kinds,
        "amount_minor": [int(a) for a in lines["amount_minor"]],
        "cost_centre": list(lines["cost_centre"]),
        "account": list(lines["account"]),
        "created_submission_id": sub.id,
    }))
    result.submission_id = sub.id
    return result

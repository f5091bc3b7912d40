"""``tledger import inspect``: how a workbook would be read, and a starter mapping."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.errors import LedgerError
from tledger.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    emit,
    open_ledger,
)
from tledger.cli.imports import MappingOption, import_app

if TYPE_CHECKING:
    from importers.inspection import Inspection
    from ledger.api import Ledger


def _ledger(db: str | None) -> tuple[Ledger | None, str | None]:
    """The ledger to check codes against: ``--db`` (or TLEDGER_DATABASE_URL), else a
    ``tledger.db`` in this folder, else none."""
    from ledger.db import DEFAULT_SQLITE_FILE, describe_url, resolve_url

    if db is None and not Path(DEFAULT_SQLITE_FILE).exists():
        return None, None
    return open_ledger(db), describe_url(resolve_url(db))


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def _show(found: Inspection) -> None:
    import pandas as pd

    from importers.inspection import FIRST_PROBLEMS

    _say(f"{found.file}" + (f" (mapping {found.mapping})" if found.mapping else ""))
    for s in found.sheets:
        state = "chosen: " + s.reason if s.chosen else ("hidden" if not s.visible else "")
        _say(f"  sheet {s.name!r}" + (f"  <- {state}" if s.chosen else
                                      f"  ({state})" if state else ""))
    if found.found_elsewhere:
        _say(f"the import reads another sheet and finds no table there (first problem below); "
             f"sheet {found.found_elsewhere!r} has one, described here: name it in the mapping "
             f"(sheet = {found.found_elsewhere!r}; --write-mapping does)")
    if found.sheet is None:
        _say("no table found (see the problems below)")
    else:
        months = [c for c in found.columns if c.role == "month" and c.month]
        span = f", {len(months)} month columns {months[0].month} to {months[-1].month}" \
            if months else ""
        _say(f"header row {found.header_row} of {found.sheet!r}; layout {found.layout}{span}")
        if found.scale_note is not None:
            given = (f"the mapping's scale {found.scale} applies" if found.scale else
                     "no scale given: the import stops until one is (--scale or scale =)")
            _say(f"unit note in {found.scale_note['cell']}: amounts in units of "
                 f"{found.scale_note['factor']:,}; {given}")
        skipped = ", ".join(f"{len(v)} {k}" for k, v in found.skipped.items())
        _say(f"rows: {found.rows_read:,} read ({found.initiatives:,} initiatives)"
             + (f"; skipped: {skipped}" if skipped else ""))
        emit(pd.DataFrame([(c.column, c.header, c.role, c.month) for c in found.columns],
                          columns=["column", "header", "role", "month"]),
             OutputFormat.table, title="Columns")
    if found.ledger is None:
        _say("codes were not checked (no ledger: pass --db, or run where tledger.db is)")
    else:
        _say(f"codes checked against {found.ledger}")
    odd = [x for x in found.labels if x.how not in ("code", "as written")]
    if odd:
        emit(pd.DataFrame([(x.role, x.value, x.rows, x.first_cell, x.code or "", x.how,
                            x.closest or "") for x in odd],
                          columns=["role", "value", "rows", "first cell", "code", "how",
                                   "closest code"]),
             OutputFormat.table, title="Values that are not codes")
    if found.problems:
        shown = found.problems[:FIRST_PROBLEMS]
        _say(f"{found.error_count} errors, {found.warning_count} warnings"
             + (f" (first {len(shown)}):" if len(found.problems) > len(shown) else ":"))
        for p in shown:
            _say(f"  {p.severity}: {p}")
    else:
        _say("no problems: the import would read this workbook as shown")


@import_app.command("inspect")
def inspect_cmd(
    file: Annotated[Path, typer.Argument(help="The workbook (.xlsx/.xlsm).")],
    mapping: MappingOption = None,
    write_mapping: Annotated[Path | None, typer.Option(
        "--write-mapping", help="Write a starter mapping (TOML) spelling out every choice, "
        "with a commented line for each value that is not a code.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite the --write-mapping file if it exists.")] = False,
    fy_start: Annotated[int, typer.Option(
        "--fy-start", min=1, max=12, help="Without a ledger: the month a fiscal year starts "
        "in, to read headers such as FY27 M01 (default 7, July).")] = 7,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """How `tledger import initiatives FILE` would read a workbook, without importing it:
    the sheets and the one chosen, the header row, each column's role, the unit note, the
    rows skipped, the values of code columns that are not codes (with the closest code) and
    the first problems. Codes are checked against --db, or a tledger.db in this folder.

    Example: tledger import inspect tracker.xlsx --write-mapping tracker.toml
    """
    from importers.inspection import inspect_workbook, starter_mapping

    if write_mapping is not None and write_mapping.exists() and not force:
        raise LedgerError(f"--write-mapping {write_mapping}: the file exists; pass --force "
                          "to overwrite it")
    if not file.exists():
        raise LedgerError(f"{file}: no such file")
    ledger, name = _ledger(db)
    found = inspect_workbook(file, mapping=mapping, ledger=ledger, ledger_name=name,
                             fy_start=ledger.programme().fy_start_month if ledger else fy_start)
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(found.as_dict(), indent=2, ensure_ascii=False,
                                    default=str) + "\n")
    elif fmt == OutputFormat.csv:
        raise LedgerError("--format csv: inspect reports several tables; use table or json")
    else:
        _show(found)
    if write_mapping is not None:
        write_mapping.write_text(starter_mapping(found), encoding="utf-8")
        typer.echo(f"starter mapping written to {write_mapping}: edit it, then run "
                   f"tledger import inspect {file.name} --mapping {write_mapping}", err=True)

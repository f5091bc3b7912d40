"""The P&L reconciliation's commands: ``tledger import actuals`` (finance's general-ledger
extract in) and ``tledger reconcile`` (claimed savings against the accounts' movement)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.wording import plural
from tledger.cli import app
from tledger.cli.common import (
    DbOption,
    FormatOption,
    NoteOption,
    OutputFormat,
    UserOption,
    committed,
    console,
    emit,
    err_console,
    open_ledger,
)
from tledger.cli.gap import AsOfOption
from tledger.cli.imports import DryRunOption, MappingOption, ReportOption, import_app

if TYPE_CHECKING:
    import pandas as pd

    from importers.actuals import ActualsResult


class ReconcileBy(StrEnum):
    business_unit = "business_unit"
    programme = "programme"


def describe_actuals(result: ActualsResult) -> str:
    """The one line that says what an actuals import did (or would do)."""
    if result.already_imported_as is not None:
        return (f"already imported as submission {result.already_imported_as}; "
                "nothing to do")
    months = ", ".join(result.months)
    replaced = (f"; replaces the actuals of {', '.join(result.replaced_months)}"
                if result.replaced_months else "")
    tail = ("dry run: nothing written" if result.dry_run
            else f"submission {result.submission_id}")
    return (f"{result.file}: {plural(result.lines, 'GL line')} for {months}{replaced}; "
            f"{tail}")


@import_app.command("actuals")
def import_actuals_cmd(
    file: Annotated[Path, typer.Argument(
        help="A general-ledger extract: .csv (comma, semicolon or tab) or a workbook "
        "(.xlsx, .xlsm, .xls, .xlsb, .ods) with columns Period, Cost centre (or Business "
        "unit), Account (or Account group) and Amount.")],
    mapping: MappingOption = None,
    dry_run: DryRunOption = False,
    report: ReportOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Import finance's GL actuals: each line mapped to a business unit (by its cost
    centre) and a metric (by its account), all or nothing; the extract replaces the
    actuals of the months it covers (earlier extracts stay in the history).

    Every unknown cost centre or account, bad period and bad amount is reported at once
    with its cell; nothing is written then. The same file imported again writes nothing.
    See docs/reconciliation.md for the mapping file ([actuals.cost_centres],
    [actuals.accounts]).

    Example: tledger import actuals gl_2026-07.csv --mapping gl.toml --dry-run
    """
    from importers.actuals import import_actuals
    from importers.problems import ImportProblems
    from tledger.cli.imports import _check_report, _show_problems

    _check_report(report)
    ledger = open_ledger(db)
    try:
        result = import_actuals(ledger, file, mapping=mapping, dry_run=dry_run, user=user,
                                note=note)
    except ImportProblems as exc:
        _show_problems(exc.problems, report)
        raise
    if result.submission_id is not None:
        committed(f"the actuals WERE saved (submission {result.submission_id})")
    line = describe_actuals(result)
    if fmt == OutputFormat.table:
        if len(result.totals):
            emit(result.totals, fmt, title="GL actuals by month, unit and metric"
                 + (" (dry run)" if dry_run else ""), right=["amount"])
        console.print(line, highlight=False, markup=False, soft_wrap=True)
        return
    emit(result.totals, fmt)
    err_console.print(line, highlight=False, markup=False, soft_wrap=True)


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    """The reconciliation for a terminal: not-reported months say so."""
    shown = frame.drop(columns=["fiscal_year", "reported"]).astype(object)
    shown.loc[~frame["reported"].astype(bool), "actual"] = "not reported"
    return shown


@app.command("reconcile")
def reconcile_cmd(
    metric: Annotated[str | None, typer.Option(
        "--metric", "-m", help="Metric code (default: every metric with GL actuals).")
    ] = None,
    by: Annotated[ReconcileBy, typer.Option(
        "--by", help="business_unit (each unit, then the programme) or programme.")
    ] = ReconcileBy.business_unit,
    fiscal_year: Annotated[bool, typer.Option(
        "--fiscal-year", help="Fiscal-year totals (sums of the months) instead of months.")
    ] = False,
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Reconcile claimed savings to the P&L: per business unit and month, the movement the
    GL actuals show against the (flexed) baseline, the savings the initiatives claim as
    actuals, and the unexplained difference (movement - claimed).

    A cost's movement is baseline - actual, income's actual - baseline; months without a
    GL extract are "not reported". The programme row is the sum of the units.

    Example: tledger reconcile --by business_unit --fiscal-year
    """
    from ledger.pnl import reconcile

    ledger = open_ledger(db)
    result = reconcile(ledger, metric=metric, by=by.value, fiscal_year=fiscal_year,
                       as_of=as_of)
    figures = ["baseline", "actual", "movement", "claimed", "unexplained"]
    if fmt != OutputFormat.table:
        emit(result.frame, fmt)
        return
    if not len(result.frame):
        console.print("no GL actuals: import finance's extract with `tledger import "
                      "actuals FILE`", highlight=False)
        return
    emit(_table(result.frame), fmt, title="P&L reconciliation", right=figures)
    kinds = ", ".join(f"{code}: {'baseline - actual' if kind == 'cost' else 'actual - baseline'}"
                      for code, kind in result.kinds.items())
    console.print(f"movement = {kinds}; unexplained = movement - claimed", highlight=False,
                  markup=False)

"""The P&L reconciliation's commands: ``tledger import actuals`` (finance's general-ledger
extract in) and ``tledger reconcile`` (claimed savings against the accounts' movement)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.errors import LedgerError
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
    emit_object,
    err_console,
    open_ledger,
)
from tledger.cli.gap import AsOfOption
from tledger.cli.imports import DryRunOption, MappingOption, ReportOption, import_app

if TYPE_CHECKING:
    import pandas as pd

    from importers.actuals import ActualsResult
    from ledger.pnl import Drill


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


#: The CSV columns of ``tledger reconcile --lines``.
DRILL_COLUMNS = ["kind", "unit", "month", "metric", "cost_centre", "account", "submission",
                 "source", "external_id", "name", "owner", "amount"]


def _drill_records(result: Drill) -> list[dict[str, object]]:
    """The drill-down's GL lines then claims, one record each (``kind`` gl or claim)."""
    month = f"{result.month:%Y-%m}"
    out: list[dict[str, object]] = []
    for cell in result.cells:
        base = {"unit": result.unit, "month": month, "metric": cell.metric}
        out += [{"kind": "gl", **base, "cost_centre": ln.cost_centre, "account": ln.account,
                 "submission": ln.submission, "source": ln.source, "external_id": None,
                 "name": None, "owner": None, "amount": ln.amount} for ln in cell.lines]
        out += [{"kind": "claim", **base, "cost_centre": None, "account": None,
                 "submission": None, "source": None, "external_id": cl.external_id,
                 "name": cl.name, "owner": cl.owner, "amount": cl.amount}
                for cl in cell.claims]
    return out


def _drill_json(result: Drill) -> dict[str, object]:
    """One JSON object: the cell's figures, its GL lines and its claims."""
    if not result.cells:
        return {"cell": None, "gl_lines": [], "claims": []}
    if len(result.cells) != 1:
        raise LedgerError(
            f"{result.unit} {result.month:%Y-%m} has several metrics "
            f"({', '.join(c.metric for c in result.cells)}): give --metric for JSON")
    (cell,) = result.cells
    records = _drill_records(result)
    gl = ["unit", "month", "metric", "cost_centre", "account", "submission", "source",
          "amount"]
    claim = ["unit", "month", "metric", "external_id", "name", "owner", "amount"]
    return {
        "cell": {"unit": result.unit, "month": f"{result.month:%Y-%m}", "metric": cell.metric,
                 "kind": cell.kind, "reported": cell.reported, "as_of": result.as_of,
                 "baseline": cell.baseline, "actual": cell.actual, "movement": cell.movement,
                 "claimed": cell.claimed, "unexplained": cell.unexplained},
        "gl_lines": [{k: r[k] for k in gl} for r in records if r["kind"] == "gl"],
        "claims": [{k: r[k] for k in claim} for r in records if r["kind"] == "claim"]}


def _drill_table(result: Drill) -> None:
    """Each metric's page, top to bottom: baseline, the GL lines and their total (the GL
    actual), movement, the claims and their total, unexplained."""
    import pandas as pd

    for cell in result.cells:
        rows: list[tuple[object, ...]] = [("baseline", "", "", "", cell.baseline)]
        rows += [("GL line", ln.cost_centre, ln.account,
                  f"{ln.submission} {ln.source}".strip(), ln.amount) for ln in cell.lines]
        rows.append(("GL actual", plural(len(cell.lines), "line"), "", "",
                     cell.actual if cell.reported else "not reported"))
        movement = "baseline - actual" if cell.kind == "cost" else "actual - baseline"
        rows.append(("movement", movement, "", "", cell.movement))
        rows += [("claim", cl.external_id, cl.name, cl.owner, cl.amount) for cl in cell.claims]
        rows.append(("claimed", plural(len(cell.claims), "initiative"), "", "", cell.claimed))
        rows.append(("unexplained", "movement - claimed", "", "", cell.unexplained))
        frame = pd.DataFrame(rows, columns=["", "cost centre / initiative", "account / name",
                                            "submission / owner", "amount"])
        emit(frame, OutputFormat.table, right=["amount"],
             title=f"{result.unit} ({result.unit_name}) {result.month:%Y-%m} {cell.metric}: "
                   "GL lines and claims")
        if not cell.reported:
            console.print(f"{result.month:%Y-%m}: no GL extract for {cell.metric} (not "
                          "reported): no movement to set the claims against",
                          highlight=False, markup=False, soft_wrap=True)


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
    unit: Annotated[str | None, typer.Option(
        "--unit", "-u", help="Only this business unit's rows (code).")] = None,
    month: Annotated[str | None, typer.Option(
        "--month", help="Only this month's rows, e.g. 2026-07 or Jul-26.")] = None,
    lines: Annotated[bool, typer.Option(
        "--lines", help="Drill down into one unit-month (needs --unit and --month): the GL "
        "lines that make its actual and the initiatives that claim its saving.")] = False,
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Reconcile claimed savings to the P&L: per business unit and month, the movement the
    GL actuals show against the (flexed) baseline, the savings the initiatives claim as
    actuals, and the unexplained difference (movement - claimed).

    A cost's movement is baseline - actual, income's actual - baseline; months without a
    GL extract are "not reported". The programme row is the sum of the units.

    --unit and --month filter the rows. With --lines (both needed) it shows, per metric,
    the unit-month top to bottom instead: baseline, the GL lines in force (cost centre,
    account, amount, the submission and file they came from) summing to the GL actual,
    movement, the claiming initiatives (id, name, owner, actual) summing to claimed, and
    unexplained. --format csv: one row per GL line or claim (column kind: gl or claim);
    json: {"cell": {...}, "gl_lines": [...], "claims": [...]} (one metric: --metric when
    several have actuals).

    Example: tledger reconcile --by business_unit --fiscal-year

    Example: tledger reconcile --unit MIN --month 2026-07 --lines
    """
    from ledger.pnl import drill, reconcile, reconcile_month, reconcile_unit

    if month is not None and fiscal_year:
        raise LedgerError("--month picks a month's rows: leave out --fiscal-year")
    if unit is not None and by == ReconcileBy.programme and not lines:
        raise LedgerError("--unit picks a unit's rows: leave out --by programme")
    ledger = open_ledger(db)
    if lines:
        if unit is None or month is None:
            raise LedgerError("--lines needs --unit and --month, e.g. tledger reconcile "
                              "--unit MIN --month 2026-07 --lines")
        found = drill(ledger, unit=unit, month=month, metric=metric, as_of=as_of)
        if fmt == OutputFormat.json:
            emit_object(_drill_json(found))
        elif fmt == OutputFormat.csv:
            import pandas as pd

            records = _drill_records(found)
            emit(pd.DataFrame({c: pd.Series([r[c] for r in records], dtype=object)
                               for c in DRILL_COLUMNS}), fmt)
        elif found.cells:
            _drill_table(found)
        else:
            console.print("no GL actuals: import finance's extract with `tledger import "
                          "actuals FILE`, or name the metric with --metric", highlight=False,
                          markup=False)
        return
    result = reconcile(ledger, metric=metric, by=by.value, fiscal_year=fiscal_year,
                       as_of=as_of)
    frame = result.frame
    if unit is not None or month is not None:
        with ledger.reading() as conn:
            code = None if unit is None else reconcile_unit(ledger, conn, unit)[0]
            period = None if month is None else f"{reconcile_month(ledger, conn, month):%Y-%m}"
        keep = [(code is None or part == code) and (period is None or p == period)
                for part, p in zip(frame["part"], frame["period"], strict=True)]
        frame = frame[keep].reset_index(drop=True)
    figures = ["baseline", "actual", "movement", "claimed", "unexplained"]
    if fmt != OutputFormat.table:
        emit(frame, fmt)
        return
    if not len(result.frame):
        console.print("no GL actuals: import finance's extract with `tledger import "
                      "actuals FILE`", highlight=False)
        return
    if not len(frame):
        console.print("no reconciliation rows for "
                      + " ".join(x for x in (unit, month) if x is not None), highlight=False,
                      markup=False)
        return
    emit(_table(frame), fmt, title="P&L reconciliation", right=figures)
    kinds = ", ".join(f"{code}: {'baseline - actual' if kind == 'cost' else 'actual - baseline'}"
                      for code, kind in result.kinds.items())
    console.print(f"movement = {kinds}; unexplained = movement - claimed", highlight=False,
                  markup=False)

"""Owners' commands: phasing export/import/set, stage set, history, bridge."""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from ledger.errors import LedgerError
from ledger.money import AmountError, parse_amount
from ledger.months import MonthError, parse_month
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
from tledger.cli.setup import stage_app

phasing_app = typer.Typer(help="Initiative phasing: owner workbooks and single edits.",
                          no_args_is_help=True)
app.add_typer(phasing_app, name="phasing")

MetricOption = Annotated[str | None, typer.Option(
    "--metric", help="Metric code (default: the ledger's first metric, usually benefit).")]
ScenarioOption = Annotated[str, typer.Option(
    "--scenario", help="plan, forecast or actual.")]


@phasing_app.command("export")
def phasing_export(
    owner: Annotated[str, typer.Option("--owner", help="The owner's name as in the ledger "
                                       "(case ignored).")],
    out: Annotated[Path, typer.Option("--out", help="Workbook to write (.xlsx).")],
    metric: MetricOption = None,
    scenario: ScenarioOption = "plan",
    db: DbOption = None,
    user: UserOption = None,
) -> None:
    """Write an owner's workbook: their active initiatives, pre-filled with the current
    phasing; only month cells are editable. Send it to the owner, import it back with
    `tledger import initiatives FILE` (or `tledger phasing import FILE`).

    Example: tledger phasing export --owner "Ana Lima" --scenario forecast --out ana.xlsx
    """
    from reports.owner_workbook import collect_owner_export, write_owner_workbook

    if out.suffix.lower() != ".xlsx":
        raise LedgerError(f"--out {out}: expected a file name ending in .xlsx")
    if not out.parent.resolve().is_dir():
        raise LedgerError(f"--out {out}: folder {out.parent} does not exist")
    ledger = open_ledger(db)
    export = collect_owner_export(ledger, owner, metric=metric, scenario=scenario, user=user)
    write_owner_workbook(export, out)
    committed(f"{out} WAS written")
    console.print(f"wrote {out}: {plural(len(export.rows), 'initiative')} of {export.owner}, "
                  f"{export.metric} {export.scenario}, {plural(len(export.months), 'month')} "
                  f"(ledger version {export.as_of})", soft_wrap=True)


@phasing_app.command("import")
def phasing_import(
    file: Annotated[Path, typer.Argument(help="An owner workbook written by `phasing export`.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite months changed in the ledger since the export "
        "(recorded in the submission).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; write "
                                          "nothing.")] = False,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Import an owner workbook back: only that owner's exported initiatives change; rows
    for other initiatives, edited locked cells and conflicts with newer ledger changes are
    refused and nothing is written.

    Example: tledger phasing import ana.xlsx --note "March re-phasing"
    """
    from importers.owner import import_owner_workbook
    from tledger.cli.imports import describe_owner_import

    ledger = open_ledger(db)
    result = import_owner_workbook(ledger, file, force=force, dry_run=dry_run, user=user,
                                   note=note)
    if result.submission_id is not None:
        committed(f"the change WAS saved (submission {result.submission_id})")
    console.print(describe_owner_import(result), soft_wrap=True)


def _amount(text: str) -> Decimal:
    try:
        value = parse_amount(text)
    except AmountError as exc:
        raise LedgerError(f"--amount {text!r}: {exc}") from exc
    if value is None:
        raise LedgerError(f"--amount {text!r}: expected a number (use --clear to empty "
                          "the month)")
    return value


@phasing_app.command("set")
def phasing_set(
    initiative: Annotated[str, typer.Argument(help="Initiative id, e.g. GR-0042.")],
    month: Annotated[str, typer.Option("--month", help="Month, e.g. 2027-03 or Mar-27.")],
    amount: Annotated[str | None, typer.Option(
        "--amount", help="In-month amount in the metric's unit, e.g. 125000.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Empty the month instead.")] = False,
    metric: MetricOption = None,
    scenario: ScenarioOption = "plan",
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Set one month's amount of one initiative (a submission with who and why).

    Example: tledger phasing set GR-0042 --month 2027-03 --amount 125000 --note "slipped"
    """
    from ledger.phasing import set_phasing

    if clear == (amount is not None):
        raise LedgerError("give either --amount or --clear")
    ledger = open_ledger(db)
    prog = ledger.programme()
    try:
        mon = parse_month(month, prog.fy_start_month)
    except MonthError as exc:
        raise LedgerError(f"--month: {exc}") from exc
    value = None if clear else _amount(amount or "")
    edit = set_phasing(ledger, initiative, mon, value, metric=metric,
                       scenario=scenario, user=user, note=note)
    if edit.submission_id is not None:
        committed(f"the change WAS saved (submission {edit.submission_id})")
    old = "(empty)" if edit.old is None else f"{edit.old:,}"
    new = "(empty)" if edit.new is None else f"{edit.new:,}"
    if edit.submission_id is None:
        console.print(f"{edit.external_id} {edit.month:%Y-%m} {edit.metric} {edit.scenario} "
                      f"already {new}: nothing written", soft_wrap=True)
    else:
        console.print(f"{edit.external_id} {edit.month:%Y-%m} {edit.metric} {edit.scenario}: "
                      f"{old} -> {new} (submission {edit.submission_id})", soft_wrap=True)


@stage_app.command("set")
def stage_set(
    initiative: Annotated[str, typer.Argument(help="Initiative id, e.g. GR-0042.")],
    stage: Annotated[str, typer.Argument(help="Stage gate code, e.g. L3.")],
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Move an initiative to another stage gate (a submission with who and why).

    Example: tledger stage set GR-0042 L3 --note "approved at steerco"
    """
    from ledger.phasing import set_stage

    move = set_stage(open_ledger(db), initiative, stage, user=user, note=note)
    if move.submission_id is not None:
        committed(f"the change WAS saved (submission {move.submission_id})")
    if move.submission_id is None:
        console.print(f"{move.external_id} is already at {move.new}: nothing written",
                      soft_wrap=True)
    else:
        console.print(f"{move.external_id}: {move.old} -> {move.new} "
                      f"(submission {move.submission_id})", soft_wrap=True)


@app.command("history")
def history_cmd(
    initiative: Annotated[str, typer.Argument(help="Initiative id, e.g. GR-0042.")],
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Every change to one initiative, newest first: when, who, source (file and SHA-256,
    or manual), note, and what changed (months old -> new, stage moves, attributes).

    Example: tledger history GR-0042 --format csv
    """
    import pandas as pd

    from ledger.history import history

    frame = history(open_ledger(db), initiative)
    if fmt == OutputFormat.table:
        # People read one line per change: old -> new in one column, short hashes.
        shown = pd.DataFrame({
            "#": frame["submission"],
            "when (UTC)": [f"{w:%Y-%m-%d %H:%M}" for w in frame["when"]],
            "who": frame["who"],
            "what": frame["what"],
            "change": [str(n) if w == "row note" else
                       f"{_show(o)} -> {_show(n)}" + (" (forced)" if f else "")
                       for w, o, n, f in zip(frame["what"], frame["old"], frame["new"],
                                             frame["forced"], strict=True)],
            "note": frame["note"],
            "source": [s.split(" sha256:")[0] + (f" ({s.split(' sha256:')[1][:12]})"
                                                 if " sha256:" in s else "")
                       for s in frame["source"]],
        })
        emit(shown, fmt, title=f"History of {initiative}")
        err_console.print(f"{plural(frame['submission'].nunique(), 'submission')}, "
                          f"{plural(len(frame), 'change')}")
    else:
        emit(frame, fmt)


def _show(value: object) -> str:
    """An amount with thousands separators (codes and names as they are); empty shown so."""
    if value is None:
        return "(empty)"
    try:
        return f"{Decimal(str(value)):,}"
    except InvalidOperation:
        return str(value)


@app.command("bridge")
def bridge_cmd(
    start: Annotated[str, typer.Option("--from", help="Start instant: a date (end of that "
                                       "day, UTC) or an ISO datetime.")],
    end: Annotated[str, typer.Option("--to", help="End instant (default: now).")] = "",
    metric: MetricOption = None,
    scenario: ScenarioOption = "plan",
    fiscal_year: Annotated[str | None, typer.Option(
        "--fiscal-year", help="Bridge one fiscal year's total, e.g. FY27 (default: the "
        "whole horizon).")] = None,
    weighted: Annotated[bool, typer.Option("--weighted", help="Risk-weighted totals, with a "
                                           "stage gate step.")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="List the initiatives behind each "
                                         "step.")] = False,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Why the bottom-up total moved between two instants, in steps that add up exactly.

    Example: tledger bridge --from 2026-10-31 --to 2026-11-30 --fiscal-year FY27
    """
    from datetime import UTC, datetime

    import pandas as pd

    from ledger.bridge import bridge
    from ledger.engine import as_of_instant
    from ledger.months import parse_fiscal_year

    t0 = as_of_instant(start)
    t1 = as_of_instant(end) if end else datetime.now(UTC)
    if t0 is not None and t1 is not None and t1 < t0:
        raise LedgerError(
            f"--from {start} is later than --to {end or 'now'} (a bare date means the end of "
            "that day, UTC: use the day before, or a time such as 2026-11-22T00:00Z)")
    fy = None
    if fiscal_year:
        try:
            fy = parse_fiscal_year(fiscal_year) if not fiscal_year.isdigit() else int(
                fiscal_year)
        except MonthError as exc:
            raise LedgerError(f"--fiscal-year: {exc}") from exc
    result = bridge(open_ledger(db), start=t0, end=t1, metric=metric,
                    scenario=scenario, fiscal_year=fy, weighted=weighted)
    rows = [("start total", result.start_total, None)]
    rows += [(s, a, n) for s, a, n in result.steps.itertuples(index=False)]
    rows.append(("end total", result.end_total, None))
    frame = pd.DataFrame(rows, columns=["step", "amount", "initiatives"])
    frame["initiatives"] = frame["initiatives"].astype("Int64")
    if detail:
        emit(result.detail, fmt, title="Bridge detail", right=["amount"])
        if fmt != OutputFormat.table:
            return
    emit(frame, fmt, title=result.title, right=["amount", "initiatives"])
    if fmt == OutputFormat.table:
        movement = result.end_total - result.start_total
        err_console.print(f"moved {movement:,} in {plural(len(result.detail), 'initiative step')}; "
                          "steps add up exactly")
    sys.stdout.flush()

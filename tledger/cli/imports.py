"""``tledger import initiatives`` and ``tledger import targets``: workbooks in."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.wording import plural

if TYPE_CHECKING:
    from importers import ImportResult, Problem

from ledger.errors import LedgerError
from tledger.cli import app
from tledger.cli.common import (
    DbOption,
    FormatOption,
    NoteOption,
    OutputFormat,
    TerminalSteps,
    UserOption,
    committed,
    console,
    emit,
    err_console,
    open_ledger,
    submissions_text,
)

if TYPE_CHECKING:
    from importers.api import FileOutcome, ImportResult
    from importers.owner import OwnerImportResult

import_app = typer.Typer(help="Import workbooks: initiatives with their phasing, or targets.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")

MappingOption = Annotated[Path | None, typer.Option(
    "--mapping", help="TOML file saying where things are in a workbook that differs from the "
    "template (see docs/importing.md).")]
ScaleOption = Annotated[str | None, typer.Option(
    "--scale", help="Multiply every amount by this, e.g. 1000 for a sheet in AUD 000 (a "
    "mapping's scale, if any, must agree).")]
DryRunOption = Annotated[bool, typer.Option(
    "--dry-run", help="Show what would change; write nothing.")]
ReportOption = Annotated[Path | None, typer.Option(
    "--report", help="Write the problems found to this .xlsx or .csv file.")]

#: Problems printed on the terminal before the error line (all go to --report).
SHOWN_PROBLEMS = 50


def _imported_as(outcome: FileOutcome) -> str:
    same = (f" (same content as {outcome.same_content_as})" if outcome.same_content_as
            else "")
    return f"{outcome.already_imported_as}{same}"


def describe_import(result: ImportResult) -> str:
    """The one line that says what an import did (or, for a dry run, would do)."""
    if result.already_imported:
        previous = ", ".join(_imported_as(outcome) for outcome in result.files)
        return f"already imported as submission {previous}; nothing to do"
    verb = "would change" if result.dry_run else "changed"
    parts = [f"{plural(result.rows_read, 'row')} read"]
    if result.what == "initiatives":
        parts.append(f"initiatives: {len(result.initiatives_added):,} added, "
                     f"{len(result.initiatives_changed):,} changed, "
                     f"{len(result.initiatives_withdrawn):,} withdrawn")
    parts.append(f"{'facts' if result.what == 'initiatives' else 'target months'}: "
                 f"{result.facts_added:,} added, {result.facts_changed:,} changed, "
                 f"{result.facts_removed:,} removed")
    skipped = [outcome for outcome in result.files if outcome.already_imported_as is not None]
    if skipped:
        parts.append(", ".join(f"{outcome.file} already imported as submission "
                               f"{_imported_as(outcome)}" for outcome in skipped))
    if result.dry_run:
        tail = "dry run: nothing written"
    elif result.submission_ids:
        tail = "submission " + ", ".join(str(s) for s in result.submission_ids)
    else:
        tail = "no changes: nothing written"
    if not result.changed and not result.dry_run:
        return f"nothing to change: {parts[0]}; {tail}"
    if result.overrode:
        parts.append(f"FORCED over {plural(result.overrode, 'newer ledger value')}")
    committed_ids = {c.external_id for c in result.committed_plan_changes}
    if committed_ids:
        parts.append(f"the plan of {plural(len(committed_ids), 'committed initiative')} "
                     "(at L3+)")
    return f"{verb}: " + "; ".join(parts) + f"; {tail}"


def describe_owner_import(result: OwnerImportResult) -> str:
    """The one line that says what an owner-workbook import did (or would do)."""
    verb = "would change" if result.dry_run else "changed"
    text = (f"{result.file}: {result.owner}'s {plural(result.initiatives, 'initiative')}, "
            f"{result.metric} {result.scenario}: {verb} {plural(result.count, 'month')} "
            f"({result.added} added, {result.changed} changed, {result.removed} emptied), "
            f"{result.unchanged} unchanged")
    if result.submission_id is not None:
        text += f"; submission {result.submission_id}"
    if result.forced and len(result.overrode):
        text += f"; FORCED over {plural(len(result.overrode), 'newer ledger value')}"
    return text


def _scale(value: str | None) -> Decimal | None:
    from ledger.vocabulary import parse_scale  # here: `--help` loads no SQLAlchemy

    return None if value is None else parse_scale(value, "--scale")


def _check_report(report: Path | None) -> None:
    if report is not None and report.suffix.lower() not in (".xlsx", ".csv"):
        raise LedgerError(f"--report {report}: expected a .xlsx or .csv file name")


def _show_problems(problems: list[Problem], report: Path | None) -> None:
    from importers.problems import ERROR, problems_frame, write_problem_report

    if report is not None:
        write_problem_report(problems, report)
    errors = [p for p in problems if p.severity == ERROR]
    if len(errors) == 1 and report is None:
        return  # the error line itself names the one problem
    for p in errors[:SHOWN_PROBLEMS]:
        err_console.print(f"  {p}", highlight=False, markup=False, soft_wrap=True)
    if len(errors) > SHOWN_PROBLEMS:
        err_console.print(f"  ... and {len(errors) - SHOWN_PROBLEMS} more"
                          + ("" if report else " (use --report FILE.xlsx to list all)"),
                          highlight=False, markup=False)
    if report is not None:
        err_console.print(f"problems written to {report} ({len(problems_frame(problems))} "
                          "rows)", highlight=False, markup=False)


def _show_warnings(warnings: list[Problem], report: Path | None) -> None:
    if not warnings:
        return
    for p in warnings[:10]:
        err_console.print(f"  warning: {p}", highlight=False, markup=False, soft_wrap=True)
    if len(warnings) > 10:
        err_console.print(f"  ... and {len(warnings) - 10} more warnings", highlight=False,
                          markup=False)
    if report is not None:
        from importers.problems import write_problem_report

        write_problem_report(warnings, report)


def _show_result(result: ImportResult, fmt: OutputFormat, report: Path | None) -> None:
    if result.submission_ids and not result.dry_run:
        committed(f"the change WAS saved ({submissions_text(result.submission_ids)})")
    _show_warnings(result.warnings, report)
    for change in result.committed_plan_changes:
        (console if fmt == OutputFormat.table else err_console).print(
            change.line, highlight=False, markup=False, soft_wrap=True)
    if fmt != OutputFormat.table:
        if len(result.total_change):
            emit(result.total_change, fmt)
        else:
            import pandas as pd

            emit(pd.DataFrame(columns=list(result.total_change.columns)), fmt)
        err_console.print(describe_import(result), highlight=False, markup=False, soft_wrap=True)
        return
    if result.dry_run:
        for title, ids in (("added", result.initiatives_added),
                           ("changed", result.initiatives_changed),
                           ("withdrawn", result.initiatives_withdrawn)):
            if ids:
                shown = ", ".join(ids[:20]) + (f", ... ({len(ids)} in all)"
                                               if len(ids) > 20 else "")
                console.print(f"initiatives {title}: {shown}", highlight=False, markup=False,
                              soft_wrap=True)
    if len(result.total_change):
        emit(result.total_change, fmt, title="Change in total" + (" (dry run)"
                                                                   if result.dry_run else ""),
             right=["before", "after", "change"])
    console.print(describe_import(result), highlight=False, markup=False, soft_wrap=True)


@import_app.command("initiatives")
def import_initiatives_cmd(
    files: Annotated[list[Path], typer.Argument(
        help="One or more workbooks (.xlsx, .xlsm, .xls, .xlsb, .ods) or .csv files.")],
    mapping: MappingOption = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="update (default): initiatives the workbook lacks stay as they are. "
        "snapshot: the workbook is complete for its business units; initiatives of those "
        "units it lacks are withdrawn.")] = "update",
    scale: ScaleOption = None,
    dry_run: DryRunOption = False,
    report: ReportOption = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite values changed in the ledger since the file's base (its "
        "export, or its last import under this name); recorded.")] = False,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Import initiative workbooks: attributes and monthly phasing, all or nothing.

    Reads the template layout or, with --mapping, any other; reports every problem with
    its cell and writes nothing if there is one. Each file becomes one submission (name and
    SHA-256 kept); all files land in one transaction. A file imported before with the same
    --mode, --scale and mapping is skipped, as is a copy whose sheets and cells are the
    same and only the document properties differ (saved again without edits, downloaded
    from SharePoint); only changed facts are written.

    A change to the plan of a committed initiative (entered L3: its plan as approved) is
    listed, one line per initiative, metric and fiscal year, and needs --note (kept with
    the submission); without one nothing is written.

    Example: tledger import initiatives pipeline.xlsx --scale 1000 --dry-run
    """
    from importers import ImportProblems, import_initiatives

    _check_report(report)
    ledger = open_ledger(db)
    try:
        result = import_initiatives(ledger, files, mapping=mapping, mode=mode,
                                    scale=_scale(scale), dry_run=dry_run, user=user, note=note,
                                    progress=TerminalSteps(), force=force)
    except ImportProblems as exc:
        _show_problems(exc.problems, report)
        raise
    owner = getattr(result, "owner_result", None)
    if owner is not None:
        if owner.submission_id is not None:
            committed(f"the change WAS saved (submission {owner.submission_id})")
        console.print(describe_owner_import(owner), highlight=False, markup=False, soft_wrap=True)
        return
    _show_result(result, fmt, report)


@import_app.command("targets")
def import_targets_cmd(
    file: Annotated[Path, typer.Argument(
        help="A targets workbook (.xlsx, .xlsm, .xls, .xlsb, .ods) or .csv file.")],
    mapping: MappingOption = None,
    scale: ScaleOption = None,
    dry_run: DryRunOption = False,
    report: ReportOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Import top-down targets (sheet Targets: Metric, Scope, one column per month) as a
    new target revision; only the months that differ are written.

    Example: tledger import targets targets.xlsx --note "board figure, Nov 2026"
    """
    run_targets_import(file, mapping=mapping, scale=scale, dry_run=dry_run, report=report,
                       fmt=fmt, db=db, user=user, note=note)


def run_targets_import(file: Path, *, mapping: Path | None, scale: str | None, dry_run: bool,
                       report: Path | None, fmt: OutputFormat, db: str | None,
                       user: str | None, note: str, baseline: str | None = None) -> None:
    """``import targets`` (or, with ``baseline``, ``baseline import``): import, then show
    the problems or the result."""
    from importers import ImportProblems, import_targets

    _check_report(report)
    ledger = open_ledger(db)
    try:
        result = import_targets(ledger, file, mapping=mapping, scale=_scale(scale),
                                dry_run=dry_run, user=user, note=note,
                                progress=TerminalSteps(), baseline=baseline)
    except ImportProblems as exc:
        _show_problems(exc.problems, report)
        raise
    _show_result(result, fmt, report)


# `tledger import inspect` (registers itself on import_app).
from tledger.cli import inspecting as _inspecting  # noqa: E402,F401

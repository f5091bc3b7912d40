"""Template commands: the canonical initiatives and targets workbooks to fill in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.errors import LedgerError
from ledger.wording import plural
from tledger.cli import app
from tledger.cli.common import DbOption, committed, console, err_console, open_ledger

template_app = typer.Typer(
    help="Write the canonical workbooks people fill in: initiatives, targets.",
    no_args_is_help=True,
)
app.add_typer(template_app, name="template")

OutOption = Annotated[Path, typer.Option("--out", "-o", help="The .xlsx file to write.")]
PrefillOption = Annotated[bool, typer.Option(
    "--prefill", help="Fill the rows with what the ledger holds now (otherwise an empty "
    "template).")]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")]


def _check_out(out: Path, force: bool) -> None:
    if out.suffix.lower() != ".xlsx":
        raise LedgerError(f"--out {out}: expected a .xlsx file name")
    if out.exists() and not force:
        raise LedgerError(f"{out} exists: pass --force to overwrite it")
    if not out.parent.exists():
        raise LedgerError(f"--out {out}: folder {out.parent} does not exist")


@template_app.command("initiatives")
def template_initiatives(
    out: OutOption,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", "-m", help="Offer only this metric (repeat for several); default all.")
    ] = None,
    scenario: Annotated[str, typer.Option(
        "--scenario", help="Scenario of the pre-filled phasing (plan, forecast, actual).")
    ] = "plan",
    prefill: PrefillOption = False,
    force: ForceOption = False,
    db: DbOption = None,
) -> None:
    """Write the initiatives workbook: one row per initiative, metric and scenario.

    Sheet Initiatives: title (row 1), unit note (row 2), header (row 4): ID, Name, Owner,
    Business unit, Lever, Stage, Description, Metric, Scenario, one column per month of the
    horizon (real dates, mmm-yy), Total (=SUM). Dropdowns for business unit, lever, stage,
    metric and scenario list the ledger's codes (hidden sheet Lists); sheet Guide explains
    each column. See docs/workbook-format.md.

    Example: tledger template initiatives --out initiatives.xlsx --prefill
    """
    from ledger.api import check_scenario
    from ledger.store import last_submission_id
    from ledger.template_stamp import stamp_properties
    from reports.templates import initiative_lines, load_context, write_initiatives_template

    check_scenario(scenario)
    _check_out(out, force)
    ledger = open_ledger(db)
    with ledger.reading() as conn:
        ctx = load_context(ledger, conn, metric)
        lines = initiative_lines(conn, ctx, scenario) if prefill else None
        # A pre-filled file records what it was exported as of, so that importing it after
        # newer edits refuses to revert them (docs/importing.md, "Stale files").
        properties = (stamp_properties(ledger.identity(conn)[0], last_submission_id(conn))
                      if prefill else None)
    rows = 0 if lines is None else len(lines)
    if err_console.is_terminal and rows >= 2000:
        from rich.progress import Progress

        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("writing Initiatives", total=rows)
            written = write_initiatives_template(
                out, ctx, lines, progress=lambda n: bar.update(task, completed=n),
                properties=properties)
    else:
        written = write_initiatives_template(out, ctx, lines, properties=properties)
    committed(f"{out} WAS written")
    filled = (f"{plural(written.rows, 'row')} pre-filled ({scenario})" if prefill
              else "empty, ready to fill")
    console.print(f"wrote {out}: sheet {written.sheet}, {plural(len(written.months), 'month')} "
                  f"{written.months[0]:%Y-%m}..{written.months[-1]:%Y-%m}, {filled}",
                  soft_wrap=True)


@template_app.command("targets")
def template_targets(
    out: OutOption,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", "-m", help="Offer only this metric (repeat for several); default all.")
    ] = None,
    prefill: PrefillOption = False,
    force: ForceOption = False,
    db: DbOption = None,
) -> None:
    """Write the targets workbook: one row per metric and scope, one column per month.

    Sheet Targets: title (row 1), unit note (row 2), header (row 4): Metric, Scope
    (programme, unit:CODE or lever:CODE), one column per month (real dates), Total (=SUM).
    Dropdowns for metric and scope; sheet Guide explains each column.

    Example: tledger template targets --out targets.xlsx --prefill
    """
    from reports.templates import load_context, target_lines, write_targets_template

    _check_out(out, force)
    ledger = open_ledger(db)
    with ledger.reading() as conn:
        ctx = load_context(ledger, conn, metric)
        lines = target_lines(conn, ctx) if prefill else None
    written = write_targets_template(out, ctx, lines)
    committed(f"{out} WAS written")
    filled = f"{plural(written.rows, 'row')} pre-filled" if prefill else "empty, ready to fill"
    console.print(f"wrote {out}: sheet {written.sheet}, {plural(len(written.months), 'month')} "
                  f"{written.months[0]:%Y-%m}..{written.months[-1]:%Y-%m}, {filled}",
                  soft_wrap=True)

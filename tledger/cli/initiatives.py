"""The office's initiative commands: list, show, set, reassign, withdraw, reinstate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

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
    plain_text,
    plural,
    table_cell,
)

if TYPE_CHECKING:
    from ledger.initiative_admin import InitiativeDetail, InitiativeEdit

initiative_app = typer.Typer(
    help="Initiatives: list, show one, and the office's edits (attributes, owner hand-over, "
    "withdraw, reinstate), each a submission with who and why.",
    no_args_is_help=True,
)
app.add_typer(initiative_app, name="initiative")

IdArg = Annotated[str, typer.Argument(help="Initiative id, e.g. GR-0042.")]
AsOfOption = Annotated[str | None, typer.Option(
    "--as-of", help="The ledger as it stood then: a submission id (42), a date (2026-10-31, "
    "end of that day, UTC) or a date-time (2026-10-31T17:00:00+10:00).")]


def _amount(value: object) -> str:
    return f"{value:,}"


@initiative_app.command("list")
def initiative_list(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's (case "
                                              "ignored).")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this business unit's, "
                                             "e.g. PRO.")] = None,
    lever: Annotated[str | None, typer.Option("--lever", help="Only this lever's, e.g. "
                                              "PROC.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only at this stage gate, "
                                              "e.g. L3.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="active or withdrawn "
                                               "(default: both).")] = None,
    search: Annotated[str | None, typer.Option("--search", help="Text in the id, name, owner "
                                               "or description (case ignored).")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="The total column's metric "
                                               "(default: the first, usually benefit).")
                      ] = None,
    scenario: Annotated[str, typer.Option("--scenario", help="The total column's scenario: "
                                          "plan, forecast or actual.")] = "plan",
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List initiatives with their owner, unit, lever, stage, status and total (the exact
    sum of their phasing for one metric and scenario). Filters combine.

    Example: tledger initiative list --owner "Ana Lima" --status active --format csv
    """
    from ledger.initiative_admin import list_initiatives

    found = list_initiatives(open_ledger(db), owner=owner, unit=unit, lever=lever,
                             stage=stage, status=status, search=search, metric=metric,
                             scenario=scenario, as_of=as_of)
    m = found.metric
    when = (f"as of submission {found.as_of_submission}" if found.as_of
            else f"current (submission {found.as_of_submission})")
    summary = (f"{plural(len(found.frame), 'initiative')}, {m.code} {found.scenario} "
               f"total {_amount(found.total)} {m.unit}; {when}")
    title = f"Initiatives ({m.code} {found.scenario} totals in {m.unit})"
    emit(found.frame, fmt, title=title, right=["total"])
    (console if fmt == OutputFormat.table else err_console).print(
        summary, highlight=False, soft_wrap=True)


@initiative_app.command("show")
def initiative_show(
    initiative: IdArg,
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one initiative: its attributes, its phasing by metric and scenario with
    fiscal-year totals, and its last change. --format json prints one object; --format csv
    the phasing, one row per metric, scenario and month.

    Example: tledger initiative show GR-0042 --as-of 2026-10-31
    """
    from ledger.initiative_admin import show_initiative

    detail = show_initiative(open_ledger(db), initiative, as_of=as_of)
    if fmt == OutputFormat.json:
        emit_object({
            "initiative": detail.attributes,
            "totals": detail.totals.to_dict("records"),
            "phasing": detail.phasing.to_dict("records"),
            "last_change": detail.last_change,
            "as_of_submission": detail.as_of_submission,
        })
        return
    if fmt == OutputFormat.csv:
        emit(detail.phasing, fmt)
        return
    _show_table(detail)


def _show_table(detail: InitiativeDetail) -> None:
    a = detail.attributes
    fields = Table(title=plain_text(f"Initiative {a['id']}"), show_header=False)
    fields.add_column("field")
    fields.add_column("value", overflow="fold")

    def coded(code: str | None, name: str | None) -> str:
        return "(none)" if code is None else f"{code} ({name})" if name and name != code \
            else code

    weight = "" if a["weight"] is None else f" (risk weight {a['weight'].normalize()})"
    for label, value in (
        ("name", a["name"]),
        ("owner", a["owner"]),
        ("business unit", coded(a["unit"], a["unit_name"])),
        ("lever", coded(a["lever"], a["lever_name"])),
        ("stage", f"{a['stage']} {a['stage_name']}{weight}"),
        ("status", a["status"]),
        ("description", a["description"]),
        ("created", f"submission {a['created']}, {a['created_at']:%Y-%m-%d %H:%M} UTC "
                    f"by {a['created_by']}"),
    ):
        fields.add_row(label, plain_text(value))
    console.print(fields)
    if len(detail.totals):
        totals = Table(title="Totals")
        for col in ("metric", "scenario"):
            totals.add_column(col)
        periods = [*detail.fiscal_years, "total"]
        for p in periods:
            totals.add_column(p, justify="right", overflow="fold",
                              style="bold" if p == "total" else "")
        for (metric, unit, scenario), rows in detail.totals.groupby(
                ["metric", "unit", "scenario"], sort=False):
            by_period = dict(zip(rows["period"], rows["amount"], strict=True))
            totals.add_row(plain_text(f"{metric} ({unit})"), plain_text(scenario),
                           *[table_cell(by_period[p], amount=True) for p in periods])
        console.print(totals)
        _months_table(detail)
    else:
        console.print("no phasing", highlight=False)
    last = detail.last_change
    if last is not None:
        what = ", ".join(last["what"][:6]) + (f" and {len(last['what']) - 6} more"
                                              if len(last["what"]) > 6 else "")
        note = f"; note: {last['note']}" if last["note"] else ""
        # Prose: wrapped at the terminal's width between words.
        console.print(f"last change: submission {last['submission']}, "
                      f"{last['when']:%Y-%m-%d %H:%M} UTC by {last['who']} ({last['kind']}, "
                      f"{_source(last['source'])}): {what}{note}", highlight=False)
    when = (f"as of submission {detail.as_of_submission}" if detail.as_of
            else f"current (submission {detail.as_of_submission})")
    console.print(f"{when}; tledger history {a['id']} lists every change", highlight=False,
                  soft_wrap=True)


def _source(source: str) -> str:
    """``manual``, or a file name with the first 12 digits of its SHA-256 (as history)."""
    name, _, sha = source.partition(" sha256:")
    return f"{name} ({sha[:12]})" if sha else name


def _months_table(detail: InitiativeDetail) -> None:
    """Months down, one column per metric and scenario with phasing, a subtotal row after
    each fiscal year: narrow enough for any terminal."""
    frame = detail.phasing
    keys = list(dict.fromkeys(zip(frame["metric"], frame["scenario"], strict=True)))
    table = Table(title="Phasing (in-month)")
    table.add_column("month")
    for metric, scenario in keys:
        table.add_column(f"{metric} {scenario}", justify="right", overflow="fold")
    cells = {(m, s, mo): a for m, s, mo, a in zip(
        frame["metric"], frame["scenario"], frame["month"], frame["amount"], strict=True)}
    totals = {(m, s, p): a for m, s, p, a in zip(
        detail.totals["metric"], detail.totals["scenario"], detail.totals["period"],
        detail.totals["amount"], strict=True)}
    by_year: dict[str, list[str]] = {}
    for month, fy in zip(frame["month"], frame["fiscal_year"], strict=True):
        by_year.setdefault(fy, [])
        if month not in by_year[fy]:
            by_year[fy].append(month)
    for fy in detail.fiscal_years:
        months = sorted(by_year.get(fy, []))
        if not months:
            continue
        for month in months:
            table.add_row(month, *[table_cell(cells.get((m, s, month)), amount=True)
                                   for m, s in keys])
        table.add_row(plain_text(f"{fy} total", style="bold"),
                      *[table_cell(totals[(m, s, fy)], amount=True) for m, s in keys],
                      end_section=True, style="bold")
    console.print(table)


def _print_edit(edit: InitiativeEdit, unchanged: str) -> None:
    if edit.submission_id is None:
        console.print(f"{edit.external_id} {unchanged}: nothing written", highlight=False,
                      soft_wrap=True)
        return
    shown = "; ".join(f"{c.field} {_text(c.old)} -> {_text(c.new)}" for c in edit.changes)
    console.print(f"{edit.external_id}: {shown} (submission {edit.submission_id})",
                  highlight=False, soft_wrap=True)


def _text(value: str | None) -> str:
    if value is None or value == "":
        return "(empty)"
    one_line = value.replace("\n", " ")
    return repr(one_line[:60] + ("..." if len(one_line) > 60 else ""))


@initiative_app.command("set")
def initiative_set(
    initiative: IdArg,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="New owner (an existing owner's "
                                              "spelling is kept, case ignored).")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Business unit code; \"\" "
                                             "clears it.")] = None,
    lever: Annotated[str | None, typer.Option("--lever", help="Lever code; \"\" clears it.")
                     ] = None,
    description: Annotated[str | None, typer.Option("--description", help="New description "
                                                    "(\"\" empties it).")] = None,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Change an initiative's name, owner, business unit, lever or description (one
    submission with who and why; only the attributes given change). Stage gates move with
    `tledger stage set`, amounts with `tledger phasing set`.

    Example: tledger initiative set GR-0042 --owner "B. Okafor" --unit PRO --note "re-org"
    """
    from ledger.initiative_admin import set_attributes

    edit = set_attributes(open_ledger(db), initiative, name=name, owner=owner, unit=unit,
                          lever=lever, description=description, user=user, note=note)
    if edit.submission_id is not None:
        committed(f"the change WAS saved (submission {edit.submission_id})")
    _print_edit(edit, "already has these attributes")


@initiative_app.command("reassign")
def initiative_reassign(
    from_owner: Annotated[str, typer.Option("--from", help="The owner handing over (case "
                                            "ignored).")],
    to_owner: Annotated[str, typer.Option("--to", help="The new owner.")],
    include_withdrawn: Annotated[bool, typer.Option(
        "--include-withdrawn", help="Move their withdrawn initiatives too.")] = False,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Move all of one owner's active initiatives to another owner at once (one
    submission with who and why), e.g. when an owner leaves the company.

    Example: tledger initiative reassign --from "A. Ng" --to "B. Okafor" --note "A. Ng left"
    """
    from ledger.initiative_admin import reassign_owner

    done = reassign_owner(open_ledger(db), from_owner, to_owner,
                          include_withdrawn=include_withdrawn, user=user, note=note)
    if done.submission_id is not None:
        committed(f"the change WAS saved (submission {done.submission_id})")
        shown = ", ".join(done.moved[:20]) + (", ..." if len(done.moved) > 20 else "")
        console.print(f"moved {plural(len(done.moved), 'initiative')} from {done.from_owner} "
                      f"to {done.to_owner}: {shown} (submission {done.submission_id})",
                      highlight=False, soft_wrap=True)
    else:
        console.print(f"{done.from_owner} has no active initiative: nothing written",
                      highlight=False, soft_wrap=True)
    if done.left_withdrawn:
        err_console.print(f"{plural(len(done.left_withdrawn), 'withdrawn initiative')} of "
                          f"{done.from_owner} left as they are ({', '.join(done.left_withdrawn)}"
                          "); --include-withdrawn moves them too", highlight=False,
                          soft_wrap=True)
    if done.new_owner and done.submission_id is not None:
        err_console.print(f"note: {done.to_owner} owned no initiative before: check the "
                          "spelling", highlight=False, soft_wrap=True)


@initiative_app.command("withdraw")
def initiative_withdraw(initiative: IdArg, db: DbOption = None, user: UserOption = None,
                        note: NoteOption = "") -> None:
    """Withdraw an initiative: it leaves the bottom-up (the bridge shows it as withdrawn);
    its phasing stays on record. One submission with who and why.

    Example: tledger initiative withdraw GR-0042 --note "merged into GR-0040"
    """
    from ledger.initiative_admin import set_status

    edit = set_status(open_ledger(db), initiative, "withdrawn", user=user, note=note)
    if edit.submission_id is not None:
        committed(f"the change WAS saved (submission {edit.submission_id})")
    _print_edit(edit, "is already withdrawn")


@initiative_app.command("reinstate")
def initiative_reinstate(initiative: IdArg, db: DbOption = None, user: UserOption = None,
                         note: NoteOption = "") -> None:
    """Reinstate a withdrawn initiative: it counts in the bottom-up again, with the
    phasing it had. One submission with who and why.

    Example: tledger initiative reinstate GR-0042 --note "back on the plan"
    """
    from ledger.initiative_admin import set_status

    edit = set_status(open_ledger(db), initiative, "active", user=user, note=note)
    if edit.submission_id is not None:
        committed(f"the change WAS saved (submission {edit.submission_id})")
    _print_edit(edit, "is already active")

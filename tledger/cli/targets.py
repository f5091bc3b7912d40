"""Target commands: set (a new revision), adopt (the bottom-up as the target), list, show
(per month, with history)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.money import from_minor
from ledger.wording import plural
from tledger.cli import app
from tledger.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    UserOption,
    committed,
    console,
    emit,
    err_console,
    open_ledger,
)

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from ledger.targets import TargetSetResult

target_app = typer.Typer(
    help="Top-down targets: set a revision, list the current ones, show one with history.",
    no_args_is_help=True,
)
app.add_typer(target_app, name="target")

MetricOption = Annotated[str, typer.Option("--metric", "-m", help="Metric code, e.g. benefit.")]
ScopeOption = Annotated[
    str,
    typer.Option("--scope", help="programme (default), unit:CODE (e.g. unit:PRO) or "
                 "lever:CODE (e.g. lever:PROC)."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Show the ledger as it was: a submission id (42), a date "
                 "(2026-11-01, end of that day, UTC) or a date-time (2026-11-01T09:30, UTC)."),
]


def _short_times(values: pd.Series) -> list[str]:
    """UTC instants as ``YYYY-MM-DD HH:MM`` for tables."""
    return [v.strftime("%Y-%m-%d %H:%M") if hasattr(v, "strftime") else str(v)[:16]
            for v in values]


def _show_revision(result: TargetSetResult, fmt: OutputFormat, title: str) -> Console:
    """Report the commit, print the revision's months; the console for the summary line
    (stderr for csv/json, so stdout stays parseable)."""
    import pandas as pd

    if result.submission_id is not None:
        committed(f"the change WAS saved (submission {result.submission_id})")
    frame = pd.DataFrame({
        "month": [f"{m:%Y-%m}" for m in result.months],
        "amount": pd.Series([from_minor(a, result.decimals) for a in result.amounts_minor],
                            dtype=object),
    })
    if fmt != OutputFormat.table:
        emit(frame, fmt)
        return err_console
    emit(frame, fmt, title=title, right=["amount"])
    return console


@target_app.command("set")
def target_set(
    metric: MetricOption,
    amount: Annotated[str, typer.Option(
        "--amount", help="Total over the months in the metric's unit: 120000000, "
        "120,000,000 or with a suffix k, M (million), bn: 120M. Not negative; no more "
        "decimals than the metric keeps (refused, never rounded).")],
    note: Annotated[str, typer.Option("--note", help="Why (required): kept with the "
                                      "revision, e.g. \"board 2026-10\".")],
    fiscal_year: Annotated[str | None, typer.Option(
        "--fiscal-year", "--fy", help="A fiscal year named by the year it ends in: FY27 "
        "(with a July start: 2026-07..2027-06).")] = None,
    first: Annotated[str | None, typer.Option("--from", help="First month, e.g. 2026-07.")
                     ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last month, e.g. 2027-06.")] = None,
    scope: ScopeOption = "programme",
    profile: Annotated[str, typer.Option(
        "--profile", help="How the total spreads over the months: even, ramp (weights 1, 2, "
        "..., n) or weights:1,1,2,... (one weight a month).")] = "even",
    db: DbOption = None,
    user: UserOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Set a top-down target: phase a total into months and record it as a new revision.

    The months sum to the total exactly, to the minor unit (cent). Each month gets
    total x weight / sum of weights, truncated; the few cents left over go one each to the
    LAST months (with a non-zero weight), from the last month backwards: an even 100.00
    over 3 months is 33.33, 33.33, 33.34.

    Only the given months change: months of the same metric and scope outside them keep
    their amounts. The previous amounts stay on record (tledger target show --history).
    Setting amounts that are already current writes nothing.

    Example: tledger target set -m benefit --amount 120M --fy FY27 --profile ramp --note board
    """

    from ledger.targets import set_target

    ledger = open_ledger(db)
    result = set_target(ledger, metric=metric, amount=amount, fiscal_year=fiscal_year,
                        first=first, last=last, scope=scope, profile=profile, user=user,
                        note=note)
    out = _show_revision(result, fmt, f"{result.metric} target, {result.scope.label}")
    total = from_minor(result.total_minor, result.decimals)
    span = f"{result.months[0]:%Y-%m}..{result.months[-1]:%Y-%m}"
    if result.submission_id is None:
        out.print(f"no change: {result.metric} {result.scope.label} {span} already totals "
                  f"{total:,}; nothing written", soft_wrap=True)
        return
    before = from_minor(result.total_before_minor, result.decimals)
    after = from_minor(result.total_after_minor, result.decimals)
    out.print(
        f"target {result.metric} {result.scope.label}: {total:,} over {span} "
        f"({plural(len(result.months), 'month')}) recorded as revision {result.submission_id}; "
        f"scope total {before:,} -> {after:,}",
        soft_wrap=True,
    )


@target_app.command("adopt")
def target_adopt(
    metric: MetricOption,
    note: Annotated[str, typer.Option("--note", help="Why (required), e.g. \"plans "
                                      "complete, steerco 2026-11\".")],
    scope: ScopeOption = "programme",
    scenario: Annotated[str, typer.Option(
        "--scenario", "-s", help="Whose bottom-up becomes the target: plan, forecast or "
        "actual.")] = "plan",
    weighted: Annotated[bool, typer.Option(
        "--weighted", help="Adopt the risk-weighted bottom-up (rounded per fact).")] = False,
    as_of: AsOfOption = None,
    db: DbOption = None,
    user: UserOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Adopt the bottom-up as the target: a new revision equal to it, month by month.

    Every month of the horizon gets the scope's bottom-up (zero months too), to the cent,
    as the ledger stands (or stood at --as-of); afterwards the scope's gap is zero. The
    top-down revision before it stays on record: tledger target show --history lists it,
    and tledger gap --target-as-of SUBMISSION sets the bottom-up against it.

    Example: tledger target adopt -m benefit --scope unit:PRO --note "plans complete"
    """
    from ledger.adopt import adopt_target

    ledger = open_ledger(db)
    result = adopt_target(ledger, metric=metric, scope=scope, scenario=scenario,
                          weighted=weighted, as_of=as_of, user=user, note=note)
    rev = result.revision
    out = _show_revision(rev, fmt, f"{rev.metric} target adopted from the "
                         f"{result.scenario} bottom-up, {rev.scope.label}")
    total = from_minor(rev.total_minor, rev.decimals)
    source = (f"{'weighted ' if result.weighted else ''}{result.scenario} bottom-up at "
              f"submission {result.bottom_up_submission}")
    if rev.submission_id is None:
        out.print(f"no change: the {rev.metric} target of {rev.scope.label} already equals "
                  f"the {source} ({total:,}); nothing written", soft_wrap=True)
        return
    before = from_minor(rev.total_before_minor, rev.decimals)
    out.print(
        f"target {rev.metric} {rev.scope.label} adopted from the {source}: {total:,} "
        f"recorded as revision {rev.submission_id} (was {before:,}); the earlier "
        f"top-down: tledger gap --target-as-of {rev.submission_id - 1}",
        soft_wrap=True,
    )


@target_app.command("list")
def target_list(
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the current targets per metric and scope: months, total, last revision.

    Example: tledger target list --format csv
    """
    from ledger.targets import resolve_as_of, target_summary

    ledger = open_ledger(db)
    with ledger.reading() as conn:
        frame = target_summary(ledger, as_of=resolve_as_of(conn, as_of), conn=conn)
    if frame.empty and fmt == OutputFormat.table:
        console.print("no targets yet: set one with `tledger target set`", soft_wrap=True)
        return
    if fmt == OutputFormat.table:
        # People get a narrower table; csv and json keep every column as it is.
        frame = frame.assign(
            months=[f"{m} ({n})" for m, n in zip(frame["months"], frame["n_months"],
                                                 strict=True)],
            when=_short_times(frame["when"]),
        ).drop(columns=["n_months"])
    emit(frame, fmt, title="Targets", right=["total", "revision"])


@target_app.command("show")
def target_show(
    metric: MetricOption,
    scope: ScopeOption = "programme",
    history: Annotated[bool, typer.Option(
        "--history", help="List every revision instead: submission, when, who, note, "
        "months written, total before -> after.")] = False,
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one target per month (now or --as-of), or its revisions with --history.

    Example: tledger target show --metric benefit --scope unit:PRO --history
    """
    from ledger.targets import resolve_as_of, target_by_month, target_revisions

    ledger = open_ledger(db)
    with ledger.reading() as conn:
        if history:
            frame = target_revisions(ledger, metric=metric, scope=scope, conn=conn)
            right = ["submission", "months_changed", "total_before", "total_after", "change"]
            if fmt == OutputFormat.table:
                frame = frame.assign(when=_short_times(frame["when"])).drop(
                    columns=["months_changed"]).rename(columns={
                        "submission": "rev", "total_before": "before", "total_after": "after"})
                right = ["rev", "before", "after", "change"]
            emit(frame, fmt, title=f"{metric} target revisions, {scope}", right=right)
            return
        point = resolve_as_of(conn, as_of)
        frame = target_by_month(ledger, metric=metric, scope=scope, as_of=point, conn=conn)
    out = frame[["month", "amount", "revision"]]
    emit(out, fmt, title=f"{metric} target, {scope}", right=["amount", "revision"])
    if fmt == OutputFormat.table:
        total = sum(frame["amount"], start=Decimal(0))
        console.print(f"{plural(len(frame), 'month')}, total {total:,}", soft_wrap=True)

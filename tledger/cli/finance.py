"""Finance's commands: ``tledger outturn`` (the finance view) and ``tledger programme
close`` / ``closes`` (the month-end close)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

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
from tledger.cli.gap import AsOfOption, MetricOption
from tledger.cli.setup import _month_arg, programme_app

if TYPE_CHECKING:
    import pandas as pd

    from ledger.engine import FinanceReport


class FinanceView(StrEnum):
    fiscal = "fiscal"
    monthly = "monthly"
    net = "net"
    initiatives = "initiatives"


#: The fiscal frame's columns a person reads in the table, in order.
_TABLE_ROWS = [
    ("target", "Target"), ("plan", "Plan"), ("outturn", "Outturn"),
    ("variance", "Outturn - target"), ("plan_ytd", "YTD plan"),
    ("actual_ytd", "YTD actual"), ("ytd_variance", "YTD actual - plan"),
    ("committed", "Committed (L3-L5)"), ("committed_weighted", "Committed, weighted"),
    ("pipeline", "Pipeline (L0-L2)"), ("pipeline_weighted", "Pipeline, weighted"),
    ("gap", "Gap (target - committed - weighted pipeline)"), ("coverage", "Coverage"),
    ("exit_run_rate", "Exit run-rate (x 12)"),
    # The outturn of the committed initiatives is the "Committed (L3-L5)" row above (the
    # same initiatives); CSV and JSON carry it as committed_outturn too.
    ("committed_plan", "Committed plan (at L3)"),
    ("committed_plan_variance", "Committed - committed plan"),
]


def _fiscal_table(rep: FinanceReport) -> pd.DataFrame:
    """The fiscal frame turned for people: one row per figure, one column per period."""
    import pandas as pd

    fiscal = rep.fiscal
    out: dict[str, list[object]] = {"figure": [label for _k, label in _TABLE_ROWS]}
    for rec in fiscal.to_dict("records"):
        column: list[object] = []
        for key, _label in _TABLE_ROWS:
            value = rec[key]
            column.append("" if value is None else f"{value:.1%}" if key == "coverage"
                          else value)
        out[str(rec["period"])] = column
    return pd.DataFrame(out)


def _summary(rep: FinanceReport) -> str:
    closed = (f"closed through {rep.closed_through:%Y-%m}" if rep.closed_through
              else "no month closed yet")
    horizon = rep.fiscal[rep.fiscal["period"] == "Horizon"].iloc[0]
    return (f"{rep.metric.code} outturn {horizon['outturn']:,} {rep.metric.unit} against "
            f"target {horizon['target']:,} over the horizon; {closed}; submission "
            f"{rep.as_of_submission}")


@app.command("outturn")
def outturn_cmd(
    metric: MetricOption = None,
    fiscal_year: Annotated[str | None, typer.Option(
        "--fiscal-year", help="Only this fiscal year (and the horizon), e.g. FY27.")] = None,
    as_of: AsOfOption = None,
    view: Annotated[FinanceView, typer.Option(
        "--view", help="fiscal (one row per fiscal year, plus Horizon), monthly, net (net "
        "value per fiscal year) or initiatives (net value per initiative).")
    ] = FinanceView.fiscal,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Finance's view: outturn against target and plan, committed vs pipeline, net value.

    Outturn is the actuals of closed months (see `tledger programme close`) and the
    forecast of open ones (the plan where an initiative has no forecast). Committed is
    L3-L5, pipeline L0-L2, each weighted and not; gap is target - committed - weighted
    pipeline. Net value is benefits less one-off costs on the outturn, with the payback
    month. Committed plan (at L3) is the plan of the active initiatives committed now as it
    stood when each entered L3 (`tledger stage committed`), beside the outturn of the same
    initiatives and the variance outturn - committed plan (keys committed_plan,
    committed_outturn, committed_plan_variance). CSV and JSON carry amounts as exact
    decimal strings.

    Example: tledger outturn --fiscal-year FY27 --format json
    """
    from ledger.engine import finance

    ledger = open_ledger(db)
    rep = finance(ledger, metric=metric, as_of=as_of, fiscal_year=fiscal_year)
    frames = {FinanceView.fiscal: rep.fiscal, FinanceView.monthly: rep.monthly,
              FinanceView.net: rep.net, FinanceView.initiatives: rep.net_by_initiative}
    if fmt == OutputFormat.table:
        if view == FinanceView.fiscal:
            table = _fiscal_table(rep)
            emit(table, fmt, title=f"{rep.metric.code} ({rep.metric.unit}): outturn, "
                 "committed and pipeline", right=[c for c in table.columns if c != "figure"])
            emit(rep.net, fmt, title=f"Net value ({rep.net_unit}): benefits less one-off costs",
                 right=["benefit", "cost", "net", "cumulative_net"])
        else:
            frame = frames[view]
            emit(frame, fmt, right=[c for c in frame.columns if c not in (
                "month", "fiscal_year", "period", "external_id", "name", "stage", "closed",
                "favourable", "payback_month")])
        if rep.committed_initiatives == 0:
            console.print("no initiative is committed (at L3 or beyond): no committed plan "
                          "to compare", highlight=False, soft_wrap=True)
        console.print(_summary(rep), highlight=False, soft_wrap=True)
        return
    emit(frames[view], fmt)
    err_console.print(_summary(rep), highlight=False, soft_wrap=True)


@programme_app.command("close")
def programme_close(
    month: Annotated[str, typer.Argument(help="The month closed, e.g. 2026-10 (and every "
                                         "month before it).")],
    force: Annotated[bool, typer.Option(
        "--force", help="Close an earlier month than the one closed (re-open months); "
        "needs --note.")] = False,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Record finance's month-end close: that month's outturn is its actuals from now on.

    A submission (who, when, note) in the ledger's history; `tledger programme closes`
    lists them. Closing backwards re-opens months and needs --force and --note.

    Example: tledger programme close 2026-10 --note "October close"
    """
    from ledger.closing import close_month

    ledger = open_ledger(db)
    result = close_month(ledger, _month_arg(month, "month"), user=user, note=note,
                         force=force)
    committed(f"{result.month:%Y-%m} WAS closed")
    was = f" (was {result.previous:%Y-%m})" if result.previous else ""
    console.print(f"closed through {result.month:%Y-%m}{was}: submission "
                  f"{result.submission_id}" + (", forced" if result.forced else ""),
                  highlight=False, soft_wrap=True)


@programme_app.command("closes")
def programme_closes(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """Every month-end close, oldest first: month, submission, when, who, note, forced.

    Example: tledger programme closes --format csv
    """
    from ledger.closing import closes

    emit(closes(open_ledger(db)), fmt, title="Month-end closes")

"""Stage-gate approvals: ``tledger stage request|approve|reject|pending|committed``."""

from __future__ import annotations

from typing import Annotated

import typer

from tledger.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    UserOption,
    committed,
    console,
    emit,
    open_ledger,
)
from tledger.cli.setup import stage_app

RequestArg = Annotated[int, typer.Argument(help="The request's number (tledger stage pending).")]


@stage_app.command("request")
def stage_request(
    initiative: Annotated[str, typer.Argument(help="Initiative id, e.g. GR-0042.")],
    to: Annotated[str, typer.Option("--to", help="The stage gate asked for, e.g. L3.")],
    note: Annotated[str, typer.Option("--note", help="Why (required; kept with the "
                                      "request).")],
    owner: Annotated[str | None, typer.Option(
        "--owner", help="Ask as this owner: the initiative must be theirs, and the gate a "
        "later one not past the next approval (as in the web).")] = None,
    db: DbOption = None,
    user: UserOption = None,
) -> None:
    """Ask for an initiative to move into a stage gate. Into a gate that needs approval
    (tledger programme set --approval-gates; default L3, L5) the request waits for the
    office; into another gate the stage moves at once.

    Example: tledger stage request GR-0042 --to L3 --note "business case signed off"
    """
    from ledger.approvals import request_stage

    done = request_stage(open_ledger(db), initiative, to, note=note, user=user or "",
                         owner=owner)
    committed(f"the request WAS saved (submission {done.submission_id})")
    if done.request_id is None:
        console.print(f"{done.external_id}: {done.from_stage} -> {done.to_stage} (no approval "
                      f"needed; submission {done.submission_id})", soft_wrap=True)
    else:
        console.print(f"request {done.request_id}: {done.external_id} {done.from_stage} -> "
                      f"{done.to_stage}, pending the office's approval (submission "
                      f"{done.submission_id})", soft_wrap=True)


@stage_app.command("approve")
def stage_approve(
    request: RequestArg,
    note: Annotated[str, typer.Option("--note", help="Why (kept with the decision).")] = "",
    db: DbOption = None,
    user: UserOption = None,
) -> None:
    """Approve a pending stage request: the initiative moves (one submission); into L3
    its plan is committed (owners then change only the forecast).

    Example: tledger stage approve 7 --note "steerco 3 Dec"
    """
    from ledger.approvals import approve

    done = approve(open_ledger(db), request, note=note, user=user or "")
    committed(f"the approval WAS saved (submission {done.submission_id})")
    extra = "; the plan is committed" if done.committed else ""
    console.print(f"request {done.request_id} approved: {done.external_id} {done.from_stage} "
                  f"-> {done.to_stage}{extra} (submission {done.submission_id})",
                  soft_wrap=True)


@stage_app.command("reject")
def stage_reject(
    request: RequestArg,
    note: Annotated[str, typer.Option("--note", help="Why (required; the owner sees it).")],
    db: DbOption = None,
    user: UserOption = None,
) -> None:
    """Reject a pending stage request, with a note; the stage stays.

    Example: tledger stage reject 7 --note "no signed business case yet"
    """
    from ledger.approvals import reject

    done = reject(open_ledger(db), request, note=note, user=user or "")
    committed(f"the rejection WAS saved (submission {done.submission_id})")
    console.print(f"request {done.request_id} rejected: {done.external_id} stays at "
                  f"{done.from_stage} (submission {done.submission_id})", soft_wrap=True)


@stage_app.command("pending")
def stage_pending(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the stage requests awaiting the office, oldest first (stale: the stage
    changed since the request; reject it).

    Example: tledger stage pending --format json
    """
    import pandas as pd

    from ledger.approvals import pending

    rows = [{"request": r.id, "initiative": r.external_id, "name": r.name, "owner": r.owner,
             "from": r.from_stage, "to": r.to_stage, "stage_now": r.stage_now,
             "stale": r.stale, "requested_by": r.requested_by,
             "requested_at": r.requested_at.strftime("%Y-%m-%d %H:%M UTC"), "note": r.note}
            for r in pending(open_ledger(db))]
    emit(pd.DataFrame(rows, columns=["request", "initiative", "name", "owner", "from", "to",
                                     "stage_now", "stale", "requested_by", "requested_at",
                                     "note"]), fmt, title="Pending stage requests")


@stage_app.command("committed")
def stage_committed(
    metric: Annotated[str | None, typer.Option("--metric", help="Metric code (default: the "
                                               "first, usually benefit).")] = None,
    by_month: Annotated[bool, typer.Option("--by-month", help="One row per month instead "
                                           "of per fiscal year.")] = False,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The committed plan (each committed initiative's plan as it stood when it entered
    L3) beside its current plan and forecast, per initiative and fiscal year; the
    variance is forecast minus committed plan. Active initiatives only: a withdrawn one is
    left out, so the totals tie to the committed plan of `tledger outturn`.

    Example: tledger stage committed --metric benefit --format csv
    """
    from ledger.approvals import committed_plan

    frame = committed_plan(open_ledger(db), metric=metric)
    period = "month" if by_month else "fiscal_year"
    keys = ["external_id", "name", "owner", "stage", "committed_at", period]
    amounts = ["committed_plan", "plan", "forecast"]
    out = frame.groupby(keys, sort=False, as_index=False)[amounts].sum() if len(frame) else \
        frame[keys + amounts]
    out = out.assign(variance=out["forecast"] - out["committed_plan"])
    emit(out, fmt, title="Committed plan", right=[*amounts, "variance"])

"""Reconciliation commands: ``tledger gap`` and ``tledger checks``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

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
    plain_text,
    table_cell,
)

if TYPE_CHECKING:
    # pandas and the engine load when a command runs, not for `tledger --help`.
    import pandas as pd

    from ledger.engine import GapReport


class ByDimension(StrEnum):
    business_unit = "business_unit"
    lever = "lever"
    stage = "stage"
    owner = "owner"


class View(StrEnum):
    monthly = "monthly"
    fiscal = "fiscal"


MetricOption = Annotated[str | None, typer.Option(
    "--metric", "-m", help="Metric code (default: the first metric, usually benefit).")]
AsOfOption = Annotated[str | None, typer.Option(
    "--as-of", help="Report the ledger as it stood then: a submission id, an ISO date (end of "
    "that day, UTC) or datetime, e.g. 42, 2026-10-31 or 2026-10-31T17:00:00+10:00.")]


def _amount(value: Decimal) -> str:
    return f"{value:,}"


def _gap_style(value: Decimal, kind: str) -> str:
    # Red where the bottom-up falls short: below a benefit target, above a cost budget.
    short = value > 0 if kind == "benefit" else value < 0
    if value == 0:
        return ""
    return "red" if short else "green"


def _coverage_text(value: Decimal | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


#: The terminal table's rows for the cumulative columns (with --cumulative).
CUMULATIVE_MEASURES = [("cumulative_target", "cumulative target"),
                       ("cumulative_bottom_up", "cumulative bottom-up"),
                       ("cumulative_gap", "cumulative gap")]


def _gap_tables(rep: GapReport, *, cumulative: bool = False,
                width: int | None = None) -> list[Table]:
    """One table per fiscal year (its months and subtotal), then a totals table.

    With ``width``, a fiscal year too wide for it is split into tables of consecutive
    months (as even as they come, the subtotal with the last), each fitting ``width``
    when any split can; amounts are never cut short. ``cumulative`` adds the cumulative
    target, bottom-up and gap rows (from the horizon's first month; the fiscal-year
    column shows them at the year's last month).
    """
    import pandas as pd

    kind = rep.metric.kind
    target_label = f"{rep.compare} (bottom-up)" if rep.compare else "target"
    bottom_label = "bottom-up (weighted)" if rep.weighted else "bottom-up"
    measures: list[tuple[str, str]] = [("target", target_label), ("bottom_up", bottom_label)]
    if rep.weighted:
        measures.append(("bottom_up_unweighted", "bottom-up (unweighted)"))
    measures += [("gap", "gap"), ("coverage", "coverage")]
    monthly_measures = measures + (CUMULATIVE_MEASURES if cumulative else [])
    monthly = rep.monthly
    fiscal = rep.fiscal
    if rep.by is not None:
        monthly = pd.concat([monthly, rep.programme_monthly], ignore_index=True)
        fiscal = pd.concat([fiscal, rep.programme_fiscal], ignore_index=True)
    parts = list(dict.fromkeys(monthly["part"]))
    tables = []

    def add_rows(table: Table, cells: dict[str, dict[str, list[Text]]],
                 rows: list[tuple[str, str]]) -> None:
        _add_rows(table, parts, cells, rows)

    def cell(col: str, value: object) -> Text:
        return _cell(col, value, kind)

    def year_table(fy: str, months: list[date], with_total: bool, title: str) -> Table:
        rows = monthly[monthly["fiscal_year"] == fy]
        year_rows = rows.set_index(["part", "month"])
        table = Table(title=plain_text(title), show_lines=False)
        table.add_column("part")
        table.add_column("")
        for m in months:
            table.add_column(f"{m:%b-%y}", justify="right")
        if with_total:
            table.add_column(f"{fy}", justify="right", style="bold")
        last = max(rows["month"])
        cells: dict[str, dict[str, list[Text]]] = {}
        for part in parts:
            fr = fiscal[(fiscal["part"] == part) & (fiscal["period"] == fy)].iloc[0]
            cells[part] = {}
            for col, _ in monthly_measures:
                values = [cell(col, year_rows.at[(part, m), col]) for m in months]
                if with_total:
                    total = (year_rows.at[(part, last), col] if col.startswith("cumulative")
                             else fr[col])
                    values.append(cell(col, total))
                cells[part][col] = values
        add_rows(table, cells, monthly_measures)
        return table

    for fy in dict.fromkeys(monthly["fiscal_year"]):
        months = list(dict.fromkeys(monthly.loc[monthly["fiscal_year"] == fy, "month"]))
        tables.extend(_fitted(functools.partial(year_table, fy), months,
                              f"{_title(rep)}: {fy}", width))
    tables.append(_totals_table(rep, fiscal, parts, measures))
    return tables


def _totals_table(rep: GapReport, fiscal: pd.DataFrame, parts: list[str],
                  measures: list[tuple[str, str]]) -> Table:
    """Per part, each measure per fiscal year and over the horizon, and the run-rates."""
    from ledger.engine import HORIZON

    periods = list(dict.fromkeys(fiscal["period"]))
    table = Table(title=plain_text(f"{_title(rep)}: totals"), show_lines=False)
    table.add_column("part")
    table.add_column("")
    for period in periods:
        table.add_column("total" if period == HORIZON else period, justify="right",
                         style="bold" if period == HORIZON else "")
    extra = [("exit_run_rate", "exit run-rate"), ("target_exit_run_rate", "target run-rate")]
    cells = {}
    for part in parts:
        fr = fiscal[fiscal["part"] == part].set_index("period")
        cells[part] = {col: [_cell(col, fr.at[p, col], rep.metric.kind) for p in periods]
                       for col, _ in measures + extra}
    _add_rows(table, parts, cells, measures + extra)
    return table


def _add_rows(table: Table, parts: list[str], cells: dict[str, dict[str, list[Text]]],
              rows: list[tuple[str, str]]) -> None:
    for part in parts:
        for i, (col, label) in enumerate(rows):
            table.add_row(plain_text(part if i == 0 else ""), label, *cells[part][col],
                          end_section=i == len(rows) - 1)


def _cell(col: str, value: object, kind: str) -> Text:
    if col == "coverage":
        assert value is None or isinstance(value, Decimal)  # noqa: S101  (narrows the type)
        return Text(_coverage_text(value), justify="right")
    assert isinstance(value, Decimal)  # noqa: S101  (narrows the type)
    style = _gap_style(value, kind) if col.endswith("gap") else ""
    return Text(_amount(value), style=style, justify="right")


def _fitted(build: Callable[[list[date], bool, str], Table], months: list[date], title: str,
            width: int | None) -> list[Table]:
    """``build(months, with_total, title)`` as one table, or, when that is wider than
    ``width``, as the fewest tables of consecutive months (as even as they come, the total
    column with the last) that each fit; one table if no split fits."""
    whole = build(months, True, title)
    if width is None or _natural_width(whole) <= width:
        return [whole]
    for pieces in range(2, len(months) + 1):
        size = -(-len(months) // pieces)
        chunks = [months[i:i + size] for i in range(0, len(months), size)]
        split = [build(chunk, k == len(chunks) - 1,
                       f"{title} ({chunk[0]:%b-%y}..{chunk[-1]:%b-%y})")
                 for k, chunk in enumerate(chunks)]
        if all(_natural_width(t) <= width for t in split):
            return split
    return [whole]


def _natural_width(table: Table) -> int:
    """The width ``table`` needs to show every cell in full."""
    wide = console.options.update(width=10_000, max_width=10_000)
    return Measurement.get(console, wide, table).maximum


def _title(rep: GapReport) -> str:
    what = f"{rep.metric.code} ({rep.metric.unit}) {rep.scenario}"
    if rep.compare:
        what += f" vs {rep.compare}"
    if rep.weighted:
        what += ", risk-weighted"
    if rep.by:
        what += f", by {rep.by}"
    return f"Gap: {what}"


def _summary(rep: GapReport) -> str:
    from ledger.engine import HORIZON, PROGRAMME_PART

    total = rep.programme_fiscal[(rep.programme_fiscal["part"] == PROGRAMME_PART)
                                 & (rep.programme_fiscal["period"] == HORIZON)].iloc[0]
    months = rep.months
    span = f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}" if months else "no months"
    if rep.fiscal_year is not None:
        fy = rep.programme_fiscal[rep.programme_fiscal["period"] != HORIZON].iloc[0]
        total, span = fy, f"{fy['period']} ({span})"
    when = (f"as of {rep.as_of:%Y-%m-%d %H:%M} UTC (submission {rep.as_of_submission})"
            if rep.as_of else f"current (submission {rep.as_of_submission})")
    against = rep.compare or "target"
    if rep.target_as_of_submission is not None:
        against = f"target as of submission {rep.target_as_of_submission}"
    return (f"{rep.metric.code} {rep.scenario} over {span}: {against} "
            f"{_amount(total['target'])}, bottom-up {_amount(total['bottom_up'])}, "
            f"gap {_amount(total['gap'])}"
            + (f" (coverage {_coverage_text(total['coverage'])})"
               if total["coverage"] is not None else "")
            + f"; {when}")


def _print_wide(table: Table) -> None:
    """Print ``table`` at its natural width: never squeeze or cut an amount short."""
    needed = _natural_width(table)
    out = console if needed <= console.width else Console(
        file=console.file, width=needed, force_terminal=console.is_terminal,
        no_color=console.no_color, highlight=False, markup=False, emoji=False)
    out.print(table)


@app.command("gap")
def gap_cmd(
    metric: MetricOption = None,
    scenario: Annotated[str, typer.Option(
        "--scenario", "-s", help="Bottom-up scenario: plan, forecast or actual.")] = "plan",
    by: Annotated[ByDimension | None, typer.Option(
        "--by", help="Break down by business_unit, lever, stage or owner.")] = None,
    fiscal_year: Annotated[str | None, typer.Option(
        "--fiscal-year", help="Only this fiscal year's months, e.g. FY27.")] = None,
    as_of: AsOfOption = None,
    weighted: Annotated[bool, typer.Option(
        "--weighted", help="Risk-weight the bottom-up by stage gate (unweighted beside).")
    ] = False,
    compare: Annotated[str | None, typer.Option(
        "--compare", help="Put another scenario's bottom-up in place of the target, e.g. "
        "--scenario forecast --compare plan.")] = None,
    cumulative: Annotated[bool, typer.Option(
        "--cumulative", help="Table: add cumulative target, bottom-up and gap rows (from "
        "the horizon's first month). CSV and JSON always carry them.")] = False,
    target_as_of: Annotated[str | None, typer.Option(
        "--target-as-of", "--target-revision", help="Set the bottom-up against the targets "
        "as they stood then (a target revision's submission id or a date), e.g. the "
        "top-down before `tledger target adopt`. The bottom-up stays as of --as-of.")] = None,
    view: Annotated[View, typer.Option(
        "--view", help="csv/json rows: monthly (one per part and month) or fiscal (one per "
        "part and fiscal year, plus Horizon).")] = View.monthly,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The gap of the bottom-up to the top-down target, month by month.

    Gap is target minus bottom-up (red where the bottom-up falls short); coverage is
    bottom-up over target. With --by, each part is set against its own target and
    "(unallocated)" holds the rest, so the parts add up to the programme exactly. CSV and
    JSON carry one row per part and month (amounts as exact decimal strings), cumulative
    columns included. A fiscal year too wide for the terminal is shown in several tables
    of consecutive months; amounts are never cut short.

    Example: tledger gap --metric benefit --by business_unit --fiscal-year FY27
    """
    from ledger.engine import gap
    from tledger.cli.baselines import show_ratio_gap

    ledger = open_ledger(db)
    # A ratio metric (a unit cost) is not a sum: its own code path (ledger.ratio).
    if show_ratio_gap(ledger, metric=metric, scenario=scenario, by=by.value if by else None,
                      fiscal_year=fiscal_year, as_of=as_of, weighted=weighted,
                      compare=compare, target_as_of=target_as_of,
                      fiscal_view=view == View.fiscal, fmt=fmt):
        return
    rep = gap(ledger, metric=metric, scenario=scenario, by=by.value if by else None,
              as_of=as_of, weighted=weighted, fiscal_year=fiscal_year, compare=compare,
              target_as_of=target_as_of)
    if fmt == OutputFormat.table:
        for table in _gap_tables(rep, cumulative=cumulative, width=console.width):
            _print_wide(table)
        console.print(_summary(rep), highlight=False, soft_wrap=True)
        return
    emit(rep.monthly if view == View.monthly else rep.fiscal, fmt)
    err_console.print(_summary(rep), highlight=False, soft_wrap=True)


def _next_month(month: object) -> date:
    from ledger.months import add_months

    assert isinstance(month, date)  # noqa: S101  (narrows the type: a finding's month)
    return add_months(month, 1)


def group_monthly_findings(found: pd.DataFrame) -> pd.DataFrame:
    """The findings with each run of consecutive months of the same check, severity,
    metric, scope and subject (a cascade gap month after month) as one line: its months as
    ``first..last (n months)``, its amount the run's total, its detail the first month's
    with the run's length. Findings without a month are kept as they are."""
    import pandas as pd

    out: list[dict[str, object]] = []
    run: list[dict[str, object]] = []

    def flush() -> None:
        if not run:
            return
        if len(run) == 1:
            out.append(run[0])
        else:
            first, last = run[0], run[-1]
            total: Decimal | None = Decimal(0)
            for r in run:
                amount = r["amount"]
                total = total + amount if isinstance(amount, Decimal) and total is not None \
                    else None
            in_all = f", {total:,} in all" if total is not None else ""
            out.append({**first, "month": f"{first['month']:%Y-%m}..{last['month']:%Y-%m} "
                                          f"({len(run)} months)",
                        "detail": f"{len(run)} consecutive months{in_all}; first month: "
                                  f"{first['detail']}",
                        "amount": total})
        run.clear()

    key_cols = ["check", "severity", "metric", "scope", "subject"]
    for raw in found.to_dict("records"):
        rec = {str(k): v for k, v in raw.items()}
        month = rec.get("month")
        if run and month is not None and all(rec[k] == run[-1][k] for k in key_cols) \
                and month == _next_month(run[-1]["month"]):
            run.append(rec)
            continue
        flush()
        if month is None:
            out.append(rec)
        else:
            run.append(rec)
    flush()
    return pd.DataFrame(out, columns=list(found.columns))


# `tledger checks` alone runs the checks (the callback); its commands review pairs.
checks_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
app.add_typer(checks_app, name="checks")


@checks_app.callback(invoke_without_command=True)
def checks_cmd(
    ctx: typer.Context,
    metric: MetricOption = None,
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Check the ledger for what the office must act on; exit 1 if any error is found.

    Errors: part targets over-allocating the programme target (cascade gap), phasing or
    targets outside the horizon. Warnings: programme target left unallocated, initiatives
    without phasing, negative benefits, initiatives at L4/L5 without actuals, claimed
    savings above the P&L movement beyond the claim tolerance, actuals before an
    initiative's first planned month or in a month not closed, and pairs of similar
    initiatives (same unit and lever, same metric in the same months) that may count one
    saving twice, until the office reviews them (checks review-pair).

    Example: tledger checks --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    from ledger.engine import checks

    ledger = open_ledger(db)
    found = checks(ledger, metric=metric, as_of=as_of)
    errors = int((found["severity"] == "error").sum())
    warnings = len(found) - errors
    summary = (f"{plural(errors, 'error')}, {plural(warnings, 'warning')}" if len(found)
               else "all checks passed")
    if fmt == OutputFormat.table:
        if len(found):
            shown = group_monthly_findings(found)
            table = Table(title="Checks")
            for col in shown.columns:
                table.add_column(str(col), justify="right" if col == "amount" else "left")
            for rec in shown.to_dict("records"):
                table.add_row(*[table_cell(v, amount=str(k) == "amount") for k, v in rec.items()],
                              style="red" if rec["severity"] == "error" else "")
            _print_wide(table)
            if len(shown) < len(found):
                summary += (f"; runs of consecutive months shown as one line each "
                            f"({len(found)} findings; --format csv lists every month)")
        console.print(summary, highlight=False)
    else:
        emit(found, fmt)
        err_console.print(summary, highlight=False)
    if errors:
        raise typer.Exit(1)


@checks_app.command("review-pair")
def review_pair_cmd(
    first: Annotated[str, typer.Argument(help="One initiative's id, e.g. GR-0001.")],
    second: Annotated[str, typer.Argument(help="The other initiative's id.")],
    note: Annotated[str, typer.Option("--note", help="Why the pair does not count one "
                                      "saving twice (required; kept with the submission).")
                    ] = "",
    db: DbOption = None,
    user: UserOption = None,
) -> None:
    """Record that the office reviewed two initiatives that possible_double_count reported
    and they do not count the same saving: a submission; the pair is not reported again.

    Example: tledger checks review-pair PRO-003 PRO-011 --note "different sites"
    """
    from ledger.claims import review_pair

    ledger = open_ledger(db)
    done = review_pair(ledger, first, second, note=note, user=user)
    committed("the review WAS recorded")
    console.print(f"{done.first} and {done.second} reviewed (submission "
                  f"{done.submission_id}): no longer reported as a possible double count",
                  highlight=False, soft_wrap=True)


@checks_app.command("reviewed")
def reviewed_cmd(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the pairs of initiatives the office reviewed as no double count: the pair,
    the submission, when, who and the note.

    Example: tledger checks reviewed --format csv
    """
    from ledger.claims import reviewed_pairs

    pairs = reviewed_pairs(open_ledger(db))
    if fmt == OutputFormat.table and pairs.empty:
        console.print("no pair reviewed yet (tledger checks review-pair A B --note ...)",
                      highlight=False)
        return
    emit(pairs, fmt, title="Reviewed pairs")

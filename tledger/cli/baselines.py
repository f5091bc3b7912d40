"""Baseline commands (set, list, show) and the unit-cost gap of a ratio metric."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.money import from_minor
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
)
from tledger.cli.imports import DryRunOption, MappingOption, ReportOption, ScaleOption
from tledger.cli.targets import AsOfOption, MetricOption, ScopeOption, _short_times

if TYPE_CHECKING:
    from ledger.api import Ledger
    from ledger.ratio import RatioReport

baseline_app = typer.Typer(
    help="Baselines: the do-nothing trajectory of a metric (and its recorded actuals), "
    "set as revisions, listed, shown with history.",
    no_args_is_help=True,
)
app.add_typer(baseline_app, name="baseline")

ActualOption = Annotated[bool, typer.Option(
    "--actual", help="The recorded actual series (what finance saw, e.g. tonnes produced) "
    "instead of the baseline: a flexed baseline reads its driver's actual.")]


@baseline_app.command("set")
def baseline_set(
    metric: MetricOption,
    note: Annotated[str, typer.Option("--note", help="Why (required), e.g. \"FY26 budget\".")],
    amount: Annotated[str | None, typer.Option(
        "--amount", help="A total over the months, phased by --profile exactly as a target "
        "is (120M, 1,200.5). With --driver: the fixed part.")] = None,
    per_month: Annotated[str | None, typer.Option(
        "--per-month", help="The same amount in every month instead of a total.")] = None,
    fiscal_year: Annotated[str | None, typer.Option(
        "--fiscal-year", "--fy", help="A fiscal year, e.g. FY27.")] = None,
    first: Annotated[str | None, typer.Option("--from", help="First month, e.g. 2026-07.")
                     ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last month, e.g. 2027-06.")] = None,
    scope: ScopeOption = "programme",
    profile: Annotated[str, typer.Option(
        "--profile", help="With --amount: even, ramp or weights:1,1,2,...")] = "even",
    actual: ActualOption = False,
    driver: Annotated[str | None, typer.Option(
        "--driver", help="Flex by this metric's actual: baseline = fixed + rate x driver "
        "(the driver's baseline where no actual is recorded).")] = None,
    rate: Annotated[str | None, typer.Option(
        "--rate", help="With --driver: the metric's unit per driver unit, e.g. 12.5 (AUD/t); "
        "at most 6 decimals.")] = None,
    db: DbOption = None,
    user: UserOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Set a baseline (or, with --actual, a recorded actual) as a new revision.

    Only the given months change; earlier revisions stay on record (show --history). A
    flexed month's value is fixed + rate x driver, the variable part rounded half away
    from zero to the metric's minor unit, per month.

    Example: tledger baseline set -m benefit --per-month 100000 --fy FY27 --driver volume
    --rate 20 --note "FY26 cost base"
    """
    import pandas as pd

    from ledger.baselines import rate_decimal, set_baseline
    from tledger.cli.common import open_ledger

    ledger = open_ledger(db)
    result = set_baseline(ledger, metric=metric, amount=amount, per_month=per_month,
                          fiscal_year=fiscal_year, first=first, last=last, scope=scope,
                          profile=profile, series="actual" if actual else "baseline",
                          driver=driver, rate=rate, user=user, note=note)
    if result.submission_id is not None:
        committed(f"the change WAS saved (submission {result.submission_id})")
    frame = pd.DataFrame({
        "month": [f"{m:%Y-%m}" for m in result.months],
        "amount": pd.Series([from_minor(a, result.decimals) for a in result.amounts_minor],
                            dtype=object),
    })
    out = console if fmt == OutputFormat.table else err_console
    emit(frame, fmt, title=f"{result.metric} {result.series}, {result.scope.label}",
         right=["amount"])
    span = f"{result.months[0]:%Y-%m}..{result.months[-1]:%Y-%m}"
    flex = (f" + {rate_decimal(result.rate_micro or 0)} x {result.driver} per month"
            if result.driver else "")
    if result.submission_id is None:
        out.print(f"no change: {result.metric} {result.series} {result.scope.label} {span} "
                  "is already as given; nothing written", soft_wrap=True)
        return
    out.print(f"{result.series} {result.metric} {result.scope.label}: "
              f"{from_minor(result.total_minor, result.decimals):,}{flex} over {span} "
              f"({result.months_changed} of {len(result.months)} months changed) recorded "
              f"as revision {result.submission_id}", soft_wrap=True)


@baseline_app.command("list")
def baseline_list(as_of: AsOfOption = None, db: DbOption = None,
                  fmt: FormatOption = OutputFormat.table) -> None:
    """List the baselines and actuals per metric and scope: months, total of the fixed
    parts, last revision.

    Example: tledger baseline list --format csv
    """
    from ledger.baselines import baseline_summary
    from ledger.targets import resolve_as_of
    from tledger.cli.common import open_ledger

    ledger = open_ledger(db)
    with ledger.reading() as conn:
        frame = baseline_summary(ledger, as_of=resolve_as_of(conn, as_of), conn=conn)
    if frame.empty and fmt == OutputFormat.table:
        console.print("no baselines yet: set one with `tledger baseline set`", soft_wrap=True)
        return
    if fmt == OutputFormat.table:
        frame = frame.assign(when=_short_times(frame["when"]))
    emit(frame, fmt, title="Baselines", right=["n_months", "total", "revision"])


@baseline_app.command("show")
def baseline_show(
    metric: MetricOption,
    scope: ScopeOption = "programme",
    actual: ActualOption = False,
    history: Annotated[bool, typer.Option(
        "--history", help="List every revision instead: submission, when, who, note, "
        "months written, total of the fixed parts before -> after.")] = False,
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one baseline per month (fixed, flex, value), or its revisions with --history.

    Example: tledger baseline show --metric benefit --history
    """
    from ledger.baselines import baseline_by_month, baseline_revisions
    from ledger.targets import resolve_as_of
    from tledger.cli.common import open_ledger

    series = "actual" if actual else "baseline"
    ledger = open_ledger(db)
    with ledger.reading() as conn:
        if history:
            frame = baseline_revisions(ledger, metric=metric, scope=scope, series=series,
                                       conn=conn)
            if fmt == OutputFormat.table:
                frame = frame.assign(when=_short_times(frame["when"]))
            emit(frame, fmt, title=f"{metric} {series} revisions, {scope}",
                 right=["submission", "months_changed", "total_before", "total_after",
                        "change"])
            return
        frame = baseline_by_month(ledger, metric=metric, scope=scope, series=series,
                                  as_of=resolve_as_of(conn, as_of), conn=conn)
    if actual:
        frame = frame[["month", "baseline", "revision"]].rename(columns={"baseline": "actual"})
    emit(frame, fmt, title=f"{metric} {series}, {scope}",
         right=["fixed", "rate", "driver_value", "variable", "baseline", "actual", "revision"])
    if fmt == OutputFormat.table:
        total = sum(frame["actual" if actual else "baseline"], start=Decimal(0))
        console.print(f"{len(frame)} months, total {total:,}", soft_wrap=True)


# --------------------------------------------------------------------------- ratio gap

_TABLE_COLUMNS = ["part", "month", "numerator", "denominator", "baseline_level", "target",
                  "implied", "gap", "money_gap"]


def show_ratio_gap(ledger: Ledger, *, metric: str | None, scenario: str, by: str | None,
                   fiscal_year: str | None, as_of: str | None, weighted: bool,
                   compare: str | None, target_as_of: str | None, fiscal_view: bool,
                   fmt: OutputFormat) -> bool:
    """``tledger gap`` of a ratio metric (True), or False for an additive one."""
    from ledger.errors import LedgerError
    from ledger.ratio import ratio_gap, ratio_of
    from ledger.targets import find_metric

    if metric is None:
        return False
    with ledger.reading() as conn:
        if ratio_of(conn, find_metric(ledger, metric, conn)) is None:
            return False
    if compare is not None or target_as_of is not None:
        raise LedgerError(f"{metric} is a ratio metric: --compare and --target-as-of are not "
                          "supported for it yet")
    rep = ratio_gap(ledger, metric=metric, scenario=scenario, by=by, as_of=as_of,
                    weighted=weighted, fiscal_year=fiscal_year)
    contributions = rep.contributions
    if contributions is not None:
        # Month rows have a period YYYY-MM; fiscal years and Horizon do not.
        is_month = contributions["period"].str.match(r"^\d{4}-\d{2}$")
        contributions = contributions[~is_month if fiscal_view else is_month]
    if fmt != OutputFormat.table:
        if contributions is not None:
            emit(contributions, fmt)
        else:
            emit(rep.fiscal if fiscal_view else rep.monthly, fmt)
        err_console.print(_ratio_summary(rep), highlight=False, soft_wrap=True)
        return True
    levels = ["baseline_level", "target", "implied", "gap", "money_gap", "numerator",
              "denominator"]
    monthly = rep.monthly.assign(month=[f"{m:%Y-%m}" for m in rep.monthly["month"]])
    emit(monthly[_TABLE_COLUMNS], fmt, title=_ratio_title(rep), right=levels)
    fiscal = rep.fiscal.rename(columns={"period": "month"})
    emit(fiscal[[*_TABLE_COLUMNS, "average_of_monthly"]], fmt,
         title=f"{_ratio_title(rep)}: fiscal years (ratios of sums)",
         right=[*levels, "average_of_monthly"])
    if rep.contributions is not None:
        emit(rep.contributions.drop(columns=["fiscal_year"]), fmt,
             title=f"{_ratio_title(rep)}: each part's contribution to the change from the "
             "baseline level (parts add up to Programme)",
             right=["savings", "uplift", "contribution"])
    console.print(_ratio_summary(rep), highlight=False, soft_wrap=True)
    return True


def _ratio_title(rep: RatioReport) -> str:
    r = rep.ratio
    return (f"Gap: {r.metric.code} ({r.metric.unit}) = {r.label} {rep.scenario}"
            + (", risk-weighted" if rep.weighted else "") + (f", by {rep.by}" if rep.by else ""))


def _ratio_summary(rep: RatioReport) -> str:
    from ledger.ratio import HORIZON, PROGRAMME_PART

    row = rep.fiscal[(rep.fiscal["part"] == PROGRAMME_PART)
                     & (rep.fiscal["period"] != HORIZON)] if rep.fiscal_year else \
        rep.fiscal[(rep.fiscal["part"] == PROGRAMME_PART) & (rep.fiscal["period"] == HORIZON)]
    r = row.iloc[0]

    def text(value: object) -> str:
        return "n/a" if value is None else f"{value:,}"

    return (f"{rep.ratio.metric.code} {rep.scenario} over {r['period']}: target "
            f"{text(r['target'])}, implied {text(r['implied'])} {rep.ratio.metric.unit}, gap "
            f"{text(r['gap'])} (money {text(r['money_gap'])}); submission "
            f"{rep.as_of_submission}")


@baseline_app.command("import")
def baseline_import(
    file: Annotated[Path, typer.Argument(help="A baselines workbook (.xlsx, .xlsm, .xls, "
                                         ".xlsb, .ods) or .csv file: sheet Baselines, the "
                                         "targets layout.")],
    actual: ActualOption = False,
    mapping: MappingOption = None,
    scale: ScaleOption = None,
    dry_run: DryRunOption = False,
    report: ReportOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Import baselines (or, with --actual, recorded actuals) from a workbook laid out like
    a targets workbook (Metric, Scope, one column per month; sheet Baselines) as one new
    revision. A metric x scope row replaces that row's months in full; amounts are plain
    (a flexed month becomes the workbook's amount: set flexes with `baseline set`).

    Example: tledger baseline import baselines.xlsx --note "FY26 budget"
    """
    from tledger.cli.imports import run_targets_import

    run_targets_import(file, mapping=mapping, scale=scale, dry_run=dry_run, report=report,
                       fmt=fmt, db=db, user=user, note=note,
                       baseline="actual" if actual else "baseline")


# --------------------------------------------------------------------------- unit-cost workbook

from tledger.cli.report import report_app  # noqa: E402  (registers on the report group)


@report_app.command("unit-cost")
def report_unit_cost(
    metric: MetricOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="The .xlsx file to write.")],
    scenario: Annotated[str, typer.Option(
        "--scenario", "-s", help="Bottom-up scenario: plan, forecast or actual.")] = "plan",
    by_unit: Annotated[bool, typer.Option(
        "--by-unit", help="A block per business unit, against its own baselines.")] = False,
    weighted: Annotated[bool, typer.Option(
        "--weighted", help="Risk-weight the savings and uplift.")] = False,
    as_of: AsOfOption = None,
    db: DbOption = None,
) -> None:
    """Write a ratio metric's gap as an Excel workbook of live formulas that tie: implied =
    ROUND(numerator / denominator), fiscal years as ratios of sums, gap and money gap.

    Example: tledger report unit-cost --metric unit_cost --out unit_cost.xlsx
    """
    from ledger.ratio import ratio_gap
    from reports.unit_cost import write_unit_cost_workbook
    from tledger.cli.common import open_ledger

    ledger = open_ledger(db)
    rep = ratio_gap(ledger, metric=metric, scenario=scenario,
                    by="business_unit" if by_unit else None, as_of=as_of, weighted=weighted)
    write_unit_cost_workbook(rep, out)
    committed(f"{out} WAS written")
    console.print(f"wrote {out}: {_ratio_summary(rep)}", highlight=False, soft_wrap=True)

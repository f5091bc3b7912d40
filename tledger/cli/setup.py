"""Set-up commands: init, db, programme, unit, lever, stage, metric."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from ledger.errors import LedgerError
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
    current_db,
    emit,
    emit_object,
    open_ledger,
)


@app.command("init")
def init_cmd(db: DbOption = None) -> None:
    """Create a ledger (default ./tledger.db) and migrate it to the newest schema.

    Example: tledger init --db ledger.db
    """
    from ledger.api import Ledger
    from ledger.db import describe_url, resolve_url, schema_state

    current_db.set(db)
    ledger = Ledger.init(db)
    committed("the ledger WAS created")
    current, _ = schema_state(ledger.engine)
    console.print(f"ledger ready at {describe_url(resolve_url(db))} (schema {current})",
                  soft_wrap=True)


db_app = typer.Typer(help="Ledger database schema: upgrade, current.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Migrate the ledger to the newest schema this tledger knows.

    Example: tledger db upgrade --db ledger.db
    """
    from ledger.api import Ledger
    from ledger.db import schema_state

    current_db.set(db)
    ledger = Ledger.init(db)
    committed("the ledger WAS upgraded")
    current, _ = schema_state(ledger.engine)
    console.print(f"ledger at schema {current}")


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Print the ledger's schema revision and the newest one this tledger knows.

    Example: tledger db current --db ledger.db
    """
    from ledger.api import Ledger
    from ledger.db import schema_state

    ledger = Ledger(Ledger.open(db, check=False).engine)
    current, head = schema_state(ledger.engine)
    state = "up to date" if current == head else (
        "no ledger: run `tledger init`" if current is None else "outdated: run `tledger db upgrade`"
    )
    console.print(f"current: {current or '(none)'}  head: {head}  ({state})")


# ---------------------------------------------------------------- programme
programme_app = typer.Typer(help="The programme this ledger tracks.", no_args_is_help=True)
app.add_typer(programme_app, name="programme")


def _month_arg(value: str, what: str) -> date:
    try:
        return parse_month(value)
    except MonthError as exc:
        raise LedgerError(f"{what}: {exc}") from exc


@programme_app.command("create")
def programme_create(
    name: Annotated[str, typer.Option("--name", help="Programme name.")],
    first_month: Annotated[str, typer.Option("--from", help="First month of the horizon, "
                                             "e.g. 2026-07.")],
    last_month: Annotated[str, typer.Option("--to", help="Last month of the horizon, "
                                            "e.g. 2028-06.")],
    currency: Annotated[str, typer.Option("--currency", help="Reporting currency (ISO).")] = "AUD",
    fy_start: Annotated[int, typer.Option("--fy-start", help="Month (1-12) the fiscal year "
                                          "starts in.")] = 7,
    no_default_metrics: Annotated[bool, typer.Option(
        "--no-default-metrics", help="Do not add the default benefit and cost metrics.")] = False,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Create the programme: name, currency, fiscal-year start and horizon.

    Adds stage gates L0-L5 with default risk weights and two metrics: benefit (recurring
    net benefit) and cost (one-off cost), both in the currency to the cent.

    Example: tledger programme create --name "Cost 2028" --from 2026-07 --to 2028-06
    """
    ledger = open_ledger(db)
    info = ledger.create_programme(
        name=name, currency=currency, fy_start_month=fy_start,
        first_month=_month_arg(first_month, "--from"),
        last_month=_month_arg(last_month, "--to"),
        user=user, note=note, default_metrics=not no_default_metrics,
    )
    committed("the programme WAS created")
    console.print(f"programme {info.name!r} created: {info.first_month:%Y-%m} to "
                  f"{info.last_month:%Y-%m}, {plural(len(info.months), 'month')}, {info.currency}",
                  soft_wrap=True)


@programme_app.command("show")
def programme_show(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """Show the programme, its horizon, metrics and counts (--format json: one object).

    Example: tledger programme show --format json
    """
    ledger = open_ledger(db)
    with ledger.reading() as conn:
        info = ledger.programme(conn)
        metrics = ledger.metrics(conn)
        counts = conn.exec_driver_sql(
            "SELECT (SELECT COUNT(*) FROM initiative), (SELECT COUNT(*) FROM business_unit), "
            "(SELECT COUNT(*) FROM lever), (SELECT COUNT(*) FROM submission)"
        ).one()
        from ledger.closing import closed_through

        closed = closed_through(conn)
    import pandas as pd

    from ledger.months import fiscal_year, fiscal_year_label

    frame = pd.DataFrame([
        ("name", info.name),
        ("currency", info.currency),
        ("fiscal year starts", f"month {info.fy_start_month}"),
        ("horizon", f"{info.first_month:%Y-%m} to {info.last_month:%Y-%m} "
                    f"({plural(len(info.months), 'month')}, "
                    f"{fiscal_year_label(fiscal_year(info.first_month, info.fy_start_month))}-"
                    f"{fiscal_year_label(fiscal_year(info.last_month, info.fy_start_month))})"),
        ("metrics", ", ".join(f"{m.code} ({m.unit}, {m.kind})" for m in metrics)),
        ("initiatives", str(counts[0])),
        ("business units", str(counts[1])),
        ("levers", str(counts[2])),
        ("submissions", str(counts[3])),
        ("last closed month", f"{closed:%Y-%m}" if closed else "none (tledger programme close)"),
    ], columns=["field", "value"])
    if fmt == OutputFormat.json:
        emit_object({
            "name": info.name, "currency": info.currency,
            "fy_start_month": info.fy_start_month,
            "first_month": f"{info.first_month:%Y-%m}", "last_month": f"{info.last_month:%Y-%m}",
            "months": len(info.months),
            "metrics": [{"code": m.code, "name": m.name, "unit": m.unit, "kind": m.kind,
                         "decimals": m.decimals} for m in metrics],
            "initiatives": int(counts[0]), "business_units": int(counts[1]),
            "levers": int(counts[2]), "submissions": int(counts[3]),
            "last_closed_month": f"{closed:%Y-%m}" if closed else None,
        })
        return
    emit(frame, fmt, title="Programme")


@programme_app.command("set")
def programme_set(
    coverage_red: Annotated[str | None, typer.Option(
        "--coverage-red", help="Coverage below which reports show red, as a ratio "
        "(0.9 = 90 %; default 0.9).")] = None,
    coverage_amber: Annotated[str | None, typer.Option(
        "--coverage-amber", help="Coverage below which reports show amber (default 1.0).")
    ] = None,
    claim_tolerance: Annotated[str | None, typer.Option(
        "--claim-tolerance", help="How far claimed savings may exceed the P&L movement "
        "before `tledger checks` warns, as a share of the movement (5% or 0.05; default "
        "5%).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why (kept with the submission).")] = "",
    db: DbOption = None,
) -> None:
    """Change programme settings: the coverage thresholds of the reports' red, amber and
    green, and the claim tolerance of the P&L reconciliation. Each change is a submission;
    a report as of an earlier date uses the settings then in force.

    Example: tledger programme set --coverage-red 0.9 --coverage-amber 1.0
    """
    if coverage_red is None and coverage_amber is None and claim_tolerance is None:
        raise LedgerError("nothing to set: give --coverage-red, --coverage-amber and/or "
                          "--claim-tolerance")

    def ratio(option: str, raw: str | None) -> Decimal | None:
        if raw is None:
            return None
        try:
            return Decimal(raw.strip().rstrip("%")) / (100 if raw.strip().endswith("%") else 1)
        except InvalidOperation:
            raise LedgerError(f"{option} {raw!r}: expected a ratio such as 0.9 "
                              "(or 90%)") from None

    ledger = open_ledger(db)
    if claim_tolerance is not None:
        from ledger.pnl import percent, set_claim_tolerance

        share = ratio("--claim-tolerance", claim_tolerance)
        assert share is not None  # noqa: S101  (narrows the type: a value was given)
        set_claim_tolerance(ledger, share, note=note)
        committed("the claim tolerance WAS set")
        console.print(f"claim tolerance: {percent(share)} of the P&L movement",
                      highlight=False)
        if coverage_red is None and coverage_amber is None:
            return
    red, amber = ledger.set_coverage_thresholds(
        red=ratio("--coverage-red", coverage_red),
        amber=ratio("--coverage-amber", coverage_amber), note=note)
    committed("the coverage thresholds WERE set")
    console.print(f"coverage thresholds: red below {red:.1%}, amber below {amber:.1%}, "
                  "green from there", highlight=False)


# ---------------------------------------------------------------- units and levers
unit_app = typer.Typer(help="Business units: add and list.", no_args_is_help=True)
lever_app = typer.Typer(help="Levers: add and list.", no_args_is_help=True)
app.add_typer(unit_app, name="unit")
app.add_typer(lever_app, name="lever")

CodeArg = Annotated[str, typer.Argument(help="Short code, e.g. PRO (no spaces).")]
NameArg = Annotated[str, typer.Argument(help="Full name.")]


@unit_app.command("add")
def unit_add(code: CodeArg, name: NameArg = "", db: DbOption = None, user: UserOption = None,
             note: NoteOption = "") -> None:
    """Add a business unit.

    Example: tledger unit add PRO "Processing"
    """
    open_ledger(db).add_business_unit(code, name, user=user, note=note)
    committed("the business unit WAS added")
    console.print(f"business unit {code} added", soft_wrap=True)


@unit_app.command("list")
def unit_list(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the business units.

    Example: tledger unit list --format csv
    """
    emit(open_ledger(db).business_units()[["code", "name"]], fmt, title="Business units")


@lever_app.command("add")
def lever_add(code: CodeArg, name: NameArg = "", db: DbOption = None, user: UserOption = None,
              note: NoteOption = "") -> None:
    """Add a lever.

    Example: tledger lever add PROC "Procurement"
    """
    open_ledger(db).add_lever(code, name, user=user, note=note)
    committed("the lever WAS added")
    console.print(f"lever {code} added", soft_wrap=True)


@lever_app.command("list")
def lever_list(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the levers.

    Example: tledger lever list --format csv
    """
    emit(open_ledger(db).levers()[["code", "name"]], fmt, title="Levers")


# ---------------------------------------------------------------- stage gates
stage_app = typer.Typer(help="Stage gates L0-L5 and their risk weights.", no_args_is_help=True)
app.add_typer(stage_app, name="stage")


@stage_app.command("list")
def stage_list(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the stage gates with their current risk weights.

    Example: tledger stage list --format json
    """
    ledger = open_ledger(db)
    frame = ledger.stage_gates()
    emit(frame[["code", "name", "weight"]], fmt, title="Stage gates", right=["weight"])


@stage_app.command("set-weight")
def stage_set_weight(
    code: Annotated[str, typer.Argument(help="Stage gate code, e.g. L2.")],
    weight: Annotated[str, typer.Argument(help="Risk weight from 0 to 1, e.g. 0.5.")],
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Set a stage gate's risk weight (kept as a new revision; history stays).

    Example: tledger stage set-weight L2 0.6 --note "steering committee 2026-11"
    """
    try:
        value = Decimal(weight.strip().rstrip("%")) / (100 if weight.strip().endswith("%") else 1)
    except InvalidOperation as exc:
        raise LedgerError(f"weight {weight!r}: expected a number from 0 to 1, e.g. 0.5") from exc
    ledger = open_ledger(db)
    ledger.set_stage_weight(code, value, user=user, note=note)
    committed("the weight WAS saved")
    console.print(f"stage gate {code} weight set to {value}", soft_wrap=True)


# ---------------------------------------------------------------- metrics
metric_app = typer.Typer(help="Metrics: what is counted (benefits and costs).",
                         no_args_is_help=True)
app.add_typer(metric_app, name="metric")


@metric_app.command("add")
def metric_add(
    code: Annotated[str, typer.Argument(help="Short code, e.g. volume.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")] = "",
    unit: Annotated[str, typer.Option("--unit", help="Unit: a currency code, t, Mt, FTE...")] = "",
    kind: Annotated[str, typer.Option("--kind", help="benefit or cost.")] = "benefit",
    decimals: Annotated[int, typer.Option("--decimals", help="Decimal places kept (0-6); "
                                          "cells are rounded half away from zero.")] = 2,
    ratio: Annotated[str | None, typer.Option(
        "--ratio", help="A ratio metric (unit cost) NUM/DEN, e.g. benefit/volume: (NUM's "
        "baseline - NUM's bottom-up) / (DEN's baseline + DEN's bottom-up).")] = None,
    db: DbOption = None,
    user: UserOption = None,
    note: NoteOption = "",
) -> None:
    """Add a metric.

    Example: tledger metric add volume --name "Ore volume" --unit t --decimals 3
    Example: tledger metric add unit_cost --ratio benefit/volume --unit AUD/t --decimals 2
    """
    ledger = open_ledger(db)
    if ratio is not None:
        from ledger.ratio import add_ratio_metric

        r = add_ratio_metric(ledger, code=code, ratio=ratio, unit=unit, decimals=decimals,
                             name=name, user=user, note=note)
        committed("the metric WAS added")
        console.print(f"ratio metric {r.metric.code} = {r.label} added ({r.metric.unit}, "
                      f"{r.metric.decimals} decimals)", soft_wrap=True)
        return
    m = ledger.add_metric(code=code, name=name, unit=unit or ledger.programme().currency,
                          kind=kind, decimals=decimals, user=user, note=note)
    committed("the metric WAS added")
    console.print(f"metric {m.code} added ({m.unit}, {m.kind}, {plural(m.decimals, 'decimal')})",
                  soft_wrap=True)


@metric_app.command("list")
def metric_list(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the metrics.

    Example: tledger metric list
    """
    import pandas as pd

    from ledger.ratio import ratio_of

    ledger = open_ledger(db)
    with ledger.reading() as conn:
        metrics = ledger.metrics(conn)
        ratios = [ratio_of(conn, m) for m in metrics]
    frame = pd.DataFrame([m.__dict__ for m in metrics])
    # A ratio metric (unit cost) names its NUM/DEN; additive metrics leave it empty.
    frame["ratio"] = ["" if r is None else r.label for r in ratios]
    emit(frame[["code", "name", "unit", "kind", "decimals", "ratio"]], fmt, title="Metrics")

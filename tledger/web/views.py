"""What the pages show, as plain values for the templates (amounts as Decimals, exact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ledger.accounts import Session
from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.grid import CellKey, Grid, owner_initiative_ids
from ledger.money import from_minor
from ledger.months import fiscal_year, fiscal_year_label
from ledger.phasing import phasing_sums

#: The scenarios the lists and totals show.
SCENARIOS_SHOWN = ("plan", "forecast")

if TYPE_CHECKING:
    import pandas as pd


def amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,}"


def owns(session: Session, initiative: dict[str, Any]) -> bool:
    name = session.account.owner_name or ""
    return bool(name) and str(initiative["owner"]).strip().casefold() == name.casefold()


def fy_months(prog: ProgrammeInfo, fy: int) -> tuple[date, date]:
    """First and last month of fiscal year ``fy`` inside the programme's horizon."""
    months = [m for m in prog.months if fiscal_year(m, prog.fy_start_month) == fy]
    return months[0], months[-1]


def _fy_sums(conn: Connection, ids: list[int], metric: MetricInfo, prog: ProgrammeInfo,
             fy: int) -> dict[str, dict[int, Decimal]]:
    """Per scenario, per initiative: the sum of its fiscal year ``fy`` months."""
    sums = phasing_sums(conn, ids, metric.id, SCENARIOS_SHOWN, *fy_months(prog, fy)) \
        if ids else {}
    return {s: {i: from_minor(sums.get((i, s), 0), metric.decimals) for i in ids}
            for s in SCENARIOS_SHOWN}


@dataclass(frozen=True)
class OwnerTotals:
    owner: str
    metric: str
    plan: Decimal
    forecast: Decimal
    unit: str | None
    unit_target: Decimal | None


def owner_totals(ledger: Ledger, conn: Connection, *, owner: str, fy: int,
                 unit: Any) -> OwnerTotals:
    """The owner's active initiatives' fiscal-year totals, beside their unit's target."""
    from ledger.targets import parse_scope, target_total

    prog = ledger.programme(conn)
    metric = ledger.metric(None, conn)
    sums = _fy_sums(conn, owner_initiative_ids(conn, owner, active=True), metric, prog, fy)
    unit_code = unit if isinstance(unit, str) and unit else None
    target = None
    if unit_code is not None:  # the unit's code as stored: read with the initiative
        minor = target_total(conn, metric.id, parse_scope(f"unit:{unit_code}"),
                             *fy_months(prog, fy))
        target = None if minor is None else from_minor(minor, metric.decimals)
    zero = Decimal(0).scaleb(-metric.decimals)
    return OwnerTotals(owner, metric.code, sum(sums["plan"].values(), zero),
                       sum(sums["forecast"].values(), zero), unit_code, target)


@dataclass
class Cell:
    name: str
    text: str
    editable: bool
    error: str = ""
    warning: str = ""


@dataclass
class Row:
    label: str
    cells: list[Cell | Decimal]
    """A Cell per month; a Decimal (the fiscal-year subtotal) after each fiscal year."""
    total: Decimal


def grid_table(grid: Grid, *, editable: bool, plan_locked: bool, typed: dict[CellKey, str],
               errors: dict[CellKey, str], rounded: dict[CellKey, str]
               ) -> tuple[list[str], list[Row]]:
    """Header labels (months and ``FYxx`` subtotals) and one row per metric and scenario."""
    fy_start = grid.programme.fy_start_month
    header: list[str] = []
    for i, m in enumerate(grid.months):
        header.append(f"{m:%b-%y}")
        if i + 1 == len(grid.months) or fiscal_year(grid.months[i + 1], fy_start) != \
                fiscal_year(m, fy_start):
            header.append(fiscal_year_label(fiscal_year(m, fy_start)))
    rows: list[Row] = []
    for metric in grid.metrics:
        for scenario in grid.scenarios:
            cells: list[Cell | Decimal] = []
            subtotal = Decimal(0).scaleb(-metric.decimals)
            total = Decimal(0).scaleb(-metric.decimals)
            can = editable and not (plan_locked and scenario == "plan")
            for i, m in enumerate(grid.months):
                key = (metric.code, scenario, m.isoformat())
                value = grid.amount(key)
                subtotal += value or 0
                total += value or 0
                text = typed[key] if key in typed else ("" if value is None else str(value))
                cells.append(Cell(f"c|{metric.code}|{scenario}|{m.isoformat()}", text, can,
                                  errors.get(key, ""), rounded.get(key, "")))
                if i + 1 == len(grid.months) or fiscal_year(grid.months[i + 1], fy_start) != \
                        fiscal_year(m, fy_start):
                    cells.append(subtotal)
                    subtotal = Decimal(0).scaleb(-metric.decimals)
            rows.append(Row(f"{metric.code} ({metric.unit}) {scenario}", cells, total))
    return header, rows


def hidden_fields(grid: Grid) -> dict[str, str]:
    """The version the page was read at, carried by the form back to the save."""
    fields = {"as_of": str(grid.as_of)}
    for (code, scenario), version in grid.versions.items():
        fields[f"v|{code}|{scenario}"] = str(version)
    return fields


def headline(ledger: Ledger, conn: Connection) -> list[dict[str, Any]]:
    """Per metric and scenario (plan, forecast): target, bottom-up and gap per fiscal year
    and over the horizon, from :func:`ledger.engine.gap`."""
    from ledger.engine import gap

    rows: list[dict[str, Any]] = []
    for metric in ledger.metrics(conn):
        for scenario in ("plan", "forecast"):
            report = gap(ledger, metric=metric.code, scenario=scenario, conn=conn)
            fiscal: pd.DataFrame = report.programme_fiscal
            for rec in fiscal.to_dict("records"):
                rows.append({"metric": f"{metric.code} ({metric.unit})", "scenario": scenario,
                             "period": rec["period"], "target": rec["target"],
                             "bottom_up": rec["bottom_up"], "gap": rec["gap"],
                             "coverage": rec["coverage"]})
    return rows

"""The reconciliation of claimed savings to the P&L (issue 18; docs/reconciliation.md).

For each business unit x month x metric:

- ``baseline``: the unit's baseline (flexed where it has a driver: :mod:`ledger.baselines`);
- ``actual``: the general-ledger actual, the sum of the lines of the month's extract
  (``tledger import actuals``); a month without an extract is *not reported* (empty, never 0);
- ``movement``: for a metric whose GL lines are costs, ``baseline - actual`` (a cost below
  its baseline is a positive saving); for income or volume, ``actual - baseline``;
- ``claimed``: the sum of the initiatives' ``actual`` scenario for that unit, metric and
  month (unweighted);
- ``unexplained = movement - claimed``.

Every total (the programme over the units, a fiscal year over its months) is the sum of
the parts that *reconcile* (have a movement: a GL extract and a baseline), column by
column, so each total keeps both identities exactly; a claim in a month without an extract
is shown on its unit's month row but in no total. The arithmetic is pure (:func:`unit_rows`,
:func:`total_rows`, :func:`over_claims`) over integer minor units; :func:`reconcile` loads
its inputs and returns Decimals.

Storage: ``gl_actual`` is append-only; the lines valid for a month at an instant are those
of the newest submission (at or before it) with lines in that month, so a later extract of
the same months replaces them and an earlier instant shows the earlier extract.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from ledger.api import Ledger, MetricInfo
from ledger.asof import parse_as_of, submission_at
from ledger.errors import LedgerError, NotFound
from ledger.money import from_minor
from ledger.months import MonthError, fiscal_year_label, month_range, parse_month
from ledger.months import fiscal_year as fiscal_year_number
from ledger.store import current_user, new_submission, read_frame, version_filter
from ledger.vocabulary import TargetScope

__all__ = [
    "CLAIM_TOLERANCE",
    "PNL_COLUMNS",
    "Drill",
    "DrillCell",
    "DrillClaim",
    "DrillLine",
    "Reconciliation",
    "claim_findings",
    "claim_tolerance",
    "drill",
    "gl_lines",
    "over_claims",
    "reconcile",
    "reconcile_month",
    "reconcile_unit",
    "set_claim_tolerance",
    "total_rows",
    "unit_rows",
]

#: The figures of a reconciliation row, in order.
FIGURES = ["baseline", "actual", "movement", "claimed", "unexplained"]
#: Columns of :attr:`Reconciliation.frame`.
PNL_COLUMNS = ["metric", "part", "period", "fiscal_year", "reported", *FIGURES]
#: The part name of the programme's rows (the sum of the units).
PROGRAMME = "Programme"
#: Claims may exceed the accounts' movement by this share of it before a check fires.
CLAIM_TOLERANCE = Decimal("0.05")
_TOLERANCE_KEY = "claim_tolerance"
BY_CHOICES = ("business_unit", "programme")

Minor = int | None


# --------------------------------------------------------------------------- pure arithmetic


def movement_of(kind: str, baseline: Minor, actual: Minor) -> Minor:
    """The P&L movement: ``baseline - actual`` for costs, ``actual - baseline`` for income;
    None when either is missing."""
    if baseline is None or actual is None:
        return None
    return baseline - actual if kind == "cost" else actual - baseline


def unit_rows(kind: str, months: Sequence[str], baseline: dict[str, int],
              actual: dict[str, int], reported: set[str], claimed: dict[str, int],
              ) -> list[dict[str, Any]]:
    """One unit's rows, one per month (ISO ``YYYY-MM-DD``), in minor units.

    ``actual`` holds the unit's GL sum of each month; a month in ``reported`` (it has an
    extract) without lines for the unit has actual 0; a month not in ``reported`` has no
    actual. ``claimed`` is 0 where absent.
    """
    out: list[dict[str, Any]] = []
    for month in months:
        base = baseline.get(month)
        act = actual.get(month, 0) if month in reported else None
        move = movement_of(kind, base, act)
        claim = claimed.get(month, 0)
        out.append({"period": month[:7], "reported": month in reported, "baseline": base,
                    "actual": act, "movement": move, "claimed": claim,
                    "unexplained": None if move is None else move - claim})
    return out


def reconciled(row: dict[str, Any]) -> bool:
    """Whether a row reconciles: it has a movement (a GL extract and a baseline)."""
    return row["movement"] is not None


def total_rows(groups: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """The total of rows: each figure the sum over the rows that reconcile (have a
    movement), so a total keeps ``movement = baseline - actual`` (or the reverse) and
    ``unexplained = movement - claimed`` exactly; all None when no row reconciles.
    Reported when any part is."""
    rows = [r for group in groups for r in group]
    kept = [r for r in rows if reconciled(r)]
    total: dict[str, Any] = {f: sum(r[f] for r in kept) if kept else None for f in FIGURES}
    total["reported"] = any(r["reported"] for r in rows)
    return total


def over_claims(rows: Iterable[dict[str, Any]], tolerance: Decimal) -> list[dict[str, Any]]:
    """The rows whose claim exceeds the movement by more than ``tolerance`` x |movement|:
    the row with ``over = claimed - movement`` added. Rows without a movement (not
    reported, no baseline) and without a positive claim never fire."""
    found = []
    for row in rows:
        move, claim = row["movement"], row["claimed"]
        if move is None or not claim or claim <= 0:
            continue
        over = claim - move
        if over > 0 and Decimal(over) > tolerance * abs(Decimal(move)):
            found.append({**row, "over": over})
    return found


# --------------------------------------------------------------------------- storage


def gl_lines(conn: Connection, as_of: int | None = None) -> pd.DataFrame:
    """The GL lines in force at submission ``as_of`` (None: now): for each month, those of
    the newest submission with lines in that month. Columns ``month`` (ISO), ``unit``,
    ``metric_id``, ``pnl_kind``, ``amount_minor``, ``cost_centre``, ``account``,
    ``submission``."""
    bound = "" if as_of is None else " AND g2.created_submission_id <= :s"
    frame = read_frame(conn, (
        "SELECT CAST(g.month AS VARCHAR(10)) AS month, bu.code AS unit, g.metric_id, "  # noqa: S608  (fixed SQL; values bound)
        "g.pnl_kind, g.amount_minor, g.cost_centre, g.account, "
        "g.created_submission_id AS submission FROM gl_actual g "
        "JOIN business_unit bu ON bu.id = g.business_unit_id "
        "WHERE g.created_submission_id = (SELECT MAX(g2.created_submission_id) "
        f"FROM gl_actual g2 WHERE g2.month = g.month{bound}) ORDER BY g.month, g.id"),
        {} if as_of is None else {"s": int(as_of)})
    for col in ("metric_id", "amount_minor", "submission"):
        frame[col] = [int(v) for v in frame[col]]
    frame["month"] = [str(m)[:10] for m in frame["month"]]
    return frame


def has_gl_actuals(conn: Connection, as_of: int | None = None) -> bool:
    """Whether any GL actual was imported (by submission ``as_of``)."""
    if not conn.dialect.has_table(conn, "gl_actual"):
        return False
    where = "" if as_of is None else " WHERE created_submission_id <= :s"
    return conn.execute(text(f"SELECT 1 FROM gl_actual{where} LIMIT 1"),  # noqa: S608  (fixed SQL; values bound)
                        {} if as_of is None else {"s": int(as_of)}).first() is not None


def _claim_rows(conn: Connection, metric_id: int, as_of: int | None, select: str,
                group: str, unit: str | None = None,
                join_initiative: bool = False, month: date | None = None) -> pd.DataFrame:
    """The active initiatives' ``actual`` phasing of a metric (of ``unit`` and ``month``
    only when given): ``select`` columns over ``phasing p``, ``initiative_version v`` and
    ``business_unit bu``, grouped by ``group``. The month column comes back as ISO text."""
    p_where, params = version_filter(as_of, "p")
    v_where, _ = version_filter(as_of, "v")
    only_unit = ("" if unit is None else " AND bu.code = :u") + (
        "" if month is None else " AND p.month = :mo")
    initiative = (" JOIN initiative i ON i.id = p.initiative_id" if join_initiative else "")
    return read_frame(conn, (
        f"SELECT {select}, CAST(p.month AS VARCHAR(10)) AS month, "  # noqa: S608  (select, group: fixed SQL of this module; where: version_filter's; values bound)
        "SUM(p.amount_minor) AS amount FROM phasing p "
        f"JOIN initiative_version v ON v.initiative_id = p.initiative_id AND {v_where} "
        "AND v.status = 'active' JOIN business_unit bu ON bu.id = v.business_unit_id"
        f"{initiative} WHERE {p_where} AND p.metric_id = :m AND p.scenario = 'actual'"
        f"{only_unit} "
        f"GROUP BY {group}, p.month"),
        {**params, "m": metric_id, **({} if unit is None else {"u": unit}),
         **({} if month is None else {"mo": month})})


def _claims(conn: Connection, metric_id: int, as_of: int | None) -> dict[tuple[str, str], int]:
    """(unit, month ISO) -> the sum of active initiatives' ``actual`` phasing."""
    frame = _claim_rows(conn, metric_id, as_of, "bu.code AS unit", "bu.code")
    return {(str(u), str(m)[:10]): int(a) for u, m, a in
            zip(frame["unit"], frame["month"], frame["amount"], strict=True)}


def _baselines(conn: Connection, metrics: dict[int, MetricInfo], metric: MetricInfo,
               unit: str, as_of: int | None) -> dict[str, int]:
    from ledger.baselines import baseline_values

    values = baseline_values(conn, metrics, metric, TargetScope("business_unit", unit), as_of)
    return {str(m)[:10]: int(v) for m, v in zip(values["month"], values["value_minor"],
                                                 strict=True)}


def _units_with_baseline(conn: Connection, metric_id: int, as_of: int | None) -> set[str]:
    where, params = version_filter(as_of)
    return {str(c) for c in conn.execute(text(
        "SELECT DISTINCT scope_code FROM baseline WHERE series = 'baseline' "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
        f"AND scope_kind = 'business_unit' AND metric_id = :m AND {where}"),
        {**params, "m": metric_id}).scalars()}


# --------------------------------------------------------------------------- the API


@dataclass
class MetricRows:
    """One metric's reconciliation in minor units: each unit's month rows, the months."""

    metric: MetricInfo
    kind: str
    months: list[str]
    units: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def programme(self) -> list[dict[str, Any]]:
        """The programme's month rows: each the total of the units' rows of that month."""
        return [{"period": m[:7], **total_rows([[rows[i] for rows in self.units.values()]])}
                for i, m in enumerate(self.months)]


@dataclass
class Reconciliation:
    """What :func:`reconcile` returns."""

    frame: pd.DataFrame
    """Columns :data:`PNL_COLUMNS`; figures are Decimals in the metric's decimals, or None
    (not reported, no baseline)."""
    metrics: list[MetricRows]
    """The same in minor units, per metric (for the report's formulas)."""
    kinds: dict[str, str]
    """metric code -> ``cost`` or ``income``: which way its movement is taken."""
    as_of: int | None


def _kind_of(lines: pd.DataFrame, metric: MetricInfo) -> str:
    mine = lines[lines["metric_id"] == metric.id]
    if len(mine):
        return str(mine["pnl_kind"].iloc[-1])
    return "cost" if metric.kind == "cost" else "income"


def load_rows(ledger: Ledger, conn: Connection, *, metric: str | None = None,
              as_of: int | None = None) -> list[MetricRows]:
    """Each reconciled metric's rows in minor units: the metrics with GL lines in force (or
    ``metric``), their units (with GL lines, a baseline or claims) and the horizon's months
    from the first to the last that has GL lines or claims."""
    prog = ledger.programme(conn)
    all_metrics = {m.id: m for m in ledger.metrics(conn)}
    lines = gl_lines(conn, as_of)
    if metric is not None:
        chosen = [ledger.metric(metric, conn)]
    else:
        chosen = [all_metrics[i] for i in sorted(set(lines["metric_id"]))]
    horizon = [m.isoformat() for m in month_range(prog.first_month, prog.last_month)]
    out: list[MetricRows] = []
    for m in chosen:
        mine = lines[lines["metric_id"] == m.id]
        reported = {str(x) for x in mine["month"]}
        claims = _claims(conn, m.id, as_of)
        units = sorted({str(u) for u in mine["unit"]} | {u for u, _ in claims}
                       | _units_with_baseline(conn, m.id, as_of))
        used = {str(x) for x in mine["month"]} | {mo for _, mo in claims}
        inside = [x for x in horizon if x in used]
        months = horizon[horizon.index(inside[0]):horizon.index(inside[-1]) + 1] if inside else []
        rows = MetricRows(m, _kind_of(lines, m), months)
        sums: dict[tuple[str, str], int] = {}
        for u, mo, v in zip(mine["unit"], mine["month"], mine["amount_minor"], strict=True):
            sums[(str(u), str(mo))] = sums.get((str(u), str(mo)), 0) + int(v)
        for unit in units:
            actual = {mo: v for (u, mo), v in sums.items() if u == unit}
            unit_claims = {mo: v for (u, mo), v in claims.items() if u == unit}
            rows.units[unit] = unit_rows(rows.kind, months,
                                         _baselines(conn, all_metrics, m, unit, as_of),
                                         actual, reported, unit_claims)
        out.append(rows)
    return out


def _fiscal(rows: list[dict[str, Any]], fy_start: int) -> list[dict[str, Any]]:
    years: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        years.setdefault(fiscal_year_of(row["period"], fy_start), []).append(row)
    return [{"period": fiscal_year_label(fy), **total_rows([part])}
            for fy, part in years.items()]


def reconcile(ledger: Ledger, *, metric: str | None = None, by: str = "business_unit",
              fiscal_year: bool = False, as_of: Any = None,
              conn: Connection | None = None) -> Reconciliation:
    """The P&L reconciliation (module doc): per metric, each unit's rows (``by=
    "business_unit"``) then the programme's, per month or (``fiscal_year``) per fiscal
    year, as of an instant or submission (``as_of``: as ``tledger gap --as-of``).

    Raises:
        LedgerError: an unknown metric or ``by``.
    """
    if by not in BY_CHOICES:
        raise LedgerError(f"--by {by!r}: expected one of {', '.join(BY_CHOICES)}")
    point = parse_as_of(as_of)
    with ledger.snapshot(conn) as c:
        sub = submission_at(c, point)[0] if point is not None else None
        prog = ledger.programme(c)
        metrics = load_rows(ledger, c, metric=metric, as_of=sub)
    records: list[dict[str, Any]] = []
    for rows in metrics:
        parts = [*(rows.units.items() if by == "business_unit" else []),
                 (PROGRAMME, rows.programme())]
        for part, month_rows in parts:
            shown = _fiscal(month_rows, prog.fy_start_month) if fiscal_year else month_rows
            for row in shown:
                fy = (row["period"] if fiscal_year else fiscal_year_label(fiscal_year_of(
                    row["period"], prog.fy_start_month)))
                records.append({
                    "metric": rows.metric.code, "part": part, "period": row["period"],
                    "fiscal_year": fy, "reported": row["reported"],
                    **{f: None if row[f] is None else from_minor(row[f], rows.metric.decimals)
                       for f in FIGURES}})
    frame = pd.DataFrame({c: pd.Series([r[c] for r in records], dtype=object)
                          for c in PNL_COLUMNS})
    return Reconciliation(frame, metrics, {r.metric.code: r.kind for r in metrics}, sub)


def fiscal_year_of(period: str, fy_start: int) -> int:
    """The fiscal year of a ``YYYY-MM`` period."""
    return fiscal_year_number(date.fromisoformat(period + "-01"), fy_start)


# --------------------------------------------------------------------------- drill-down


@dataclass(frozen=True)
class DrillLine:
    """One GL line in force: as the extract wrote its cost centre and account."""

    cost_centre: str
    account: str
    amount: Decimal
    submission: int
    source: str
    """The extract's file name (the submission's source), or ``""``."""


@dataclass(frozen=True)
class DrillClaim:
    """One initiative's claim: its ``actual`` phasing in the month."""

    external_id: str
    name: str
    owner: str
    amount: Decimal


@dataclass(frozen=True)
class DrillCell:
    """One metric's reconciliation cell of a unit-month and what makes it: ``actual`` is
    the sum of ``lines`` (None when the month is not reported), ``claimed`` the sum of
    ``claims``; the figures are those of :func:`reconcile`'s row for the unit and month."""

    metric: str
    decimals: int
    kind: str
    reported: bool
    baseline: Decimal | None
    actual: Decimal | None
    movement: Decimal | None
    claimed: Decimal
    unexplained: Decimal | None
    lines: list[DrillLine]
    claims: list[DrillClaim]


@dataclass(frozen=True)
class Drill:
    """What :func:`drill` returns: the unit-month's cells, one per metric."""

    unit: str
    unit_name: str
    month: date
    as_of: int | None
    cells: list[DrillCell]


def reconcile_unit(ledger: Ledger, conn: Connection, code: str) -> tuple[str, str]:
    """The business unit ``code`` (case ignored): its code as stored and its name.

    Raises:
        NotFound: no such unit (the known codes are named).
    """
    units = ledger.business_units(conn)
    for c, name in zip(units["code"], units["name"], strict=True):
        if str(c).casefold() == code.strip().casefold():
            return str(c), str(name)
    known = ", ".join(str(c) for c in units["code"]) or "none yet: tledger unit add"
    raise NotFound(f"--unit {code!r}: no such business unit (known: {known})")


def reconcile_month(ledger: Ledger, conn: Connection, month: str | date) -> date:
    """``month`` (``2026-07``, ``Jul-26``, ``FY27 M01`` or a date) as the first of its month,
    inside the programme's horizon.

    Raises:
        LedgerError: not a month, or outside the horizon (both named).
    """
    prog = ledger.programme(conn)
    try:
        mon = parse_month(month, prog.fy_start_month)
    except MonthError as exc:
        raise LedgerError(f"--month: {exc}") from exc
    if not prog.first_month <= mon <= prog.last_month:
        raise LedgerError(f"--month {mon:%Y-%m}: outside the programme's horizon "
                          f"({prog.first_month:%Y-%m} to {prog.last_month:%Y-%m})")
    return mon


def _decimal(value: Minor, decimals: int) -> Decimal | None:
    return None if value is None else from_minor(value, decimals)


def _sources(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    marks = ", ".join(f":s{i}" for i in range(len(wanted)))
    rows = conn.execute(text(f"SELECT id, source_name FROM submission WHERE id IN ({marks})"),  # noqa: S608  (marks: bound parameter names)
                        {f"s{i}": v for i, v in enumerate(wanted)})
    return {int(i): str(name or "") for i, name in rows}


def drill(ledger: Ledger, *, unit: str, month: str | date, metric: str | None = None,
          as_of: Any = None, conn: Connection | None = None) -> Drill:
    """The drill-down of one unit-month of the reconciliation: per metric, the GL lines in
    force (their sum is the cell's ``actual``) and the initiatives' claims (their sum is
    ``claimed``), beside the cell's baseline, movement and unexplained.

    The metrics: ``metric``, else those :func:`reconcile` shows (with GL lines in force)
    that have GL lines in the month or claims of the unit there; all of them when none has.
    A month without an extract for a metric is not reported: no lines, its claims listed.

    Raises:
        LedgerError: an unknown unit or metric, a bad month or one outside the horizon.
    """
    point = parse_as_of(as_of)
    with ledger.snapshot(conn) as c:
        code, unit_name = reconcile_unit(ledger, c, unit)
        mon = reconcile_month(ledger, c, month)
        sub = submission_at(c, point)[0] if point is not None else None
        all_metrics = {m.id: m for m in ledger.metrics(c)}
        lines = gl_lines(c, sub)
        iso = mon.isoformat()
        in_month = lines[lines["month"] == iso]
        who = "v.initiative_id, i.external_id, v.name, v.owner"
        claims = {m_id: _claim_rows(c, m_id, sub, who, who, unit=code, join_initiative=True,
                                    month=mon)
                  for m_id in ([ledger.metric(metric, c).id] if metric is not None
                               else sorted(set(lines["metric_id"])))}
        chosen = list(claims)
        if metric is None:
            busy = [m_id for m_id in chosen if (in_month["metric_id"] == m_id).any()
                    or len(claims[m_id])]
            chosen = busy or chosen
        sources = _sources(c, in_month["submission"])
        cells = []
        for m_id in chosen:
            info = all_metrics[m_id]
            mine = in_month[(in_month["metric_id"] == m_id) & (in_month["unit"] == code)]
            mine_claims = claims[m_id]
            reported = bool((in_month["metric_id"] == m_id).any())
            row = unit_rows(_kind_of(lines, info), [iso],
                            _baselines(c, all_metrics, info, code, sub),
                            {iso: int(mine["amount_minor"].sum())}, {iso} if reported else set(),
                            {iso: int(mine_claims["amount"].sum())})[0]
            d = info.decimals
            cells.append(DrillCell(
                metric=info.code, decimals=d, kind=_kind_of(lines, info), reported=reported,
                baseline=_decimal(row["baseline"], d), actual=_decimal(row["actual"], d),
                movement=_decimal(row["movement"], d), claimed=from_minor(row["claimed"], d),
                unexplained=_decimal(row["unexplained"], d),
                lines=[DrillLine(str(cc), str(acc), from_minor(int(a), d), int(s),
                                 sources.get(int(s), ""))
                       for cc, acc, a, s in zip(mine["cost_centre"], mine["account"],
                                                mine["amount_minor"], mine["submission"],
                                                strict=True)],
                claims=[DrillClaim(str(e), str(n), str(o), from_minor(int(a), d))
                        for e, n, o, a in sorted(zip(
                            mine_claims["external_id"], mine_claims["name"],
                            mine_claims["owner"], mine_claims["amount"], strict=True))]))
    return Drill(code, unit_name, mon, sub, cells)


# --------------------------------------------------------------------------- tolerance


def set_claim_tolerance(ledger: Ledger, tolerance: Decimal, *, user: str | None = None,
                        note: str = "") -> Decimal:
    """Record the share of the accounts' movement by which claims may exceed it before
    ``tledger checks`` warns (0.05 is 5 %), as a submission.

    Raises:
        LedgerError: a tolerance outside 0 to 10.
    """
    if not tolerance.is_finite() or not Decimal(0) <= tolerance <= Decimal(10):
        raise LedgerError(f"claim tolerance {tolerance}: expected a share from 0 to 10 "
                          "(0.05 or 5% is 5 %)")
    with ledger.writing() as conn:
        ledger.programme(conn)
        new_submission(conn, kind="reference", user=current_user(user),
                       note=note or f"claim tolerance: {tolerance:%}",
                       details={_TOLERANCE_KEY: str(tolerance)})
    return tolerance


def claim_tolerance(conn: Connection, as_of: int | None = None) -> Decimal:
    """The claim tolerance in force at submission ``as_of`` (default now): the latest set
    by :func:`set_claim_tolerance`, else :data:`CLAIM_TOLERANCE`."""
    row = conn.execute(text(
        "SELECT details FROM submission WHERE kind = 'reference' AND details LIKE :key "
        "AND id <= :sub ORDER BY id DESC LIMIT 1"),
        {"key": f'%"{_TOLERANCE_KEY}"%',
         "sub": as_of if as_of is not None else 2**62}).scalar_one_or_none()
    return CLAIM_TOLERANCE if row is None else Decimal(json.loads(row)[_TOLERANCE_KEY])


def percent(value: Decimal) -> str:
    """``5 %`` for 0.05 (no trailing zeros)."""
    shown = (value * 100).normalize()
    return f"{shown:f} %"


def claim_findings(ledger: Ledger, conn: Connection, as_of: int | None = None,
                   metric: str | None = None) -> list[dict[str, Any]]:
    """``claim_over_pnl`` findings (warning) for :func:`ledger.engine.checks`: per unit,
    metric and month, the claims that exceed the accounts' movement beyond the tolerance."""
    if not has_gl_actuals(conn, as_of):
        return []
    tolerance = claim_tolerance(conn, as_of)
    found: list[dict[str, Any]] = []
    for rows in load_rows(ledger, conn, metric=metric, as_of=as_of):
        d = rows.metric.decimals
        for unit, unit_month_rows in rows.units.items():
            for row in over_claims(unit_month_rows, tolerance):
                found.append({
                    "check": "claim_over_pnl", "severity": "warning",
                    "metric": rows.metric.code, "scope": "actual",
                    "month": date.fromisoformat(row["period"] + "-01"), "subject": unit,
                    "detail": (f"{unit} {row['period']} {rows.metric.code}: claimed "
                               f"{from_minor(row['claimed'], d):,}, the accounts show "
                               f"{from_minor(row['movement'], d):,} (over by "
                               f"{from_minor(row['over'], d):,}, tolerance "
                               f"{percent(tolerance)})"),
                    "amount": from_minor(row["over"], d)})
    return found

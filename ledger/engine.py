"""The reconciliation engine: the month-by-month gap of the bottom-up to the top-down.

Public, stable API (shapes documented in ``docs/engine.md``)::

    from ledger.engine import gap, checks, GapReport

    rep = gap(ledger, metric="benefit", scenario="plan", by="business_unit",
              as_of=datetime(2026, 11, 1, tzinfo=UTC), weighted=False,
              fiscal_year=2027, compare=None)

:func:`gap` returns a :class:`GapReport`:

* ``monthly``: one row per part and month of the horizon (or of ``fiscal_year``). Columns
  ``part, month, fiscal_year, target, bottom_up, [bottom_up_unweighted,] gap,
  cumulative_target, cumulative_bottom_up, cumulative_gap, coverage``. ``part`` is
  ``"Programme"`` without a breakdown; with ``by`` it is the part's code (business unit or
  lever code, stage gate code, owner name) and the row set ``"(unallocated)"`` carries what
  no part owns: the bottom-up of initiatives without such a part and the programme target
  not cascaded to any part. Parts plus unallocated equal the programme, exactly.
* ``fiscal``: one row per part and fiscal year plus a ``"Horizon"`` row per part. Columns
  ``part, period, target, bottom_up, [bottom_up_unweighted,] gap, coverage,
  exit_run_rate, target_exit_run_rate``.
* ``programme_monthly`` / ``programme_fiscal``: the unbroken programme series in the same
  shapes (equal to ``monthly`` / ``fiscal`` when ``by`` is None).

Amounts are :class:`~decimal.Decimal` with exactly the metric's decimals; ``coverage`` is
``bottom_up / target`` rounded half away from zero to 4 decimals, None where the target is
zero. Cumulative columns run from the horizon's first month, also when ``fiscal_year``
restricts the rows shown.

``compare`` turns the report into scenario-versus-scenario: ``gap(..., scenario="forecast",
compare="plan")`` puts the *plan* bottom-up in the ``target`` columns and the *forecast*
bottom-up in ``bottom_up``, part by part, so ``gap`` is plan minus forecast (positive: the
forecast falls short of the plan) and coverage is forecast over plan. Top-down targets play
no part in a comparison.

:func:`checks` returns the findings the office acts on (cascade gaps, initiatives without
phasing, phasing outside the horizon, negative benefits, late stage gates without actuals)
as a DataFrame with columns ``check, severity, metric, scope, month, subject, detail,
amount``.

How it computes: every sum is one SQL ``GROUP BY`` over integer minor units (the covering
index ``ix_phasing_scan`` answers the unbroken query on its own), read inside one
:func:`ledger.db.reading` transaction, so the report is a consistent snapshot; integers turn
into Decimals only at the end. Withdrawn initiatives contribute nothing. A risk-weighted
amount is computed per fact, ``amount_minor * weight_bp / 10000`` rounded half away from
zero to a minor unit with integer arithmetic in SQL, then summed; weighted totals are exact
sums of weighted facts. Stage gates and weights are those valid at ``as_of``. A current
report rolls the process's last sum of the same view forward by the facts changed since
(:mod:`ledger.rolling`), exact by the same argument as "as of".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, overload

import pandas as pd
from sqlalchemy import Connection, text

from ledger import rolling
from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.asof import as_instant, parse_as_of, submission_at
from ledger.chain import for_checks as chain_for_checks
from ledger.claims import claim_findings
from ledger.claims import finding as _finding
from ledger.closing import closed_through
from ledger.db import storage_damage
from ledger.errors import LedgerError
from ledger.finance import FinanceInputs, MoneyMetric, finance_tables
from ledger.initiatives import current_initiatives
from ledger.models import OPEN, SCENARIOS
from ledger.money import from_minor
from ledger.months import (
    MonthError,
    fiscal_year_label,
    fiscal_year_months,
    parse_fiscal_year,
)
from ledger.months import fiscal_year as fiscal_year_of
from ledger.reconcile import (
    HORIZON,
    PROGRAMME_PART,
    UNALLOCATED,
    GapInputs,
    gap_tables,
)
from ledger.store import (
    current_phasing_arrays,
    int_rows,
    last_submission_id,
    month_number_sql,
    read_frame,
    version_filter,
)
from ledger.vocabulary import check_scenario
from ledger.wording import plural

__all__ = [
    "BREAKDOWNS",
    "CHECK_COLUMNS",
    "FISCAL_COLUMNS",
    "HORIZON",
    "MONTHLY_COLUMNS",
    "PROGRAMME_PART",
    "UNALLOCATED",
    "FinanceReport",
    "GapReport",
    "as_of_instant",
    "checks",
    "finance",
    "gap",
]

#: The dimensions ``gap(by=...)`` breaks down by.
BREAKDOWNS = ("business_unit", "lever", "stage", "owner")

MONTHLY_COLUMNS = [
    "part", "month", "fiscal_year", "target", "bottom_up", "gap", "cumulative_target",
    "cumulative_bottom_up", "cumulative_gap", "coverage",
]
FISCAL_COLUMNS = [
    "part", "period", "target", "bottom_up", "gap", "coverage", "exit_run_rate",
    "target_exit_run_rate",
]
CHECK_COLUMNS = ["check", "severity", "metric", "scope", "month", "subject", "detail", "amount"]

# Aggregates beyond this could overflow int64 once summed over months and parts.
_MAX_MINOR = 2**62 // 1024

# The version attribute each breakdown reads from initiative_version.
_PART_COLUMN = {
    "business_unit": "v.business_unit_id",
    "lever": "v.lever_id",
    "stage": "v.stage_gate_id",
    "owner": "v.owner",
}


@dataclass(frozen=True)
class GapReport:
    """The reconciliation of one metric and scenario, as the ledger stood at one instant."""

    programme: ProgrammeInfo
    metric: MetricInfo
    scenario: str
    compare: str | None
    """The scenario in the ``target`` columns instead of the top-down target, or None."""
    by: str | None
    weighted: bool
    fiscal_year: int | None
    as_of: datetime | None
    """The instant asked for (None: the current state)."""
    as_of_submission: int
    """The last submission included: every version valid at it is in the report."""
    last_submission_id: int
    """The ledger's newest submission when the report was read."""
    monthly: pd.DataFrame
    fiscal: pd.DataFrame
    programme_monthly: pd.DataFrame
    programme_fiscal: pd.DataFrame
    target_as_of_submission: int | None = None
    """The targets are those valid at this submission instead of at ``as_of`` (None: the
    same instant as the bottom-up), e.g. the top-down revision before an adoption."""

    @property
    def months(self) -> list[date]:
        """The months the ``monthly`` frame covers, in order."""
        return sorted(set(self.monthly["month"]))

    @property
    def parts(self) -> list[str]:
        """The parts in report order (``"Programme"`` alone without a breakdown)."""
        return list(dict.fromkeys(self.monthly["part"]))


# --------------------------------------------------------------------------- helpers


@overload
def as_of_instant(value: datetime | date | str) -> datetime: ...
@overload
def as_of_instant(value: None) -> None: ...
def as_of_instant(value: datetime | date | str | None) -> datetime | None:
    """Normalise an as-of instant to an aware UTC datetime (see :mod:`ledger.asof`).

    Raises:
        LedgerError: text that is neither an ISO date nor an ISO datetime.
    """
    return as_instant(value)


def _fiscal_year_arg(value: int | str | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_fiscal_year(value)
    except MonthError as exc:
        raise LedgerError(f"fiscal year: {exc}") from exc


def _iso(value: Any) -> str:
    return value.isoformat()[:10] if isinstance(value, date) else str(value)[:10]


def _ints(series: pd.Series) -> pd.Series:
    """Aggregates from SQL as int64 (PostgreSQL returns SUM(bigint) as numeric)."""
    values = [int(v) for v in series.tolist()]
    if values and max(abs(v) for v in values) > _MAX_MINOR:
        raise LedgerError("amounts too large to reconcile exactly (beyond 4.5e15 minor units)")
    return pd.Series(values, index=series.index, dtype="int64")


def _weighted_sql(amount: str, weight: str) -> str:
    """Per-fact ``amount * weight / 10000`` rounded half away from zero, in integers.

    Split the amount as ``q * 10000 + r`` (``/`` and ``%`` truncate toward zero on SQLite
    and PostgreSQL, so ``r`` has the amount's sign): ``q * weight`` is exact and only
    ``r * weight`` (below 10^8) needs rounding, so no intermediate can overflow.
    """
    q = f"({amount} / 10000)"
    r = f"({amount} % 10000)"
    return (
        f"({q} * {weight} + CASE WHEN {r} < 0 THEN -((-{r} * {weight} + 5000) / 10000) "
        f"ELSE ({r} * {weight} + 5000) / 10000 END)"
    )


# --------------------------------------------------------------------------- reading


def _empty_bottom_up(weighted: bool) -> pd.DataFrame:
    cols = ["month", "part_key", "amount"] + (["weighted"] if weighted else [])
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("amount", "weighted") else object)
                         for c in cols})


def _slices(conn: Connection, as_of_sub: int | None) -> list[tuple[str, list[str]]]:
    """The version filter on ``phasing p`` as index range scans, each with the GROUP BY keys
    that follow the covering index's order after it.

    "As of S" is split into the current versions written up to S (one seek) and the
    versions closed after S (a range that skips all older history, and the current versions
    written after S). SQLite aggregates without sorting when the GROUP BY follows the index
    it scans, so it groups by ``valid_from, month`` (and ``valid_to`` in the second range)
    and the caller adds the groups up per month; PostgreSQL hashes the groups by month.
    """
    sqlite = conn.dialect.name == "sqlite"
    if as_of_sub is None:
        return [(f"p.valid_to = {OPEN}", ["p.valid_from"] if sqlite else [])]
    return [
        (f"p.valid_to = {OPEN} AND p.valid_from <= :as_of", ["p.valid_from"] if sqlite else []),
        (f"p.valid_to > :as_of AND p.valid_to < {OPEN} AND p.valid_from <= :as_of",
         ["p.valid_to", "p.valid_from"] if sqlite else []),
    ]


#: SQLite pivots a breakdown into one SUM column per part (one streaming pass, no sort)
#: up to this many parts; beyond it (e.g. hundreds of owners) it groups and sorts.
_PIVOT_MAX_PARTS = 40


def _bottom_up(
    conn: Connection,
    *,
    metric_id: int,
    scenario: str,
    as_of_sub: int | None,
    by: str | None,
    weighted: bool,
    part_keys: list[Any],
) -> pd.DataFrame:
    """Bottom-up per month (and part key) in minor units, summed in SQL.

    Columns ``month`` (ISO), ``part_key`` (None without a breakdown, or for phasing whose
    initiative has no such part), ``amount`` and, when weighted, ``weighted``; a month may
    appear in several rows (the caller sums). Months outside the horizon are included (the
    caller drops them). Withdrawn initiatives contribute nothing.
    """
    params: dict[str, Any] = {"metric": metric_id, "scenario": scenario}
    if as_of_sub is not None:
        params["as_of"] = int(as_of_sub)
    base = "p.metric_id = :metric AND p.scenario = :scenario"
    frames: list[pd.DataFrame] = []
    if by is None and not weighted:
        # The hot path: every fact from the covering index alone, without the (few) facts
        # of withdrawn initiatives. SQLite reads those through the initiative index and
        # subtracts them (an anti-join on every fact makes it pick a worse index);
        # PostgreSQL anti-joins against a hashed list in the same scan.
        p_where, _ = version_filter(as_of_sub, "p")
        v_where, _ = version_filter(as_of_sub, "v")
        withdrawn_ids = (f"SELECT v.initiative_id FROM initiative_version v WHERE {v_where} "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
                         "AND v.status = 'withdrawn'")
        sqlite = conn.dialect.name == "sqlite"
        for where, keys in _slices(conn, as_of_sub):
            group = ", ".join([*keys, "p.month"])
            anti = "" if sqlite else f" AND p.initiative_id NOT IN ({withdrawn_ids})"
            frames.append(read_frame(
                conn,
                f"SELECT CAST(p.month AS VARCHAR(10)) AS month, SUM(p.amount_minor) AS amount "  # noqa: S608  (fixed SQL fragments; values bound)
                f"FROM phasing p WHERE {base} AND {where}{anti} GROUP BY {group}", params))
        if sqlite:
            withdrawn = read_frame(
                conn,
                "SELECT CAST(p.month AS VARCHAR(10)) AS month, SUM(p.amount_minor) AS amount "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
                "FROM initiative_version v JOIN phasing p ON p.initiative_id = v.initiative_id "
                f"AND {base} AND {p_where} WHERE {v_where} AND v.status = 'withdrawn' "
                "GROUP BY p.month", params)
            withdrawn["amount"] = [-int(a) for a in withdrawn["amount"]]
            frames.append(withdrawn)
        frame = pd.concat(frames, ignore_index=True)
        frame["part_key"] = None
    elif conn.dialect.name == "sqlite":
        frame = _bottom_up_sqlite(conn, base, params, as_of_sub, by, weighted, part_keys)
    else:
        frame = _bottom_up_joined(conn, base, params, as_of_sub, by, weighted)
    if frame.empty:
        return _empty_bottom_up(weighted)
    frame["amount"] = _ints(frame["amount"])
    if weighted:
        frame["weighted"] = _ints(frame["weighted"])
    frame["month"] = frame["month"].map(_iso)
    return frame


def _bottom_up_joined(conn: Connection, base: str, params: dict[str, Any],
                      as_of_sub: int | None, by: str | None, weighted: bool,
                      slices: list[str] | None = None) -> pd.DataFrame:
    """Breakdowns and weighting by joining the initiative versions (hash join on PostgreSQL).

    ``slices``: the conditions on ``phasing p`` to sum, each read on its own (default: the
    facts valid at ``as_of_sub``)."""
    v_where, _ = version_filter(as_of_sub, "v")
    part = _PART_COLUMN[by] if by else "NULL"
    select = ["SUM(p.amount_minor) AS amount"]
    joins = [f"LEFT JOIN initiative_version v ON v.initiative_id = p.initiative_id "
             f"AND {v_where}"]
    if weighted:
        w_where, _ = version_filter(as_of_sub, "w")
        joins.append(f"LEFT JOIN stage_weight w ON w.stage_gate_id = v.stage_gate_id "
                     f"AND {w_where}")
        select.append(f"SUM({_weighted_sql('p.amount_minor', 'COALESCE(w.weight_bp, 0)')}) "
                      "AS weighted")
    group = "p.month" + (f", {part}" if by else "")
    return pd.concat([read_frame(
        conn,
        f"SELECT CAST(p.month AS VARCHAR(10)) AS month, {part} AS part_key, "  # noqa: S608  (constant columns, fixed SQL; values bound)
        f"{', '.join(select)} FROM phasing p {' '.join(joins)} "
        f"WHERE {base} AND {where} AND COALESCE(v.status, 'active') <> 'withdrawn' "
        f"GROUP BY {group}",
        params,
    ) for where in (slices or [w for w, _keys in _slices(conn, as_of_sub)])],
        ignore_index=True)


#: The facts a submission after ``:since`` changed, with the sign they move the sum by:
#: opened since and still current (+), current at ``since`` and closed since (-).
_CHANGED_SINCE = (
    (f"p.valid_to = {OPEN} AND p.valid_from > :since", 1),
    (f"p.valid_to > :since AND p.valid_to < {OPEN} AND p.valid_from <= :since", -1),
)


def _changed_since(conn: Connection, *, metric_id: int, scenario: str, since: int,
                   by: str | None, weighted: bool) -> pd.DataFrame:
    """What the submissions after ``since`` added to the current bottom-up, per month and
    part key, signed (see :mod:`ledger.rolling`; parts and weights are the current ones,
    which the caller made sure are those at ``since``). Index range scans of recent facts.
    """
    params = {"metric": metric_id, "scenario": scenario, "since": int(since)}
    base = "p.metric_id = :metric AND p.scenario = :scenario"
    frames = []
    for where, sign in _CHANGED_SINCE:
        frame = _bottom_up_joined(conn, base, params, None, by, weighted, [where])
        if frame.empty:
            continue
        for col in ("amount", "weighted") if weighted else ("amount",):
            frame[col] = _ints(frame[col]) * sign
        frames.append(frame)
    if not frames:
        return _empty_bottom_up(weighted)
    frame = pd.concat(frames, ignore_index=True)
    frame["month"] = frame["month"].map(_iso)
    return frame


def _bottom_up_sqlite(conn: Connection, base: str, params: dict[str, Any],
                      as_of_sub: int | None, by: str | None, weighted: bool,
                      part_keys: list[Any]) -> pd.DataFrame:
    """Breakdowns and weighting on SQLite: the initiatives' parts and weights (valid at the
    instant) go into a temporary table keyed by initiative id, so each fact costs one rowid
    lookup; parts are pivoted into columns so the scan streams in index order, unsorted."""
    v_where, _ = version_filter(as_of_sub, "v")
    w_where, _ = version_filter(as_of_sub, "w")
    part = _PART_COLUMN[by] if by else "NULL"
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS tl_gap_part (initiative_id INTEGER PRIMARY KEY, "
        "part, active INTEGER NOT NULL, weight_bp INTEGER NOT NULL)")
    conn.exec_driver_sql("DELETE FROM temp.tl_gap_part")
    try:
        conn.execute(text(
            "INSERT INTO temp.tl_gap_part (initiative_id, part, active, weight_bp) "  # noqa: S608  (constant columns, fixed SQL; values bound)
            f"SELECT v.initiative_id, {part}, CASE WHEN v.status = 'withdrawn' THEN 0 ELSE 1 "
            "END, COALESCE(w.weight_bp, 0) FROM initiative_version v "
            f"LEFT JOIN stage_weight w ON w.stage_gate_id = v.stage_gate_id AND {w_where} "
            f"WHERE {v_where}"), params)
        amount = "p.amount_minor"
        weigh = _weighted_sql(amount, "COALESCE(m.weight_bp, 0)")
        pivot = by is not None and len(part_keys) <= _PIVOT_MAX_PARTS
        columns = ["SUM(p.amount_minor) AS amount"]
        if weighted:
            columns.append(f"SUM({weigh}) AS weighted")
        if pivot:
            for i in range(len(part_keys)):
                columns.append(f"SUM(CASE WHEN m.part = :k{i} THEN {amount} ELSE 0 END) AS a{i}")
                if weighted:
                    columns.append(f"SUM(CASE WHEN m.part = :k{i} THEN {weigh} ELSE 0 END) "
                                   f"AS w{i}")
            params = {**params, **{f"k{i}": k for i, k in enumerate(part_keys)}}
        frames = []
        for where, keys in _slices(conn, as_of_sub):
            group = [*keys, "p.month"] + (["m.part"] if by is not None and not pivot else [])
            part_col = "m.part" if by is not None and not pivot else "NULL"
            frames.append(read_frame(
                conn,
                f"SELECT CAST(p.month AS VARCHAR(10)) AS month, {part_col} AS part_key, "  # noqa: S608  (constant columns, fixed SQL; values bound)
                f"{', '.join(columns)} FROM phasing p LEFT JOIN temp.tl_gap_part m "
                f"ON m.initiative_id = p.initiative_id WHERE {base} AND {where} "
                f"AND COALESCE(m.active, 1) = 1 GROUP BY {', '.join(group)}",
                params))
    finally:
        conn.exec_driver_sql("DELETE FROM temp.tl_gap_part")
    frame = pd.concat(frames, ignore_index=True)
    if not pivot or frame.empty:
        return frame
    # Unpivot: one row per part, and the rest (no such part) as part_key None.
    value_cols = ["amount", "weighted"] if weighted else ["amount"]
    long = []
    rest = frame[["month", *value_cols]].copy()
    for i, key in enumerate(part_keys):
        one = pd.DataFrame({"month": frame["month"], "part_key": [key] * len(frame),
                            "amount": frame[f"a{i}"]})
        rest["amount"] = [int(a) - int(b) for a, b in zip(rest["amount"], frame[f"a{i}"],
                                                          strict=True)]
        if weighted:
            one["weighted"] = frame[f"w{i}"]
            rest["weighted"] = [int(a) - int(b) for a, b in
                                zip(rest["weighted"], frame[f"w{i}"], strict=True)]
        long.append(one)
    long.append(rest.assign(part_key=None))
    return pd.concat(long, ignore_index=True)


def _targets(conn: Connection, metric_id: int, as_of_sub: int | None) -> pd.DataFrame:
    """Target versions valid at ``as_of_sub``: ``scope_kind, scope_code, month, amount``."""
    where, params = version_filter(as_of_sub)
    frame = read_frame(
        conn,
        "SELECT scope_kind, scope_code, CAST(month AS VARCHAR(10)) AS month, "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
        f"amount_minor AS amount FROM target WHERE metric_id = :metric AND {where}",
        {**params, "metric": metric_id},
    )
    if frame.empty:
        return pd.DataFrame({"scope_kind": pd.Series(dtype=object),
                             "scope_code": pd.Series(dtype=object),
                             "month": pd.Series(dtype=object),
                             "amount": pd.Series(dtype="int64")})
    frame["amount"] = _ints(frame["amount"])
    frame["month"] = frame["month"].map(_iso)
    return frame


def _part_catalogue(conn: Connection, by: str, as_of_sub: int | None) -> pd.DataFrame:
    """The parts of a breakdown in report order: ``part_key, part`` (key to code)."""
    if by == "business_unit":
        sql = "SELECT id AS part_key, code AS part FROM business_unit ORDER BY code"
    elif by == "lever":
        sql = "SELECT id AS part_key, code AS part FROM lever ORDER BY code"
    elif by == "stage":
        sql = "SELECT id AS part_key, code AS part FROM stage_gate ORDER BY ordinal"
    else:
        where, params = version_filter(as_of_sub)
        frame = read_frame(
            conn,
            f"SELECT DISTINCT owner AS part_key FROM initiative_version WHERE {where} "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
            "AND status = 'active' AND owner <> '' ORDER BY owner",
            params,
        )
        frame["part"] = frame["part_key"]
        return frame
    return read_frame(conn, sql)


# --------------------------------------------------------------------------- gap


def gap(
    ledger: Ledger,
    *,
    metric: str | None = None,
    scenario: str = "plan",
    by: str | None = None,
    as_of: datetime | date | int | str | None = None,
    weighted: bool = False,
    fiscal_year: int | str | None = None,
    compare: str | None = None,
    target_as_of: datetime | date | int | str | None = None,
    conn: Connection | None = None,
) -> GapReport:
    """Reconcile the bottom-up to the top-down, month by month.

    Args:
        ledger: the ledger to read.
        metric: metric code (None: the ledger's first metric, ``benefit`` by default).
        scenario: ``plan``, ``forecast`` or ``actual``: whose phasing is the bottom-up.
        by: None, or ``business_unit``, ``lever``, ``stage`` or ``owner``: one row set per
            part plus ``"(unallocated)"``; parts and unallocated add up to the programme.
        as_of: report the ledger as it stood at this instant or right after this
            submission id (see :mod:`ledger.asof`); None for the current state.
        weighted: risk-weight each fact by its initiative's stage gate weight (both valid at
            ``as_of``); ``bottom_up_unweighted`` is reported beside.
        fiscal_year: e.g. 2027 or ``"FY27"``: restrict the monthly rows and the fiscal rows
            to that fiscal year (the ``Horizon`` rows and cumulative columns still span the
            whole horizon).
        compare: another scenario whose bottom-up takes the target's place (see the module
            docstring), e.g. ``scenario="forecast", compare="plan"``.
        conn: read inside this open read transaction (so a caller's other reads see the
            same snapshot); None opens one.

    Returns:
        A :class:`GapReport` whose totals are exact sums of the facts valid at ``as_of``.

    Raises:
        LedgerError: unknown metric, scenario, breakdown or fiscal year outside the horizon.
    """
    check_scenario(scenario)
    if compare is not None:
        check_scenario(compare, "compare")
        if compare == scenario:
            raise LedgerError(f"compare {compare!r}: choose a scenario other than {scenario!r}")
    if by is not None and by not in BREAKDOWNS:
        raise LedgerError(f"breakdown {by!r}: expected one of {', '.join(BREAKDOWNS)}")
    fy = _fiscal_year_arg(fiscal_year)
    point = parse_as_of(as_of)
    target_point = parse_as_of(target_as_of)
    if target_point is not None and compare is not None:
        raise LedgerError("target as-of: the targets are not read when comparing scenarios "
                          "(--compare); use one or the other")

    with ledger.snapshot(conn) as conn:
        prog = ledger.programme(conn)
        met = ledger.metric(metric, conn)
        newest = last_submission_id(conn)
        as_of_sub, instant = (submission_at(conn, point) if point is not None
                              else (None, None))
        horizon = prog.months
        first, last = horizon[0], horizon[-1]
        if fy is not None:
            fy_months = set(fiscal_year_months(fy, prog.fy_start_month))
            if not fy_months & set(horizon):
                raise LedgerError(
                    f"fiscal year {fiscal_year_label(fy)} is outside the horizon "
                    f"({first:%Y-%m} to {last:%Y-%m})"
                )
        catalogue = _part_catalogue(conn, by, as_of_sub) if by else None
        part_keys = catalogue["part_key"].tolist() if catalogue is not None else []
        common: dict[str, Any] = {"metric_id": met.id, "as_of_sub": as_of_sub, "by": by,
                                  "weighted": weighted, "part_keys": part_keys}
        def bottom_up_of(scen: str) -> pd.DataFrame:
            if as_of_sub is not None:
                return _bottom_up(conn, scenario=scen, **common)
            key = (ledger.identity(conn)[0], met.id, scen, by, weighted)
            return rolling.current_bottom_up(
                conn, key, newest,
                full=lambda: _bottom_up(conn, scenario=scen, **common),
                delta=lambda since: _changed_since(conn, metric_id=met.id, scenario=scen,
                                                   since=since, by=by, weighted=weighted))

        bottom_up = bottom_up_of(scenario)
        target_sub = (submission_at(conn, target_point)[0] if target_point is not None
                      else None)
        if compare is not None:
            versus = bottom_up_of(compare)
            targets = None
        else:
            versus = None
            targets = _targets(conn, met.id, as_of_sub if target_sub is None else target_sub)

    months = [m.isoformat() for m in horizon]
    keep = set(months) if fy is None else {m.isoformat() for m in horizon
                                           if fiscal_year_of(m, prog.fy_start_month) == fy}
    tables = gap_tables(GapInputs(
        months=months, keep=keep, fiscal_year=fy, fy_start_month=prog.fy_start_month,
        decimals=met.decimals, weighted=weighted, bottom_up=bottom_up, targets=targets,
        versus=versus, by=by, catalogue=catalogue))
    return GapReport(
        programme=prog, metric=met, scenario=scenario, compare=compare, by=by,
        weighted=weighted, fiscal_year=fy, as_of=instant,
        as_of_submission=newest if as_of_sub is None else as_of_sub,
        last_submission_id=newest, monthly=tables.monthly, fiscal=tables.fiscal,
        programme_monthly=tables.programme_monthly, programme_fiscal=tables.programme_fiscal,
        target_as_of_submission=target_sub,
    )


# --------------------------------------------------------------------------- finance


def _finance_facts(conn: Connection, metric_ids: list[int], as_of_sub: int | None,
                   first: date, last: date) -> pd.DataFrame:
    """The facts of ``metric_ids`` in the horizon valid at ``as_of_sub``, as int64 columns
    ``initiative_id, metric_id, scenario`` (index in SCENARIOS), ``month`` (position in
    the horizon) and ``amount``. The current state comes grouped from the covering index
    (:func:`ledger.store.current_phasing_arrays`); an as-of state is read with the driver's
    cursor straight into numpy. No Python object per fact either way."""
    start = first.year * 12 + first.month - 1
    end = last.year * 12 + last.month - 1
    if as_of_sub is None:
        arrays = current_phasing_arrays(conn, metric_ids=metric_ids, scenarios=SCENARIOS,
                                        initiative_ids=None)
        inside = (arrays.month_no >= start) & (arrays.month_no <= end)
        return pd.DataFrame({"initiative_id": arrays.initiative_id[inside],
                             "metric_id": arrays.metric_id[inside],
                             "scenario": arrays.scenario_no[inside],
                             "month": arrays.month_no[inside] - start,
                             "amount": arrays.amount_minor[inside]})
    where, params = version_filter(as_of_sub, "p")
    scenario = "CASE p.scenario " + " ".join(
        f"WHEN '{name}' THEN {i}" for i, name in enumerate(SCENARIOS)) + " END"
    ids = ", ".join(str(int(i)) for i in metric_ids) or "NULL"
    rows = int_rows(
        conn,
        f"SELECT p.initiative_id, p.metric_id, {scenario}, {month_number_sql(conn, 'p.month')}, "  # noqa: S608  (ids int()-formatted; constant scenario names; where: version_filter's fixed SQL)
        f"p.amount_minor FROM phasing p WHERE {where} AND p.metric_id IN ({ids}) "
        "AND p.month >= :first AND p.month <= :last",
        {**params, "first": first, "last": last}, 5)
    return pd.DataFrame({"initiative_id": rows[:, 0], "metric_id": rows[:, 1],
                         "scenario": rows[:, 2], "month": rows[:, 3] - start,
                         "amount": rows[:, 4]})


@dataclass(frozen=True)
class FinanceReport:
    """Finance's view of one metric: outturn, committed and pipeline, net value."""

    programme: ProgrammeInfo
    metric: MetricInfo
    fiscal_year: int | None
    as_of: datetime | None
    as_of_submission: int
    last_submission_id: int
    closed_through: date | None
    """The last closed month at the instant (None: no month closed yet)."""
    monthly: pd.DataFrame
    fiscal: pd.DataFrame
    net: pd.DataFrame
    net_by_initiative: pd.DataFrame
    net_monthly: pd.DataFrame
    """``month, benefit, cost, net, cumulative_net`` (cumulative from the horizon start)."""
    net_unit: str
    """The unit of the net value (the programme's currency)."""
    committed_initiatives: int = 0
    """How many active initiatives were committed (at L3+) at the instant: the committed
    plan columns sum their plan as approved at L3 beside their outturn (0: none is
    committed)."""


def _committed_frame(conn: Connection, metric_id: int, active: pd.Series,
                     prog: ProgrammeInfo, as_of_sub: int | None
                     ) -> tuple[pd.DataFrame, frozenset[int]]:
    """``initiative_id, month, committed_plan`` (int64 minor units): the plan as approved at
    L3 of the active initiatives committed at the instant
    (:func:`ledger.approvals.committed_cells`); and those initiatives' ids."""
    from ledger.approvals import commitments, committed_cells

    since = commitments(conn, active.tolist(), as_of=as_of_sub)
    cells = committed_cells(conn, metric_id, since, {m.isoformat() for m in prog.months},
                            as_of=as_of_sub)
    frame = pd.DataFrame(
        [(iid, month, v["committed_plan"]) for (iid, month), v in cells.items()
         if "committed_plan" in v],
        columns=["initiative_id", "month", "committed_plan"])
    return (frame.astype({"initiative_id": "int64", "committed_plan": "int64"}),
            frozenset(since))


def finance(
    ledger: Ledger,
    *,
    metric: str | None = None,
    as_of: datetime | date | int | str | None = None,
    fiscal_year: int | str | None = None,
    conn: Connection | None = None,
) -> FinanceReport:
    """Finance's view: outturn against target and plan, committed vs pipeline, the gap,
    YTD actual vs plan, and net value (definitions: :mod:`ledger.finance`).

    Raises:
        LedgerError: unknown metric, a fiscal year outside the horizon, a bad as-of.
    """
    fy = _fiscal_year_arg(fiscal_year)
    point = parse_as_of(as_of)
    with ledger.snapshot(conn) as conn:
        prog = ledger.programme(conn)
        met = ledger.metric(metric, conn)
        metrics = ledger.metrics(conn)
        newest = last_submission_id(conn)
        as_of_sub, instant = (submission_at(conn, point) if point is not None
                              else (None, None))
        if fy is not None and not set(fiscal_year_months(fy, prog.fy_start_month)) & set(
                prog.months):
            raise LedgerError(
                f"fiscal year {fiscal_year_label(fy)} is outside the horizon "
                f"({prog.first_month:%Y-%m} to {prog.last_month:%Y-%m})")
        closed = closed_through(conn, as_of_sub)
        money = [MoneyMetric(m.id, m.kind, m.decimals) for m in metrics
                 if m.unit == prog.currency]
        ids = sorted({met.id, *(m.id for m in money)})
        initiatives = current_initiatives(conn, as_of=as_of_sub)
        facts = _finance_facts(conn, ids, as_of_sub, prog.first_month, prog.last_month)
        targets = _targets(conn, met.id, as_of_sub)
        active = initiatives[initiatives["status"] == "active"]
        committed, committed_ids = _committed_frame(conn, met.id, active["initiative_id"],
                                                    prog, as_of_sub)
    facts = facts[facts["initiative_id"].isin(active["initiative_id"])]
    months = [m.isoformat() for m in prog.months]
    programme_targets = targets[(targets["scope_kind"] == "programme")
                                & targets["month"].isin(set(months))]
    tables = finance_tables(FinanceInputs(
        months=months, fy_start_month=prog.fy_start_month,
        closed_through=None if closed is None else closed.isoformat(),
        facts=facts, initiatives=active.assign(weight_bp=active["weight_bp"].fillna(0)),
        targets=programme_targets[["month", "amount"]], metric_id=met.id,
        metric_kind=met.kind, decimals=met.decimals, money=money, fiscal_year=fy,
        committed=committed, committed_ids=committed_ids))
    return FinanceReport(
        programme=prog, metric=met, fiscal_year=fy, as_of=instant,
        as_of_submission=newest if as_of_sub is None else as_of_sub,
        last_submission_id=newest, closed_through=closed, monthly=tables.monthly,
        fiscal=tables.fiscal, net=tables.net, net_by_initiative=tables.net_by_initiative,
        net_monthly=tables.net_monthly, net_unit=prog.currency,
        committed_initiatives=len(committed_ids))


# --------------------------------------------------------------------------- checks

#: Every check :func:`checks` runs and the severity of its findings. ``cascade_gap`` is an
#: error when the parts' targets exceed the programme's (over-allocated), a warning when they
#: leave some of it unallocated (often deliberate, e.g. a central contingency).
CHECKS: dict[str, str] = {
    "cascade_gap": "error|warning",
    "phasing_outside_horizon": "error",
    "target_outside_horizon": "error",
    "no_phasing": "warning",
    "negative_benefit": "warning",
    "late_stage_no_actuals": "warning",
    "ledger_damaged": "error",
}
#: Stage gates at which an initiative is implemented, so finance should see actuals.
LATE_STAGES = ("L4", "L5")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def _code_findings(conn: Connection) -> list[dict[str, Any]]:
    """``code_collision`` (error): codes Excel would match as one (equal but for case, or
    the same number, as ``01`` and ``1``), and unit, lever or metric codes that read as
    numbers; the gap report cannot tie while they exist (see :mod:`ledger.codes`)."""
    from ledger.codes import CODED_TABLES, code_collisions, numeric_value

    found: list[dict[str, Any]] = []
    for table, column, what in CODED_TABLES:
        codes = [str(c) for c in conn.execute(text(f"SELECT {column} FROM {table}")).scalars()]  # noqa: S608  (constant table and column names)
        matched_in_report = table != "initiative"
        for group in code_collisions(codes, numeric=matched_in_report):
            found.append(_finding("code_collision", "error", None, what, None,
                                  " / ".join(group),
                                  f"{what} codes {', '.join(map(repr, group))} are one code to "
                                  "Excel (case or number); rename all but one", None))
        if matched_in_report:
            for code in codes:
                value = numeric_value(code)
                if value is not None:
                    found.append(_finding("code_collision", "error", None, what, None, code,
                                          f"{what} code {code!r} reads as the number "
                                          f"{value.normalize():f} in Excel; rename it", None))
    return found


def _cascade_findings(targets: pd.DataFrame, metrics: dict[int, MetricInfo]
                      ) -> list[dict[str, Any]]:
    """Per metric, scope kind and month where parts have targets: do they add up?"""
    found: list[dict[str, Any]] = []
    if targets.empty:
        return found
    t = targets.assign(amount=_ints(targets["amount_minor"]))
    programme = (t[t["scope_kind"] == "programme"].groupby(["metric_id", "month"])["amount"]
                 .sum())
    parts = t[t["scope_kind"] != "programme"]
    sums = parts.groupby(["metric_id", "scope_kind", "month"]).agg(
        parts=("amount", "sum"), count=("amount", "size")).reset_index()
    sums["programme"] = [int(programme.get((m, mo), 0))
                         for m, mo in zip(sums["metric_id"], sums["month"], strict=True)]
    sums["rest"] = sums["programme"] - sums["parts"]
    off = sums[sums["rest"] != 0].sort_values(["metric_id", "scope_kind", "month"])
    plural = {"business_unit": "business units", "lever": "levers"}
    for row in _records(off):
        met = metrics[int(row['metric_id'])]
        rest, prog_t = int(row['rest']), int(row['programme'])
        over = rest < 0 if prog_t >= 0 else rest > 0
        what = plural[str(row['scope_kind'])]
        sum_txt = from_minor(int(row['parts']), met.decimals)
        prog_txt = from_minor(prog_t, met.decimals)
        rest_txt = from_minor(abs(rest), met.decimals)
        detail = (f"{what}' targets sum to {sum_txt:,}, programme target {prog_txt:,}: "
                  + (f"over-allocated by {rest_txt:,}" if over
                     else f"{rest_txt:,} unallocated"))
        found.append(_finding("cascade_gap", "error" if over else "warning", met.code,
                              str(row['scope_kind']), date.fromisoformat(str(row['month'])[:10]),
                              "(programme)", detail, from_minor(rest, met.decimals)))
    return found


def checks(
    ledger: Ledger,
    *,
    as_of: datetime | date | int | str | None = None,
    metric: str | None = None,
    conn: Connection | None = None,
    check_storage: bool = True,
) -> pd.DataFrame:
    """Run the checks the transformation office acts on, as of an instant.

    * ``cascade_gap``: per metric and month, the business units' (or levers') targets do
      not add up to the programme's target. Error when over-allocated, warning when some of
      the programme target is left unallocated.
    * ``phasing_outside_horizon`` (error): phasing in months outside the programme's
      horizon; no gap report shows it. ``target_outside_horizon`` (error): the same for
      targets.
    * ``no_phasing`` (warning): an active initiative without any phasing.
    * ``negative_benefit`` (warning): negative amounts for a benefit metric.
    * ``late_stage_no_actuals`` (warning): an active initiative at L4 or L5 without any
      actuals.
    * ``actual_before_start``, ``actual_not_closed`` and ``possible_double_count``
      (warnings): what initiatives claim (see :mod:`ledger.claims`): actuals before the
      initiative's first planned month, actuals in months not closed, and pairs of similar
      initiatives of one unit and lever phasing the same metric in the same months that the
      office has not reviewed.
    * ``ledger_damaged`` (error): SQLite's ``PRAGMA quick_check`` finds the file corrupt;
      then it is the only kind of finding, since nothing read from the file can be trusted.
    * ``history_chain`` (error): the history's hash chain is broken: a submission or a
      history row was changed, deleted, inserted or reordered outside tledger (the first
      broken link; see :mod:`ledger.chain`). Every row is re-hashed up to
      :data:`ledger.chain.CHECKS_FULL_LIMIT` phasing versions; above, only the submission
      table's chain is, and ``history_not_reverified`` (warning) says when ``tledger
      verify`` last re-hashed every row.
    * ``claim_over_pnl`` (warning): per business unit, metric and month with a GL extract,
      the initiatives' claimed actuals exceed the P&L movement the accounts show by more
      than the claim tolerance (:mod:`ledger.pnl`, docs/reconciliation.md).

    Withdrawn initiatives are not checked. Args as for :func:`gap`; ``metric`` restricts
    the metric-specific checks to one metric; ``conn`` reads inside a caller's snapshot.
    ``check_storage=False`` skips the file check (it reads every page of a SQLite ledger:
    seconds on a large one), e.g. for a report that only shows the findings.

    Returns:
        One row per finding (columns :data:`CHECK_COLUMNS`), errors first; empty when all
        is well. ``amount`` is a Decimal in the metric's decimals, or None.
    """
    point = parse_as_of(as_of)
    found: list[dict[str, Any]] = []
    # On a damaged file no other finding can be trusted: report the damage alone.
    for problem in storage_damage(ledger.engine) if check_storage else []:
        found.append(_finding("ledger_damaged", "error", None, "", None, "(database file)",
                              f"{problem}; restore the ledger from a backup", None))
    if found:
        return pd.DataFrame({c: pd.Series([f[c] for f in found], dtype=object)
                             for c in CHECK_COLUMNS})
    with ledger.snapshot(conn) as conn:
        prog = ledger.programme(conn)
        all_metrics = ledger.metrics(conn)
        selected = [ledger.metric(metric, conn)] if metric is not None else all_metrics
        metrics = {m.id: m for m in all_metrics}
        ids = ", ".join(str(m.id) for m in selected) or "NULL"
        as_of_sub = submission_at(conn, point)[0] if point is not None else None
        p_where, vf_params = version_filter(as_of_sub, "p")
        v_where, _ = version_filter(as_of_sub, "v")
        t_where, _ = version_filter(as_of_sub, "t")
        params: dict[str, Any] = {**vf_params, "first": _iso(prog.first_month),
                                  "last": _iso(prog.last_month)}
        targets = read_frame(
            conn,
            "SELECT t.metric_id, t.scope_kind, t.scope_code, CAST(t.month AS VARCHAR(10)) "  # noqa: S608  (ids int()-formatted; values bound)
            f"AS month, t.amount_minor FROM target t WHERE {t_where} "
            f"AND t.metric_id IN ({ids})",
            params,
        )
        # Filter the facts first (the covering index holds month and amount, and the
        # scenario list lets SQLite seek each (metric, scenario) range), then join the few
        # that match to their initiatives.
        scenarios = ", ".join(f"'{sc}'" for sc in SCENARIOS)
        # SQLite would otherwise walk the partial unique index for its order and look
        # every row up in the table.
        hint = " INDEXED BY ix_phasing_scan" if conn.dialect.name == "sqlite" else ""
        benefit_ids = ", ".join(str(m.id) for m in selected if m.kind == "benefit") or "NULL"
        out = "(p.month < :first OR p.month > :last)"
        neg = f"(p.amount_minor < 0 AND p.metric_id IN ({benefit_ids}))"
        # One scan finds both the facts outside the horizon and the negative benefits.
        flagged = read_frame(
            conn,
            "SELECT i.external_id, f.metric_id, f.scenario, f.out_n, f.out_amount, "  # noqa: S608  (int ids, constant lists; values bound)
            "f.out_first, f.out_last, f.neg_n, f.neg_amount, f.neg_first FROM ("
            "SELECT p.initiative_id, p.metric_id, p.scenario, "
            f"SUM(CASE WHEN {out} THEN 1 ELSE 0 END) AS out_n, "
            f"SUM(CASE WHEN {out} THEN p.amount_minor ELSE 0 END) AS out_amount, "
            f"CAST(MIN(CASE WHEN {out} THEN p.month END) AS VARCHAR(10)) AS out_first, "
            f"CAST(MAX(CASE WHEN {out} THEN p.month END) AS VARCHAR(10)) AS out_last, "
            f"SUM(CASE WHEN {neg} THEN 1 ELSE 0 END) AS neg_n, "
            f"SUM(CASE WHEN {neg} THEN p.amount_minor ELSE 0 END) AS neg_amount, "
            f"CAST(MIN(CASE WHEN {neg} THEN p.month END) AS VARCHAR(10)) AS neg_first "
            f"FROM phasing p{hint} WHERE {p_where} AND p.scenario IN ({scenarios}) "
            f"AND p.metric_id IN ({ids}) AND ({out} OR {neg}) "
            "GROUP BY p.initiative_id, p.metric_id, p.scenario) f "
            "JOIN initiative_version v ON v.initiative_id = f.initiative_id "
            f"AND {v_where} AND v.status = 'active' "
            "JOIN initiative i ON i.id = f.initiative_id "
            "ORDER BY i.external_id, f.metric_id, f.scenario",
            params,
        )
        outside = flagged[flagged["out_n"].map(int) > 0].rename(columns={
            "out_n": "n", "out_amount": "amount", "out_first": "first_month",
            "out_last": "last_month"})
        negative = flagged[flagged["neg_n"].map(int) > 0].rename(columns={
            "neg_n": "n", "neg_amount": "amount", "neg_first": "first_month"})
        no_phasing = read_frame(
            conn,
            "SELECT i.external_id FROM initiative_version v "  # noqa: S608  (ids int()-formatted; values bound)
            "JOIN initiative i ON i.id = v.initiative_id "
            f"WHERE {v_where} AND v.status = 'active' AND NOT EXISTS (SELECT 1 FROM phasing p "
            f"WHERE p.initiative_id = v.initiative_id AND {p_where} "
            f"AND p.metric_id IN ({ids})) ORDER BY i.external_id",
            params,
        )
        late = ", ".join(f"'{code}'" for code in LATE_STAGES)
        no_actuals = read_frame(
            conn,
            "SELECT i.external_id, sg.code AS stage FROM initiative_version v "  # noqa: S608  (int ids, constant stages; values bound)
            "JOIN initiative i ON i.id = v.initiative_id "
            "JOIN stage_gate sg ON sg.id = v.stage_gate_id "
            f"WHERE {v_where} AND v.status = 'active' AND sg.code IN ({late}) "
            "AND NOT EXISTS (SELECT 1 FROM phasing p WHERE p.initiative_id = v.initiative_id "
            f"AND p.scenario = 'actual' AND {p_where} AND p.metric_id IN ({ids})) "
            "ORDER BY i.external_id",
            params,
        )

        chain, chain_note = chain_for_checks(conn)
        # A ratio metric's targets are levels (AUD/t): its parts' levels do not add up.
        levels = {int(i) for i in conn.execute(text("SELECT metric_id FROM metric_ratio"))
                  .scalars()}
        collisions = _code_findings(conn)
        from ledger.pnl import claim_findings as over_pnl_findings

        over_claimed = over_pnl_findings(ledger, conn, as_of_sub, metric)
        claims = claim_findings(conn, as_of_sub,
                                [m for m in selected if m.id not in levels])

    if chain.problem is not None:
        found.append(_finding("history_chain", "error", None, "", None,
                              f"submission {chain.broken_id}" if chain.broken_id else "",
                              chain.problem, None))
    elif chain_note is not None:
        found.append(_finding("history_not_reverified", "warning", None, "", None, "",
                              chain_note, None))
    found += collisions
    found += _cascade_findings(targets[~targets["metric_id"].isin(levels)], metrics)
    horizon = f"{prog.first_month:%Y-%m} to {prog.last_month:%Y-%m}"
    if not targets.empty:
        t_out = targets[(targets["month"].map(_iso) < _iso(prog.first_month))
                        | (targets["month"].map(_iso) > _iso(prog.last_month))]
        for row in _records(t_out.sort_values(["metric_id", "scope_kind", "scope_code",
                                               "month"])):
            met = metrics[int(row['metric_id'])]
            scope = str(row['scope_kind'])
            found.append(_finding(
                "target_outside_horizon", "error", met.code, scope,
                date.fromisoformat(_iso(row['month'])), str(row['scope_code']) or "(programme)",
                f"target for {_iso(row['month'])[:7]} is outside the horizon ({horizon}); "
                "no report shows it", from_minor(int(row['amount_minor']), met.decimals)))
    for row in _records(outside):
        met = metrics[int(row['metric_id'])]
        found.append(_finding(
            "phasing_outside_horizon", "error", met.code, str(row['scenario']),
            date.fromisoformat(_iso(row['first_month'])), str(row['external_id']),
            f"{plural(int(row['n']), 'month')} from {_iso(row['first_month'])[:7]} to "
            f"{_iso(row['last_month'])[:7]} outside the horizon ({horizon}); no report shows them",
            from_minor(int(row['amount']), met.decimals)))
    for row in _records(no_phasing):
        found.append(_finding("no_phasing", "warning", metric, "", None, str(row['external_id']),
                              "active initiative without any phasing"
                              + (f" for {metric}" if metric else ""), None))
    for row in _records(negative):
        met = metrics[int(row['metric_id'])]
        found.append(_finding(
            "negative_benefit", "warning", met.code, str(row['scenario']),
            date.fromisoformat(_iso(row['first_month'])), str(row['external_id']),
            f"{plural(int(row['n']), 'month')} with a negative {met.code}, the first in "
            f"{_iso(row['first_month'])[:7]}", from_minor(int(row['amount']), met.decimals)))
    for row in _records(no_actuals):
        found.append(_finding(
            "late_stage_no_actuals", "warning", metric, "actual", None, str(row['external_id']),
            f"at stage gate {row['stage']} but no actuals"
            + (f" for {metric}" if metric else ""), None))
    found += over_claimed
    found += claims
    # Errors first, otherwise in the order the checks are listed above.
    found.sort(key=lambda f: f["severity"] != "error")
    # dtype=object keeps None as None (not NaN) and amounts as Decimals.
    return pd.DataFrame({c: pd.Series([f[c] for f in found], dtype=object)
                         for c in CHECK_COLUMNS})

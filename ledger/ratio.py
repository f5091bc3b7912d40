"""Ratio metrics (unit cost): a numerator over a denominator, never a sum.

A ratio metric ``unit_cost = benefit / volume`` has no phasing of its own. Per scope and
month:

* numerator   ``N = baseline(num) - bottom_up(num)``: the cost base (flexed, see
  :mod:`ledger.baselines`) less the initiatives' savings phased in the numerator metric;
* denominator ``D = baseline(den) + bottom_up(den)``: the volume plus the initiatives'
  uplift phased in the denominator metric;
* implied unit cost ``N / D``, rounded half away from zero to the ratio metric's decimals
  (none where a baseline is missing or ``D <= 0``).

A fiscal year's (or the horizon's) value is the ratio of its sums ``sum(N) / sum(D)``,
never the average of the monthly ratios. Targets on a ratio metric are *levels* (AUD/t in
each month), set with ``target set`` like any target; the profile interpolates levels
(:func:`level_path`). The gap is ``target - implied`` (negative: the unit cost is above
its target) and its money equivalent at the month's volume is ``allowed - N`` with
``allowed = target x D`` rounded half away from zero to the numerator's minor unit; a
period's money gap is the sum of its months' (so its ``allowed`` is the sum of theirs and
its target level is ``sum(allowed) / sum(D)``). docs/baselines.md has a worked example.

The additive engine (:mod:`ledger.engine`) is not changed: the bottom-ups are read through
:func:`ledger.engine.gap` of the numerator and denominator metrics, in one snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, text

from ledger.baselines import baseline_values, div_half_away
from ledger.errors import LedgerError
from ledger.money import from_minor, to_minor
from ledger.months import fiscal_year as fiscal_year_of
from ledger.months import fiscal_year_label, parse_fiscal_year
from ledger.store import current_targets, current_user, last_submission_id, new_submission
from ledger.targets import find_metric, profile_weights
from ledger.vocabulary import PROGRAMME, TargetScope

if TYPE_CHECKING:
    from ledger.api import Ledger, MetricInfo, ProgrammeInfo

__all__ = [
    "CONTRIBUTION_BREAKDOWNS",
    "RATIO_BREAKDOWNS",
    "Ratio",
    "RatioReport",
    "add_ratio_metric",
    "allocate_exact",
    "level_path",
    "ratio_gap",
    "ratio_of",
    "ratio_target_levels",
]

#: The breakdowns a ratio gap supports: each unit against its own baselines.
RATIO_BREAKDOWNS = ("business_unit", "lever", "owner", "stage")
#: Breakdowns shown as each part's contribution to the programme's unit-cost change.
CONTRIBUTION_BREAKDOWNS = ("lever", "owner", "stage")
PROGRAMME_PART = "Programme"
HORIZON = "Horizon"


@dataclass(frozen=True)
class Ratio:
    """A ratio metric and the metrics it divides."""

    metric: MetricInfo
    numerator: MetricInfo
    denominator: MetricInfo

    @property
    def label(self) -> str:
        return f"{self.numerator.code}/{self.denominator.code}"

    def level(self, num_minor: int, den_minor: int) -> int | None:
        """``num / den`` in the ratio's minor units, half away from zero (None: ``den <= 0``)."""
        exact = self.exact_level(num_minor, den_minor)
        return None if exact is None else div_half_away(exact.numerator, exact.denominator)

    def exact_level(self, num_minor: int, den_minor: int) -> Fraction | None:
        if den_minor <= 0:
            return None
        return Fraction(num_minor * 10 ** (self.denominator.decimals + self.metric.decimals),
                        den_minor * 10 ** self.numerator.decimals)

    def allowed(self, level_minor: int, den_minor: int) -> int:
        """``level x den`` in the numerator's minor units, half away from zero."""
        return div_half_away(level_minor * den_minor * 10 ** self.numerator.decimals,
                             10 ** (self.metric.decimals + self.denominator.decimals))


def _ratio_rows(conn: Connection) -> list[tuple[int, int, int]]:
    return [(int(a), int(b), int(c)) for a, b, c in conn.execute(text(
        "SELECT metric_id, numerator_metric_id, denominator_metric_id FROM metric_ratio"))]


def ratio_metric_codes(conn: Connection, metric_ids: Sequence[int]) -> list[str]:
    """The codes of the ratio metrics among ``metric_ids``, in id order."""
    wanted = {int(i) for i in metric_ids}
    ids = sorted(r[0] for r in _ratio_rows(conn) if r[0] in wanted)
    return [str(conn.execute(text("SELECT code FROM metric WHERE id = :i"), {"i": i})
                .scalar_one()) for i in ids]


def ratio_of(conn: Connection, metric: MetricInfo) -> Ratio | None:
    """The ratio definition of ``metric``, or None for an additive metric."""
    from ledger.api import MetricInfo as Info

    for mid, num, den in _ratio_rows(conn):
        if mid == metric.id:
            rows = {int(r[0]): Info(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]))
                    for r in conn.execute(text(
                        "SELECT id, code, name, unit, kind, decimals FROM metric "
                        "WHERE id IN (:a, :b)"), {"a": num, "b": den})}
            return Ratio(metric, rows[num], rows[den])
    return None


def add_ratio_metric(ledger: Ledger, *, code: str, ratio: str, unit: str = "",
                     decimals: int = 2, name: str = "", user: str | None = None,
                     note: str = "") -> Ratio:
    """Add a ratio metric ``code`` = ``ratio`` (``NUM/DEN``, two existing additive metrics)
    in one write. Its kind is ``cost`` (a unit cost: lower is better); ``unit`` defaults to
    ``NUMUNIT/DENUNIT``.

    Raises:
        LedgerError: a bad ``NUM/DEN``, an unknown or ratio metric, a code in use.
    """
    num_code, sep, den_code = ratio.partition("/")
    if not sep or not num_code.strip() or not den_code.strip() or "/" in den_code:
        raise LedgerError(f"ratio {ratio!r}: expected NUMERATOR/DENOMINATOR metric codes, "
                          "e.g. benefit/volume")
    if not 0 <= decimals <= 6:
        raise LedgerError(f"decimals {decimals}: expected 0 to 6")
    code = code.strip()
    if not code or len(code) > 40 or any(c.isspace() for c in code):
        raise LedgerError(f"metric code {code!r}: expected 1 to 40 characters without spaces")
    with ledger.writing() as conn:
        ledger.programme(conn)
        num = find_metric(ledger, num_code.strip(), conn)
        den = find_metric(ledger, den_code.strip(), conn)
        if num.id == den.id:
            raise LedgerError(f"ratio {ratio!r}: numerator and denominator must differ")
        ratio_ids = {r[0] for r in _ratio_rows(conn)}
        for part in (num, den):
            if part.id in ratio_ids:
                raise LedgerError(f"{part.code} is a ratio metric itself: a ratio divides two "
                                  "additive metrics")
        if any(m.code == code for m in ledger.metrics(conn)):
            raise LedgerError(f"metric {code!r} already exists")
        sub = new_submission(conn, kind="reference", user=current_user(user),
                             note=note or f"add ratio metric {code} = {num.code}/{den.code}",
                             details={"ratio": f"{num.code}/{den.code}"})
        new_id = conn.execute(text(
            "INSERT INTO metric (code, name, unit, kind, decimals, created_submission_id) "
            "VALUES (:c, :n, :u, 'cost', :d, :s) RETURNING id"),
            {"c": code, "n": name or code, "u": unit or f"{num.unit}/{den.unit}",
             "d": decimals, "s": sub.id}).scalar_one()
        conn.execute(text(
            "INSERT INTO metric_ratio (metric_id, numerator_metric_id, denominator_metric_id, "
            "created_submission_id) VALUES (:m, :n, :d, :s)"),
            {"m": int(new_id), "n": num.id, "d": den.id, "s": sub.id})
        found = ratio_of(conn, find_metric(ledger, code, conn))
        assert found is not None  # noqa: S101  (just written)
        return found


# --------------------------------------------------------------------------- target levels


def level_path(start: Fraction | None, target_minor: int, profile: str, n: int) -> list[int]:
    """The levels of a ratio target over ``n`` months, in the ratio's minor units.

    * ``even``: the target level in every month;
    * ``ramp``: a straight line from ``start`` (the baseline level, exact) to the target:
      month ``i`` of ``n`` is ``start + (target - start) x i / n``;
    * ``weights:W1,...,Wn``: the same line walked by the weights' running share: month
      ``i`` is ``start + (target - start) x (W1 + ... + Wi) / (W1 + ... + Wn)``.

    Each month is rounded half away from zero to the ratio's minor unit; the last month is
    the target exactly.

    Raises:
        LedgerError: a bad profile, or ``ramp``/``weights`` without a start level.
    """
    weights = profile_weights(profile, n)
    if profile.strip().lower() == "even":
        return [target_minor] * n
    if start is None:
        raise LedgerError(f"profile {profile!r} interpolates from the baseline level of the "
                          "first month, and that month has no baseline level: set the "
                          "numerator's and denominator's baselines first, or use even")
    if profile.strip().lower() == "ramp":
        weights = [Decimal(1)] * n
    total = Fraction(sum(weights))
    out: list[int] = []
    running = Fraction(0)
    for w in weights:
        running += Fraction(w)
        value = start + (Fraction(target_minor) - start) * running / total
        out.append(div_half_away(value.numerator, value.denominator))
    return out


def baseline_level(conn: Connection, ledger: Ledger, ratio: Ratio, scope: TargetScope,
                   month: date, as_of: int | None = None) -> Fraction | None:
    """The exact baseline level (no initiatives) of ``ratio`` for ``scope`` in ``month``."""
    metrics = {m.id: m for m in ledger.metrics(conn)}
    iso = month.isoformat()
    values = []
    for m in (ratio.numerator, ratio.denominator):
        frame = baseline_values(conn, metrics, m, scope, as_of)
        row = frame[frame["month"] == iso]
        values.append(None if row.empty else int(row["value_minor"].iloc[0]))
    if values[0] is None or values[1] is None:
        return None
    return ratio.exact_level(values[0], values[1])


def ratio_target_levels(ledger: Ledger, conn: Connection, ratio: Ratio, scope: TargetScope,
                        months: Sequence[date], target_minor: int, profile: str) -> list[int]:
    """The monthly levels ``target set`` records for a ratio metric (:func:`level_path`
    from the baseline level of the first month)."""
    start = (None if profile.strip().lower() == "even"
             else baseline_level(conn, ledger, ratio, scope, months[0]))
    return level_path(start, target_minor, profile, len(months))


# --------------------------------------------------------------------------- the gap

MONTHLY_COLUMNS = [
    "part", "month", "fiscal_year", "numerator_baseline", "savings", "numerator",
    "denominator_baseline", "uplift", "denominator", "baseline_level", "target", "implied",
    "gap", "money_gap",
]
FISCAL_COLUMNS = ["part", "period", *MONTHLY_COLUMNS[3:], "average_of_monthly"]


@dataclass(frozen=True)
class RatioReport:
    """The unit-cost gap of one ratio metric and scenario, at one instant.

    ``monthly``: one row per part and month (:data:`MONTHLY_COLUMNS`); ``fiscal``: one row
    per part and fiscal year, then ``Horizon`` (:data:`FISCAL_COLUMNS`). Numerator columns
    are Decimals in the numerator's decimals, denominator columns in the denominator's,
    levels (``baseline_level, target, implied, gap``) in the ratio's; ``money_gap`` in the
    numerator's. A value that cannot be computed (no baseline, no target, no volume) is
    None. ``average_of_monthly`` is shown only to make the point that it is not the
    period's unit cost.
    """

    programme: ProgrammeInfo
    ratio: Ratio
    scenario: str
    by: str | None
    weighted: bool
    fiscal_year: int | None
    as_of_submission: int
    monthly: pd.DataFrame
    fiscal: pd.DataFrame
    contributions: pd.DataFrame | None = None
    """With ``by`` lever, owner or stage: :data:`CONTRIBUTION_COLUMNS`, one row per part
    (``Programme`` first, then the parts and ``(unallocated)``) and period (each month as
    ``YYYY-MM``, each fiscal year, ``Horizon``); the parts' ``contribution`` adds up to the
    programme's exactly (:func:`contribution_rows`)."""


def _bottom_ups(ledger: Ledger, conn: Connection, metric: MetricInfo, *, scenario: str,
                by: str | None, as_of: int, weighted: bool
                ) -> tuple[dict[tuple[str, str], int], list[str]]:
    """((part, ISO month) -> the metric's bottom-up in minor units (programme and parts),
    the parts in report order)."""
    from ledger.engine import gap

    rep = gap(ledger, metric=metric.code, scenario=scenario, by=by, as_of=as_of,
              weighted=weighted, conn=conn)
    out: dict[tuple[str, str], int] = {}
    for frame in (rep.programme_monthly, rep.monthly if by else rep.programme_monthly):
        for part, month, value in zip(frame["part"], frame["month"], frame["bottom_up"],
                                      strict=True):
            out[(str(part), month.isoformat())] = to_minor(value, metric.decimals)
    return out, rep.parts if by else []


def _part_rows(ratio: Ratio, part: str, months: list[str], fy_start: int,
               values: dict[str, dict[str, int | None]]) -> list[dict[str, Any]]:
    """The monthly rows of one part, in minor units (None where not computable)."""
    rows = []
    for iso in months:
        v = values[iso]
        nb, db, s, u, t = (v["nb"], v["db"], v["s"] or 0, v["u"] or 0, v["t"])
        n = None if nb is None else nb - s
        d = None if db is None else db + u
        implied = None if n is None or d is None else ratio.level(n, d)
        allowed = None if t is None or d is None or n is None else ratio.allowed(t, d)
        rows.append({
            "part": part, "month": date.fromisoformat(iso),
            "fiscal_year": fiscal_year_label(fiscal_year_of(date.fromisoformat(iso), fy_start)),
            "numerator_baseline": nb, "savings": s, "numerator": n,
            "denominator_baseline": db, "uplift": u, "denominator": d,
            "baseline_level": None if nb is None or db is None else ratio.level(nb, db),
            "target": t, "implied": implied,
            "gap": None if t is None or implied is None else t - implied,
            "money_gap": None if allowed is None or n is None else allowed - n,
            "_allowed": allowed,
        })
    return rows


def _sum(rows: list[dict[str, Any]], col: str) -> int | None:
    values = [r[col] for r in rows]
    return None if any(v is None for v in values) else sum(values)


def _period_row(ratio: Ratio, part: str, period: str, rows: list[dict[str, Any]]
                ) -> dict[str, Any]:
    """A period's row: sums, and levels as ratios of the sums (None if any month lacks)."""
    nb, db = _sum(rows, "numerator_baseline"), _sum(rows, "denominator_baseline")
    n, d = _sum(rows, "numerator"), _sum(rows, "denominator")
    allowed = _sum(rows, "_allowed")
    implied = None if n is None or d is None else ratio.level(n, d)
    target = None if allowed is None or d is None else ratio.level(allowed, d)
    monthly = [r["implied"] for r in rows]
    average = (None if not monthly or any(v is None for v in monthly)
               else div_half_away(sum(monthly), len(monthly)))
    return {
        "part": part, "period": period, "numerator_baseline": nb,
        "savings": _sum(rows, "savings"), "numerator": n, "denominator_baseline": db,
        "uplift": _sum(rows, "uplift"), "denominator": d,
        "baseline_level": None if nb is None or db is None else ratio.level(nb, db),
        "target": target, "implied": implied,
        "gap": None if target is None or implied is None else target - implied,
        "money_gap": _sum(rows, "money_gap"), "average_of_monthly": average,
    }


def _as_decimals(frame: pd.DataFrame, ratio: Ratio) -> pd.DataFrame:
    places = {"numerator_baseline": ratio.numerator, "savings": ratio.numerator,
              "numerator": ratio.numerator, "money_gap": ratio.numerator,
              "denominator_baseline": ratio.denominator, "uplift": ratio.denominator,
              "denominator": ratio.denominator}
    for col in frame.columns:
        if col in ("part", "month", "fiscal_year", "period"):
            continue
        decimals = places[col].decimals if col in places else ratio.metric.decimals
        frame[col] = pd.Series([None if v is None else from_minor(int(v), decimals)
                                for v in frame[col]], index=frame.index, dtype=object)
    return frame


def ratio_gap(ledger: Ledger, *, metric: str, scenario: str = "plan", by: str | None = None,
              as_of: Any = None, weighted: bool = False,
              fiscal_year: int | str | None = None,
              conn: Connection | None = None) -> RatioReport:
    """The unit-cost gap of ratio metric ``metric``: target level, implied bottom-up, gap
    in the ratio's unit and its money equivalent, per month, fiscal year and horizon.

    ``by="business_unit"`` adds one row set per unit, each against its own baselines and
    targets (unit ratios do not add up to the programme's; the programme rows stand alone).
    ``by`` lever, owner or stage fills ``contributions``: each part's share of the
    programme's change from its baseline level (:func:`contribution_rows`).
    Other arguments as for :func:`ledger.engine.gap`; ``conn`` reads inside a caller's
    snapshot (the gap report reads every sheet in one).

    Raises:
        LedgerError: not a ratio metric, an unsupported breakdown, a bad as-of or year.
    """
    from ledger.asof import parse_as_of, submission_at

    if by is not None and by not in RATIO_BREAKDOWNS:
        raise LedgerError(f"breakdown {by!r}: expected one of {', '.join(RATIO_BREAKDOWNS)}")
    fy = parse_fiscal_year(fiscal_year) if isinstance(fiscal_year, str) else fiscal_year
    point = parse_as_of(as_of)
    with ledger.snapshot(conn) as conn:
        prog = ledger.programme(conn)
        ratio = ratio_of(conn, find_metric(ledger, metric, conn))
        if ratio is None:
            raise LedgerError(f"{metric} is not a ratio metric")
        sub = submission_at(conn, point)[0] if point is not None else last_submission_id(conn)
        metrics = {m.id: m for m in ledger.metrics(conn)}
        common: dict[str, Any] = {"scenario": scenario, "by": by, "as_of": sub,
                                  "weighted": weighted}
        savings, parts = _bottom_ups(ledger, conn, ratio.numerator, **common)
        uplift, _ = _bottom_ups(ledger, conn, ratio.denominator, **common)
        scopes = [(PROGRAMME_PART, PROGRAMME)]
        if by == "business_unit":  # each unit against its own baselines
            scopes += [(str(c), TargetScope("business_unit", str(c)))
                       for c in ledger.business_units(conn)["code"]]
        targets = current_targets(conn, metric_ids=[ratio.metric.id], as_of=sub)
        months = [m.isoformat() for m in prog.months]
        monthly: list[dict[str, Any]] = []
        fiscal: list[dict[str, Any]] = []
        for part, scope in scopes:
            nb = _by_month(baseline_values(conn, metrics, ratio.numerator, scope, sub))
            db = _by_month(baseline_values(conn, metrics, ratio.denominator, scope, sub))
            ts = targets[(targets["scope_kind"] == scope.kind)
                         & (targets["scope_code"] == scope.code)]
            tv = {str(m)[:10]: int(a) for m, a in zip(ts["month"], ts["amount_minor"],
                                                     strict=True)}
            values = {iso: {"nb": nb.get(iso), "db": db.get(iso), "s": savings.get((part, iso)),
                            "u": uplift.get((part, iso)), "t": tv.get(iso)} for iso in months}
            rows = _part_rows(ratio, part, months, prog.fy_start_month, values)
            for label in dict.fromkeys(r["fiscal_year"] for r in rows):
                fiscal.append(_period_row(ratio, part, label,
                                          [r for r in rows if r["fiscal_year"] == label]))
            fiscal.append(_period_row(ratio, part, HORIZON, rows))
            monthly += rows
    contributions = (None if by not in CONTRIBUTION_BREAKDOWNS else _frame(
        contribution_rows(ratio, monthly, fiscal, parts, savings, uplift),
        CONTRIBUTION_COLUMNS))
    monthly_frame = _frame(monthly, MONTHLY_COLUMNS)
    fiscal_frame = _frame(fiscal, FISCAL_COLUMNS)
    if fy is not None:
        label = fiscal_year_label(fy)
        if label not in set(monthly_frame["fiscal_year"]):
            raise LedgerError(f"fiscal year {label} is outside the horizon")
        monthly_frame = monthly_frame[monthly_frame["fiscal_year"] == label]
        fiscal_frame = fiscal_frame[fiscal_frame["period"].isin([label, HORIZON])]
        if contributions is not None:
            contributions = contributions[contributions["fiscal_year"].isin([label, HORIZON])]
    return RatioReport(prog, ratio, scenario, by, weighted, fy, sub,
                       _as_decimals(monthly_frame.reset_index(drop=True), ratio),
                       _as_decimals(fiscal_frame.reset_index(drop=True), ratio),
                       None if contributions is None
                       else _as_decimals(contributions.reset_index(drop=True), ratio))


CONTRIBUTION_COLUMNS = ["part", "period", "fiscal_year", "savings", "uplift", "contribution"]


def allocate_exact(total: int, exact: Sequence[Fraction]) -> list[int]:
    """Integers, one per exact share, that add up to ``total`` (itself within one unit of
    the shares' sum): each share rounded down, then one unit each to the ``k`` shares with
    the largest remainders (ties: the earlier share), ``k`` being what is left. A share of
    exactly 0 never gets a unit while ``total`` is less than one unit from the shares' sum.

    Raises:
        ValueError: no shares, or ``total`` more than one unit from their sum.
    """
    if not exact or abs(total - sum(exact, Fraction(0))) > 1:
        raise ValueError(f"total {total} is not within one unit of the shares' sum")
    floors = [math.floor(c) for c in exact]
    left = total - sum(floors)
    # Largest remainder first; ``left`` is 0..n whenever ``total`` is within one unit, and
    # n + 1 or -1 only at exactly one unit (then the first share takes the extra unit).
    order = sorted(range(len(exact)), key=lambda i: (floors[i] - exact[i], i))
    for i in order[:max(0, min(left, len(exact)))]:
        floors[i] += 1
    floors[order[0]] += left - max(0, min(left, len(exact)))
    return floors


def _contribution_group(ratio: Ratio, period: str, fiscal: str, programme: dict[str, Any],
                        shares: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """One period's contribution rows: the programme's, then each part's."""
    nb, db, d = (programme["numerator_baseline"], programme["denominator_baseline"],
                 programme["denominator"])
    implied, level = programme["implied"], programme["baseline_level"]
    values: list[int | None] = [None] * len(shares)
    total: int | None = None
    if None not in (nb, db, d, implied, level) and d > 0 and db > 0:
        r0 = ratio.exact_level(nb, db)
        assert r0 is not None  # noqa: S101  (db > 0)
        exact = [-(ratio.exact_level(s, d) or Fraction(0)) - r0 * Fraction(u, d)
                 for _part, s, u in shares]
        total = implied - level
        values = list(allocate_exact(total, exact))
    rows = [{"part": PROGRAMME_PART, "period": period, "fiscal_year": fiscal,
             "savings": sum(s for _p, s, _u in shares), "uplift": sum(u for _p, _s, u in shares),
             "contribution": total}]
    rows += [{"part": part, "period": period, "fiscal_year": fiscal, "savings": s,
              "uplift": u, "contribution": v} for (part, s, u), v in zip(shares, values,
                                                                          strict=True)]
    return rows


def contribution_rows(ratio: Ratio, monthly: list[dict[str, Any]],
                      fiscal: list[dict[str, Any]], parts: list[str],
                      savings: dict[tuple[str, str], int], uplift: dict[tuple[str, str], int],
                      ) -> list[dict[str, Any]]:
    """Each part's contribution to the programme's change ``implied - baseline_level``.

    With ``R0 = Nb / Db`` (the baseline level) and ``D1 = Db + U`` (the adjusted volume),
    the change is exactly ``-(S + R0 x U) / D1``; part ``p`` contributes
    ``-(S_p + R0 x U_p) / D1``: its savings plus its uplift valued at the baseline unit
    cost, over the adjusted volume. The interaction of savings and uplift (``S x U``) sits
    in ``D1`` and is so shared in proportion to each part's ``S_p + R0 x U_p``. The exact
    shares are rounded to the ratio's minor unit by :func:`allocate_exact`, so the parts add
    up to the programme's rounded change exactly. A period uses its sums (``Nb, Db, S_p,
    U_p`` summed over its months); its contributions are not sums of monthly ones.
    """
    out: list[dict[str, Any]] = []
    by_fy: dict[str, list[str]] = {}
    for row in monthly:
        iso = row["month"].isoformat()
        by_fy.setdefault(row["fiscal_year"], []).append(iso)
        shares = [(p, savings.get((p, iso), 0), uplift.get((p, iso), 0)) for p in parts]
        out += _contribution_group(ratio, iso[:7], row["fiscal_year"], row, shares)
    for row in fiscal:
        isos = (by_fy[row["period"]] if row["period"] != HORIZON
                else [r["month"].isoformat() for r in monthly])
        shares = [(p, sum(savings.get((p, i), 0) for i in isos),
                   sum(uplift.get((p, i), 0) for i in isos)) for p in parts]
        out += _contribution_group(ratio, row["period"], row["period"], row, shares)
    return out


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame of Python objects: ints stay exact ints and None stays None (pandas
    would turn a column of ints with a None into floats)."""
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in columns})


def _by_month(values: pd.DataFrame) -> dict[str, int]:
    return {str(m): int(v) for m, v in zip(values["month"], values["value_minor"], strict=True)}

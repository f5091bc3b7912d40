"""Baselines: the "do nothing" trajectory of a metric per scope and month, kept as revisions.

A baseline is what a metric would be without the programme: the cost base a saving is
measured from, the production volume an uplift adds to. It is stored like a target (one
amount per metric, scope and month, in the metric's minor units, as versions: a new
revision never overwrites), in the table ``baseline`` with a ``series``:

* ``baseline``: the do-nothing trajectory, set by ``tledger baseline set``;
* ``actual``: what finance recorded for the metric (``tledger baseline set --actual``),
  e.g. the tonnes actually produced. A flexed baseline reads its driver's actual here.

**Flexed baselines.** A baseline month may carry a driver metric and a rate: its value is
``fixed + rate x driver`` where ``fixed`` is the stored amount, ``rate`` is in the metric's
unit per one unit of the driver (at most 6 decimals) and ``driver`` is the driver metric's
*actual* for the same scope and month, or, for a month without a recorded actual (the
future), the driver's baseline. The variable part is rounded **half away from zero to the
metric's minor unit, per month**; a fiscal year's flexed baseline is the sum of its
months. So a volume that falls short of the baseline lowers the cost baseline with it, and
is not mistaken for a saving. A driver's own baseline is never flexed (no chains: a metric
that flexes cannot be a driver, and a driver cannot be flexed).

See docs/baselines.md for the formulas and a worked example.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection

from ledger.errors import LedgerError
from ledger.models import BASELINE_SERIES, OPEN, Baseline
from ledger.money import from_minor
from ledger.store import (
    FactChanges,
    bulk_insert,
    close_versions,
    current_user,
    diff_facts,
    new_submission,
    read_frame,
    version_filter,
)
from ledger.targets import (
    all_versions,
    check_scope,
    find_metric,
    parse_target_amount,
    phase_total,
    profile_weights,
    resolve_months,
    scope_revisions,
    summarise_versions,
)
from ledger.vocabulary import TargetScope, parse_scope

if TYPE_CHECKING:
    from ledger.api import Ledger, MetricInfo

__all__ = [
    "BASELINE_KEY",
    "RATE_DECIMALS",
    "BaselineSetResult",
    "baseline_by_month",
    "baseline_revisions",
    "baseline_summary",
    "baseline_values",
    "diff_baseline_facts",
    "div_half_away",
    "parse_rate",
    "rate_decimal",
    "set_baseline",
    "variable_minor",
]

#: A flex rate is kept to this many decimals (``rate_micro`` = rate x 10^6).
RATE_DECIMALS = 6
_KEY = ["metric_id", "series", "scope_kind", "scope_code", "month"]
#: The key of a baseline fact (the target key with the series).
BASELINE_KEY = _KEY


# --------------------------------------------------------------------------- pure


def div_half_away(num: int, den: int) -> int:
    """``num / den`` rounded half away from zero, in integers (``den`` non-zero)."""
    if den == 0:
        raise ZeroDivisionError("division by zero")
    if den < 0:
        num, den = -num, -den
    q = (2 * abs(num) + den) // (2 * den)
    return q if num >= 0 else -q


def variable_minor(rate_micro: int, driver_minor: int, decimals: int,
                   driver_decimals: int) -> int:
    """``rate x driver`` in the metric's minor units, half away from zero.

    ``rate_micro / 10^6`` metric units per driver unit, times ``driver_minor /
    10^driver_decimals`` driver units, times ``10^decimals`` minor units per metric unit.
    """
    return div_half_away(rate_micro * driver_minor * 10**decimals,
                         10 ** (RATE_DECIMALS + driver_decimals))


def rate_decimal(rate_micro: int) -> Decimal:
    """A stored rate as a Decimal without trailing zeros: 12500000 -> 12.5, 20000000 -> 20."""
    return Decimal(f"{from_minor(rate_micro, RATE_DECIMALS).normalize():f}")


def parse_rate(text: str) -> int:
    """A flex rate as typed (``12.5``, ``0.0375``) in millionths: not negative, at most
    6 decimals (refused, never rounded)."""
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise LedgerError(f"rate {text!r}: expected a number such as 12.5 (the metric's "
                          "unit per one unit of the driver)") from None
    if not value.is_finite() or value < 0:
        raise LedgerError(f"rate {text!r}: expected a number of 0 or more")
    micro = value.scaleb(RATE_DECIMALS)
    if micro != micro.to_integral_value():
        raise LedgerError(f"rate {text!r} has more than {RATE_DECIMALS} decimals; refused "
                          "rather than rounded")
    if micro >= 10**15:
        raise LedgerError(f"rate {text!r} is too large")
    return int(micro)


def parse_level(text: str, decimals: int) -> int:
    """A baseline amount as typed (the forms of ``target set --amount``), in minor units."""
    try:
        return parse_target_amount(text, decimals)
    except LedgerError as exc:
        if "negative totals are refused" in str(exc):
            raise LedgerError(f"amount {text!r}: a baseline is a level of its metric (a cost "
                              "base, a volume); negative amounts are refused") from None
        raise


# --------------------------------------------------------------------------- reading


def current_baselines(conn: Connection, *, metric_ids: Sequence[int] | None = None,
                      as_of: int | None = None) -> pd.DataFrame:
    """Baseline and actual versions valid now (or at submission ``as_of``).

    Columns: ``id, metric_id, series, scope_kind, scope_code, month`` (ISO),
    ``amount_minor, driver_metric_id, rate_micro`` (int or None), ``valid_from``.
    """
    where, params = version_filter(as_of)
    if metric_ids is not None:
        where += f" AND metric_id IN ({', '.join(str(int(i)) for i in metric_ids) or 'NULL'})"
    frame = read_frame(
        conn,
        "SELECT id, metric_id, series, scope_kind, scope_code, "  # noqa: S608  (ids int()-formatted; values bound)
        "CAST(month AS VARCHAR(10)) AS month, amount_minor, driver_metric_id, rate_micro, "
        f"valid_from FROM baseline WHERE {where}", params)
    for col in ("id", "metric_id", "amount_minor", "valid_from"):
        frame[col] = [int(v) for v in frame[col]]
    for col in ("driver_metric_id", "rate_micro"):
        frame[col] = pd.Series([None if pd.isna(v) else int(v) for v in frame[col]],
                               index=frame.index, dtype=object)
    frame["month"] = [str(m)[:10] for m in frame["month"]]
    return frame


def baseline_values(conn: Connection, metrics: dict[int, MetricInfo], metric: MetricInfo,
                    scope: TargetScope, as_of: int | None = None) -> pd.DataFrame:
    """The baseline of ``metric`` and ``scope`` per month with its flex applied.

    Columns: ``month`` (ISO), ``fixed_minor``, ``driver`` (code or None), ``rate_micro``,
    ``driver_minor`` (the driver's value used, or None), ``driver_from`` (``actual``,
    ``baseline`` or ``none``: no driver value, so the variable part is 0), ``variable_minor``,
    ``value_minor`` (= fixed + variable), ``revision``. Only months with a baseline.
    """
    rows = current_baselines(conn, metric_ids=[metric.id], as_of=as_of)
    rows = rows[(rows["series"] == "baseline") & (rows["scope_kind"] == scope.kind)
                & (rows["scope_code"] == scope.code)].sort_values("month")
    drivers = sorted({int(d) for d in rows["driver_metric_id"] if d is not None})
    values: dict[tuple[int, str, str], int] = {}
    if drivers:
        dr = current_baselines(conn, metric_ids=drivers, as_of=as_of)
        dr = dr[(dr["scope_kind"] == scope.kind) & (dr["scope_code"] == scope.code)]
        # The baseline first, so a recorded actual of the same month replaces it.
        for series in ("baseline", "actual"):
            part = dr[dr["series"] == series]
            for mid, month, amount in zip(part["metric_id"], part["month"],
                                          part["amount_minor"], strict=True):
                values[(int(mid), str(month), "value")] = int(amount)
                values[(int(mid), str(month), "from")] = BASELINE_SERIES.index(series)
    out: list[dict[str, Any]] = []
    for rec in rows.to_dict("records"):
        fixed, driver, rate = int(rec["amount_minor"]), rec["driver_metric_id"], rec["rate_micro"]
        driver_minor: int | None = None
        source, variable = "none", 0
        if driver is not None:
            key = (int(driver), str(rec["month"]))
            driver_minor = values.get((*key, "value"))
            if driver_minor is not None:
                source = BASELINE_SERIES[values[(*key, "from")]]
                variable = variable_minor(int(rate), driver_minor, metric.decimals,
                                          metrics[int(driver)].decimals)
        out.append({"month": rec["month"], "fixed_minor": fixed,
                    "driver": None if driver is None else metrics[int(driver)].code,
                    "rate_micro": rate, "driver_minor": driver_minor,
                    "driver_from": source if driver is not None else None,
                    "variable_minor": variable, "value_minor": fixed + variable,
                    "revision": int(rec["valid_from"])})
    columns = ["month", "fixed_minor", "driver", "rate_micro", "driver_minor", "driver_from",
               "variable_minor", "value_minor", "revision"]
    return pd.DataFrame(out, columns=columns).astype(object)


def _series_arg(series: str) -> str:
    if series not in BASELINE_SERIES:
        raise LedgerError(f"series {series!r}: expected baseline or actual")
    return series


def _refuse_ratio(conn: Connection, metric: MetricInfo) -> None:
    from ledger.ratio import ratio_of

    if ratio_of(conn, metric) is not None:
        raise LedgerError(f"{metric.code} is a ratio metric: its baseline is its numerator's "
                          "over its denominator's; set those instead")


def baseline_by_month(ledger: Ledger, *, metric: str, scope: str | TargetScope | None = None,
                      series: str = "baseline", as_of: int | None = None,
                      conn: Connection | None = None) -> pd.DataFrame:
    """One metric's baseline (or recorded actual) per month, now or as of ``as_of``.

    Columns: ``month`` (``YYYY-MM``), ``fixed``, ``driver``, ``rate``, ``driver_value``,
    ``driver_from``, ``variable``, ``baseline`` (Decimals; ``baseline = fixed + variable``
    exactly), ``revision``. For ``series="actual"`` the flex columns are empty.
    """
    if conn is None:
        with ledger.reading() as c:
            return baseline_by_month(ledger, metric=metric, scope=scope, series=series,
                                     as_of=as_of, conn=c)
    _series_arg(series)
    the_scope = check_scope(ledger, scope if isinstance(scope, TargetScope)
                            else parse_scope(scope), conn)
    metrics = {m.id: m for m in ledger.metrics(conn)}
    m = find_metric(ledger, metric, conn)
    if series == "baseline":
        values = baseline_values(conn, metrics, m, the_scope, as_of)
    else:
        rows = current_baselines(conn, metric_ids=[m.id], as_of=as_of)
        rows = rows[(rows["series"] == "actual") & (rows["scope_kind"] == the_scope.kind)
                    & (rows["scope_code"] == the_scope.code)].sort_values("month")
        values = pd.DataFrame({
            "month": rows["month"], "fixed_minor": rows["amount_minor"], "driver": None,
            "rate_micro": None, "driver_minor": None, "driver_from": None,
            "variable_minor": 0, "value_minor": rows["amount_minor"],
            "revision": rows["valid_from"]}).astype(object)
    d = m.decimals

    def driver_text(code: Any, minor: Any) -> Decimal | None:
        return None if code is None or minor is None else from_minor(int(minor),
                                                                     _decimals(metrics, code))

    return pd.DataFrame({
        "month": [str(x)[:7] for x in values["month"]],
        "fixed": [from_minor(int(v), d) for v in values["fixed_minor"]],
        "driver": list(values["driver"]),
        "rate": [None if r is None else rate_decimal(int(r)) for r in values["rate_micro"]],
        "driver_value": [driver_text(c, v) for c, v in zip(values["driver"],
                                                           values["driver_minor"], strict=True)],
        "driver_from": list(values["driver_from"]),
        "variable": [from_minor(int(v), d) for v in values["variable_minor"]],
        "baseline": [from_minor(int(v), d) for v in values["value_minor"]],
        "revision": [int(v) for v in values["revision"]],
    }).astype({"fixed": object, "variable": object, "baseline": object})


def _decimals(metrics: dict[int, MetricInfo], code: str) -> int:
    return next(m.decimals for m in metrics.values() if m.code == code)


def baseline_summary(ledger: Ledger, *, as_of: int | None = None,
                     conn: Connection | None = None) -> pd.DataFrame:
    """Current (or as-of) baselines and actuals per metric, series and scope: the columns of
    :func:`ledger.targets.target_summary` with ``series`` after ``metric``. ``total`` is the
    sum of the fixed parts (a flexed baseline's variable part depends on its driver)."""
    if conn is None:
        with ledger.reading() as c:
            return baseline_summary(ledger, as_of=as_of, conn=c)
    frames = []
    for series in BASELINE_SERIES:
        part = summarise_versions(conn, all_versions(conn, table="baseline", series=series),
                                  as_of)
        part.insert(1, "series", series)
        frames.append(part)
    return pd.concat(frames, ignore_index=True) if any(len(f) for f in frames) else frames[0]


def baseline_revisions(ledger: Ledger, *, metric: str, scope: str | TargetScope | None = None,
                       series: str = "baseline", conn: Connection | None = None
                       ) -> pd.DataFrame:
    """Every revision of one metric, series and scope, oldest first: the columns of
    :func:`ledger.targets.target_revisions` (totals of the fixed parts over the horizon)."""
    if conn is None:
        with ledger.reading() as c:
            return baseline_revisions(ledger, metric=metric, scope=scope, series=series,
                                      conn=c)
    the_scope = check_scope(ledger, scope if isinstance(scope, TargetScope)
                            else parse_scope(scope), conn)
    m = find_metric(ledger, metric, conn)
    versions = all_versions(conn, m.id, table="baseline", series=_series_arg(series))
    return scope_revisions(conn, versions, the_scope, m.decimals)


# --------------------------------------------------------------------------- writing


@dataclass
class BaselineSetResult:
    """What :func:`set_baseline` did."""

    metric: str
    series: str
    scope: TargetScope
    months: list[date]
    amounts_minor: list[int]
    decimals: int
    driver: str | None
    rate_micro: int | None
    submission_id: int | None
    """The new revision's submission, or None when nothing changed."""
    created_at: datetime | None
    months_changed: int

    @property
    def total_minor(self) -> int:
        return sum(self.amounts_minor)


def _check_driver(ledger: Ledger, conn: Connection, metric: MetricInfo, series: str,
                  driver: str | None, rate: str | None) -> tuple[MetricInfo | None, int | None]:
    if driver is None and rate is None:
        # A plain baseline of a metric that drives others is fine; flexing is refused below.
        return None, None
    if driver is None or rate is None:
        raise LedgerError("a flexed baseline needs both --driver METRIC and --rate RATE")
    if series != "baseline":
        raise LedgerError("an actual is what finance recorded: it has no driver or rate")
    d = find_metric(ledger, driver, conn)
    if d.id == metric.id:
        raise LedgerError(f"{metric.code} cannot be its own driver")
    from ledger.ratio import ratio_of

    if ratio_of(conn, d) is not None:
        raise LedgerError(f"driver {d.code} is a ratio metric: choose a volume metric")
    current = current_baselines(conn)
    flexed = current[current["driver_metric_id"].notna()]
    if (flexed["metric_id"] == d.id).any():
        raise LedgerError(f"driver {d.code} has a flexed baseline itself: a driver's baseline "
                          "is never flexed (no chains)")
    if (flexed["driver_metric_id"] == metric.id).any():
        raise LedgerError(f"{metric.code} drives another metric's baseline: a driver's "
                          "baseline is never flexed (no chains)")
    return d, parse_rate(rate)


def set_baseline(
    ledger: Ledger,
    *,
    metric: str,
    amount: str | Decimal | int | None = None,
    per_month: str | Decimal | int | None = None,
    months: Sequence[date] | None = None,
    fiscal_year: str | None = None,
    first: str | date | None = None,
    last: str | date | None = None,
    scope: str | TargetScope | None = None,
    profile: str = "even",
    series: str = "baseline",
    driver: str | None = None,
    rate: str | None = None,
    user: str | None = None,
    note: str = "",
) -> BaselineSetResult:
    """Record a new revision of a baseline (or of a recorded actual) in one transaction.

    Either ``amount``, a total phased over the months by ``profile`` exactly as a target
    is (:func:`ledger.targets.phase_total`), or ``per_month``, the same amount in every
    month. With ``driver`` and ``rate`` the amounts are the fixed part and every month
    carries the flex. Months outside the given ones keep their versions; a month whose
    amount, driver and rate do not change gets no new version.

    Raises:
        LedgerError: any invalid input (nothing is written).
    """
    if not note or not note.strip():
        raise LedgerError("a baseline revision needs a --note saying why (e.g. \"FY26 "
                          "budget\")")
    _series_arg(series)
    if (amount is None) == (per_month is None):
        raise LedgerError("give either --amount (a total, phased by --profile) or "
                          "--per-month (the same amount every month)")
    the_scope = scope if isinstance(scope, TargetScope) else parse_scope(scope)
    with ledger.writing() as conn:
        prog = ledger.programme(conn)
        m = find_metric(ledger, metric, conn)
        _refuse_ratio(conn, m)
        the_scope = check_scope(ledger, the_scope, conn)
        d, rate_micro = _check_driver(ledger, conn, m, series, driver, rate)
        months = resolve_months(prog, months, fiscal_year=fiscal_year, first=first, last=last)
        if per_month is not None:
            parts = [parse_level(str(per_month), m.decimals)] * len(months)
        else:
            parts = phase_total(parse_level(str(amount), m.decimals),
                                profile_weights(profile, len(months)))
        incoming = pd.DataFrame({
            "metric_id": m.id, "series": series, "scope_kind": the_scope.kind,
            "scope_code": the_scope.code, "month": [x.isoformat() for x in months],
            "amount_minor": pd.Series(parts, dtype=object),
            "driver_metric_id": pd.Series([None if d is None else d.id] * len(months),
                                          dtype=object),
            "rate_micro": pd.Series([rate_micro] * len(months), dtype=object),
        })
        close, new_rows = _diff(current_baselines(conn, metric_ids=[m.id]), incoming)
        result = BaselineSetResult(m.code, series, the_scope, list(months), parts, m.decimals,
                                   None if d is None else d.code, rate_micro, None, None,
                                   len(new_rows))
        if new_rows.empty:
            return result
        details: dict[str, object] = {
            "baseline": series, "metric": m.code, "scope": the_scope.label,
            "from": f"{months[0]:%Y-%m}", "to": f"{months[-1]:%Y-%m}",
            "total": str(from_minor(sum(parts), m.decimals)),
        }
        if amount is not None:
            details["profile"] = profile
        if d is not None:
            details.update(driver=d.code, rate=str(rate_decimal(int(rate_micro or 0))))
        sub = new_submission(conn, kind="target", user=current_user(user), note=note.strip(),
                             details=details)
        table = Baseline.__table__
        close_versions(conn, table, close, sub.id)
        bulk_insert(conn, table, new_rows.assign(valid_from=sub.id, valid_to=OPEN))
        result.submission_id, result.created_at = sub.id, sub.created_at
        return result


def _diff(current: pd.DataFrame, incoming: pd.DataFrame) -> tuple[list[int], pd.DataFrame]:
    """(ids of the current versions to close, the rows to insert): a month is written when
    its amount, driver or rate differs from its current version, or it has none."""
    content = ["amount_minor", "driver_metric_id", "rate_micro"]
    old = {tuple(r[k] for k in _KEY): (int(r["id"]), tuple(r[c] for c in content))
           for r in current.to_dict("records")}
    close: list[int] = []
    keep: list[int] = []
    for pos, rec in enumerate(incoming.to_dict("records")):
        found = old.get(tuple(rec[k] for k in _KEY))
        if found is not None and found[1] == tuple(rec[c] for c in content):
            continue
        if found is not None:
            close.append(found[0])
        keep.append(pos)
    return close, incoming.iloc[keep].reset_index(drop=True)


def diff_baseline_facts(conn: Connection, incoming: pd.DataFrame, scopes: pd.DataFrame,
                        series: str) -> tuple[pd.DataFrame, FactChanges]:
    """(the current facts of ``series``, the changes) for a workbook of plain baselines
    (or actuals): ``incoming`` has the target fact columns (``metric_id, scope_kind,
    scope_code, month, amount_minor``); each row of ``scopes`` (metric and scope) is
    replaced in full, so a month it leaves empty ends its version. A month whose current
    version is flexed is changed even when its fixed amount is the same: the workbook's
    plain amount replaces the flex.
    """
    _series_arg(series)
    ids = sorted({int(i) for i in scopes["metric_id"]}) if len(scopes) else []
    from ledger.ratio import ratio_metric_codes

    refused = ratio_metric_codes(conn, ids)
    if refused:
        raise LedgerError(f"{refused[0]} is a ratio metric: its baseline is its numerator's "
                          "over its denominator's; import those instead")
    current = current_baselines(conn, metric_ids=ids)
    current = current[current["series"] == series].reset_index(drop=True)
    incoming = incoming.assign(series=series)
    changes = diff_facts(current, incoming, _KEY, scopes=scopes.assign(series=series))
    flexed = current[current["driver_metric_id"].notna()]
    if len(flexed):
        same = incoming.merge(flexed[[*_KEY, "id", "amount_minor"]], on=_KEY,
                              suffixes=("", "_old"))
        same = same[same["amount_minor"] == same["amount_minor_old"]]
        if len(same):
            forced = pd.DataFrame({**{k: same[k] for k in _KEY},
                                   "amount_minor": same["amount_minor"].astype("int64"),
                                   "old_amount_minor": same["amount_minor"].astype("int64"),
                                   "old_id": same["id"].astype("int64")})
            changes.changed = pd.concat([changes.changed, forced], ignore_index=True)
            changes.unchanged -= len(forced)
    return current, changes

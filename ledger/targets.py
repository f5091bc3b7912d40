"""Top-down targets: leadership's figure phased into months, kept as revisions.

Two layers:

* pure functions (no database): :func:`parse_scope`, :func:`profile_weights`,
  :func:`phase_total`, :func:`parse_target_amount`, :func:`target_months`;
* storage-facing functions over a :class:`~ledger.api.Ledger`: :func:`set_target` records a
  new revision, :func:`target_summary`, :func:`target_by_month` and
  :func:`target_revisions` read the current state, any past state and the history.

Phasing is exact: the months of a phased target sum to the total to the minor unit. Each
month gets ``total * weight / sum(weights)`` truncated toward zero; the few minor units left
over go one each to the last months with a non-zero weight, from the last month backwards
(see :func:`ledger.money.split_exact`). So an even split of 100.00 over 3 months is
33.33, 33.33, 33.34.

Decisions (stated in ``tledger target set --help`` too):

* an amount with more decimals than the metric keeps is **refused**, not rounded: a
  leadership figure is typed by a person and a silent rounding would change it;
* a **negative** total is refused: a target is a positive amount of its metric (a cost-out
  target is a positive ``benefit``, a budget for one-off costs a positive ``cost``); zero is
  allowed and sets the months to zero;
* a revision replaces the scope's amounts **in the given months only**: months of the same
  metric and scope outside the range keep their current amounts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from ledger.asof import parse_as_of, submission_at
from ledger.errors import LedgerError, NotFound
from ledger.models import OPEN
from ledger.money import AmountError, from_minor, parse_amount, split_exact
from ledger.months import (
    MonthError,
    fiscal_year_months,
    month_range,
    parse_fiscal_year,
    parse_month,
)
from ledger.store import (
    FactChanges,
    current_targets,
    current_user,
    new_submission,
    read_frame,
    read_frame_in,
    write_targets,
)
from ledger.vocabulary import (
    PROGRAMME,
    TargetScope,
    closest,
    parse_scope,
)

if TYPE_CHECKING:
    from ledger.api import Ledger, MetricInfo, ProgrammeInfo

__all__ = [
    "PROFILES",
    "PROGRAMME",
    "TargetScope",
    "TargetSetResult",
    "check_scope",
    "closest",
    "find_metric",
    "parse_scope",
    "parse_target_amount",
    "phase_total",
    "profile_weights",
    "resolve_as_of",
    "set_target",
    "target_by_month",
    "target_months",
    "target_revisions",
    "target_summary",
]

#: The phasing profiles ``tledger target set --profile`` knows.
PROFILES = ("even", "ramp", "weights:W1,W2,...")

def _unknown(what: str, code: str, known: Sequence[str]) -> NotFound:
    guess = closest(code, known)
    hint = f" (did you mean {guess}?)" if guess else ""
    listing = ", ".join(known) if known else "none yet"
    return NotFound(f"no {what} {code!r}{hint}; known: {listing}")


# --------------------------------------------------------------------------- pure: phasing

_WEIGHTS_RE = re.compile(r"^\s*weights?\s*[:=]\s*(.+)$", re.IGNORECASE)


def profile_weights(profile: str, n_months: int) -> list[Decimal]:
    """The weights of ``profile`` over ``n_months`` months.

    * ``even``: every month weighs 1;
    * ``ramp``: linearly increasing, 1, 2, ..., n (the last month weighs n times the first);
    * ``weights:1,1,2,...``: one non-negative number per month, not all zero.

    Raises:
        LedgerError: unknown profile, wrong number of weights, a negative or non-numeric
            weight, or all weights zero.
    """
    if n_months < 1:
        raise LedgerError("a target needs at least one month")
    name = profile.strip().lower()
    if name == "even":
        return [Decimal(1)] * n_months
    if name == "ramp":
        return [Decimal(i) for i in range(1, n_months + 1)]
    m = _WEIGHTS_RE.match(profile)
    if not m:
        raise LedgerError(
            f"profile {profile!r}: expected even, ramp or weights:W1,W2,... (one weight a month)"
        )
    parts = [p.strip() for p in m.group(1).split(",")]
    weights: list[Decimal] = []
    for i, part in enumerate(parts, start=1):
        try:
            w = Decimal(part)
        except InvalidOperation:
            raise LedgerError(
                f"profile weight {i} {part!r}: expected a number such as 1 or 0.5"
            ) from None
        if not w.is_finite() or w < 0:
            raise LedgerError(f"profile weight {i} {part!r}: expected a number of 0 or more")
        weights.append(w)
    if len(weights) != n_months:
        raise LedgerError(
            f"profile has {len(weights)} weights for {n_months} months: give one weight a month"
        )
    if not any(weights):
        raise LedgerError("profile weights are all zero: at least one month needs a weight")
    return weights


def phase_total(total_minor: int, weights: Sequence[Decimal | int]) -> list[int]:
    """Split ``total_minor`` over months in proportion to ``weights``, exactly.

    The parts sum to ``total_minor``. Each is ``total * w / sum(w)`` truncated toward zero;
    the remainder goes one minor unit at a time to the last non-zero-weight months, from
    the last month backwards.
    """
    return split_exact(int(total_minor), [Decimal(w) for w in weights])


#: Amounts are BIGINT minor units; a total must fit (with room: 2**63 is 9.2e18).
_MAX_MINOR = 10**18

_SUFFIXES = {"k": 3, "m": 6, "mn": 6, "b": 9, "bn": 9}
_SUFFIX_RE = re.compile(r"^(.*?)\s*(k|m|mn|b|bn)$", re.IGNORECASE)


def parse_target_amount(text: str, decimals: int) -> int:
    """Read a target total as typed on the command line, in the metric's minor units.

    Accepts ``120000000``, ``120,000,000``, ``1234.5`` and a scale suffix: ``k`` (thousand),
    ``m``/``M``/``mn`` (million), ``b``/``bn`` (billion), e.g. ``120M`` or ``4.5k``.

    Raises:
        LedgerError: not a number, negative, or more decimals than the metric keeps
            (refused, never rounded).
    """
    raw = text.strip()
    scale = 0
    m = _SUFFIX_RE.match(raw)
    if m and m.group(1):
        raw, scale = m.group(1), _SUFFIXES[m.group(2).lower()]
    usage = "a number such as 120000000, 120,000,000 or 120M"
    try:
        value = parse_amount(raw)
    except AmountError as exc:
        # The rule's own reason (a misplaced comma, two signs) says more than the usage.
        reason = str(exc).partition("expected ")[2]
        if not reason or reason.startswith("a number such as"):
            raise LedgerError(f"amount {text!r}: expected {usage}") from exc
        raise LedgerError(f"amount {text!r}: expected {reason}; in short, {usage}") from exc
    if value is None:
        raise LedgerError(f"amount {text!r}: expected {usage}")
    value = value.scaleb(scale)
    if value < 0:
        raise LedgerError(
            f"amount {text!r}: a target is a positive amount of its metric (a cost-out target "
            "is a positive benefit); negative totals are refused"
        )
    minor = value.scaleb(decimals)
    if minor >= _MAX_MINOR:
        raise LedgerError(f"amount {text!r} is too large for the ledger (at most "
                          f"{from_minor(_MAX_MINOR - 1, decimals):,} for this metric)")
    if minor != minor.to_integral_value():
        raise LedgerError(
            f"amount {text!r} has more decimals than the metric keeps ({decimals}); refused "
            "rather than rounded: give the amount to at most "
            f"{decimals} decimal{'s' if decimals != 1 else ''}"
        )
    return int(minor)


def target_months(
    programme: ProgrammeInfo,
    *,
    fiscal_year: str | None = None,
    first: str | date | None = None,
    last: str | date | None = None,
) -> list[date]:
    """The months a target covers: a fiscal year (``FY27``) or a range ``first``..``last``.

    Fiscal years are named by the year they end in and start in the programme's fiscal-year
    start month: with a July start, FY27 is July 2026 to June 2027.

    Raises:
        LedgerError: both or neither given, an unreadable month, an empty range, or months
            outside the programme's horizon.
    """
    if fiscal_year and (first or last):
        raise LedgerError("give either --fiscal-year or --from/--to, not both")
    if fiscal_year:
        try:
            fy = parse_fiscal_year(fiscal_year)
        except MonthError as exc:
            raise LedgerError(f"--fiscal-year: {exc}") from exc
        months = fiscal_year_months(fy, programme.fy_start_month)
    elif first and last:
        try:
            a = parse_month(first, programme.fy_start_month)
            b = parse_month(last, programme.fy_start_month)
        except MonthError as exc:
            raise LedgerError(f"--from/--to: {exc}") from exc
        if b < a:
            raise LedgerError(f"--to {b:%Y-%m} is before --from {a:%Y-%m}")
        months = month_range(a, b)
    elif first or last:
        raise LedgerError("give both --from and --to (e.g. --from 2026-07 --to 2027-06)")
    else:
        raise LedgerError("give the months: --fiscal-year FY27 or --from 2026-07 --to 2027-06")
    outside = [m for m in months if m < programme.first_month or m > programme.last_month]
    if outside:
        raise LedgerError(
            f"months {outside[0]:%Y-%m}..{outside[-1]:%Y-%m} are outside the programme's "
            f"horizon {programme.first_month:%Y-%m}..{programme.last_month:%Y-%m}"
        )
    return months


def resolve_months(programme: ProgrammeInfo, months: Sequence[date] | None, *,
                   fiscal_year: str | None = None, first: str | date | None = None,
                   last: str | date | None = None) -> list[date]:
    """``months`` (first of month, sorted, inside the horizon), or else the months of
    :func:`target_months`.

    Raises:
        LedgerError: no months, or months outside the horizon.
    """
    if months is None:
        return target_months(programme, fiscal_year=fiscal_year, first=first, last=last)
    out = sorted({date(x.year, x.month, 1) for x in months})
    if not out or out[0] < programme.first_month or out[-1] > programme.last_month:
        raise LedgerError("months outside the programme's horizon "
                          f"{programme.first_month:%Y-%m}..{programme.last_month:%Y-%m}")
    return out


# --------------------------------------------------------------------------- storage


def find_metric(ledger: Ledger, code: str, conn: Connection) -> MetricInfo:
    """The metric ``code``, or NotFound naming the closest known code."""
    metrics = ledger.metrics(conn)
    for m in metrics:
        if m.code == code:
            return m
    raise _unknown("metric", code, [m.code for m in metrics])


def check_scope(ledger: Ledger, scope: TargetScope, conn: Connection) -> TargetScope:
    """``scope`` with its code checked against the ledger's units or levers.

    A code matching a known one except for case is accepted as the known spelling.

    Raises:
        NotFound: an unknown code; the message suggests the closest known one.
    """
    if scope.kind == "programme":
        return scope
    frame = ledger.business_units(conn) if scope.kind == "business_unit" else ledger.levers(conn)
    known = [str(c) for c in frame["code"]]
    if scope.code in known:
        return scope
    exact_case = [k for k in known if k.upper() == scope.code.upper()]
    if len(exact_case) == 1:
        return TargetScope(scope.kind, exact_case[0])
    what = "business unit" if scope.kind == "business_unit" else "lever"
    raise _unknown(what, scope.code, known)


@dataclass
class TargetSetResult:
    """What :func:`set_target` did."""

    metric: str
    scope: TargetScope
    months: list[date]
    amounts_minor: list[int]
    decimals: int
    submission_id: int | None
    """The new revision's submission, or None when the amounts were already current."""
    created_at: datetime | None
    total_before_minor: int
    """The scope's total over the whole horizon before this revision."""
    total_after_minor: int
    changes: FactChanges | None = field(default=None, repr=False)
    level: bool = False
    """A ratio metric's target: the amounts are levels per month, not parts of a total."""

    @property
    def total_minor(self) -> int:
        return sum(self.amounts_minor)


def set_target(
    ledger: Ledger,
    *,
    metric: str,
    amount: str | Decimal | int,
    months: Sequence[date] | None = None,
    fiscal_year: str | None = None,
    first: str | date | None = None,
    last: str | date | None = None,
    scope: str | TargetScope | None = None,
    profile: str = "even",
    user: str | None = None,
    note: str = "",
) -> TargetSetResult:
    """Phase ``amount`` into months and record it as a new target revision.

    The whole operation is one write transaction: validation, a ``target`` submission and
    the new versions (superseded months closed, never overwritten). Months of the same
    metric and scope outside the given months keep their current amounts. Setting amounts
    that are already current writes nothing (``submission_id`` is None).

    Args:
        amount: the total in the metric's unit: a Decimal, an int, or text as
            :func:`parse_target_amount` reads it (``"120M"``).
        months: the months, or else ``fiscal_year`` or ``first``/``last`` (see
            :func:`target_months`).
        scope: ``programme`` (default), ``unit:PRO``, ``lever:PROC`` or a TargetScope.
        profile: ``even``, ``ramp`` or ``weights:1,1,2,...`` (see :func:`profile_weights`).

    Raises:
        LedgerError: any invalid input (nothing is written).
    """
    if not note or not note.strip():
        raise LedgerError("a target revision needs a --note saying why (e.g. \"board 2026-10\")")
    target_scope = scope if isinstance(scope, TargetScope) else parse_scope(scope)
    with ledger.writing() as conn:
        prog = ledger.programme(conn)
        m = find_metric(ledger, metric, conn)
        target_scope = check_scope(ledger, target_scope, conn)
        months = resolve_months(prog, months, fiscal_year=fiscal_year, first=first, last=last)
        total_minor = parse_target_amount(str(amount), m.decimals)
        from ledger.ratio import ratio_of, ratio_target_levels

        ratio = ratio_of(conn, m)
        # A ratio metric's target is a level per month, not a total (docs/baselines.md).
        parts = (phase_total(total_minor, profile_weights(profile, len(months)))
                 if ratio is None else ratio_target_levels(ledger, conn, ratio, target_scope,
                                                           months, total_minor, profile))
        result = record_revision(
            conn, m, target_scope, list(months), parts, user=user, note=note,
            details={
                "metric": m.code,
                "scope": target_scope.label,
                "from": f"{months[0]:%Y-%m}",
                "to": f"{months[-1]:%Y-%m}",
                "profile": profile,
                ("level" if ratio is not None else "total"): str(from_minor(total_minor,
                                                                            m.decimals)),
            },
        )
        result.level = ratio is not None
        return result


def record_revision(
    conn: Connection,
    metric: MetricInfo,
    scope: TargetScope,
    months: list[date],
    amounts_minor: list[int],
    *,
    user: str | None,
    note: str,
    details: dict[str, object],
) -> TargetSetResult:
    """Write ``amounts_minor`` (one per month) as a new revision of one metric and scope,
    inside the caller's write transaction: a ``target`` submission and the new versions,
    or nothing when the amounts are already current (``submission_id`` None). Months of
    the scope outside ``months`` keep their amounts."""
    frame = pd.DataFrame(
        {
            "metric_id": metric.id,
            "scope_kind": scope.kind,
            "scope_code": scope.code,
            "month": [x.isoformat() for x in months],
            "amount_minor": pd.Series(amounts_minor, dtype="int64"),
        }
    )
    total_before = int(_scope_current(conn, metric.id, scope)["amount_minor"].sum())
    # replace_scope=None: only the given months are written (added or changed); months
    # of this metric and scope outside the range are not part of the diff, so they stay.
    preview = write_targets(conn, frame, 0, replace_scope=None, dry_run=True)
    if preview.count == 0:
        return TargetSetResult(metric.code, scope, months, amounts_minor, metric.decimals,
                               None, None, total_before, total_before, preview)
    sub = new_submission(conn, kind="target", user=current_user(user), note=note.strip(),
                         details=details)
    changes = write_targets(conn, frame, sub.id, replace_scope=None)
    after = _scope_current(conn, metric.id, scope)
    return TargetSetResult(metric.code, scope, months, amounts_minor, metric.decimals, sub.id,
                           sub.created_at, total_before, int(after["amount_minor"].sum()),
                           changes)


def _scope_current(conn: Connection, metric_id: int, scope: TargetScope,
                   as_of: int | None = None) -> pd.DataFrame:
    cur = current_targets(conn, metric_ids=[metric_id], as_of=as_of)
    return cur[(cur["scope_kind"] == scope.kind) & (cur["scope_code"] == scope.code)]


def all_versions(conn: Connection, metric_id: int | None = None, *, table: str = "target",
                 series: str | None = None) -> pd.DataFrame:
    """Every version (current and superseded) of ``table`` (``target``, or ``baseline``
    with its ``series``): the history is small (months x scopes x revisions), so it is
    read whole and summarised in pandas."""
    if table not in ("target", "baseline"):
        raise ValueError(f"not a scoped history table: {table!r}")  # pragma: no cover
    clauses = [f"t.metric_id = {int(metric_id)}"] if metric_id is not None else []
    if series is not None:
        clauses.append("t.series = :series")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    frame = read_frame(
        conn,
        "SELECT t.metric_id, m.code AS metric, m.decimals, t.scope_kind, t.scope_code, "  # noqa: S608  (a constant table name; the metric id int()-formatted; series bound)
        "CAST(t.month AS VARCHAR(10)) AS month, t.amount_minor, t.valid_from, t.valid_to "
        f"FROM {table} t JOIN metric m ON m.id = t.metric_id {where}",
        {"series": series} if series is not None else {},
    )
    for col in ("metric_id", "decimals", "amount_minor", "valid_from", "valid_to"):
        frame[col] = frame[col].astype("int64") if len(frame) else pd.Series(dtype="int64")
    return frame


def _submissions(conn: Connection, ids: Sequence[int]) -> pd.DataFrame:
    if not len(ids):
        return pd.DataFrame(columns=["submission", "kind", "user", "created_at", "note"])
    frame = read_frame_in(
        conn,
        'SELECT id AS submission, kind, "user", created_at, note FROM submission '
        "WHERE id IN :ids", {}, "ids", [int(i) for i in ids],
    )
    frame["submission"] = frame["submission"].astype("int64")
    return frame


def _label(kind: str, code: str) -> str:
    return TargetScope(kind, code).label


def _fmt(minor: int, decimals: int) -> Decimal:
    return from_minor(int(minor), int(decimals))


def _span(months: pd.Series) -> str:
    ordered = sorted(months)
    return f"{ordered[0][:7]}..{ordered[-1][:7]}" if ordered else ""


def target_summary(ledger: Ledger, *, as_of: int | None = None,
                   conn: Connection | None = None) -> pd.DataFrame:
    """Current (or as-of) targets summarised per metric and scope.

    Columns: ``metric, scope, months`` (``2026-07..2027-06``), ``n_months``, ``total``
    (Decimal, the exact sum of the months), ``revision`` (the last submission that changed
    this metric and scope), ``when``, ``who``, ``note``.
    """
    if conn is None:
        with ledger.reading() as c:
            return target_summary(ledger, as_of=as_of, conn=c)
    return summarise_versions(conn, all_versions(conn), as_of)


def summarise_versions(conn: Connection, versions: pd.DataFrame,
                       as_of: int | None) -> pd.DataFrame:
    """:func:`target_summary` of the versions ``versions`` (from :func:`all_versions`)."""
    columns = ["metric", "scope", "months", "n_months", "total", "revision", "when", "who",
               "note"]
    point = OPEN - 1 if as_of is None else as_of
    live = versions[(versions["valid_from"] <= point) & (versions["valid_to"] > point)]
    if live.empty:
        return pd.DataFrame(columns=columns)
    # The last revision of a scope: the newest submission (up to the as-of point) that
    # started or ended one of its versions.
    touched = pd.concat([
        versions[["metric_id", "scope_kind", "scope_code", "valid_from"]]
        .rename(columns={"valid_from": "sub"}),
        versions.loc[versions["valid_to"] != OPEN, ["metric_id", "scope_kind", "scope_code",
                                                     "valid_to"]]
        .rename(columns={"valid_to": "sub"}),
    ])
    touched = touched[touched["sub"] <= point]
    last = touched.groupby(["metric_id", "scope_kind", "scope_code"], as_index=False)["sub"].max()
    grouped = live.groupby(["metric_id", "metric", "decimals", "scope_kind", "scope_code"],
                           as_index=False).agg(
        first=("month", "min"), last=("month", "max"), n_months=("month", "size"),
        total_minor=("amount_minor", "sum"))
    grouped = grouped.merge(last, on=["metric_id", "scope_kind", "scope_code"], how="left")
    subs = _submissions(conn, grouped["sub"].tolist())
    grouped = grouped.merge(subs, left_on="sub", right_on="submission", how="left")
    scope_order = {"programme": 0, "business_unit": 1, "lever": 2}
    grouped = grouped.assign(_o=grouped["scope_kind"].map(scope_order)).sort_values(
        ["metric_id", "_o", "scope_code"])
    out = pd.DataFrame({
        "metric": grouped["metric"].tolist(),
        "scope": [_label(k, c) for k, c in zip(grouped["scope_kind"], grouped["scope_code"],
                                                strict=True)],
        "months": [f"{a[:7]}..{b[:7]}" for a, b in zip(grouped["first"], grouped["last"],
                                                       strict=True)],
        "n_months": grouped["n_months"].astype("int64").tolist(),
        "total": [_fmt(t, d) for t, d in zip(grouped["total_minor"], grouped["decimals"],
                                             strict=True)],
        "revision": grouped["sub"].astype("int64").tolist(),
        "when": grouped["created_at"].tolist(),
        "who": grouped["user"].tolist(),
        "note": grouped["note"].tolist(),
    }, columns=columns)
    out["total"] = out["total"].astype(object)
    return out


def target_by_month(ledger: Ledger, *, metric: str, scope: str | TargetScope | None = None,
                    as_of: int | None = None, conn: Connection | None = None) -> pd.DataFrame:
    """The target of ``metric`` and ``scope`` per month, now or as of submission ``as_of``.

    Columns: ``month`` (``YYYY-MM``), ``amount`` (Decimal), ``amount_minor`` (int),
    ``revision`` (the submission that wrote the month's amount).

    Raises:
        NotFound: unknown metric, unit or lever (the closest known code is suggested).
    """
    if conn is None:
        with ledger.reading() as c:
            return target_by_month(ledger, metric=metric, scope=scope, as_of=as_of, conn=c)
    target_scope = scope if isinstance(scope, TargetScope) else parse_scope(scope)
    m = find_metric(ledger, metric, conn)
    target_scope = check_scope(ledger, target_scope, conn)
    rows = _scope_current(conn, m.id, target_scope, as_of).sort_values("month")
    return pd.DataFrame({
        "month": [str(x)[:7] for x in rows["month"]],
        "amount": pd.Series([_fmt(a, m.decimals) for a in rows["amount_minor"]], dtype=object),
        "amount_minor": rows["amount_minor"].astype("int64").tolist(),
        "revision": rows["valid_from"].astype("int64").tolist(),
    })


def target_total(conn: Connection, metric_id: int, scope: TargetScope, first: date,
                 last: date) -> int | None:
    """The current target of one metric and scope summed over the months ``first`` to
    ``last``, in minor units (None: no month of it has a target). ``scope``'s code must be
    spelled as stored (as :func:`check_scope` returns it)."""
    row = conn.execute(text(
        "SELECT COUNT(*), SUM(amount_minor) FROM target WHERE metric_id = :m "
        "AND scope_kind = :k AND scope_code = :c AND valid_to = :open "
        "AND month >= :first AND month <= :last"),
        {"m": int(metric_id), "k": scope.kind, "c": scope.code, "open": OPEN,
         "first": first, "last": last}).one()
    return int(row[1]) if int(row[0]) else None


def target_revisions(ledger: Ledger, *, metric: str, scope: str | TargetScope | None = None,
                     conn: Connection | None = None) -> pd.DataFrame:
    """Every revision of ``metric`` and ``scope``, oldest first.

    A revision is any submission that started or ended a version of this metric and scope
    (``tledger target set``, a targets workbook import). Columns: ``submission, kind,
    when, who, note, months`` (the months it wrote, ``2026-07..2027-06``), ``months_changed``,
    ``total_before``, ``total_after``, ``change`` (Decimals over the whole horizon;
    ``change == total_after - total_before`` exactly).
    """
    if conn is None:
        with ledger.reading() as c:
            return target_revisions(ledger, metric=metric, scope=scope, conn=c)
    target_scope = scope if isinstance(scope, TargetScope) else parse_scope(scope)
    m = find_metric(ledger, metric, conn)
    target_scope = check_scope(ledger, target_scope, conn)
    return scope_revisions(conn, all_versions(conn, m.id), target_scope, m.decimals)


def scope_revisions(conn: Connection, versions: pd.DataFrame, scope: TargetScope,
                    decimals: int) -> pd.DataFrame:
    """:func:`target_revisions` of one scope's versions among ``versions`` (from
    :func:`all_versions`, one metric)."""
    versions = versions[(versions["scope_kind"] == scope.kind)
                        & (versions["scope_code"] == scope.code)]
    columns = ["submission", "kind", "when", "who", "note", "months", "months_changed",
               "total_before", "total_after", "change"]
    if versions.empty:
        return pd.DataFrame(columns=columns)
    ends = versions.loc[versions["valid_to"] != OPEN, "valid_to"]
    revs = np.array(sorted(set(versions["valid_from"].tolist()) | set(ends.tolist())),
                    dtype="int64")
    vf = versions["valid_from"].to_numpy()[:, None]
    vt = versions["valid_to"].to_numpy()[:, None]
    amounts = [int(a) for a in versions["amount_minor"]]
    # valid at S: valid_from <= S < valid_to; valid just before S: valid_from < S <= valid_to
    after_mask = (vf <= revs[None, :]) & (revs[None, :] < vt)
    before_mask = (vf < revs[None, :]) & (revs[None, :] <= vt)
    # Python ints so a sum can never overflow int64, however large the amounts.
    after = [sum(a for a, keep in zip(amounts, col, strict=True) if keep) for col in after_mask.T]
    before = [sum(a for a, keep in zip(amounts, col, strict=True) if keep)
              for col in before_mask.T]
    subs = _submissions(conn, revs.tolist()).set_index("submission")
    rows = []
    for i, s in enumerate(revs.tolist()):
        written = versions[versions["valid_from"] == s]["month"]
        ended = versions[versions["valid_to"] == s]["month"]
        touched = pd.concat([written, ended]).drop_duplicates()
        info = subs.loc[s]
        rows.append({
            "submission": s,
            "kind": info["kind"],
            "when": info["created_at"],
            "who": info["user"],
            "note": info["note"],
            "months": _span(touched),
            "months_changed": len(touched),
            "total_before": _fmt(before[i], decimals),
            "total_after": _fmt(after[i], decimals),
            "change": _fmt(after[i] - before[i], decimals),
        })
    return pd.DataFrame(rows, columns=columns)


def resolve_as_of(conn: Connection, text: str | None) -> int | None:
    """An ``--as-of`` value as a submission id (None: now); the forms of :mod:`ledger.asof`.

    Raises:
        LedgerError: not a submission id, date or date-time, or an unknown submission.
    """
    point = parse_as_of(text)
    return None if point is None else submission_at(conn, point)[0]

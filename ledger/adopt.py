"""Adopt the bottom-up as the target.

Once implementation planning is complete, the company often works to the sum of its
initiatives instead of the top-down figure it started from. :func:`adopt_target` records a
target revision equal, month by month and to the minor unit, to the bottom-up of one metric
and scope (``programme``, ``unit:PRO`` or ``lever:PROC``) as the ledger stands (or stood at
``as_of``). It is an ordinary revision: the earlier top-down stays on record
(``tledger target show --history``), and ``tledger gap --target-as-of`` reads the targets as
they stood before it.

Every month of the programme's horizon is written, zero months included, so after the
adoption the scope's gap is zero in every month (for the same scenario, weighting and
as-of). A bottom-up of zero in every month is refused: there is nothing to adopt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ledger.api import Ledger
from ledger.engine import gap
from ledger.errors import LedgerError
from ledger.money import from_minor, to_minor
from ledger.targets import TargetSetResult, check_scope, find_metric, record_revision
from ledger.vocabulary import TargetScope, check_scenario, parse_scope


@dataclass(frozen=True)
class AdoptResult:
    """What :func:`adopt_target` did: the revision and the bottom-up it was taken from."""

    revision: TargetSetResult
    scenario: str
    weighted: bool
    bottom_up_submission: int
    """The last submission whose phasing the adopted bottom-up includes."""


def adopt_target(
    ledger: Ledger,
    *,
    metric: str,
    note: str,
    scope: str | TargetScope | None = None,
    scenario: str = "plan",
    weighted: bool = False,
    as_of: datetime | date | int | str | None = None,
    user: str | None = None,
) -> AdoptResult:
    """Record the bottom-up of ``metric`` in ``scope`` as its new target revision.

    One write transaction: the bottom-up is read inside it (so no import can slip in
    between reading and writing), then written as a ``target`` submission whose details
    say it was adopted (scenario, weighting, the bottom-up's submission).

    Raises:
        LedgerError: no note, unknown metric, scope or scenario, or a bottom-up of zero in
            every month (nothing written).
    """
    if not note or not note.strip():
        raise LedgerError("an adoption needs a --note saying why (e.g. \"plans complete, "
                          "steerco 2026-11\")")
    check_scenario(scenario)
    wanted = scope if isinstance(scope, TargetScope) else parse_scope(scope)
    with ledger.writing() as conn:
        m = find_metric(ledger, metric, conn)
        target_scope = check_scope(ledger, wanted, conn)
        by = None if target_scope.kind == "programme" else target_scope.kind
        report = gap(ledger, metric=m.code, scenario=scenario, by=by, weighted=weighted,
                     as_of=as_of, conn=conn)
        rows = (report.programme_monthly if by is None
                else report.monthly[report.monthly["part"] == target_scope.code])
        months = [date.fromisoformat(str(x)) if isinstance(x, str) else x
                  for x in rows["month"]]
        amounts = [to_minor(v, m.decimals) for v in rows["bottom_up"]]
        if not any(amounts):
            raise LedgerError(
                f"nothing to adopt: the {'weighted ' if weighted else ''}{scenario} bottom-up "
                f"of {m.code} in {target_scope.label} is zero in every month")
        total = sum(amounts)
        revision = record_revision(
            conn, m, target_scope, months, amounts, user=user, note=note,
            details={
                "metric": m.code,
                "scope": target_scope.label,
                "from": f"{months[0]:%Y-%m}",
                "to": f"{months[-1]:%Y-%m}",
                "adopted": scenario,
                "weighted": weighted,
                "bottom_up_submission": report.as_of_submission,
                "total": str(from_minor(total, m.decimals)),
            },
        )
    return AdoptResult(revision, scenario, weighted, report.as_of_submission)

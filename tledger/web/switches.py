"""The GET switches the dashboard and the reports pages share: metric, scenario, weighted,
as-of, breakdown, fiscal year and view, each checked with a one-line error.

The values are handed to the same ledger calls ``tledger gap`` makes with the same
arguments (``--metric``, ``--scenario``, ``--weighted``, ``--as-of``, ``--by``,
``--fiscal-year``), so a page and the CLI cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from ledger.api import MetricInfo, ProgrammeInfo
from ledger.asof import parse_as_of
from ledger.engine import BREAKDOWNS
from ledger.errors import LedgerError
from ledger.months import MonthError, fiscal_year, fiscal_year_label, parse_fiscal_year
from ledger.vocabulary import check_scenario

#: How ``weighted`` may be written in a query string (a checkbox sends ``on``).
_YES = {"1", "on", "yes", "true"}
_NO = {"", "0", "off", "no", "false"}
#: Views: months and fiscal years, or fiscal years only.
VIEWS = ("monthly", "fiscal")
#: Longest switch value echoed back in an error.
_ECHO = 40


@dataclass(frozen=True)
class Switches:
    """One choice of what the dashboard shows (defaults: the CLI's)."""

    metric: str
    scenario: str = "plan"
    weighted: bool = False
    as_of: str = ""
    """A date, an ISO datetime or a submission id, as ``tledger gap --as-of`` takes; ""
    for now."""
    by: str | None = None
    fiscal_year: str = ""
    """``FY27`` or "" for the whole horizon."""
    view: str = "monthly"

    def query(self, **changes: Any) -> str:
        """These switches (with ``changes``) as a query string, defaults left out."""
        chosen = replace(self, **changes) if changes else self
        pairs = {"metric": chosen.metric, "scenario": chosen.scenario,
                 "weighted": "1" if chosen.weighted else "", "as_of": chosen.as_of,
                 "by": chosen.by or "", "fy": chosen.fiscal_year,
                 "view": "" if chosen.view == "monthly" else chosen.view}
        return urlencode({k: v for k, v in pairs.items() if v})

    @property
    def gap_args(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ledger.engine.gap` for these switches (no ``by``)."""
        return {"metric": self.metric, "scenario": self.scenario, "weighted": self.weighted,
                "as_of": self.as_of or None, "fiscal_year": self.fiscal_year or None}


def _one(params: Mapping[str, str], name: str, default: str = "") -> str:
    return str(params.get(name, default)).strip()


def parse_switches(params: Mapping[str, str], metrics: Sequence[MetricInfo]) -> Switches:
    """The switches in a query string. Unknown parameters are ignored.

    Raises:
        LedgerError: an unknown metric, scenario, breakdown or view, a weighted flag that is
            not yes or no, an as-of that is not a date, datetime or submission id, or a
            fiscal year that is not like FY27; one line naming what is accepted.
    """
    codes = [m.code for m in metrics]
    metric = _one(params, "metric") or (codes[0] if codes else "")
    if metric not in codes:
        raise LedgerError(f"metric {metric[:_ECHO]!r}: expected one of {', '.join(codes)}")
    scenario = check_scenario(_one(params, "scenario") or "plan")
    weighted_text = _one(params, "weighted").lower()
    if weighted_text not in _YES | _NO:
        raise LedgerError(f"weighted {weighted_text[:_ECHO]!r}: expected 1 or 0 (yes or no)")
    by = _one(params, "by") or None
    if by is not None and by not in BREAKDOWNS:
        raise LedgerError(f"breakdown {by[:_ECHO]!r}: expected one of {', '.join(BREAKDOWNS)}")
    view = _one(params, "view") or "monthly"
    if view not in VIEWS:
        raise LedgerError(f"view {view[:_ECHO]!r}: expected one of {', '.join(VIEWS)}")
    as_of = _one(params, "as_of")
    parse_as_of(as_of[:60])  # a bad one is one line here, before any reading
    fiscal_year = _one(params, "fy")
    if fiscal_year:
        try:
            fiscal_year = fiscal_year_label(parse_fiscal_year(fiscal_year))
        except MonthError as exc:
            raise LedgerError(f"fiscal year {fiscal_year[:_ECHO]!r}: {exc}") from None
    return Switches(metric=metric, scenario=scenario, weighted=weighted_text in _YES,
                    as_of=as_of, by=by, fiscal_year=fiscal_year, view=view)


def fiscal_years(prog: ProgrammeInfo) -> list[str]:
    """The labels of the fiscal years the programme's horizon touches, in order."""
    return list(dict.fromkeys(fiscal_year_label(fiscal_year(m, prog.fy_start_month))
                              for m in prog.months))

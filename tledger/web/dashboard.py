"""The dashboard: the programme's gap for one metric and scenario, month by month and by
fiscal year, a chart of cumulative target against bottom-up, a breakdown with a drill-down
to each part's initiatives.

Every figure is read from :func:`ledger.engine.gap` with the arguments ``tledger gap``
takes (:mod:`tledger.web.switches`), in one read transaction with the coverage thresholds,
and shown as the CLI formats it; the RAG colour of a coverage is
:func:`ledger.reconcile.coverage_rag`, the rule the Excel report applies. A ratio metric
(a unit cost) is read from :func:`ledger.ratio.ratio_gap` instead
(:func:`build_ratio_dashboard`): levels, money gap, numerator and denominator per month
and fiscal year, unit rows or contributions, as ``tledger gap --metric`` prints them.

Routes: ``/dashboard`` (every role; the home page of office and finance) and
``/dashboard/initiatives?by=..&part=..`` (the drill-down; an owner sees only their own
initiatives there, and may not break the programme down by owner).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.errors import LedgerError
from ledger.grid import owner_initiative_ids
from ledger.initiatives import current_initiatives
from ledger.money import from_minor
from ledger.phasing import phasing_sums
from ledger.ratio import ratio_metric_codes
from ledger.reconcile import HORIZON, UNALLOCATED, coverage_rag
from ledger.store import last_submission_id
from tledger.web.context import ALL_ROLES, Forbidden, Web, owner_of
from tledger.web.switches import Switches, fiscal_years, parse_switches

if TYPE_CHECKING:
    import pandas as pd

    from ledger.engine import GapReport
    from ledger.ratio import RatioReport

#: Column keys and headings of the month table, the fiscal-year table and the breakdown.
MONTHLY = [("target", "Target"), ("bottom_up", "Bottom-up"), ("gap", "Gap"),
           ("cumulative_target", "Cum. target"), ("cumulative_bottom_up", "Cum. bottom-up"),
           ("cumulative_gap", "Cum. gap"), ("coverage", "Coverage")]
FISCAL = [("target", "Target"), ("bottom_up", "Bottom-up"), ("gap", "Gap"),
          ("coverage", "Coverage"), ("exit_run_rate", "Exit run-rate"),
          ("target_exit_run_rate", "Target run-rate")]
BREAKDOWN = [("target", "Target"), ("bottom_up", "Bottom-up"), ("gap", "Gap"),
             ("coverage", "Coverage")]
UNWEIGHTED = ("bottom_up_unweighted", "Bottom-up (unweighted)")
#: The breakdowns' names on the page, and the initiative column each part is read from.
BY_LABELS = {"business_unit": "business unit", "lever": "lever", "stage": "stage gate",
             "owner": "owner"}


def coverage_text(value: Decimal | None) -> str:
    """A coverage as ``tledger gap`` prints it (one decimal of a percent)."""
    return "" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Figure:
    """One cell: the exact value (``data-value``), its text as the CLI prints it, a class."""

    value: str
    text: str
    css: str = "num"
    title: str = ""
    """Why a figure is missing ("n/a"), shown as the cell's tooltip."""


@dataclass
class Line:
    """One row: a month, a fiscal year or the horizon (of one part, in the breakdown)."""

    period: str
    label: str
    figures: list[Figure]
    part: str = ""


@dataclass
class Table:
    columns: list[tuple[str, str]]
    lines: list[Line] = field(default_factory=list)


@dataclass
class Dashboard:
    programme: ProgrammeInfo
    switches: Switches
    metric: MetricInfo
    metrics: list[MetricInfo]
    ratio_metrics: list[str]
    fiscal_years: list[str]
    title: str
    as_of_text: str
    thresholds: tuple[Decimal, Decimal]
    monthly: Table
    fiscal: Table
    breakdown: Table | None
    chart: str
    """The chart's data as JSON, safe inside ``<script type="application/json">``."""
    newest: int
    """The ledger's newest submission when the figures were read."""
    ratio: RatioView | None = None
    """A ratio metric's extra tables (its ``monthly`` and ``fiscal`` hold the levels)."""


@dataclass
class RatioView:
    """What a ratio metric (a unit cost) adds to the dashboard: its formula and units, and
    the breakdown as unit rows (which do not add up) or as contributions (which do)."""

    label: str
    """``benefit / volume``."""
    numerator_unit: str
    denominator_unit: str
    units: Table | None = None
    """``by=business_unit``: each unit's fiscal rows against its own baselines."""
    contributions: Table | None = None
    """``by`` lever, stage or owner: each part's contribution per fiscal year and horizon,
    the programme's row first."""


def _figure(col: str, value: Any, rag: tuple[str, Decimal, Decimal]) -> Figure:
    if col == "coverage":
        kind, red, amber = rag
        colour = coverage_rag(value, kind, red, amber)
        return Figure("" if value is None else str(value), coverage_text(value),
                      f"num rag-{colour.lower()}" if colour else "num")
    return Figure(str(value), f"{value:,}")


def _lines(frame: pd.DataFrame, columns: list[tuple[str, str]], period_col: str,
           rag: tuple[str, Decimal, Decimal]) -> list[Line]:
    lines = []
    for rec in frame.to_dict("records"):
        period = rec[period_col]
        key, label = ((f"{period:%Y-%m}", f"{period:%b-%y}") if period_col == "month"
                      else (str(period), str(period)))
        lines.append(Line(key, label, [_figure(col, rec[col], rag) for col, _ in columns],
                          str(rec["part"])))
    return lines


def _with_unweighted(columns: list[tuple[str, str]], weighted: bool) -> list[tuple[str, str]]:
    if not weighted:
        return columns
    at = [c for c, _ in columns].index("bottom_up") + 1
    return [*columns[:at], UNWEIGHTED, *columns[at:]]


def script_json(data: dict[str, Any]) -> str:
    """``data`` as JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and
    ``&`` escaped so the text cannot end its script element."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_json(rep: GapReport) -> str:
    """Cumulative target and bottom-up per month as JSON for ``static/dashboard.js``:
    amounts as exact decimal strings (the browser turns them into pixels, nothing else),
    ``<``, ``>`` and ``&`` escaped so the text cannot end its script element."""
    frame = rep.programme_monthly
    data = {"labels": [f"{m:%b-%y}" for m in frame["month"]],
            "target": [str(v) for v in frame["cumulative_target"]],
            "bottom_up": [str(v) for v in frame["cumulative_bottom_up"]],
            "target_label": "Cumulative target",
            "bottom_up_label": "Cumulative bottom-up" + (" (weighted)" if rep.weighted else ""),
            "unit": rep.metric.unit}
    return script_json(data)


def build_dashboard(ledger: Ledger, switches: Switches, *, owner: str | None) -> Dashboard:
    """The dashboard's tables for ``switches``, read in one snapshot (a ratio metric's by
    :func:`build_ratio_dashboard`).

    Raises:
        LedgerError: a bad as-of or fiscal year, a breakdown a ratio metric lacks.
        Forbidden: an owner asking for the breakdown by owner.
    """
    from ledger.engine import gap

    check_breakdown(switches, owner)
    with ledger.reading() as conn:
        metrics = ledger.metrics(conn)
        ratios = ratio_metric_codes(conn, [m.id for m in metrics])
        if switches.metric in ratios:
            return build_ratio_dashboard(ledger, conn, switches, metrics, ratios)
        rep = gap(ledger, by=switches.by, conn=conn, **switches.gap_args)
        red, amber = ledger.coverage_thresholds(conn, as_of=rep.as_of_submission)
    rag = (rep.metric.kind, red, amber)
    breakdown = None
    if rep.by is not None:
        breakdown = Table(_with_unweighted(BREAKDOWN, rep.weighted))
        breakdown.lines = _lines(rep.fiscal, breakdown.columns, "period", rag)
    monthly = Table(_with_unweighted(MONTHLY, rep.weighted))
    monthly.lines = _lines(rep.programme_monthly, monthly.columns, "month", rag)
    fiscal = Table(_with_unweighted(FISCAL, rep.weighted))
    fiscal.lines = _lines(rep.programme_fiscal, fiscal.columns, "period", rag)
    when = (f"as of {rep.as_of:%Y-%m-%d %H:%M} UTC (submission {rep.as_of_submission})"
            if rep.as_of else f"current (submission {rep.as_of_submission})")
    title = (f"{rep.metric.code} ({rep.metric.unit}) {rep.scenario}"
             + (", risk-weighted" if rep.weighted else "")
             + (f", by {BY_LABELS[rep.by]}" if rep.by else ""))
    prog = rep.programme
    return Dashboard(prog, switches, rep.metric, metrics, ratios, fiscal_years(prog), title,
                     when, (red, amber), monthly, fiscal, breakdown, chart_json(rep),
                     rep.last_submission_id)


# --------------------------------------------------------------------------- ratio metrics

#: A ratio metric's period columns (levels in the ratio's unit, money gap and numerator in
#: the numerator's, denominator in its own), as :func:`ledger.ratio.ratio_gap` gives them.
RATIO_COLUMNS = [("baseline_level", "Baseline level"), ("target", "Target"),
                 ("implied", "Implied"), ("gap", "Gap"), ("money_gap", "Money gap"),
                 ("numerator", "Numerator"), ("denominator", "Denominator")]
CONTRIBUTION = [("savings", "Savings"), ("uplift", "Uplift"),
                ("contribution", "Contribution")]
#: Why a ratio figure can be missing: shown as the "n/a" cell's title.
NOT_AVAILABLE = {
    "baseline_level": "no baseline of the numerator or the denominator in every month",
    "target": "no target level, baseline or volume in every month",
    "implied": "no baseline of the numerator or the denominator, or no volume",
    "gap": "no target or no implied level",
    "money_gap": "no target or no implied level in every month",
    "numerator": "no baseline of the numerator in every month",
    "denominator": "no baseline of the denominator in every month",
    "contribution": "no baseline or no volume in the period",
}


def _ratio_figure(col: str, value: Any) -> Figure:
    if value is None:
        return Figure("", "n/a", "num na", NOT_AVAILABLE.get(col, "not computable"))
    return Figure(str(value), f"{value:,}")


def _ratio_lines(frame: pd.DataFrame, columns: list[tuple[str, str]], period_col: str
                 ) -> list[Line]:
    lines = []
    for rec in frame.to_dict("records"):
        period = rec[period_col]
        key, label = ((f"{period:%Y-%m}", f"{period:%b-%y}") if period_col == "month"
                      else (str(period), str(period)))
        lines.append(Line(key, label, [_ratio_figure(c, rec[c]) for c, _ in columns],
                          str(rec["part"])))
    return lines


def ratio_chart_json(rep: RatioReport) -> str:
    """The programme's monthly target and implied levels as JSON for ``static/dashboard.js``
    (exact decimal strings; null where a level is not computable)."""
    from ledger.ratio import PROGRAMME_PART

    frame = rep.monthly[rep.monthly["part"] == PROGRAMME_PART]
    data = {"labels": [f"{m:%b-%y}" for m in frame["month"]],
            "target": [None if v is None else str(v) for v in frame["target"]],
            "bottom_up": [None if v is None else str(v) for v in frame["implied"]],
            "target_label": "Target level",
            "bottom_up_label": "Implied level" + (" (weighted)" if rep.weighted else ""),
            "unit": rep.ratio.metric.unit, "decimals": rep.ratio.metric.decimals}
    return script_json(data)


def build_ratio_dashboard(ledger: Ledger, conn: Connection, switches: Switches,
                          metrics: list[MetricInfo], ratios: list[str]) -> Dashboard:
    """A ratio metric's dashboard from :func:`ledger.ratio.ratio_gap` (what ``tledger gap
    --metric`` prints), read inside ``conn``'s snapshot.

    Raises:
        LedgerError: a breakdown the ratio gap does not support, a bad as-of or year.
    """
    from ledger.ratio import CONTRIBUTION_BREAKDOWNS, PROGRAMME_PART, ratio_gap

    rep = ratio_gap(ledger, by=switches.by, conn=conn, **switches.gap_args)
    newest = last_submission_id(conn)
    red, amber = ledger.coverage_thresholds(conn, as_of=rep.as_of_submission)
    ratio = rep.ratio
    mine = rep.monthly["part"] == PROGRAMME_PART
    monthly = Table(RATIO_COLUMNS, _ratio_lines(rep.monthly[mine], RATIO_COLUMNS, "month"))
    ours = rep.fiscal["part"] == PROGRAMME_PART
    fiscal = Table(RATIO_COLUMNS, _ratio_lines(rep.fiscal[ours], RATIO_COLUMNS, "period"))
    view = RatioView(ratio.label, ratio.numerator.unit, ratio.denominator.unit)
    if rep.by == "business_unit":
        view.units = Table(RATIO_COLUMNS,
                           _ratio_lines(rep.fiscal[~ours], RATIO_COLUMNS, "period"))
    elif rep.by in CONTRIBUTION_BREAKDOWNS and rep.contributions is not None:
        frame = rep.contributions
        periods = ~frame["period"].str.match(r"^\d{4}-\d{2}$")
        view.contributions = Table(CONTRIBUTION,
                                   _ratio_lines(frame[periods], CONTRIBUTION, "period"))
    when = (f"as of {switches.as_of} (submission {rep.as_of_submission})" if switches.as_of
            else f"current (submission {rep.as_of_submission})")
    title = (f"{ratio.metric.code} ({ratio.metric.unit}) = {ratio.label} {rep.scenario}"
             + (", risk-weighted" if rep.weighted else "")
             + (f", by {BY_LABELS[rep.by]}" if rep.by else ""))
    return Dashboard(rep.programme, switches, ratio.metric, metrics, ratios,
                     fiscal_years(rep.programme), title, when, (red, amber), monthly, fiscal,
                     None, ratio_chart_json(rep), newest, view)


def check_breakdown(switches: Switches, owner: str | None) -> None:
    """Owners see the programme's gap by unit, lever and stage, not other owners' totals.

    Raises:
        Forbidden: an owner asking for the breakdown by owner.
    """
    if owner is not None and switches.by == "owner":
        raise Forbidden("the breakdown by owner is for the office and finance")


class RecentDashboards:
    """The dashboards built lately, by switches and the ledger's newest submission when
    they were read: one asked for again before anything new is written is not read again,
    and requests for the same one at the same time wait for a single build. Nothing is
    served that a later submission could have changed (the key holds the newest
    submission, checked on every request). Per process; thread-safe."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._built: OrderedDict[tuple[Switches, int], Dashboard] = OrderedDict()
        self._building: dict[tuple[Switches, int], threading.Event] = {}

    def get(self, switches: Switches, newest: int,
            build: Callable[[], Dashboard]) -> Dashboard:
        """The dashboard of ``switches`` at submission ``newest``, built by ``build`` (which
        reads the ledger now) unless built already."""
        key = (switches, newest)
        while True:
            with self._lock:
                if key in self._built:
                    self._built.move_to_end(key)
                    return self._built[key]
                waiting = self._building.get(key)
                if waiting is None:
                    self._building[key] = threading.Event()
            if waiting is None:
                break
            waiting.wait()  # another request builds it; if it failed, build it here
        try:
            board = build()
            with self._lock:
                # Read at ``newest`` or later: as current as the request that asked for it.
                self._built[key] = self._built[(switches, board.newest)] = board
                while len(self._built) > self._size:
                    self._built.popitem(last=False)
            return board
        finally:
            with self._lock:
                self._building.pop(key).set()


# --------------------------------------------------------------------------- drill-down

#: The column of :func:`ledger.initiatives.current_initiatives` each breakdown reads.
PART_COLUMNS = {"business_unit": "business_unit", "lever": "lever", "stage": "stage",
                "owner": "owner"}


def _part_of(value: Any) -> str:
    return value if isinstance(value, str) and value else UNALLOCATED


def part_initiatives(ledger: Ledger, conn: Connection, *, by: str, part: str,
                     metric: MetricInfo, scenario: str, owner: str | None
                     ) -> list[dict[str, Any]]:
    """The active initiatives of one breakdown part as they stand now (``owner``'s only,
    when given), each with its bottom-up of ``metric`` and ``scenario`` over the horizon."""
    prog = ledger.programme(conn)
    ids = None if owner is None else owner_initiative_ids(conn, owner, active=True)
    cur = current_initiatives(conn, initiative_ids=ids)
    cur = cur[cur["status"] == "active"]
    column = PART_COLUMNS[by]
    rows = [rec for rec in cur.to_dict("records") if _part_of(rec[column]) == part]
    sums = phasing_sums(conn, [int(r["initiative_id"]) for r in rows], metric.id,
                        [scenario], prog.first_month, prog.last_month) if rows else {}
    return [{"external_id": r["external_id"], "name": r["name"], "owner": r["owner"],
             "unit": r["business_unit"] if isinstance(r["business_unit"], str) else "",
             "lever": r["lever"] if isinstance(r["lever"], str) else "",
             "stage": r["stage"],
             "amount": from_minor(sums.get((int(r["initiative_id"]), scenario), 0),
                                  metric.decimals)}
            for r in rows]


# --------------------------------------------------------------------------- routes


def routes(web: Web) -> list[BaseRoute]:
    """``/dashboard`` and its drill-down, for every role."""

    def switches_of(request: Request) -> Switches:
        with web.ledger.reading() as conn:
            metrics = web.ledger.metrics(conn)
        return parse_switches(request.query_params, metrics)

    recent = RecentDashboards()

    def dashboard(request: Request, session: Session, form: FormData | None) -> Response:
        switches = switches_of(request)
        owner = owner_of(session)
        check_breakdown(switches, owner)
        with web.ledger.reading() as conn:
            newest = last_submission_id(conn)
        board = recent.get(switches, newest,
                           lambda: build_dashboard(web.ledger, switches, owner=owner))
        return web.render("dashboard.html", session=session, prog=board.programme, board=board,
                          sw=switches, by_labels=BY_LABELS, horizon=HORIZON,
                          title="Dashboard")

    def drill(request: Request, session: Session, form: FormData | None) -> Response:
        switches = switches_of(request)
        owner = owner_of(session)
        if switches.by is None:
            raise LedgerError("by: choose the breakdown the part belongs to (business_unit, "
                              "lever, stage or owner)")
        check_breakdown(switches, owner)
        part = request.query_params.get("part", "").strip()
        if not part:
            raise LedgerError("part: name the part to list, e.g. part=PRO")
        with web.ledger.reading() as conn:
            prog = web.ledger.programme(conn)
            metric = web.ledger.metric(switches.metric, conn)
            rows = part_initiatives(web.ledger, conn, by=switches.by, part=part,
                                    metric=metric, scenario=switches.scenario, owner=owner)
        total = sum((r["amount"] for r in rows), Decimal(0).scaleb(-metric.decimals))
        return web.render("dashboard_initiatives.html", session=session, prog=prog,
                          rows=rows, total=total, part=part, metric=metric, sw=switches,
                          by_label=BY_LABELS[switches.by],
                          title=f"Initiatives: {BY_LABELS[switches.by]} {part}")

    return [
        Route("/dashboard", web.page(dashboard, roles=ALL_ROLES)),
        Route("/dashboard/initiatives", web.page(drill, roles=ALL_ROLES)),
    ]

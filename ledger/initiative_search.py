"""One page of the initiative list: filtered, searched, sorted and paginated in SQL.

The web's ``/initiatives`` reads through :func:`list_page`: the filters of ``tledger
initiative list`` (business unit, lever, stage gate, owner, status, a search text) become
one ``WHERE``, the sort an ``ORDER BY`` with the external id as tie-break, and the page a
``LIMIT``/``OFFSET``; only the page's rows are read. Amounts (this fiscal year's plan and
forecast and the plan over every month, of the first metric, as the CLI's ``total``) are
summed by the database as integers: for the page's initiatives through the per-initiative
index, and once more over every matching initiative for the totals row. Only a sort by an
amount makes the database sum every matching initiative's phasing before it pages.

Owners match trimmed and case-insensitively, as everywhere in the ledger: the few current
spellings are read and folded here, then matched exactly in SQL. The search folds case in
the database (``casefold`` registered on SQLite connections, ``LOWER`` on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from ledger.api import Ledger, MetricInfo
from ledger.errors import LedgerError, NotFound
from ledger.initiative_admin import _code
from ledger.models import INITIATIVE_STATUSES, OPEN
from ledger.money import from_minor
from ledger.store import read_frame
from ledger.vocabulary import did_you_mean

#: Rows per page unless asked, and the most a page shows.
DEFAULT_PER, MAX_PER = 50, 500
#: Above this many matching initiatives, their sums scan the phasing of the metric (one
#: pass over a covering index) instead of seeking each initiative's rows.
SCAN_ABOVE = 200
#: The amount columns: this fiscal year's plan and forecast, the plan over every month.
AMOUNTS = ("fy_plan", "fy_forecast", "total")
#: What a list can be sorted by -> its SQL (unset unit or lever sort as empty text).
SORTS = {
    "id": "i.external_id",
    "name": "v.name",
    "owner": "v.owner",
    "unit": "COALESCE(bu.code, '')",
    "lever": "COALESCE(lv.code, '')",
    "stage": "sg.ordinal",
    "status": "v.status",
    **{a: f"COALESCE(a.{a}, 0)" for a in AMOUNTS},
}
_FROM = ("FROM initiative_version v JOIN initiative i ON i.id = v.initiative_id "
         "JOIN stage_gate sg ON sg.id = v.stage_gate_id "
         "LEFT JOIN business_unit bu ON bu.id = v.business_unit_id "
         "LEFT JOIN lever lv ON lv.id = v.lever_id")


@dataclass(frozen=True)
class ListQuery:
    """What the list shows. ``status`` None lists both; ``owner`` is matched trimmed and
    case-insensitively; ``search`` is text in the id, name, owner or description."""

    unit: str | None = None
    lever: str | None = None
    stage: str | None = None
    owner: str | None = None
    status: str | None = "active"
    search: str | None = None
    sort: str = "id"
    descending: bool = False
    page: int = 1
    per: int = DEFAULT_PER


@dataclass(frozen=True)
class ListPage:
    """One page of matching initiatives (``rows``: id, name, owner, unit, lever, stage,
    status and the :data:`AMOUNTS` as Decimals) and the sums over every match."""

    rows: list[dict[str, Any]]
    matched: int
    page: int
    """The page shown: the one asked for, kept between 1 and the last page."""
    per: int
    sums: dict[str, Decimal]
    metric: MetricInfo

    @property
    def pages(self) -> int:
        return max(1, -(-self.matched // self.per))

    @property
    def first(self) -> int:
        """The 1-based position of the page's first row (0 when nothing matched)."""
        return (self.page - 1) * self.per + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _fold(value: object) -> str:
    return str(value or "").strip().casefold()


def owner_spellings(conn: Connection, owner: str) -> list[str]:
    """Every current spelling of ``owner`` (trimmed, case ignored)."""
    rows = conn.execute(text("SELECT DISTINCT owner FROM initiative_version "
                             "WHERE valid_to = :open"), {"open": OPEN}).scalars()
    return sorted(str(o) for o in rows if _fold(o) == _fold(owner))


def current_owners(conn: Connection) -> list[str]:
    """The owners of current initiatives, one spelling each, sorted case-insensitively."""
    rows = conn.execute(text("SELECT DISTINCT owner FROM initiative_version "
                             "WHERE valid_to = :open"), {"open": OPEN}).scalars()
    by_fold: dict[str, str] = {}
    for name in sorted(str(o) for o in rows):
        by_fold.setdefault(_fold(name), name)
    return sorted(by_fold.values(), key=_fold)


def _like(conn: Connection, needle: str) -> tuple[str, str]:
    """The SQL that folds a column's case and the ``LIKE`` pattern for ``needle``."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if conn.dialect.name == "sqlite":
        return "casefold", f"%{escaped.casefold()}%"
    return "LOWER", f"%{escaped.lower()}%"


def _where(ledger: Ledger, conn: Connection, query: ListQuery, only_owner: str | None
           ) -> tuple[str, dict[str, Any], list[str]] | None:
    """The WHERE, its parameters and list parameters; None when nothing can match."""
    clauses = [f"v.valid_to = {OPEN}"]
    params: dict[str, Any] = {}
    lists: list[str] = []
    if query.status is not None:
        status = query.status.strip().lower()
        if status not in INITIATIVE_STATUSES:
            raise LedgerError(f"status {query.status[:40]!r}: expected "
                              f"{', '.join(INITIATIVE_STATUSES)} or all")
        clauses.append("v.status = :status")
        params["status"] = status
    for given, what, known, column in (
            (query.unit, "business unit", ledger.business_units, "bu.code"),
            (query.lever, "lever", ledger.levers, "lv.code"),
            (query.stage, "stage gate", ledger.stage_gates, "sg.code")):
        if given is not None and given.strip():
            option = {"bu.code": "unit", "lv.code": "lever", "sg.code": "stage"}[column]
            params[option] = _code(what, option, given, list(known(conn)["code"]))
            clauses.append(f"{column} = :{option}")
    for name, owner in (("mine", only_owner), ("owners", query.owner)):
        if owner is None or (name == "owners" and not owner.strip()):
            continue
        spellings = owner_spellings(conn, owner) if owner.strip() else []
        if not spellings:
            if only_owner is None:
                raise NotFound(f"owner {owner.strip()[:60]!r}: nobody of that name owns an "
                               f"initiative{did_you_mean(owner.strip(), current_owners(conn))}")
            return None
        clauses.append(f"v.owner IN :{name}")
        params[name] = spellings
        lists.append(name)
    if query.search is not None and query.search.strip():
        fold, params["q"] = _like(conn, query.search.strip()[:200])
        clauses.append("(" + " OR ".join(
            f"{fold}({col}) LIKE :q ESCAPE '\\'"
            for col in ("i.external_id", "v.name", "v.owner", "COALESCE(v.description, '')"))
            + ")")
    return " AND ".join(clauses), params, lists


def _amounts_sql(conn: Connection, only: str, *, per_initiative: bool, scan: bool) -> str:
    """The :data:`AMOUNTS` in minor units of the initiatives ``only`` (a condition on
    ``p.initiative_id``) selects: one row per initiative, or their sums in one row.

    ``scan``: many initiatives; SQLite then reads its covering index (amounts included)
    rather than looking each row up through the per-initiative unique index."""
    in_fy = "p.month >= :fy_first AND p.month <= :fy_last"
    hint = " INDEXED BY ix_phasing_scan" if scan and conn.dialect.name == "sqlite" else ""
    return (
        f"SELECT {'p.initiative_id, ' if per_initiative else ''}"  # noqa: S608  (only, hint: fixed SQL text; values bound)
        f"SUM(CASE WHEN p.scenario = 'plan' AND {in_fy} THEN p.amount_minor ELSE 0 END) "
        "AS fy_plan, "
        f"SUM(CASE WHEN p.scenario = 'forecast' AND {in_fy} THEN p.amount_minor ELSE 0 END) "
        "AS fy_forecast, "
        "SUM(CASE WHEN p.scenario = 'plan' THEN p.amount_minor ELSE 0 END) AS total "
        f"FROM phasing p{hint} WHERE p.metric_id = :metric "
        f"AND p.scenario IN ('plan', 'forecast') AND p.valid_to = {OPEN} AND {only}"
        + (" GROUP BY p.initiative_id" if per_initiative else "")
    )


def list_page(ledger: Ledger, query: ListQuery, *, fy_first: date, fy_last: date,
              only_owner: str | None = None, conn: Connection | None = None) -> ListPage:
    """The page of initiatives ``query`` asks for (only ``only_owner``'s when given: never
    another owner's, whatever the filters), with amounts of the first metric: plan and
    forecast from ``fy_first`` to ``fy_last``, and the plan over every month.

    Raises:
        NotFound: an unknown unit, lever, stage gate or (for an unrestricted list) owner.
        LedgerError: a bad status or sort column.
    """
    if query.sort not in SORTS:
        raise LedgerError(f"sort {query.sort[:40]!r}: expected one of {', '.join(SORTS)}")
    per = min(max(int(query.per), 1), MAX_PER)
    with ledger.snapshot(conn) as c:
        metric = ledger.metric(None, c)
        found = _where(ledger, c, query, only_owner)
        zero = {a: Decimal(0).scaleb(-metric.decimals) for a in AMOUNTS}
        if found is None:
            return ListPage([], 0, 1, per, zero, metric)
        where, params, lists = found
        params = {**params, "metric": metric.id, "fy_first": fy_first, "fy_last": fy_last}
        matched = int(c.execute(_bind(f"SELECT COUNT(*) {_FROM} WHERE {where}", lists),
                                params).scalar_one())
        pages = max(1, -(-matched // per))
        page = min(max(int(query.page), 1), pages)
        by_amount = query.sort in AMOUNTS
        matching = f"p.initiative_id IN (SELECT v.initiative_id {_FROM} WHERE {where})"
        scan = matched > SCAN_ABOVE
        join = (f" LEFT JOIN ({_amounts_sql(c, matching, per_initiative=True, scan=scan)}) a "
                "ON a.initiative_id = v.initiative_id" if by_amount else "")
        direction = "DESC" if query.descending else "ASC"
        rows = read_frame(
            c,
            "SELECT v.initiative_id, i.external_id AS id, v.name, v.owner, bu.code AS unit, "
            f"lv.code AS lever, sg.code AS stage, v.status {_FROM}{join} WHERE {where} "
            f"ORDER BY {SORTS[query.sort]} {direction}, i.external_id {direction} "
            "LIMIT :limit OFFSET :offset",
            {**params, "limit": per, "offset": (page - 1) * per}, lists=lists)
        ids = [int(i) for i in rows["initiative_id"]]
        sums = read_frame(c, _amounts_sql(c, "p.initiative_id IN :ids", per_initiative=True,
                                           scan=False),
                          {**params, "ids": ids}, lists=["ids"]) if ids else None
        totals = c.execute(_bind(_amounts_sql(c, matching, per_initiative=False, scan=scan), lists),
                           params).one()
    per_id: dict[int, tuple[int, int, int]] = {}
    if sums is not None:
        per_id = {int(i): (int(a), int(b), int(t)) for i, a, b, t in zip(
            sums["initiative_id"], sums["fy_plan"], sums["fy_forecast"], sums["total"],
            strict=True)}
    out: list[dict[str, Any]] = []
    for raw in rows.to_dict("records"):
        rec = {str(k): v for k, v in raw.items()}
        minors = per_id.get(int(rec.pop("initiative_id")), (0, 0, 0))
        rec["unit"] = rec["unit"] if isinstance(rec["unit"], str) else None
        rec["lever"] = rec["lever"] if isinstance(rec["lever"], str) else None
        rec.update({a: from_minor(v, metric.decimals) for a, v in zip(AMOUNTS, minors,
                                                                     strict=True)})
        out.append(rec)
    return ListPage(out, matched, page, per,
                    {a: from_minor(int(v or 0), metric.decimals)
                     for a, v in zip(AMOUNTS, totals, strict=True)}, metric)


def _bind(sql: str, lists: list[str]) -> Any:
    """``sql`` with each of ``lists`` bound as an expanding (``IN :name``) parameter."""
    from sqlalchemy import bindparam

    return text(sql).bindparams(*(bindparam(n, expanding=True) for n in lists))

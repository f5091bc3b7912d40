"""One initiative's phasing as a grid (metrics x scenarios down, months across), read at a
known version and saved back all or nothing.

This is the web face's edit: :func:`read_grid` returns the values with the version they
were read at (the ledger's last submission and, per metric and scenario,
:func:`ledger.phasing.phasing_versions`); :func:`save_grid` compares those versions again
*inside* its write transaction, where the ledger's write lock makes the check race-free
across processes, and refuses a save that would overwrite a newer change, with each
differing cell's three values (read, now, yours), as a stale owner workbook is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.errors import Conflict, LedgerError, NotFound
from ledger.initiatives import current_initiatives
from ledger.models import OPEN
from ledger.money import AmountError, amount_text, from_minor, parse_amount, to_minor
from ledger.phasing import (
    MAX_EDIT_MINOR,
    initiative_phasing,
    phasing_versions,
    replace_initiative_phasing,
)
from ledger.store import current_user, last_submission_id, new_submission

#: A cell of the grid: (metric code, scenario, month as ``YYYY-MM-01``).
CellKey = tuple[str, str, str]
#: A row of the grid: (metric code, scenario).
RowKey = tuple[str, str]
#: Stage gate ordinal from which the plan is committed (L3, approved for execution): an
#: owner then moves only the forecast; the office may still change the plan.
PLAN_LOCK_ORDINAL = 3


@dataclass(frozen=True)
class Grid:
    """An initiative's grid as read at ``as_of`` (the ledger's last submission then)."""

    programme: ProgrammeInfo
    initiative: dict[str, Any]
    """The initiative's current attributes (a row of ``current_initiatives``)."""
    metrics: list[MetricInfo]
    scenarios: list[str]
    months: list[date]
    values: dict[CellKey, int]
    """Minor units of each non-empty cell."""
    versions: dict[RowKey, int]
    as_of: int

    def amount(self, key: CellKey) -> Decimal | None:
        minor = self.values.get(key)
        return None if minor is None else from_minor(minor, self._decimals(key[0]))

    def _decimals(self, code: str) -> int:
        return next(m.decimals for m in self.metrics if m.code == code)


def _initiative(conn: Connection, external_id: str) -> dict[str, Any]:
    found = conn.execute(text("SELECT id FROM initiative WHERE external_id = :e"),
                         {"e": external_id.strip()}).first()
    row = None if found is None else current_initiatives(conn, initiative_ids=[int(found[0])])
    if row is None or row.empty:
        raise NotFound(f"no initiative {external_id[:60]!r} in this ledger")
    return {str(k): v for k, v in row.iloc[0].to_dict().items()}


def owner_initiative_ids(conn: Connection, owner: str) -> list[int]:
    """Ids of the initiatives whose current owner is ``owner`` (trimmed, case-insensitive
    as Python folds case: SQLite's ``LOWER`` folds ASCII only, so the match is made here)."""
    key = owner.strip().casefold()
    rows = conn.execute(text("SELECT initiative_id, owner FROM initiative_version "
                             "WHERE valid_to = :open"), {"open": OPEN}).all()
    return [int(i) for i, name in rows if str(name).strip().casefold() == key]


def read_grid(ledger: Ledger, external_id: str, scenarios: Iterable[str],
              conn: Connection | None = None) -> Grid:
    """The initiative's phasing for every metric and ``scenarios``, in one snapshot.

    Raises:
        NotFound: no such initiative.
    """
    with ledger.snapshot(conn) as c:
        prog = ledger.programme(c)
        ini = _initiative(c, external_id)
        metrics = ledger.metrics(c)
        values: dict[CellKey, int] = {}
        versions: dict[RowKey, int] = {}
        iid = int(ini["initiative_id"])
        for m in metrics:
            for s in scenarios:
                frame = initiative_phasing(c, [iid], m.id, s)
                for month, minor in zip(frame["month"], frame["amount_minor"], strict=True):
                    values[(m.code, s, str(month))] = int(minor)
                versions[(m.code, s)] = phasing_versions(c, [iid], m.id, s)[iid]
        return Grid(prog, ini, metrics, list(scenarios), prog.months, values, versions,
                    last_submission_id(c))


@dataclass
class ParsedCells:
    """Typed cells read as the importer reads amounts."""

    values: dict[CellKey, int | None] = field(default_factory=dict)
    errors: dict[CellKey, str] = field(default_factory=dict)
    """Per cell: what was found and what was expected."""
    rounded: dict[CellKey, str] = field(default_factory=dict)
    """Per cell: the value typed and the value kept, for amounts with too many decimals."""


def parse_cells(texts: Mapping[CellKey, str], metrics: Iterable[MetricInfo]) -> ParsedCells:
    """Read typed cells with :func:`ledger.money.parse_amount` (``1,200``, ``(350)``, ``-``
    for empty), rounded half away from zero to the metric's decimals with a warning, as an
    imported cell is; an amount beyond the ledger's bound is refused."""
    decimals = {m.code: m.decimals for m in metrics}
    out = ParsedCells()
    for key, raw in texts.items():
        if key[0] not in decimals:
            out.errors[key] = f"found metric {key[0][:40]!r}, expected a metric of this ledger"
            continue
        d = decimals[key[0]]
        try:
            value = parse_amount(raw)
        except AmountError as exc:
            out.errors[key] = str(exc)
            continue
        if value is None:
            out.values[key] = None
            continue
        minor = to_minor(value, d)
        if abs(minor) > MAX_EDIT_MINOR:
            out.errors[key] = (f"found {raw[:20]!r}, expected at most "
                               f"{from_minor(MAX_EDIT_MINOR, d):,} in absolute value")
            continue
        kept = from_minor(minor, d)
        if kept != value:
            out.rounded[key] = f"{raw.strip()[:30]} rounded to {kept:,} ({d} decimals)"
        out.values[key] = minor
    return out


@dataclass(frozen=True)
class GridDifference:
    metric: str
    scenario: str
    month: str
    read: Decimal | None
    now: Decimal | None
    yours: Decimal | None


class GridConflict(Conflict):
    """The initiative changed after the page was read, in cells the save would overwrite."""

    def __init__(self, message: str, differences: list[GridDifference]) -> None:
        super().__init__(message)
        self.differences = differences


@dataclass(frozen=True)
class GridSave:
    submission_id: int | None
    """None when no cell changed."""
    changed: int


def save_grid(
    ledger: Ledger,
    external_id: str,
    *,
    read_as_of: int,
    read_versions: Mapping[RowKey, int],
    cells: Mapping[CellKey, int | None],
    user: str,
    note: str = "",
    owner: str | None = None,
    lock_plan: bool = False,
) -> GridSave:
    """Write the grid's rows in ``cells`` (every month of each row given; a month given as
    None is emptied) as one submission by ``user``, all or nothing.

    Args:
        read_as_of, read_versions: what the editor was read at (:class:`Grid`).
        owner: when given, the initiative must belong to this owner *now* (checked under the
            write lock, so a reassignment after the page was read is caught).
        lock_plan: refuse plan changes from stage :data:`PLAN_LOCK_ORDINAL` on.

    Raises:
        NotFound: no such initiative, or (with ``owner``) not this owner's: the same answer,
            so an owner learns nothing about another owner's initiatives.
        LedgerError: withdrawn initiative, a locked plan changed, a plan change without a
            note, a month outside the horizon.
        GridConflict: the row changed after ``read_as_of`` in cells where the save differs;
            nothing written.
    """
    with ledger.writing() as conn:
        prog = ledger.programme(conn)
        metrics = {m.code: m for m in ledger.metrics(conn)}
        ini = _initiative(conn, external_id)
        ext = str(ini["external_id"])
        if owner is not None and str(ini["owner"]).strip().casefold() != owner.strip().casefold():
            raise NotFound(f"no initiative {external_id[:60]!r} in this ledger")
        if ini["status"] != "active":
            raise LedgerError(f"initiative {ext} is withdrawn: its phasing is frozen")
        horizon = {m.isoformat() for m in prog.months}
        rows: dict[RowKey, dict[str, int | None]] = {}
        for (code, scenario, month), minor in cells.items():
            if code not in metrics:
                raise NotFound(f"no metric {code[:40]!r}")
            if month not in horizon:
                raise LedgerError(f"month {month[:10]} is outside the programme's horizon")
            rows.setdefault((code, scenario), {})[month] = minor
        iid = int(ini["initiative_id"])
        differences: list[GridDifference] = []
        plans: list[tuple[RowKey, dict[str, int | None], dict[str, int]]] = []
        for (code, scenario), typed in rows.items():
            m = metrics[code]
            current = initiative_phasing(conn, [iid], m.id, scenario)
            now = {str(k): int(v) for k, v in zip(current["month"], current["amount_minor"],
                                                  strict=True)}
            version = phasing_versions(conn, [iid], m.id, scenario)[iid]
            if version != read_versions.get((code, scenario), 0):
                then = initiative_phasing(conn, [iid], m.id, scenario, as_of=read_as_of)
                read = {str(k): int(v) for k, v in zip(then["month"], then["amount_minor"],
                                                       strict=True)}
                for month in sorted(set(read) | set(now) | set(typed)):
                    yours = typed[month] if month in typed else now.get(month)
                    if (read.get(month) != now.get(month)
                            and yours != now.get(month)):
                        differences.append(GridDifference(
                            code, scenario, month, _amount(read.get(month), m),
                            _amount(now.get(month), m), _amount(yours, m)))
            plans.append(((code, scenario), typed, now))
        if differences:
            lines = [f"  {d.metric} {d.scenario} {d.month[:7]}: read {amount_text(d.read)}, "
                     f"now {amount_text(d.now)}, yours {amount_text(d.yours)}"
                     for d in differences]
            raise GridConflict(
                f"{ext} changed after you opened it; nothing was saved. Reload the page to "
                "see the newer values, then make your change again:\n" + "\n".join(lines),
                differences)
        changed = [(key, typed, now) for key, typed, now in plans
                   if any(typed[mo] != now.get(mo) for mo in typed)]
        plan_changed = any(key[1] == "plan" for key, *_ in changed)
        if plan_changed and lock_plan and int(ini["stage_ordinal"]) >= PLAN_LOCK_ORDINAL:
            raise LedgerError(f"{ext} is at {ini['stage']}: its plan is committed; change "
                              "the forecast, or ask the office to change the plan")
        if plan_changed and not note.strip():
            raise LedgerError("a note is required when a plan changes: say why")
        if not changed:
            return GridSave(None, 0)
        sub = new_submission(conn, kind="edit", user=current_user(user), note=note.strip(),
                             details={"edit": "grid", "initiative": ext})
        count = 0
        for (code, scenario), typed, now in changed:
            merged = {**now, **typed}
            incoming = pd.DataFrame(
                [(iid, mo, v) for mo, v in sorted(merged.items()) if v is not None],
                columns=["initiative_id", "month", "amount_minor"])
            result = replace_initiative_phasing(conn, [iid], metrics[code].id, scenario,
                                                incoming, sub.id)
            count += result.count
        return GridSave(sub.id, count)


#: Longest description a save accepts (a page's text area, not a document).
MAX_DESCRIPTION = 4000


def save_description(
    ledger: Ledger,
    external_id: str,
    *,
    read_version: int,
    description: str,
    user: str,
    note: str = "",
    owner: str | None = None,
) -> int | None:
    """Replace the initiative's description as one submission by ``user``; the previous
    version stays on record. Returns the submission id (None when unchanged).

    Args:
        read_version: the submission that wrote the attributes the editor was read at
            (:func:`ledger.phasing.attribute_versions`).
        owner: when given, the initiative must belong to this owner now.

    Raises:
        NotFound: no such initiative, or (with ``owner``) not this owner's.
        Conflict: the attributes changed after ``read_version``; nothing written.
        LedgerError: withdrawn initiative, a description over :data:`MAX_DESCRIPTION`.
    """
    from ledger.initiatives import ATTRIBUTES, write_initiatives
    from ledger.phasing import attribute_versions

    text_value = description.replace("\r\n", "\n").strip()
    if len(text_value) > MAX_DESCRIPTION:
        raise LedgerError(f"description of {len(text_value):,} characters: expected at most "
                          f"{MAX_DESCRIPTION:,}")
    with ledger.writing() as conn:
        ini = _initiative(conn, external_id)
        ext = str(ini["external_id"])
        if owner is not None and str(ini["owner"]).strip().casefold() != owner.strip().casefold():
            raise NotFound(f"no initiative {external_id[:60]!r} in this ledger")
        if ini["status"] != "active":
            raise LedgerError(f"initiative {ext} is withdrawn: it is frozen")
        iid = int(ini["initiative_id"])
        if attribute_versions(conn, [iid])[iid] != read_version:
            raise Conflict(f"the attributes of {ext} changed after you opened it (description now "
                           f"{str(ini['description'])[:80]!r}); nothing was saved: reload "
                           "the page and make your change again")
        if text_value == str(ini["description"] or ""):
            return None
        sub = new_submission(conn, kind="edit", user=current_user(user), note=note.strip(),
                             details={"edit": "description", "initiative": ext})
        row = current_initiatives(conn, initiative_ids=[iid])[["external_id", *ATTRIBUTES]]
        row = row.assign(description=text_value)
        write_initiatives(conn, row, sub.id)
        return sub.id


def _amount(minor: int | None, m: MetricInfo) -> Decimal | None:
    return None if minor is None else from_minor(minor, m.decimals)



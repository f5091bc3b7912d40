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

from sqlalchemy import Connection, text

from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.approvals import COMMIT_ORDINAL, commitment, commitment_line
from ledger.errors import Conflict, LedgerError, NotFound
from ledger.faults import pause_point
from ledger.initiatives import current_initiatives
from ledger.models import OPEN, Phasing
from ledger.money import AmountError, amount_text, from_minor, parse_amount, to_minor
from ledger.phasing import MAX_EDIT_MINOR
from ledger.store import close_versions, current_user, last_submission_id, new_submission

#: A cell of the grid: (metric code, scenario, month as ``YYYY-MM-01``).
CellKey = tuple[str, str, str]
#: A row of the grid: (metric code, scenario).
RowKey = tuple[str, str]
#: Stage gate ordinal from which the plan is committed (L3, approved for execution): an
#: owner then moves only the forecast; the office may still change the plan, with a note.
#: Whether an initiative is committed is :func:`ledger.approvals.commitments` (it entered
#: L3+ and has not gone back below).
PLAN_LOCK_ORDINAL = COMMIT_ORDINAL


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


def owner_initiative_ids(conn: Connection, owner: str, *, active: bool = False) -> list[int]:
    """Ids of the initiatives whose current owner is ``owner`` (trimmed, case-insensitive
    as Python folds case: SQLite's ``LOWER`` folds ASCII only, so the match is made here);
    only the active ones with ``active``."""
    key = owner.strip().casefold()
    rows = conn.execute(text("SELECT initiative_id, owner, status FROM initiative_version "
                             "WHERE valid_to = :open"), {"open": OPEN}).all()
    return [int(i) for i, name, status in rows if str(name).strip().casefold() == key
            and (not active or status == "active")]


def read_grid(ledger: Ledger, external_id: str, scenarios: Iterable[str],
              conn: Connection | None = None) -> Grid:
    """The initiative's phasing for every metric and ``scenarios``, in one snapshot (the
    cells and their versions from one query over the initiative's versions).

    Raises:
        NotFound: no such initiative.
    """
    with ledger.snapshot(conn) as c:
        prog = ledger.programme(c)
        ini = _initiative(c, external_id)
        metrics = ledger.metrics(c)
        history = InitiativeVersions.read(c, int(ini["initiative_id"]))
        shown = list(scenarios)
        codes = {m.id: m.code for m in metrics}
        values: dict[CellKey, int] = {
            (codes[m], s, mo): minor for m, s, mo, minor, _, vt, _ in history.rows
            if vt == OPEN and s in shown and m in codes}
        row_versions = history.versions()
        versions: dict[RowKey, int] = {(m.code, s): row_versions.get((m.id, s), 0)
                                       for m in metrics for s in shown}
        return Grid(prog, ini, metrics, shown, prog.months, values, versions,
                    last_submission_id(c))


@dataclass(frozen=True)
class InitiativeVersions:
    """Every phasing version of one initiative, read in one query (through the
    per-initiative index): its current cells, the version of each metric and scenario
    (as :func:`ledger.phasing.phasing_versions` says it) and its cells as of a submission."""

    initiative_id: int
    rows: list[tuple[int, str, str, int, int, int, int]]
    """(metric id, scenario, month ``YYYY-MM-01``, amount minor, valid_from, valid_to, id)."""

    @classmethod
    def read(cls, conn: Connection, initiative_id: int) -> InitiativeVersions:
        rows = conn.execute(text(
            "SELECT metric_id, scenario, CAST(month AS VARCHAR(10)), amount_minor, valid_from, "
            "valid_to, id FROM phasing WHERE initiative_id = :i"), {"i": initiative_id}).all()
        return cls(initiative_id, [(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]),
                                    int(r[5]), int(r[6])) for r in rows])

    def current(self, metric_id: int, scenario: str) -> dict[str, tuple[int, int]]:
        """Month -> (amount minor, version id) of the current cells of one row."""
        return {mo: (a, i) for m, s, mo, a, _, vt, i in self.rows
                if m == metric_id and s == scenario and vt == OPEN}

    def as_of(self, metric_id: int, scenario: str, submission: int) -> dict[str, int]:
        """Month -> amount minor of one row as of ``submission``."""
        return {mo: a for m, s, mo, a, vf, vt, _ in self.rows
                if m == metric_id and s == scenario and vf <= submission < vt}

    def version(self, metric_id: int, scenario: str) -> int:
        """The newest submission that changed one row (0: none ever did)."""
        return max((vf if vt == OPEN else vt for m, s, _, _, vf, vt, _ in self.rows
                    if m == metric_id and s == scenario), default=0)

    def versions(self) -> dict[tuple[int, str], int]:
        """:meth:`version` of every row the initiative has."""
        out: dict[tuple[int, str], int] = {}
        for m, s, _, _, vf, vt, _ in self.rows:
            out[(m, s)] = max(out.get((m, s), 0), vf if vt == OPEN else vt)
        return out


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

    The checks and the diff are made first in a read transaction, outside the ledger's
    write lock (which serialises every writer). Under the lock, one query reads the
    initiative's versions again (its attributes' and each phasing row's): if any moved
    since, everything is checked and diffed again under the lock; either way the version
    check that refuses a stale edit is decided by what the lock holder sees.

    Args:
        read_as_of, read_versions: what the editor was read at (:class:`Grid`).
        owner: when given, the initiative must belong to this owner *now* (checked under the
            write lock, so a reassignment after the page was read is caught).
        lock_plan: refuse plan changes of a committed initiative (an owner's save);
            without it, a committed plan's change needs a note (the office's).

    Raises:
        NotFound: no such initiative, or (with ``owner``) not this owner's: the same answer,
            so an owner learns nothing about another owner's initiatives.
        LedgerError: withdrawn initiative, a locked plan changed, a plan change without a
            note, a month outside the horizon.
        GridConflict: the row changed after ``read_as_of`` in cells where the save differs;
            nothing written.
    """
    request = _SaveRequest(external_id, read_as_of, read_versions, cells, note, owner,
                           lock_plan)
    # A conflict or a refusal seen in this snapshot stands (history only grows); a plan
    # that would write is confirmed under the lock.
    with ledger.reading() as conn:
        plan = _plan_save(ledger, conn, request)
    if not plan.changes:
        return GridSave(None, 0)
    pause_point("grid_planned")  # test-only (ledger.faults)
    with ledger.writing() as conn:
        if _fingerprint(conn, plan.initiative_id) != plan.fingerprint:
            plan = _plan_save(ledger, conn, request)
            if not plan.changes:
                return GridSave(None, 0)
        sub = new_submission(conn, kind="edit", user=current_user(user), note=note.strip(),
                             details={"edit": "grid", "initiative": plan.external_id})
        for row in plan.changes:
            row.write(conn, plan.initiative_id, sub.id)
        return GridSave(sub.id, sum(len(row.cells) for row in plan.changes))


@dataclass(frozen=True)
class _SaveRequest:
    external_id: str
    read_as_of: int
    read_versions: Mapping[RowKey, int]
    cells: Mapping[CellKey, int | None]
    note: str
    owner: str | None
    lock_plan: bool


@dataclass(frozen=True)
class _SavePlan:
    initiative_id: int
    external_id: str
    fingerprint: tuple[int, dict[tuple[int, str], int]]
    """What the plan was made from: the attributes' version and each phasing row's."""
    changes: list[_RowWrite]
    """Per changed row, what to write (empty: nothing changed)."""


def _fingerprint(conn: Connection, initiative_id: int) -> tuple[int, dict[tuple[int, str], int]]:
    """The initiative's attribute version and each phasing row's version, in one query."""
    rows = conn.execute(text(
        "SELECT 0, '', valid_from FROM initiative_version WHERE initiative_id = :i "
        "AND valid_to = :open UNION ALL "
        "SELECT metric_id, scenario, MAX(CASE WHEN valid_to = :open THEN valid_from "
        "ELSE valid_to END) FROM phasing WHERE initiative_id = :i "
        "GROUP BY metric_id, scenario"), {"i": initiative_id, "open": OPEN}).all()
    attributes = next((int(r[2]) for r in rows if int(r[0]) == 0), 0)
    return attributes, {(int(r[0]), str(r[1])): int(r[2]) for r in rows if int(r[0]) != 0}


def _plan_save(ledger: Ledger, conn: Connection, req: _SaveRequest) -> _SavePlan:
    """Check a save against the ledger as ``conn`` sees it and diff it (see
    :func:`save_grid` for what is refused)."""
    prog = ledger.programme(conn)
    metrics = {m.code: m for m in ledger.metrics(conn)}
    ini = _initiative(conn, req.external_id)
    ext = str(ini["external_id"])
    if req.owner is not None and (str(ini["owner"]).strip().casefold()
                                  != req.owner.strip().casefold()):
        raise NotFound(f"no initiative {req.external_id[:60]!r} in this ledger")
    if ini["status"] != "active":
        raise LedgerError(f"initiative {ext} is withdrawn: its phasing is frozen")
    horizon = {m.isoformat() for m in prog.months}
    rows: dict[RowKey, dict[str, int | None]] = {}
    for (code, scenario, month), minor in req.cells.items():
        if code not in metrics:
            raise NotFound(f"no metric {code[:40]!r}")
        if month not in horizon:
            raise LedgerError(f"month {month[:10]} is outside the programme's horizon")
        rows.setdefault((code, scenario), {})[month] = minor
    iid = int(ini["initiative_id"])
    history = InitiativeVersions.read(conn, iid)
    differences: list[GridDifference] = []
    changed: list[tuple[RowKey, dict[str, int | None], dict[str, tuple[int, int]]]] = []
    for (code, scenario), typed in rows.items():
        m = metrics[code]
        current = history.current(m.id, scenario)
        now = {mo: minor for mo, (minor, _) in current.items()}
        if history.version(m.id, scenario) != req.read_versions.get((code, scenario), 0):
            read = history.as_of(m.id, scenario, req.read_as_of)
            for month in sorted(set(read) | set(now) | set(typed)):
                yours = typed[month] if month in typed else now.get(month)
                if read.get(month) != now.get(month) and yours != now.get(month):
                    differences.append(GridDifference(
                        code, scenario, month, _amount(read.get(month), m),
                        _amount(now.get(month), m), _amount(yours, m)))
        if any(typed[mo] != now.get(mo) for mo in typed):
            changed.append(((code, scenario), typed, current))
    if differences:
        lines = [f"  {d.metric} {d.scenario} {d.month[:7]}: read {amount_text(d.read)}, "
                 f"now {amount_text(d.now)}, yours {amount_text(d.yours)}"
                 for d in differences]
        raise GridConflict(
            f"{ext} changed after you opened it; nothing was saved. Reload the page to "
            "see the newer values, then make your change again:\n" + "\n".join(lines),
            differences)
    plan_changed = any(key[1] == "plan" for key, *_ in changed)
    committed = commitment(conn, iid) if plan_changed else None
    if committed is not None and req.lock_plan:
        raise LedgerError(f"{ext}: its plan is committed ({commitment_line(committed)} "
                          "to change the plan)")
    if committed is not None and not req.note.strip():
        raise LedgerError(f"{ext}'s plan is committed (at {committed.stage}, submission "
                          f"{committed.submission}): a note is required to change it")
    if plan_changed and not req.note.strip():
        raise LedgerError("a note is required when a plan changes: say why")
    writes = [
        _RowWrite(metrics[code].id, scenario, [
            (month, None if current.get(month) is None else current[month][1], minor)
            for month, minor in sorted(typed.items())
            if minor != (None if current.get(month) is None else current[month][0])])
        for (code, scenario), typed, current in changed]
    return _SavePlan(iid, ext, (int(ini["valid_from"]), history.versions()), writes)


@dataclass(frozen=True)
class _RowWrite:
    """One changed row of a save (a metric and scenario of the initiative)."""

    metric_id: int
    scenario: str
    cells: list[tuple[str, int | None, int | None]]
    """(month, the version it ends or None, the new amount or None: emptied)."""

    def write(self, conn: Connection, initiative_id: int, submission_id: int) -> None:
        """End the replaced versions, then insert the new ones (one statement each)."""
        close_versions(conn, Phasing.__table__,
                       [old for _, old, _ in self.cells if old is not None], submission_id)
        rows = [{"i": initiative_id, "m": self.metric_id, "s": self.scenario,
                 "mo": date.fromisoformat(month), "a": new, "f": submission_id, "t": OPEN}
                for month, _, new in self.cells if new is not None]
        if rows:
            conn.execute(text(
                "INSERT INTO phasing (initiative_id, metric_id, scenario, month, amount_minor, "
                "valid_from, valid_to) VALUES (:i, :m, :s, :mo, :a, :f, :t)"), rows)


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



"""The office's everyday work on initiatives: find them, look at one, edit its attributes.

* :func:`list_initiatives` lists initiatives (now or as of a point), filtered by owner,
  business unit, lever, stage gate, status or a search text, each with its total for one
  metric and scenario.
* :func:`show_initiative` is one initiative: attributes, phasing by metric and scenario
  with fiscal-year totals, and its last change.
* :func:`set_attributes`, :func:`set_status` (withdraw, reinstate) and
  :func:`reassign_owner` write one submission each (kind ``edit``) with who and why, by the
  same versioned write as :func:`ledger.phasing.set_stage`, so ``history`` and the bridge
  see them. Only the attributes given change; the others are read inside the write
  transaction, so a concurrent change to them is never overwritten.

Owners are matched trimmed and case-insensitively (as Python folds case), as everywhere in
the ledger (owner workbooks, the web).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from ledger.api import Ledger, MetricInfo
from ledger.asof import parse_as_of, submission_at
from ledger.errors import Conflict, LedgerError, NotFound
from ledger.initiatives import ATTRIBUTES, current_initiatives, write_initiatives
from ledger.models import INITIATIVE_STATUSES, OPEN, SCENARIOS
from ledger.money import from_minor
from ledger.months import fiscal_year, fiscal_year_label
from ledger.phasing import check_attribute_version
from ledger.store import (
    current_user,
    last_submission_id,
    new_submission,
    read_frame,
    version_filter,
)
from ledger.vocabulary import check_scenario, closest, did_you_mean, stored_utc

#: Columns of :func:`list_initiatives`' frame.
LIST_COLUMNS = ["id", "name", "owner", "unit", "lever", "stage", "status", "total"]
#: The longest name, owner and description an edit accepts (the columns' sizes).
MAX_NAME, MAX_OWNER, MAX_DESCRIPTION = 300, 200, 4000
#: How people name the editable attributes, in the order changes are listed.
FIELD_LABELS = {"name": "name", "owner": "owner", "business_unit_id": "unit",
                "lever_id": "lever", "description": "description", "status": "status"}
#: The ``period`` of :attr:`InitiativeDetail.totals` rows that span the whole horizon.
ALL_MONTHS = "total"


def _point(conn: Connection, as_of: int | str | None) -> int | None:
    """An as-of value (:mod:`ledger.asof`) as a submission id; None: now."""
    point = parse_as_of(as_of)
    return None if point is None else submission_at(conn, point)[0]


def _code(what: str, option: str, given: str, known: Sequence[str]) -> str:
    """The known code ``given`` names (case ignored), else NotFound with a did-you-mean."""
    guess = closest(given.strip(), known)
    if guess is not None and guess.casefold() == given.strip().casefold():
        return guess
    listing = f" (known: {', '.join(known)})" if 0 < len(known) <= 12 else ""
    hint = did_you_mean(given.strip(), known) or listing
    raise NotFound(f"{option} {given.strip()[:60]!r}: no {what} with that code{hint}")


def _fold(value: object) -> str:
    return str(value or "").strip().casefold()


# --------------------------------------------------------------------------- list


@dataclass(frozen=True)
class InitiativeList:
    """What :func:`list_initiatives` found."""

    frame: pd.DataFrame
    """Columns :data:`LIST_COLUMNS`: ``unit`` and ``lever`` are codes (None when unset),
    ``total`` the exact sum (Decimal) of the initiative's phasing for ``metric`` and
    ``scenario``, 0 when it has none."""
    metric: MetricInfo
    scenario: str
    as_of_submission: int
    """The last submission included (the ledger's newest when read now)."""
    as_of: bool
    """True when read as of an earlier point."""
    total: Decimal
    """The exact sum of ``frame["total"]`` (in the metric's decimals)."""


def list_initiatives(
    ledger: Ledger,
    *,
    owner: str | None = None,
    unit: str | None = None,
    lever: str | None = None,
    stage: str | None = None,
    status: str | None = None,
    search: str | None = None,
    metric: str | None = None,
    scenario: str = "plan",
    as_of: int | str | None = None,
) -> InitiativeList:
    """The initiatives matching every filter given, by id.

    ``owner`` matches trimmed and case-insensitively; ``unit``, ``lever`` and ``stage``
    are codes (case ignored); ``status`` is active or withdrawn (None: both); ``search``
    is text found (case ignored) in the id, name, owner or description.

    Raises:
        NotFound: an unknown unit, lever, stage gate, metric or owner (with a did-you-mean).
        LedgerError: a bad status, scenario or as-of.
    """
    check_scenario(scenario)
    if status is not None and status.strip().lower() not in INITIATIVE_STATUSES:
        raise LedgerError(f"--status {status[:40]!r}: expected "
                          f"{' or '.join(INITIATIVE_STATUSES)}")
    with ledger.reading() as conn:
        ledger.programme(conn)
        m = ledger.metric(metric, conn)
        point = _point(conn, as_of)
        newest = last_submission_id(conn) if point is None else point
        frame = current_initiatives(conn, point)
        keep = pd.Series(True, index=frame.index)
        if unit is not None:
            code = _code("business unit", "--unit", unit,
                         list(ledger.business_units(conn)["code"]))
            keep &= frame["business_unit"] == code
        if lever is not None:
            code = _code("lever", "--lever", lever, list(ledger.levers(conn)["code"]))
            keep &= frame["lever"] == code
        if stage is not None:
            code = _code("stage gate", "--stage", stage, list(ledger.stage_gates(conn)["code"]))
            keep &= frame["stage"] == code
        if owner is not None:
            folded = frame["owner"].map(_fold)
            if not (folded == _fold(owner)).any():
                owners = sorted(set(frame["owner"].astype(str)))
                raise NotFound(f"--owner {owner.strip()[:60]!r}: nobody of that name owns an "
                               f"initiative{did_you_mean(owner.strip(), owners)}")
            keep &= folded == _fold(owner)
        if status is not None:
            keep &= frame["status"] == status.strip().lower()
        if search is not None and search.strip():
            needle = search.strip().casefold()
            hay = (frame["external_id"].astype(str) + "\n" + frame["name"].astype(str) + "\n"
                   + frame["owner"].astype(str) + "\n" + frame["description"].fillna("")
                   .astype(str))
            keep &= hay.map(lambda h: needle in h.casefold())
        found = frame[keep]
        totals = _totals(conn, m, scenario, point)
    minors = [totals.get(int(i), 0) for i in found["initiative_id"]]
    out = pd.DataFrame({
        "id": found["external_id"].astype(str).to_numpy(),
        "name": found["name"].to_numpy(),
        "owner": found["owner"].to_numpy(),
        "unit": pd.Series(_codes(found["business_unit"]), dtype=object),
        "lever": pd.Series(_codes(found["lever"]), dtype=object),
        "stage": found["stage"].to_numpy(),
        "status": found["status"].to_numpy(),
        "total": pd.Series([from_minor(v, m.decimals) for v in minors], dtype=object),
    }, columns=LIST_COLUMNS)
    return InitiativeList(out, m, scenario, newest, point is not None,
                          from_minor(sum(minors), m.decimals))


def _codes(values: pd.Series) -> list[str | None]:
    return [v if isinstance(v, str) else None for v in values]


def _totals(conn: Connection, m: MetricInfo, scenario: str, point: int | None) -> dict[int, int]:
    """Per initiative, the sum of its phasing for one metric and scenario (minor units)."""
    where, params = version_filter(point)
    frame = read_frame(
        conn,
        "SELECT initiative_id, SUM(amount_minor) AS total FROM phasing "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
        f"WHERE metric_id = :m AND scenario = :s AND {where} GROUP BY initiative_id",
        {**params, "m": m.id, "s": scenario},
    )
    # int(): PostgreSQL returns SUM(bigint) as numeric (a Decimal), exact either way.
    return {int(i): int(t) for i, t in zip(frame["initiative_id"], frame["total"], strict=True)}


# --------------------------------------------------------------------------- show


@dataclass(frozen=True)
class InitiativeDetail:
    """One initiative as :func:`show_initiative` read it, in one snapshot."""

    attributes: dict[str, Any]
    """id, name, owner, unit, unit_name, lever, lever_name, stage, stage_name, weight
    (Decimal or None), status, description, created (submission id), created_at, created_by."""
    phasing: pd.DataFrame
    """The non-empty months: ``metric, unit, scenario, month (YYYY-MM), fiscal_year,
    amount`` (Decimal), by metric, scenario and month."""
    totals: pd.DataFrame
    """Per metric and scenario with phasing, its sum per fiscal year and over every month
    (``period`` :data:`ALL_MONTHS`): ``metric, unit, scenario, period, amount``."""
    last_change: dict[str, Any] | None
    """The newest submission that changed it (up to the as-of point): submission, when,
    who, kind, note, what (the items it changed)."""
    as_of_submission: int
    as_of: bool
    fiscal_years: list[str] = field(default_factory=list)
    """The fiscal years of the horizon, in order (the columns of a totals table)."""


def find_external_id(conn: Connection, external_id: str) -> int:
    """The initiative id of ``external_id`` (trimmed, exact).

    Raises:
        NotFound: no such initiative; suggests a close id.
    """
    given = external_id.strip()
    row = conn.execute(text("SELECT id FROM initiative WHERE external_id = :e"),
                       {"e": given}).first()
    if row is not None:
        return int(row[0])
    known = [str(v) for v in conn.execute(text("SELECT external_id FROM initiative")).scalars()]
    hint = did_you_mean(given, known) or " (tledger initiative list shows them)"
    raise NotFound(f"no initiative {given[:60]!r} in this ledger{hint}")


def show_initiative(ledger: Ledger, external_id: str, *,
                    as_of: int | str | None = None) -> InitiativeDetail:
    """Initiative ``external_id`` now (or as of a submission id, date or date-time).

    Raises:
        NotFound: no such initiative, or it did not exist yet at the as-of point.
    """
    from ledger.history import history

    with ledger.reading() as conn:
        prog = ledger.programme(conn)
        iid = find_external_id(conn, external_id)
        point = _point(conn, as_of)
        newest = last_submission_id(conn) if point is None else point
        rows = current_initiatives(conn, point, initiative_ids=[iid])
        if rows.empty:
            raise NotFound(f"initiative {external_id.strip()[:60]!r} did not exist yet as of "
                           f"submission {point}")
        ini = rows.iloc[0]
        units = ledger.business_units(conn).set_index("code")["name"]
        levers = ledger.levers(conn).set_index("code")["name"]
        gates = ledger.stage_gates(conn).set_index("code")["name"]
        created = conn.execute(text(
            'SELECT s.id, s.created_at, s."user" FROM initiative i JOIN submission s '
            "ON s.id = i.created_submission_id WHERE i.id = :i"), {"i": iid}).one()
        metrics = {m.id: m for m in ledger.metrics(conn)}
        where, params = version_filter(point)
        facts = read_frame(
            conn,
            "SELECT metric_id, scenario, CAST(month AS VARCHAR(10)) AS month, amount_minor "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
            f"FROM phasing WHERE initiative_id = :i AND {where}",
            {**params, "i": iid},
        )
    unit, lever = ini["business_unit"], ini["lever"]
    weight = ini["weight_bp"]
    attributes: dict[str, Any] = {
        "id": str(ini["external_id"]),
        "name": str(ini["name"]),
        "owner": str(ini["owner"]),
        "unit": unit if isinstance(unit, str) else None,
        "unit_name": str(units[unit]) if isinstance(unit, str) else None,
        "lever": lever if isinstance(lever, str) else None,
        "lever_name": str(levers[lever]) if isinstance(lever, str) else None,
        "stage": str(ini["stage"]),
        "stage_name": str(gates[ini["stage"]]),
        "weight": None if pd.isna(weight) else Decimal(int(weight)).scaleb(-4),
        "status": str(ini["status"]),
        "description": str(ini["description"] or ""),
        "created": int(created[0]),
        "created_at": stored_utc(created[1]),
        "created_by": str(created[2]),
    }
    order = {mid: k for k, mid in enumerate(metrics)}
    facts = facts.assign(
        metric_order=[order[int(v)] for v in facts["metric_id"]],
        scenario_order=[SCENARIOS.index(str(s)) for s in facts["scenario"]],
    ).sort_values(["metric_order", "scenario_order", "month"], ignore_index=True)
    phasing_rows: list[dict[str, Any]] = []
    sums: dict[tuple[int, str, str], int] = {}
    for mid, scen, month, minor in zip(facts["metric_id"], facts["scenario"], facts["month"],
                                       facts["amount_minor"], strict=True):
        m = metrics[int(mid)]
        fy = fiscal_year_label(fiscal_year(_month(month), prog.fy_start_month))
        phasing_rows.append({"metric": m.code, "unit": m.unit, "scenario": str(scen),
                             "month": str(month)[:7], "fiscal_year": fy,
                             "amount": from_minor(int(minor), m.decimals)})
        for period in (fy, ALL_MONTHS):
            key = (int(mid), str(scen), period)
            sums[key] = sums.get(key, 0) + int(minor)
    fiscal_years = list(dict.fromkeys(
        fiscal_year_label(fiscal_year(mo, prog.fy_start_month)) for mo in prog.months))
    totals_rows: list[dict[str, Any]] = []
    for mid, scen in dict.fromkeys((k[0], k[1]) for k in sums):
        m = metrics[mid]
        for period in [*fiscal_years, ALL_MONTHS]:
            totals_rows.append({"metric": m.code, "unit": m.unit, "scenario": scen,
                                "period": period,
                                "amount": from_minor(sums.get((mid, scen, period), 0),
                                                     m.decimals)})
    changes = history(ledger, attributes["id"])
    changes = changes[changes["submission"] <= newest]
    last: dict[str, Any] | None = None
    if len(changes):
        sub = int(changes["submission"].iloc[0])
        mine = changes[changes["submission"] == sub]
        first = mine.iloc[0]
        last = {"submission": sub, "when": first["when"], "who": str(first["who"]),
                "kind": str(first["kind"]), "source": str(first["source"]),
                "note": str(first["note"]), "what": [str(w) for w in mine["what"]]}
    return InitiativeDetail(
        attributes,
        pd.DataFrame(phasing_rows, columns=["metric", "unit", "scenario", "month",
                                            "fiscal_year", "amount"]),
        pd.DataFrame(totals_rows, columns=["metric", "unit", "scenario", "period", "amount"]),
        last, newest, point is not None, fiscal_years,
    )


def _month(iso: str) -> date:
    return date.fromisoformat(str(iso)[:10])


# --------------------------------------------------------------------------- edits


@dataclass(frozen=True)
class AttributeChange:
    field: str
    """``name``, ``owner``, ``unit``, ``lever``, ``description`` or ``status``."""
    old: str | None
    new: str | None


@dataclass(frozen=True)
class InitiativeEdit:
    """What an edit did: ``submission_id`` is None when nothing changed (nothing written)."""

    external_id: str
    changes: list[AttributeChange]
    submission_id: int | None


def _text(value: str, what: str, limit: int, *, required: bool) -> str:
    cleaned = value.replace("\r\n", "\n").strip()
    if required and not cleaned:
        raise LedgerError(f"--{what} is empty: give the initiative a {what}")
    if required and "\n" in cleaned:
        raise LedgerError(f"--{what} {cleaned[:40]!r}: expected one line")
    if len(cleaned) > limit:
        raise LedgerError(f"--{what} of {len(cleaned):,} characters: expected at most "
                          f"{limit:,}")
    return cleaned


def _row(conn: Connection, iid: int) -> pd.DataFrame:
    return current_initiatives(conn, initiative_ids=[iid])


def _changes(before: pd.Series, after: pd.Series, names: dict[str, dict[int, str]]
             ) -> list[AttributeChange]:
    out = []
    for col, label in FIELD_LABELS.items():
        old, new = before[col], after[col]
        old_v = None if old is None or (not isinstance(old, str) and pd.isna(old)) else old
        new_v = None if new is None or (not isinstance(new, str) and pd.isna(new)) else new
        if (old_v if old_v is not None else "") == (new_v if new_v is not None else ""):
            continue
        if col in names:
            out.append(AttributeChange(label, None if old_v is None else names[col][int(old_v)],
                                       None if new_v is None else names[col][int(new_v)]))
        else:
            out.append(AttributeChange(label, old_v, new_v))
    return out


def set_attributes(
    ledger: Ledger,
    external_id: str,
    *,
    name: str | None = None,
    owner: str | None = None,
    unit: str | None = None,
    lever: str | None = None,
    description: str | None = None,
    user: str | None = None,
    note: str = "",
    read_version: int | None = None,
) -> InitiativeEdit:
    """Change some attributes of one initiative: one submission (kind ``edit``) with who
    and why. Only the attributes given change; ``unit=""`` or ``lever=""`` clears it.

    Args:
        read_version: when given, the submission that wrote the attributes the editor saw
            (:func:`ledger.phasing.attribute_versions`): a newer change refuses the edit.

    Raises:
        NotFound: no such initiative, unit or lever (with a did-you-mean).
        Conflict: the attributes changed after ``read_version``; nothing written.
        LedgerError: nothing to change, an empty name or owner, a withdrawn initiative.
    """
    if all(v is None for v in (name, owner, unit, lever, description)):
        raise LedgerError("nothing to change: give --name, --owner, --unit, --lever or "
                          "--description")
    new_name = None if name is None else _text(name, "name", MAX_NAME, required=True)
    new_owner = None if owner is None else _text(owner, "owner", MAX_OWNER, required=True)
    new_desc = None if description is None else _text(description, "description",
                                                      MAX_DESCRIPTION, required=False)
    with ledger.writing() as conn:
        ledger.programme(conn)
        iid = find_external_id(conn, external_id)
        row = _row(conn, iid)
        cur = row.iloc[0]
        ext = str(cur["external_id"])
        if cur["status"] != "active":
            raise LedgerError(f"initiative {ext} is withdrawn: its attributes are frozen "
                              f"(tledger initiative reinstate {ext} first)")
        if read_version is not None and int(cur["valid_from"]) != read_version:
            raise Conflict(f"the attributes of {ext} changed after you read them (submission "
                           f"{int(cur['valid_from'])}); nothing was saved: read them again")
        units = ledger.business_units(conn)
        levers = ledger.levers(conn)
        after = row[["external_id", *ATTRIBUTES]].copy()
        if new_name is not None:
            after["name"] = new_name
        if new_owner is not None:
            after["owner"] = _known_owner_spelling(conn, new_owner)
        if new_desc is not None:
            after["description"] = new_desc
        for given, frame, col, what, option in (
                (unit, units, "business_unit_id", "business unit", "--unit"),
                (lever, levers, "lever_id", "lever", "--lever")):
            if given is None:
                continue
            if not given.strip():
                after[col] = None
                continue
            code = _code(what, option, given, list(frame["code"]))
            ids = dict(zip(frame["code"], frame["id"].astype(int), strict=True))
            after[col] = ids[code]
        names = {"business_unit_id": dict(zip(units["id"].astype(int), units["code"],
                                               strict=True)),
                 "lever_id": dict(zip(levers["id"].astype(int), levers["code"], strict=True))}
        changes = _changes(cur, after.iloc[0], names)
        if not changes:
            return InitiativeEdit(ext, [], None)
        sub = new_submission(
            conn, kind="edit", user=current_user(user), note=note.strip(),
            details={"edit": "attributes", "initiative": ext,
                     "fields": [c.field for c in changes]},
        )
        write_initiatives(conn, after, sub.id, current=row)
        return InitiativeEdit(ext, changes, sub.id)


def _known_owner_spelling(conn: Connection, owner: str) -> str:
    """``owner`` as the ledger already spells that person (case ignored), so one person
    does not become two owners by a capital letter; else as given."""
    rows = conn.execute(text("SELECT DISTINCT owner FROM initiative_version "
                             "WHERE valid_to = :open"), {"open": OPEN}).scalars()
    spellings = sorted(str(o) for o in rows if _fold(o) == _fold(owner))
    return spellings[0] if spellings else owner


def set_status(ledger: Ledger, external_id: str, status: str, *, user: str | None = None,
               note: str = "", read_version: int | None = None) -> InitiativeEdit:
    """Withdraw (``status="withdrawn"``) or reinstate (``"active"``) one initiative: one
    submission (kind ``edit``). A withdrawn initiative leaves the bottom-up (the bridge
    shows it as withdrawn) and keeps its phasing on record; reinstated, it counts again.
    Nothing is written when it already has that status. ``read_version`` as for
    :func:`set_attributes`.

    Raises:
        NotFound: no such initiative.
        Conflict: the attributes changed after ``read_version``; nothing written.
    """
    if status not in INITIATIVE_STATUSES:
        raise LedgerError(f"status {status[:40]!r}: expected {' or '.join(INITIATIVE_STATUSES)}")
    with ledger.writing() as conn:
        ledger.programme(conn)
        iid = find_external_id(conn, external_id)
        row = _row(conn, iid)
        cur = row.iloc[0]
        ext = str(cur["external_id"])
        if read_version is not None:
            check_attribute_version(conn, iid, ext, read_version)
        if cur["status"] == status:
            return InitiativeEdit(ext, [], None)
        sub = new_submission(conn, kind="edit", user=current_user(user), note=note.strip(),
                             details={"edit": "status", "initiative": ext, "from": cur["status"],
                                      "to": status})
        after = row[["external_id", *ATTRIBUTES]].assign(status=status)
        write_initiatives(conn, after, sub.id, current=row)
        return InitiativeEdit(ext, [AttributeChange("status", str(cur["status"]), status)],
                              sub.id)


@dataclass(frozen=True)
class Reassignment:
    """What :func:`reassign_owner` did: ``submission_id`` is None when nothing moved."""

    from_owner: str
    """The owner as the ledger spelled them (the first spelling, if several)."""
    to_owner: str
    """The new owner as written to the ledger (an existing spelling, case ignored)."""
    moved: list[str]
    left_withdrawn: list[str]
    """Withdrawn initiatives of the old owner not moved (``include_withdrawn=False``)."""
    new_owner: bool
    """True when ``to_owner`` owned no initiative before (check the spelling)."""
    submission_id: int | None


def reassign_owner(ledger: Ledger, from_owner: str, to_owner: str, *,
                   include_withdrawn: bool = False, user: str | None = None,
                   note: str = "") -> Reassignment:
    """Move every active initiative of ``from_owner`` (and with ``include_withdrawn`` the
    withdrawn ones too) to ``to_owner``, in one submission (kind ``edit``).

    Raises:
        NotFound: nobody called ``from_owner`` owns an initiative (with a did-you-mean).
        LedgerError: an empty ``to_owner``, or the same person.
    """
    target = _text(to_owner, "to", MAX_OWNER, required=True)
    source = from_owner.strip()
    if _fold(source) == _fold(target):
        raise LedgerError(f"--from and --to are the same owner ({source[:60]!r})")
    with ledger.writing() as conn:
        ledger.programme(conn)
        cur = current_initiatives(conn)
        folded = cur["owner"].map(_fold)
        theirs = cur[folded == _fold(source)]
        if theirs.empty:
            owners = sorted(set(cur["owner"].astype(str)))
            raise NotFound(f"--from {source[:60]!r}: nobody of that name owns an initiative"
                           f"{did_you_mean(source, owners)}")
        spelled = str(sorted(set(theirs["owner"].astype(str)))[0])
        existing = sorted(set(cur.loc[folded == _fold(target), "owner"].astype(str)))
        new_name = existing[0] if existing else target
        movable = theirs if include_withdrawn else theirs[theirs["status"] == "active"]
        left = [] if include_withdrawn else theirs.loc[theirs["status"] != "active",
                                                       "external_id"].astype(str).tolist()
        moved = movable["external_id"].astype(str).tolist()
        if not moved:
            return Reassignment(spelled, new_name, [], left, not existing, None)
        sub = new_submission(conn, kind="edit", user=current_user(user), note=note.strip(),
                             details={"edit": "reassign", "from": spelled, "to": new_name,
                                      "initiatives": len(moved)})
        after = movable[["external_id", *ATTRIBUTES]].assign(owner=new_name)
        write_initiatives(conn, after, sub.id, current=cur)
        return Reassignment(spelled, new_name, moved, left, not existing, sub.id)


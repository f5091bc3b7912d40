"""Lost updates through ordinary workbooks: a file saved before newer ledger edits must not
silently revert them.

An initiatives workbook is a copy of part of the ledger taken at some moment: its **base**.
When it is imported, every fact it would change is checked against what happened in the
ledger after that base. A fact whose value changed since the base (by a single edit, an owner
workbook, another file) and that the workbook would set to something else again is a
**conflict**: the import stops, naming the value the file was based on, the ledger's value
now, and the file's value, unless ``force`` is given (then the submission records what was
overridden, as an owner workbook does).

The base of a file is the newest of:

* the submission a ``tledger template initiatives --prefill`` workbook was exported at (two
  custom document properties, :mod:`ledger.template_stamp`, kept by Excel and LibreOffice
  on save);
* the newest earlier initiatives import of a file with the same name, or of a file
  carrying the same exported-at property (its import recorded ``based_on``): the file's
  content was last imported then, and that import was itself checked against everything
  before it.

A file with no base (its first import under that name, no property) is not checked.

The check reads only versions written or ended after the base (``valid_from > base``
through ``ix_phasing_valid_from``; ``valid_to`` ranges through ``ix_phasing_scan``), and
compares them with the facts the import's diff already says it would change.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from defusedxml import ElementTree
from sqlalchemy import Connection, bindparam, text

from importers.factdiff import fact_keys
from ledger.errors import Conflict
from ledger.models import OPEN, SCENARIOS
from ledger.money import amount_text, from_minor
from ledger.store import FactChanges, read_frame_in
from ledger.template_stamp import BASE_PROPERTY, LEDGER_PROPERTY
from ledger.wording import plural

#: Conflicts listed in the error message (all of them go to the exception's frame).
SHOWN = 20

#: A custom-properties part larger than this is not ours (Excel writes a few hundred bytes).
_MAX_PROPERTIES_BYTES = 1 << 20

CONFLICT_COLUMNS = ["initiative", "what", "month", "based_on", "ledger_now", "file",
                    "changed_by"]
"""One row per conflict: ``what`` is ``metric scenario`` for phasing, an attribute's name,
or ``status`` for a withdrawal; ``month`` is ``YYYY-MM`` or empty; the three values are
display text (``None`` for empty); ``changed_by`` the submission that wrote the newer value."""


@dataclass(frozen=True)
class Stamp:
    """The exported-at properties of a pre-filled template."""

    ledger_id: str
    based_on: int


@dataclass(frozen=True)
class Base:
    """The ledger state a file was made from."""

    submission: int
    how: str
    """Why this is the base, for the message (e.g. "exported at submission 7")."""


class StaleWorkbook(Conflict):
    """An ordinary workbook would overwrite values changed in the ledger after its base."""

    def __init__(self, message: str, conflicts: pd.DataFrame) -> None:
        super().__init__(message)
        self.conflicts = conflicts


def read_stamp(path: Path) -> Stamp | None:
    """The exported-at properties of the workbook at ``path``, or None.

    Reads only ``docProps/custom.xml`` from the ZIP directory: no sheet is opened. Anything
    unreadable reads as "no stamp" (the import reports a damaged file on its own).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("docProps/custom.xml")
            if info.file_size > _MAX_PROPERTIES_BYTES:
                return None
            xml = zf.read(info)
        root = ElementTree.fromstring(xml)
    except Exception:
        return None
    found: dict[str, str] = {}
    for prop in root:
        name = prop.get("name")
        if name in (LEDGER_PROPERTY, BASE_PROPERTY) and len(prop):
            found[name] = (prop[0].text or "").strip()
    try:
        based_on = int(found[BASE_PROPERTY])
    except (KeyError, ValueError):
        return None
    ledger_id = found.get(LEDGER_PROPERTY, "")
    return Stamp(ledger_id, based_on) if ledger_id and based_on >= 0 else None


def _is_initiatives_import(details: Any) -> tuple[bool, int | None]:
    """(an ordinary initiatives import?, the ``based_on`` it recorded) from its details."""
    try:
        recorded = json.loads(details) if details else {}
    except ValueError:
        return False, None
    if not isinstance(recorded, dict):
        return False, None
    if "owner_workbook" in recorded or recorded.get("what", "initiatives") != "initiatives":
        return False, None
    based_on = recorded.get("based_on")
    return True, based_on if isinstance(based_on, int) else None


def file_base(conn: Connection, name: str, own: Stamp | None) -> Base | None:
    """The base of a file called ``name`` carrying ``own`` (this ledger's stamp; see the
    module's docstring), or None for a file never imported under that name, unstamped."""
    candidates: list[Base] = []
    if own is not None:
        candidates.append(Base(own.based_on, f"exported at submission {own.based_on}"))
    params: dict[str, Any] = {"n": name}
    lineage = "source_name = :n"
    if own is not None:
        # Imports of other copies of the same export record it in details; the LIKE only
        # narrows the rows, the JSON is checked below.
        lineage += " OR details LIKE :b"
        params["b"] = f'%"based_on": {own.based_on}%'
    rows = conn.execute(text(
        f"SELECT id, source_name, details FROM submission WHERE kind = 'import' "  # noqa: S608  (lineage: fixed SQL; values bound)
        f"AND ({lineage}) ORDER BY id DESC"), params).all()
    for sub_id, source, details in rows:
        ordinary, based_on = _is_initiatives_import(details)
        if not ordinary:
            continue
        if source == name:
            candidates.append(Base(int(sub_id), f"last imported as submission {sub_id}"))
            break
        if own is not None and based_on == own.based_on:
            candidates.append(Base(int(sub_id), f"a copy of it imported as submission "
                                                f"{sub_id}"))
            break
    if not candidates:
        return None
    return max(candidates, key=lambda b: b.submission)


def _int(value: Any) -> int:
    """``int`` of a cell (typed loosely: pandas types cells as anything)."""
    return int(value)


def _in_list(values: Any) -> str:
    return ", ".join(str(int(v)) for v in sorted(set(values))) or "NULL"


def _scenario_list(values: Any) -> str:
    # Only the known scenario names are ever spelled into the SQL.
    return ", ".join(f"'{v}'" for v in sorted(set(values)) if v in SCENARIOS) or "NULL"


def phasing_conflicts(conn: Connection, base: Base, facts: FactChanges,
                      names: dict[str, Any], decimals: dict[int, int]) -> pd.DataFrame:
    """The facts of ``facts`` (what the import would add, change, remove) that the ledger
    changed after ``base`` to a value the file does not have.

    ``names``: ``initiative`` and ``metric`` ids to external ids and codes (anything with
    ``get``); ``decimals``: metric id to its decimals.
    """
    touched = [f for f in (facts.added, facts.changed, facts.removed) if len(f)]
    if not touched:
        return pd.DataFrame(columns=CONFLICT_COLUMNS)
    metric_ids = set().union(*(f["metric_id"].tolist() for f in touched))
    scenarios = set().union(*(f["scenario"].tolist() for f in touched))
    scope = (f"metric_id IN ({_in_list(metric_ids)}) "
             f"AND scenario IN ({_scenario_list(scenarios)})")
    b = {"b": base.submission}
    # Current versions written after the base: the changes and removals they would undo.
    newer = conn.execute(text(
        f"SELECT id, valid_from FROM phasing WHERE valid_from > :b AND valid_to = {OPEN} "  # noqa: S608  (scope: integer ids and known scenarios only)
        f"AND {scope}"), b).all()
    # Versions the file was based on that something ended after the base: the "based on"
    # value of a changed fact, and a month emptied since (which the file would fill again).
    ended = conn.execute(text(
        "SELECT initiative_id, metric_id, scenario, CAST(month AS VARCHAR(10)), "  # noqa: S608  (scope: integer ids and known scenarios only)
        f"amount_minor, valid_to FROM phasing WHERE {scope} AND valid_to > :b "
        f"AND valid_to < {OPEN} AND valid_from <= :b"), b).all()
    if not newer and not ended:
        return pd.DataFrame(columns=CONFLICT_COLUMNS)
    newer_by = {int(i): int(v) for i, v in newer}
    ended_frame = pd.DataFrame(ended, columns=["initiative_id", "metric_id", "scenario",
                                               "month", "amount_minor", "valid_to"])
    ended_keys = fact_keys(ended_frame["initiative_id"].to_numpy(np.int64),
                           ended_frame["metric_id"].to_numpy(np.int64),
                           ended_frame["scenario"].to_numpy(object),
                           ended_frame["month"].astype(str).str[:10].to_numpy(object))
    based = dict(zip(ended_keys.tolist(), ended_frame["amount_minor"].map(int), strict=True))
    ended_by = dict(zip(ended_keys.tolist(), ended_frame["valid_to"].map(int), strict=True))

    records: list[dict[str, Any]] = []

    def keys_of(frame: pd.DataFrame) -> list[int]:
        keys: list[int] = fact_keys(frame["initiative_id"].to_numpy(np.int64),
                                    frame["metric_id"].to_numpy(np.int64),
                                    frame["scenario"].to_numpy(object),
                                    frame["month"].astype(str).str[:10].to_numpy(object)
                                    ).tolist()
        return keys

    def add(row: Any, key: int, was: int | None, now: int | None, new: int | None,
            by: int) -> None:
        if was == now:  # rewritten since, but to the value the file was based on
            return
        places = decimals[int(row.metric_id)]
        records.append({
            "initiative": names["initiative"].get(int(row.initiative_id),
                                                  str(row.initiative_id)),
            "what": f"{names['metric'].get(int(row.metric_id), row.metric_id)} "
                    f"{row.scenario}",
            "month": str(row.month)[:7],
            "based_on": None if was is None else from_minor(was, places),
            "ledger_now": None if now is None else from_minor(now, places),
            "file": None if new is None else from_minor(new, places),
            "changed_by": by,
        })

    for frame, kind in ((facts.changed, "changed"), (facts.removed, "removed")):
        if not len(frame) or not newer_by:
            continue
        hit = np.flatnonzero(np.isin(frame["old_id"].to_numpy(np.int64),
                                     np.fromiter(newer_by, dtype=np.int64)))
        if not len(hit):
            continue
        sub = frame.iloc[hit]
        for row, key in zip(sub.itertuples(index=False), keys_of(sub), strict=True):
            now = _int(row.old_amount_minor)
            new = _int(row.amount_minor) if kind == "changed" else None
            add(row, key, based.get(key), now, new, newer_by[_int(row.old_id)])
    if len(facts.added) and based:
        added = facts.added[facts.added["initiative_id"].to_numpy(np.int64) > 0]
        if len(added):
            keys = np.array(keys_of(added), dtype=np.int64)
            hit = np.flatnonzero(np.isin(keys, np.fromiter(based, dtype=np.int64)))
            sub = added.iloc[hit]
            for row, key in zip(sub.itertuples(index=False), keys[hit].tolist(), strict=True):
                add(row, key, based[key], None, _int(row.amount_minor), ended_by[key])
    return pd.DataFrame(records, columns=CONFLICT_COLUMNS)


_SHOWN_ATTRIBUTES = [("name", "name", None), ("owner", "owner", None),
                     ("business unit", "business_unit_id", "units"),
                     ("lever", "lever_id", "levers"), ("stage", "stage_gate_id", "stages"),
                     ("description", "description", None), ("status", "status", None)]


def initiative_conflicts(conn: Connection, base: Base, current: pd.DataFrame,
                         incoming: pd.DataFrame, changed: list[str], withdrawn: list[str],
                         codes: dict[str, dict[int, str]]) -> pd.DataFrame:
    """Attribute changes the import would make to initiatives whose attributes the ledger
    changed after ``base``, and withdrawals of initiatives whose attributes or phasing (any
    metric or scenario) it changed after ``base`` (``current``: the current initiatives by
    external id, with ``valid_from``; ``incoming``: the file's, ids resolved; ``codes``:
    ``units``, ``levers``, ``stages`` id -> code)."""
    moved = [e for e in [*changed, *withdrawn] if _int(current.loc[e, "valid_from"]) >
             base.submission]
    rephased = _phasing_changed_since(conn, base, [
        _int(current.loc[e, "initiative_id"]) for e in withdrawn if e not in moved])
    moved += [e for e in withdrawn
              if e not in moved and _int(current.loc[e, "initiative_id"]) in rephased]
    if not moved:
        return pd.DataFrame(columns=CONFLICT_COLUMNS)
    from ledger.initiatives import current_initiatives

    then = current_initiatives(conn, as_of=base.submission).set_index("external_id")
    file = incoming.set_index("external_id")

    def shown(value: Any, table: str | None) -> str | None:
        if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
            return None
        return codes[table].get(int(value), str(value)) if table else str(value)

    records: list[dict[str, Any]] = []
    for ext in moved:
        now = current.loc[ext]
        by = _int(now["valid_from"])
        was = then.loc[ext] if ext in then.index else None
        if ext in withdrawn:
            iid = _int(now["initiative_id"])
            what = "changed since" if iid not in rephased else "phasing changed since"
            records.append({"initiative": ext, "what": "status", "month": "",
                            "based_on": "not in the ledger" if was is None else
                            str(was["status"]),
                            "ledger_now": f"{now['status']}, {what}",
                            "file": "withdrawn (missing from the file)",
                            "changed_by": rephased.get(iid, by)})
            continue
        for label, col, table in _SHOWN_ATTRIBUTES:
            old = None if was is None else shown(was[col], table)
            cur = shown(now[col], table)
            # A file lists active initiatives: write_initiatives gives them no other status.
            new = shown(file.loc[ext, col], table) if col in file.columns else "active"
            if old != cur and new != cur:
                records.append({"initiative": ext, "what": label, "month": "",
                                "based_on": old, "ledger_now": cur, "file": new,
                                "changed_by": by})
    return pd.DataFrame(records, columns=CONFLICT_COLUMNS)


def _phasing_changed_since(conn: Connection, base: Base, initiative_ids: list[int]
                           ) -> dict[int, int]:
    """{initiative: the newest submission after ``base`` that changed any of its phasing}
    for those of ``initiative_ids`` that have one (read through ``ix_phasing_initiative``)."""
    if not initiative_ids:
        return {}
    frame = read_frame_in(
        conn,
        "SELECT initiative_id, MAX(CASE WHEN valid_to = :open THEN valid_from "
        "ELSE valid_to END) AS version FROM phasing WHERE initiative_id IN :ids "
        "AND (valid_from > :b OR (valid_to > :b AND valid_to < :open)) "
        "GROUP BY initiative_id", {"b": base.submission, "open": OPEN}, "ids", initiative_ids)
    return {int(i): int(v) for i, v in
            zip(frame["initiative_id"], frame["version"], strict=True)}


def _fmt(value: Any) -> str:
    """An amount via :func:`ledger.money.amount_text`; an attribute's text as it is."""
    return value if isinstance(value, str) else amount_text(value)


def describe(conflicts: pd.DataFrame, users: dict[int, str]) -> list[str]:
    """One line per conflict, e.g. ``GR-0001 benefit plan 2026-07: based on 100.00,
    ledger now 150.00 (submission 5 by ana), file 120.00``."""
    lines = []
    for conflict in conflicts.to_dict("records"):
        month = f" {conflict['month']}" if conflict["month"] else ""
        where = f"{conflict['initiative']} {conflict['what']}{month}"
        by = int(conflict["changed_by"])
        who = f"submission {by}" + (f" by {users[by]}" if users.get(by) else "")
        lines.append(f"{where}: based on {_fmt(conflict['based_on'])}, ledger now "
                     f"{_fmt(conflict['ledger_now'])} ({who}), file {_fmt(conflict['file'])}")
    return lines


def submission_users(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    """The user who made each of the submissions ``ids``."""
    query = text(f"SELECT id, {conn.dialect.identifier_preparer.quote('user')} "  # noqa: S608  (a quoted column name; ids bound)
                 "FROM submission WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    rows = conn.execute(query, {"ids": sorted({int(i) for i in ids})}).all()
    return {int(i): str(u) for i, u in rows}


def refusal(name: str, base: Base, conflicts: pd.DataFrame, lines: list[str]) -> str:
    """The error message: what, why, how to proceed, then the first :data:`SHOWN`
    conflicts."""
    n_ini = conflicts["initiative"].nunique()
    shown = lines[:SHOWN]
    more = len(lines) - len(shown)
    return (f"{name}: {plural(len(lines), 'value')} of {plural(n_ini, 'initiative')} "
            "changed in the ledger "
            f"after this file's base ({base.how}) and the file would overwrite them; nothing "
            "was written. Take the newer values into the file (or export a new one with "
            "`tledger template initiatives --prefill`), or import with --force to overwrite "
            "them:\n" + "\n".join(f"  {line}" for line in shown)
            + (f"\n  ... and {more} more" if more else ""))


def overrode(conflicts: pd.DataFrame) -> list[dict[str, Any]]:
    """The submission details' ``overrode`` list for a forced import."""
    def plain(v: Any) -> str | None:
        return None if v is None else str(v)

    return [{"initiative": r["initiative"], "what": r["what"], "month": r["month"],
             "based_on": plain(r["based_on"]), "ledger": plain(r["ledger_now"]),
             "file": plain(r["file"]), "changed_by": int(r["changed_by"])}
            for r in conflicts.to_dict("records")]

"""Initiatives: identities plus versioned attributes, written in bulk.

An initiative's attributes (name, owner, business unit, lever, stage gate, description,
status) are versioned like facts: a change closes the current version and inserts a new one
under the same submission.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from ledger.errors import LedgerError
from ledger.models import OPEN, Initiative, InitiativeVersion
from ledger.store import bulk_insert, close_versions, read_frame, read_frame_in, version_filter

ATTRIBUTES = ["name", "owner", "business_unit_id", "lever_id", "stage_gate_id", "description",
              "status"]


def current_initiatives(conn: Connection, as_of: int | None = None,
                        initiative_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Every initiative's version valid now (or as of submission ``as_of``); only those of
    ``initiative_ids`` when given (a page showing a few reads only those).

    Columns: ``initiative_id, external_id, version_id, name, owner, business_unit_id,
    business_unit, lever_id, lever, stage_gate_id, stage, stage_ordinal, weight_bp,
    description, status, valid_from``. ``weight_bp`` is the stage gate's risk weight valid
    at the same instant.
    """
    where, params = version_filter(as_of, "v")
    w_where, _ = version_filter(as_of, "w")
    only = "" if initiative_ids is None else " AND v.initiative_id IN :ids"
    sql = f"""
        SELECT v.initiative_id, i.external_id, v.id AS version_id, v.name, v.owner,
               v.business_unit_id, bu.code AS business_unit, v.lever_id, lv.code AS lever,
               v.stage_gate_id, sg.code AS stage, sg.ordinal AS stage_ordinal,
               w.weight_bp, v.description, v.status, v.valid_from
        FROM initiative_version v
        JOIN initiative i ON i.id = v.initiative_id
        JOIN stage_gate sg ON sg.id = v.stage_gate_id
        LEFT JOIN stage_weight w ON w.stage_gate_id = sg.id AND {w_where}
        LEFT JOIN business_unit bu ON bu.id = v.business_unit_id
        LEFT JOIN lever lv ON lv.id = v.lever_id
        WHERE {where}{only}
        ORDER BY i.external_id
        """  # noqa: S608  (where, only: fixed SQL text; values bound)
    if initiative_ids is None:
        frame = read_frame(conn, sql, params)
    else:
        frame = read_frame_in(conn, sql, params, "ids", [int(i) for i in initiative_ids])
        frame = frame.sort_values("external_id", ignore_index=True)
    for col in ("initiative_id", "version_id", "stage_gate_id", "stage_ordinal", "valid_from"):
        frame[col] = frame[col].astype("int64")
    for col in ("business_unit_id", "lever_id", "weight_bp"):
        frame[col] = frame[col].astype("Int64")
    return frame


def _comparable(column: pd.Series) -> np.ndarray:
    """``column`` as an object array where every missing value (None, NaN, NA) is None and
    numpy integers compare equal to Python ones (object ``==`` calls ``__eq__``)."""
    return column.astype(object).where(column.notna(), None).to_numpy(dtype=object)


def attributes_differ(before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    """Row by row (same length, same order): does any of :data:`ATTRIBUTES` differ?

    Missing equals missing; ids read back as numpy integers equal the same Python ints.
    """
    differs = np.zeros(len(before), dtype=bool)
    for col in ATTRIBUTES:
        differs |= np.asarray(_comparable(before[col]) != _comparable(after[col]), dtype=bool)
    return differs


@dataclass
class InitiativeChanges:
    added: list[str]
    changed: list[str]
    withdrawn: list[str]
    ids: dict[str, int]
    """external_id -> initiative id, for every initiative in the incoming frame."""


def _refuse_case_collisions(new: list[str], existing: list[str]) -> None:
    """New initiative ids that differ from an existing one, or from each other, only by
    case are refused (Excel would match them as one).

    Raises:
        LedgerError: naming the first collision.
    """
    by_fold = {e.casefold(): e for e in existing}
    for external_id in new:
        other = by_fold.get(external_id.casefold())
        if other is not None and other != external_id:
            raise LedgerError(f"initiative {external_id!r} collides with the existing "
                              f"initiative {other!r}: ids are unique regardless of case")
        by_fold[external_id.casefold()] = external_id


def write_initiatives(
    conn: Connection,
    incoming: pd.DataFrame,
    submission_id: int,
    *,
    withdraw_missing: pd.Series | None = None,
    dry_run: bool = False,
    current: pd.DataFrame | None = None,
) -> InitiativeChanges:
    """Add new initiatives and version changed attributes.

    ``incoming`` has ``external_id`` and the :data:`ATTRIBUTES` columns (ids resolved,
    ``status`` defaulting to active). ``withdraw_missing`` is a boolean mask over the
    current initiatives (index = external_id) saying which of those absent from
    ``incoming`` to withdraw (a full snapshot of a scope); None withdraws nothing.
    ``current``: :func:`current_initiatives` as already read in this transaction (read
    here if not given).
    """
    inc = incoming.copy()
    if "status" not in inc:
        inc["status"] = "active"
    inc["description"] = inc["description"].fillna("")
    if current is None:
        current = current_initiatives(conn)
    cur = current.set_index("external_id")
    known = inc["external_id"].isin(cur.index)
    new = inc[~known]
    existing = inc[known]
    changed_ids: list[str] = []
    close_ids: list[int] = []
    versions: list[pd.DataFrame] = []
    if not existing.empty:
        before = cur.loc[existing["external_id"], ATTRIBUTES].reset_index(drop=True)
        after = existing[ATTRIBUTES].reset_index(drop=True)
        differs = pd.Series(attributes_differ(before, after), index=before.index)
        ext = existing["external_id"].reset_index(drop=True)
        changed_ids = ext[differs].tolist()
        close_ids = cur.loc[changed_ids, "version_id"].astype("int64").tolist()
        if changed_ids:
            upd = existing.set_index("external_id").loc[changed_ids].reset_index()
            upd["initiative_id"] = cur.loc[changed_ids, "initiative_id"].to_numpy()
            versions.append(upd)
    withdrawn: list[str] = []
    if withdraw_missing is not None:
        missing = cur.index.difference(pd.Index(inc["external_id"]))
        candidates = withdraw_missing.reindex(missing, fill_value=False)
        to_withdraw = cur.loc[candidates[candidates].index]
        to_withdraw = to_withdraw[to_withdraw["status"] == "active"]
        withdrawn = to_withdraw.index.tolist()
        if withdrawn:
            close_ids += to_withdraw["version_id"].astype("int64").tolist()
            w = to_withdraw[[*ATTRIBUTES, "initiative_id"]].reset_index()
            w["status"] = "withdrawn"
            versions.append(w)
    if not new.empty:
        _refuse_case_collisions(new["external_id"].astype(str).tolist(),
                                [str(e) for e in cur.index])
    ids = {str(k): int(v) for k, v in cur["initiative_id"].items()}
    if dry_run:
        return InitiativeChanges(new["external_id"].tolist(), changed_ids, withdrawn, ids)
    if not new.empty:
        start = int(read_frame(conn, "SELECT COALESCE(MAX(id), 0) AS m FROM initiative")["m"][0])
        new = new.assign(initiative_id=range(start + 1, start + 1 + len(new)))
        bulk_insert(
            conn,
            Initiative.__table__,
            pd.DataFrame({
                "id": new["initiative_id"],
                "external_id": new["external_id"],
                "created_submission_id": submission_id,
            }),
        )
        versions.append(new)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('initiative', 'id'), "
                "(SELECT MAX(id) FROM initiative))"
            )
        ids.update({k: int(v) for k, v in zip(new["external_id"], new["initiative_id"],
                                               strict=True)})
    close_versions(conn, InitiativeVersion.__table__, close_ids, submission_id)
    if versions:
        rows = pd.concat(versions, ignore_index=True)[["initiative_id", *ATTRIBUTES]]
        rows = rows.assign(valid_from=submission_id, valid_to=OPEN)
        for col in ("business_unit_id", "lever_id"):
            rows[col] = rows[col].astype("Int64").astype(object).where(rows[col].notna(), None)
        bulk_insert(conn, InitiativeVersion.__table__, rows)
    return InitiativeChanges(new["external_id"].tolist(), changed_ids, withdrawn, ids)

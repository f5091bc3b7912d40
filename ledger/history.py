"""The history of one initiative: every change, newest first, read from its versions.

History is append-only, so every change is visible as versions: a submission ``S`` changed
a phasing month when a version ends at ``S`` (old value) and/or one starts at ``S`` (new
value); likewise for the initiative's attributes. Nothing else needs to be recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from ledger.api import Ledger, MetricInfo
from ledger.initiatives import ATTRIBUTES
from ledger.models import OPEN
from ledger.money import from_minor
from ledger.phasing import find_initiative
from ledger.store import read_frame_in
from ledger.vocabulary import stored_utc

HISTORY_COLUMNS = ["submission", "when", "who", "kind", "source", "note", "what", "old", "new",
                   "forced"]
#: Attribute names as people say them, in the order changes are listed.
_ATTRIBUTE_LABEL = {
    "stage_gate_id": "stage", "owner": "owner", "name": "name",
    "business_unit_id": "business unit", "lever_id": "lever", "description": "description",
    "status": "status",
}


def _value(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


@dataclass(frozen=True)
class Change:
    """One changed item of an initiative: a phasing month or an attribute."""

    submission: int
    order: int
    """Attributes first (``created`` 0, then as :data:`_ATTRIBUTE_LABEL` lists them), stage
    requests and decisions (90, 91), then phasing months (100)."""
    what: str
    old: str | None
    new: str | None


def _phasing_changes(metrics: dict[int, MetricInfo], rows: Iterable[Sequence[Any]]
                     ) -> list[Change]:
    """Changes from phasing versions ``(metric id, scenario, month, amount minor,
    valid_from, valid_to)``: a version starts at one submission (new) and ends at another
    (old); both halves of one submission's change meet on the same item."""
    items: dict[tuple[int, int, str, str], list[int | None]] = {}
    for metric_id, scenario, month, minor, valid_from, valid_to in rows:
        key = (int(metric_id), str(scenario), str(month)[:7])
        items.setdefault((int(valid_from), *key), [None, None])[1] = int(minor)
        if int(valid_to) != OPEN:
            items.setdefault((int(valid_to), *key), [None, None])[0] = int(minor)
    out = []
    for (sub, metric_id, scenario, month), (old, new) in items.items():
        m = metrics[metric_id]
        out.append(Change(sub, 100, f"{m.code} {scenario} {month}",
                          None if old is None else str(from_minor(old, m.decimals)),
                          None if new is None else str(from_minor(new, m.decimals))))
    return out


def _attribute_changes(versions: list[dict[str, Any]]) -> list[Change]:
    """Changes from the initiative's attribute versions (codes for gates, units, levers)."""
    out: list[Change] = []
    starts = {int(v["valid_from"]) for v in versions}
    ended_at = {int(v["valid_to"]): v for v in versions if int(v["valid_to"]) != OPEN}
    for ver in sorted(versions, key=lambda v: int(v["valid_from"])):
        start = int(ver["valid_from"])
        before = ended_at.get(start)
        if before is None:
            out.append(Change(start, 0, "created", None,
                              f"{ver['name']} ({ver['owner']}, {ver['stage_gate_id']})"))
            continue
        for order, col in enumerate(_ATTRIBUTE_LABEL, start=1):
            if col not in ATTRIBUTES and col != "stage_gate_id":  # pragma: no cover
                continue
            a, b = _value(before[col]), _value(ver[col])
            if (a or "") != (b or ""):
                out.append(Change(start, order, _ATTRIBUTE_LABEL[col], a, b))
    # A version ended with no successor (not done by tledger today) still shows.
    for end, ver in ended_at.items():
        if end not in starts:
            out.append(Change(end, 0, "removed", _value(ver["name"]), None))
    return out


def _row_notes(subs: dict[int, dict[str, Any]], external_id: str) -> list[Change]:
    """``row note`` items: the text of a workbook's comments (note) column on this
    initiative's rows, kept in the details of the import that changed it."""
    out: list[Change] = []
    for sub_id, info in subs.items():
        details = info["details"]
        if not isinstance(details, str) or "row_notes" not in details:
            continue
        try:
            note = json.loads(details).get("row_notes", {}).get(external_id)
        except (ValueError, AttributeError):
            continue
        if isinstance(note, str) and note:
            out.append(Change(sub_id, 99, "row note", None, note))
    return out


def _sorted(changes: list[Change]) -> list[Change]:
    """Newest first; within a submission attributes, row note, then phasing by name."""
    return sorted(changes, key=lambda c: (-c.submission, c.order, c.what))


def initiative_changes(conn: Connection, initiative_id: int,
                       metrics: dict[int, MetricInfo]) -> list[Change]:
    """Every change to one initiative, newest first (within a submission: attributes, then
    phasing months in name order)."""
    phasing = conn.execute(text(
        "SELECT metric_id, scenario, CAST(month AS VARCHAR(10)), amount_minor, valid_from, "
        "valid_to FROM phasing WHERE initiative_id = :i"), {"i": initiative_id}).all()
    result = conn.execute(text(
        "SELECT v.name, v.owner, bu.code AS business_unit_id, lv.code AS lever_id, "
        "sg.code AS stage_gate_id, v.description, v.status, v.valid_from, v.valid_to "
        "FROM initiative_version v JOIN stage_gate sg ON sg.id = v.stage_gate_id "
        "LEFT JOIN business_unit bu ON bu.id = v.business_unit_id "
        "LEFT JOIN lever lv ON lv.id = v.lever_id WHERE v.initiative_id = :i"),
        {"i": initiative_id})
    versions = [dict(zip(result.keys(), row, strict=True)) for row in result.all()]
    return _sorted(_phasing_changes(metrics, phasing) + _attribute_changes(versions)
                   + _stage_requests(conn, initiative_id))


def _stage_requests(conn: Connection, initiative_id: int) -> list[Change]:
    """``stage request`` items (old: the gate then, new: the gate asked for) and ``stage
    request approved`` / ``rejected`` items, from the approvals' tables."""
    rows = conn.execute(text(
        "SELECT r.id, r.from_stage, r.to_stage, r.created_submission_id, d.decision, "
        "d.created_submission_id FROM stage_request r LEFT JOIN stage_decision d "
        "ON d.request_id = r.id WHERE r.initiative_id = :i"), {"i": initiative_id}).all()
    out = []
    for rid, old, new, sub, decision, decided in rows:
        out.append(Change(int(sub), 90, f"stage request #{rid}", str(old), str(new)))
        if decision is not None:
            out.append(Change(int(decided), 91, f"stage request #{rid} {decision}", str(old),
                              str(new)))
    return out


def _submissions(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    frame = read_frame_in(
        conn,
        'SELECT id, created_at, "user", kind, source_name, source_sha256, note, details '
        "FROM submission WHERE id IN :ids", {}, "ids", set(ids),
    )
    return {int(r["id"]): {str(k): v for k, v in r.items()} for r in frame.to_dict("records")}


@dataclass(frozen=True)
class HistoryPage:
    """Some of an initiative's newest changes, for a page."""

    rows: list[dict[str, Any]]
    """``submission, when, who, note, what, old, new`` per change, newest first."""
    older: int | None
    """Where the next (older) page starts (``before`` for :func:`history_page`), None at
    the first change."""


def history_page(conn: Connection, initiative_id: int, external_id: str,
                 metrics: dict[int, MetricInfo], *, limit: int = 50,
                 before: int | None = None) -> HistoryPage:
    """The newest changes made before submission ``before`` (None: all), at least
    ``limit`` of them unless fewer exist, whole submissions only (the last one's every
    change is shown). Only the submissions shown are read."""
    changes = [c for c in initiative_changes(conn, initiative_id, metrics)
               if before is None or c.submission < before]
    shown = changes[:limit]
    while len(shown) < len(changes) and changes[len(shown)].submission == shown[-1].submission:
        shown.append(changes[len(shown)])
    subs = _submissions(conn, {c.submission for c in shown})
    older = shown[-1].submission if len(shown) < len(changes) else None
    shown = _sorted(shown + _row_notes(subs, external_id))
    rows = [{"submission": c.submission, "when": stored_utc(subs[c.submission]["created_at"]),
             "who": subs[c.submission]["user"], "note": subs[c.submission]["note"] or "",
             "what": c.what, "old": c.old, "new": c.new} for c in shown]
    return HistoryPage(rows, older)


def history(ledger: Ledger, external_id: str) -> pd.DataFrame:
    """Every change to initiative ``external_id``, newest first.

    One row per changed item (a phasing month, an attribute), with the submission's when,
    who, kind, source (``manual``, or the file name and its SHA-256), note and whether it
    was forced over a conflict. ``what`` names the item: ``benefit plan 2027-03``,
    ``stage``, ``owner``, ``created``, ``row note`` (the comments cell of the imported
    workbook's rows, as ``new``)...; ``old`` and ``new`` are text (amounts in the
    metric's unit, codes for stage gates, units and levers), None where empty.

    Raises:
        NotFound: no such initiative.
    """
    with ledger.reading() as conn:
        ini = find_initiative(conn, external_id)
        metrics = {m.id: m for m in ledger.metrics(conn)}
        changes = initiative_changes(conn, ini.id, metrics)
        subs = _submissions(conn, {c.submission for c in changes})
    changes = _sorted(changes + _row_notes(subs, ini.external_id))
    if not changes:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    info = [subs[c.submission] for c in changes]
    return pd.DataFrame({
        "submission": pd.Series([c.submission for c in changes], dtype="int64"),
        "when": [stored_utc(s["created_at"]) for s in info],
        "who": [s["user"] for s in info],
        "kind": [s["kind"] for s in info],
        "source": [
            "manual" if not isinstance(name, str) or not name
            else f"{name} sha256:{sha}" if isinstance(sha, str) and sha else name
            for name, sha in ((s["source_name"], s["source_sha256"]) for s in info)
        ],
        "note": [s["note"] if isinstance(s["note"], str) else "" for s in info],
        "what": [c.what for c in changes],
        # object dtype: pandas' string dtype would turn None ("empty") into NaN.
        "old": pd.Series([c.old for c in changes], dtype=object),
        "new": pd.Series([c.new for c in changes], dtype=object),
        "forced": [bool(json.loads(d).get("forced")) if isinstance(d, str) and d else False
                   for d in (s["details"] for s in info)],
    })

"""Stage-gate approvals and the committed plan (issue 17; docs/owners.md).

**Which gates need approval** is a programme setting (:func:`set_approval_gates`, ``tledger
programme set --approval-gates L3,L5``; default :data:`DEFAULT_APPROVAL_GATES`), recorded
as a submission like the coverage thresholds.

**Owners move stages only by request** (:func:`request_stage`): forward, and never past
the next gate that needs approval. A request into a gate that needs approval waits for the
office (:func:`approve`, :func:`reject`); one into a gate that does not is carried out at
once, as the owner's own stage change. Each request and each decision is a submission
(kind ``stage``) and a row of the append-only ``stage_request`` / ``stage_decision``
tables; an approval's submission is the stage change itself (the same write ``tledger
stage set`` makes). One request per initiative may be pending; a request overtaken by
another stage change is *stale* and refused on approval (the office rejects it).

**The committed plan.** An initiative's plan is committed when it enters
:data:`COMMIT_GATE` (L3, approved for execution) or a later gate from below it (or is
created there): the committing submission is that stage change; usually the approval.
Nothing is copied: the plan "as approved" is the plan as of that submission, read with
the as-of machinery (``valid_from <= S < valid_to``), so it is exact, and initiatives that
were already at L3+ before approvals existed are committed at the stage change (or
import) that took them there. Moved back below L3, an initiative is no longer committed;
its next entry commits again. "Committed" keeps the one meaning the finance view gives it
(initiatives at L3 or beyond); the committed plan is *their plan as it stood when they
became committed*.

After commitment an owner changes the forecast (and the actuals, where the office lets
owners) but not the plan, in the web grid and in the owner workbook; the office may
change the plan, with a note.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from ledger.api import Ledger
from ledger.errors import LedgerError, NotFound
from ledger.initiatives import ATTRIBUTES, current_initiatives, write_initiatives
from ledger.models import OPEN
from ledger.money import from_minor
from ledger.phasing import find_initiative
from ledger.store import current_user, new_submission, read_frame_in
from ledger.vocabulary import stored_utc

#: Gates that need the office's approval until the programme says otherwise.
DEFAULT_APPROVAL_GATES = ("L3", "L5")
#: The gate at which the plan is committed, and its ordinal (L3, approved for execution).
COMMIT_GATE = "L3"
COMMIT_ORDINAL = 3
#: The submission details key that records the approval gates.
_GATES_KEY = "approval_gates"
#: Longest note kept with a request or a decision.
MAX_NOTE = 2000


# --------------------------------------------------------------------------- settings


def _gates(conn: Connection) -> dict[str, int]:
    """Stage gate code -> ordinal, in order."""
    rows = conn.execute(text("SELECT code, ordinal FROM stage_gate ORDER BY ordinal")).all()
    return {str(c): int(o) for c, o in rows}


def approval_gates(ledger: Ledger, conn: Connection | None = None) -> list[str]:
    """The stage gates whose entry needs the office's approval, in gate order."""
    if conn is None:
        with ledger.reading() as c:
            return approval_gates(ledger, c)
    row = conn.execute(text(
        "SELECT details FROM submission WHERE kind = 'reference' AND details LIKE :key "
        "ORDER BY id DESC LIMIT 1"), {"key": f'%"{_GATES_KEY}"%'}).scalar_one_or_none()
    chosen = DEFAULT_APPROVAL_GATES if row is None else json.loads(row)[_GATES_KEY]
    return [g for g in _gates(conn) if g in chosen]


def set_approval_gates(ledger: Ledger, gates: Iterable[str], *, user: str | None = None,
                       note: str = "") -> list[str]:
    """Record which gates need approval (an empty list: none), as a submission. Returns
    them in gate order.

    Raises:
        NotFound: an unknown gate code.
    """
    wanted = [g.strip().upper() for g in gates if g.strip()]
    with ledger.writing() as conn:
        ledger.programme(conn)
        known = _gates(conn)
        for g in wanted:
            if g not in known:
                raise NotFound(f"no stage gate {g[:40]!r} (known: {', '.join(known)})")
        ordered = [g for g in known if g in wanted]
        new_submission(conn, kind="reference", user=current_user(user),
                       note=note or "approval gates: " + (", ".join(ordered) or "none"),
                       details={_GATES_KEY: ordered})
    return ordered


# --------------------------------------------------------------------------- commitment


@dataclass(frozen=True)
class Commitment:
    """When an initiative's plan was committed: the plan as of ``submission``."""

    initiative_id: int
    submission: int
    stage: str
    """The gate it entered then (L3, or a later one it jumped to)."""
    when: datetime
    who: str


def commitments(conn: Connection, initiative_ids: Iterable[int] | None = None, *,
                as_of: int | None = None) -> dict[int, int]:
    """Initiative id -> the submission that committed its plan, for the initiatives
    committed now (at L3+ : entered from below, or created there), or as of submission
    ``as_of`` (the versions written up to it). One query."""
    ids = None if initiative_ids is None else sorted({int(i) for i in initiative_ids})
    sql = ("SELECT v.initiative_id, v.valid_from, v.valid_to, sg.ordinal FROM "
           "initiative_version v JOIN stage_gate sg ON sg.id = v.stage_gate_id")
    if ids is None:
        frame = pd.DataFrame(conn.execute(text(sql)).all(),
                             columns=["i", "valid_from", "valid_to", "ordinal"])
    else:
        if not ids:
            return {}
        frame = read_frame_in(conn, sql + " WHERE v.initiative_id IN :ids", {}, "ids", ids)
        frame.columns = pd.Index(["i", "valid_from", "valid_to", "ordinal"])
    if as_of is not None:
        frame = frame[frame["valid_from"].astype("int64") <= as_of]
    out: dict[int, int] = {}
    for iid, versions in frame.sort_values(["i", "valid_from"]).groupby("i", sort=False):
        since: int | None = None
        for vf, vt, ordinal in zip(versions["valid_from"], versions["valid_to"],
                                   versions["ordinal"], strict=True):
            if int(ordinal) < COMMIT_ORDINAL:
                since = None
            elif since is None:
                since = int(vf)
            if _valid(int(vf), int(vt), as_of) and since is not None:
                out[int(str(iid))] = since
    return out


def _valid(valid_from: int, valid_to: int, as_of: int | None) -> bool:
    """A version is current (``as_of`` None) or was in force at submission ``as_of``."""
    return valid_to == OPEN if as_of is None else valid_from <= as_of < valid_to


def commitment(conn: Connection, initiative_id: int) -> Commitment | None:
    """When the initiative's plan was committed, or None when it is not committed now."""
    sub = commitments(conn, [initiative_id]).get(initiative_id)
    if sub is None:
        return None
    row = conn.execute(text(
        'SELECT s.created_at, s."user", sg.code FROM submission s JOIN initiative_version v '
        "ON v.valid_from = s.id AND v.initiative_id = :i JOIN stage_gate sg "
        "ON sg.id = v.stage_gate_id WHERE s.id = :s"), {"i": initiative_id, "s": sub}).one()
    return Commitment(initiative_id, sub, str(row[2]), stored_utc(row[0]), str(row[1]))


def commitment_line(c: Commitment) -> str:
    """How a locked plan explains itself to an owner."""
    return (f"plan committed at {c.stage} on {c.when:%Y-%m-%d} by {c.who}: change the "
            "forecast, or ask the office")


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class StageRequestInfo:
    id: int
    external_id: str
    name: str
    owner: str
    stage_now: str
    from_stage: str
    to_stage: str
    note: str
    requested_by: str
    requested_at: datetime
    submission: int
    state: str
    """pending, approved or rejected."""
    stale: bool
    """Pending, but the initiative's stage changed since (or it was withdrawn)."""
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    decision_submission: int | None = None


_REQUESTS_SQL = (
    "SELECT r.id, i.external_id, v.name, v.owner, sg.code, v.status, r.from_stage, "
    "r.to_stage, r.note, r.requested_by, rs.created_at, r.created_submission_id, "
    "d.decision, d.decided_by, ds.created_at, d.note, d.created_submission_id, "
    "r.initiative_id FROM stage_request r "
    "JOIN submission rs ON rs.id = r.created_submission_id "
    "JOIN initiative i ON i.id = r.initiative_id "
    "JOIN initiative_version v ON v.initiative_id = r.initiative_id AND v.valid_to = :open "
    "JOIN stage_gate sg ON sg.id = v.stage_gate_id "
    "LEFT JOIN stage_decision d ON d.request_id = r.id "
    "LEFT JOIN submission ds ON ds.id = d.created_submission_id ")


def _stage_changed_since(conn: Connection, initiative_id: int, submission: int,
                         stage: str) -> bool:
    """True when any version of the initiative written after ``submission`` is at
    another gate than ``stage`` (so its stage moved, even if it came back)."""
    row = conn.execute(text(
        "SELECT 1 FROM initiative_version v JOIN stage_gate sg ON sg.id = v.stage_gate_id "
        "WHERE v.initiative_id = :i AND v.valid_from > :s AND sg.code <> :g"),
        {"i": initiative_id, "s": submission, "g": stage}).first()
    return row is not None


def _requests(conn: Connection, where: str, params: dict[str, Any]) -> list[StageRequestInfo]:
    rows = conn.execute(text(_REQUESTS_SQL + where + " ORDER BY r.id"),
                        {"open": OPEN, **params}).all()
    out = []
    for r in rows:
        state = "pending" if r[12] is None else str(r[12])
        stale = state == "pending" and (
            r[5] != "active" or _stage_changed_since(conn, int(r[17]), int(r[11]), str(r[6])))
        out.append(StageRequestInfo(
            int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[6]), str(r[7]),
            str(r[8] or ""), str(r[9]), stored_utc(r[10]), int(r[11]), state, stale,
            None if r[13] is None else str(r[13]), None if r[14] is None else stored_utc(r[14]),
            None if r[15] is None else str(r[15]), None if r[16] is None else int(r[16])))
    return out


def pending(ledger: Ledger, conn: Connection | None = None) -> list[StageRequestInfo]:
    """Every request awaiting the office, oldest first."""
    if conn is None:
        with ledger.reading() as c:
            return pending(ledger, c)
    return _requests(conn, "WHERE d.id IS NULL", {})


def decided(conn: Connection, limit: int) -> list[StageRequestInfo]:
    """The ``limit`` requests decided last, newest decision first."""
    found = _requests(conn, "WHERE d.id IS NOT NULL", {})
    return sorted(found, key=lambda r: -(r.decision_submission or 0))[:limit]


def initiative_requests(conn: Connection, initiative_id: int) -> list[StageRequestInfo]:
    """Every request made for one initiative, oldest first."""
    return _requests(conn, "WHERE r.initiative_id = :i", {"i": initiative_id})


def get_request(conn: Connection, request_id: int) -> StageRequestInfo:
    found = _requests(conn, "WHERE r.id = :r", {"r": request_id})
    if not found:
        raise NotFound(f"no stage request {request_id}")
    return found[0]


def requestable(gates: dict[str, int], needing: list[str], stage: str) -> list[str]:
    """The gates an owner may ask for from ``stage``: the later ones, up to and including
    the first that needs approval (an approval is never skipped)."""
    out = []
    for code, ordinal in gates.items():
        if ordinal <= gates[stage]:
            continue
        out.append(code)
        if code in needing:
            break
    return out


def request_options(ledger: Ledger, conn: Connection, stage: str) -> list[tuple[str, bool]]:
    """(gate, needs approval) for each gate an owner at ``stage`` may ask for."""
    needing = approval_gates(ledger, conn)
    return [(g, g in needing) for g in requestable(_gates(conn), needing, stage)]


def _note(note: str, what: str, *, required: bool) -> str:
    cleaned = note.replace("\r\n", "\n").strip()
    if required and not cleaned:
        raise LedgerError(f"a note is required to {what}: say why")
    if len(cleaned) > MAX_NOTE:
        raise LedgerError(f"note of {len(cleaned):,} characters: expected at most {MAX_NOTE:,}")
    return cleaned


def _move(conn: Connection, initiative_id: int, stage_code: str, submission: int) -> None:
    """Write the initiative's new version at ``stage_code`` (the stage change)."""
    gate_id = conn.execute(text("SELECT id FROM stage_gate WHERE code = :c"),
                           {"c": stage_code}).scalar_one()
    row = current_initiatives(conn, initiative_ids=[initiative_id])
    after = row[["external_id", *ATTRIBUTES]].copy()
    after["stage_gate_id"] = int(gate_id)
    write_initiatives(conn, after, submission)


@dataclass(frozen=True)
class RequestOutcome:
    """What :func:`request_stage` did."""

    external_id: str
    from_stage: str
    to_stage: str
    submission_id: int
    request_id: int | None
    """The pending request; None when the gate needs no approval and the stage moved."""


def request_stage(ledger: Ledger, external_id: str, stage: str, *, note: str, user: str,
                  owner: str | None = None) -> RequestOutcome:
    """Ask to move an initiative into gate ``stage``, with a note (required).

    Args:
        owner: for an owner's request: the initiative must be theirs, and ``stage`` one of
            :func:`requestable` (forward, not past an approval). Without it (the office's
            CLI) any other gate may be requested.

    Raises:
        NotFound: no such initiative (or not this owner's: the same answer), no such gate.
        LedgerError: no note, a withdrawn initiative, already at that gate, a gate an owner
            may not ask for, a request already pending.
    """
    cleaned = _note(note, "request a stage move", required=True)
    code = stage.strip().upper()
    with ledger.writing() as conn:
        ledger.programme(conn)
        gates = _gates(conn)
        if code not in gates:
            raise NotFound(f"no stage gate {stage[:40]!r} (known: {', '.join(gates)})")
        ini = find_initiative(conn, external_id)
        if owner is not None and ini.owner.strip().casefold() != owner.strip().casefold():
            raise NotFound(f"no initiative {external_id[:60]!r} in this ledger")
        if ini.status != "active":
            raise LedgerError(f"initiative {ini.external_id} is withdrawn: its stage is frozen")
        if ini.stage == code:
            raise LedgerError(f"{ini.external_id} is already at {code}")
        needing = approval_gates(ledger, conn)
        allowed = requestable(gates, needing, ini.stage)
        if owner is not None and code not in allowed:
            raise LedgerError(
                f"{ini.external_id} is at {ini.stage}: an owner may ask for "
                f"{' or '.join(allowed) or 'no later gate'} (an approval is never skipped; "
                "the office moves stages back)")
        waiting = _requests(conn, "WHERE r.initiative_id = :i AND d.id IS NULL",
                            {"i": ini.id})
        if waiting:
            raise LedgerError(
                f"{ini.external_id} already has a request pending (#{waiting[0].id}, to "
                f"{waiting[0].to_stage}): wait for the office's answer")
        who = current_user(user)
        details = {"edit": "stage request", "initiative": ini.external_id,
                   "from": ini.stage, "to": code}
        if code not in needing:
            sub = new_submission(conn, kind="stage", user=who, note=cleaned,
                                 details={**details, "edit": "stage",
                                          "approval": "not needed"})
            _move(conn, ini.id, code, sub.id)
            return RequestOutcome(ini.external_id, ini.stage, code, sub.id, None)
        sub = new_submission(conn, kind="stage", user=who, note=cleaned, details=details)
        rid = conn.execute(text(
            "INSERT INTO stage_request (initiative_id, from_stage, to_stage, note, "
            "requested_by, created_submission_id) VALUES (:i, :f, :t, :n, :u, :s) "
            "RETURNING id"), {"i": ini.id, "f": ini.stage, "t": code, "n": cleaned, "u": who,
                              "s": sub.id}).scalar_one()
        return RequestOutcome(ini.external_id, ini.stage, code, sub.id, int(rid))


@dataclass(frozen=True)
class Decision:
    request_id: int
    external_id: str
    decision: str
    from_stage: str
    to_stage: str
    submission_id: int
    committed: bool
    """The approval committed the plan (the initiative entered L3+ from below)."""


def _decide(ledger: Ledger, request_id: int, decision: str, note: str, user: str) -> Decision:
    with ledger.writing() as conn:
        ledger.programme(conn)
        req = get_request(conn, request_id)
        if req.state != "pending":
            raise LedgerError(f"stage request {request_id} was already {req.state} by "
                              f"{req.decided_by} (submission {req.decision_submission})")
        if decision == "approved" and req.stale:
            raise LedgerError(
                f"stage request {request_id} is stale: {req.external_id} was at "
                f"{req.from_stage} when it was made and its stage has changed since (now "
                f"{req.stage_now}); reject it, and the owner can ask again")
        iid = find_initiative(conn, req.external_id).id
        was_committed = iid in commitments(conn, [iid])
        sub = new_submission(
            conn, kind="stage", user=current_user(user), note=note,
            details={"edit": "stage" if decision == "approved" else "stage request rejected",
                     "initiative": req.external_id, "from": req.from_stage,
                     "to": req.to_stage, "request": request_id, "decision": decision})
        conn.execute(text(
            "INSERT INTO stage_decision (request_id, decision, decided_by, note, "
            "created_submission_id) VALUES (:r, :d, :u, :n, :s)"),
            {"r": request_id, "d": decision, "u": current_user(user), "n": note, "s": sub.id})
        committed = False
        if decision == "approved":
            _move(conn, iid, req.to_stage, sub.id)
            committed = not was_committed and iid in commitments(conn, [iid])
        return Decision(request_id, req.external_id, decision, req.from_stage, req.to_stage,
                        sub.id, committed)


def approve(ledger: Ledger, request_id: int, *, note: str = "", user: str) -> Decision:
    """Approve a pending request: one submission (kind ``stage``) that records the
    decision and moves the stage; into L3 (from below) it commits the plan.

    Raises:
        NotFound: no such request.
        LedgerError: already decided, or stale (the stage changed since the request).
    """
    return _decide(ledger, request_id, "approved", _note(note, "approve", required=False),
                   user)


def reject(ledger: Ledger, request_id: int, *, note: str, user: str) -> Decision:
    """Reject a pending request, with a note (required): one submission; the stage stays.

    Raises:
        NotFound: no such request.
        LedgerError: no note, or already decided.
    """
    return _decide(ledger, request_id, "rejected", _note(note, "reject a request",
                                                         required=True), user)


# --------------------------------------------------------------------------- committed plan

COMMITTED_PLAN_COLUMNS = ["external_id", "name", "owner", "stage", "committed_at", "month",
                          "fiscal_year", "committed_plan", "plan", "forecast"]


def committed_cells(conn: Connection, metric_id: int, since: dict[int, int],
                    months: set[str], *, as_of: int | None = None
                    ) -> dict[tuple[int, str], dict[str, int]]:
    """(initiative id, ISO month) -> ``committed_plan``, ``plan`` and ``forecast`` in
    minor units (a key missing: no amount) for the committed initiatives ``since`` (from
    :func:`commitments`) and the ISO ``months`` asked for. The committed plan is the plan
    as of the committing submission; plan and forecast are current (or as of ``as_of``).
    One query on the phasing."""
    if not since:
        return {}
    facts = read_frame_in(
        conn, "SELECT initiative_id, scenario, CAST(month AS VARCHAR(10)) AS month, "
        "amount_minor, valid_from, valid_to FROM phasing WHERE metric_id = :m "
        "AND scenario IN ('plan', 'forecast') AND initiative_id IN :ids",
        {"m": metric_id}, "ids", sorted(since))
    cells: dict[tuple[int, str], dict[str, int]] = {}
    for iid, scen, month, minor, vf, vt in facts.itertuples(index=False, name=None):
        if str(month)[:10] not in months:
            continue
        key = (int(iid), str(month)[:10])
        if scen == "plan" and int(vf) <= since[int(iid)] < int(vt):
            cells.setdefault(key, {})["committed_plan"] = int(minor)
        if _valid(int(vf), int(vt), as_of):
            cells.setdefault(key, {})[str(scen)] = int(minor)
    return cells


def committed_plan(ledger: Ledger, *, metric: str | None = None,
                   conn: Connection | None = None) -> pd.DataFrame:
    """The committed plan beside the current plan and forecast, per committed initiative
    (active and at L3+ now: a withdrawn initiative is left out, as the finance view leaves
    it out) and month of the horizon where any of the three has an amount.

    ``committed_plan`` is the plan as of the initiative's committing submission
    (``committed_at``), read from the phasing versions (exact, nothing copied); ``plan``
    and ``forecast`` are current. Amounts are Decimals in the metric's unit, 0 where
    empty; ``month`` is ``YYYY-MM``, ``fiscal_year`` e.g. ``FY27``.
    """
    from ledger.months import fiscal_year, fiscal_year_label

    if conn is None:
        with ledger.reading() as c:
            return committed_plan(ledger, metric=metric, conn=c)
    prog = ledger.programme(conn)
    m = ledger.metric(metric, conn)
    since = commitments(conn)
    current = (current_initiatives(conn, initiative_ids=list(since)).set_index("initiative_id")
               if since else None)
    if current is not None:
        since = {i: s for i, s in since.items() if current.at[i, "status"] == "active"}
    if not since or current is None:
        return pd.DataFrame(columns=COMMITTED_PLAN_COLUMNS)
    horizon = {mo.isoformat(): mo for mo in prog.months}
    cells = committed_cells(conn, m.id, since, set(horizon))
    rows = []
    for (iid, month), values in sorted(cells.items(), key=lambda kv: (
            str(current.at[kv[0][0], "external_id"]), kv[0][1])):
        ini = current.loc[iid]
        rows.append({
            "external_id": str(ini["external_id"]), "name": str(ini["name"]),
            "owner": str(ini["owner"]), "stage": str(ini["stage"]),
            "committed_at": since[iid], "month": month[:7],
            "fiscal_year": fiscal_year_label(fiscal_year(horizon[month], prog.fy_start_month)),
            **{k: from_minor(values.get(k, 0), m.decimals)
               for k in ("committed_plan", "plan", "forecast")}})
    return pd.DataFrame(rows, columns=COMMITTED_PLAN_COLUMNS)

"""Single edits to an initiative and the checks that keep owners' edits conflict-safe.

* :func:`set_phasing` sets (or clears) one month's amount: one submission, who and why.
* :func:`set_stage` moves an initiative to another stage gate: one submission.
* :func:`phasing_versions` / :func:`attribute_versions` say, per initiative, which
  submission last touched its phasing (for one metric and scenario) or its attributes. An
  owner workbook stamps these at export; the import compares them again *inside* its write
  transaction, where the ledger's write lock makes the comparison race-free.
* :func:`replace_initiative_phasing` writes a full new phasing for some initiatives (months
  no longer listed end), including initiatives whose every month was emptied.

Everything that writes runs in one ``ledger.writing()`` transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, text

from ledger.api import Ledger, MetricInfo
from ledger.errors import Conflict, LedgerError, NotFound
from ledger.initiatives import ATTRIBUTES, current_initiatives, write_initiatives
from ledger.models import OPEN, Phasing
from ledger.money import from_minor, to_minor
from ledger.months import first_of_month
from ledger.store import (
    PHASING_KEY,
    FactChanges,
    close_versions,
    current_user,
    diff_facts,
    new_submission,
    read_frame_in,
    version_filter,
    write_fact_changes,
)
from ledger.vocabulary import check_scenario

#: Largest single amount an edit may set, in minor units (as for an imported cell).
MAX_EDIT_MINOR = 10**15


def phasing_versions(
    conn: Connection, initiative_ids: Iterable[int], metric_id: int, scenario: str
) -> dict[int, int]:
    """Per initiative, the newest submission that changed its phasing for one metric and
    scenario (0 if none ever did).

    A change either starts a version (``valid_from``) or ends one (``valid_to``, e.g. a month
    emptied with no successor), so both count.
    """
    ids = sorted({int(i) for i in initiative_ids})
    frame = read_frame_in(
        conn,
        # A closed version's valid_to is always later than its valid_from.
        "SELECT initiative_id, MAX(CASE WHEN valid_to = :open THEN valid_from "
        "ELSE valid_to END) AS version "
        "FROM phasing WHERE initiative_id IN :ids AND metric_id = :m "
        "AND scenario = :s GROUP BY initiative_id",
        {"open": OPEN, "m": int(metric_id), "s": scenario}, "ids", ids,
    )
    found = {int(i): int(v) for i, v in zip(frame["initiative_id"], frame["version"],
                                            strict=True)}
    return {i: found.get(i, 0) for i in ids}


def attribute_versions(conn: Connection, initiative_ids: Iterable[int]) -> dict[int, int]:
    """Per initiative, the submission that wrote its current attributes (name, owner, stage...)."""
    ids = sorted({int(i) for i in initiative_ids})
    frame = read_frame_in(
        conn,
        "SELECT initiative_id, valid_from FROM initiative_version "
        "WHERE valid_to = :open AND initiative_id IN :ids",
        {"open": OPEN}, "ids", ids,
    )
    found = {int(i): int(v) for i, v in zip(frame["initiative_id"], frame["valid_from"],
                                            strict=True)}
    return {i: found.get(i, 0) for i in ids}


def check_attribute_version(conn: Connection, initiative_id: int, external_id: str,
                            read_version: int) -> None:
    """Refuse (:class:`Conflict`) a write made from attributes read at ``read_version``
    when a newer submission has changed them since."""
    now = attribute_versions(conn, [initiative_id])[initiative_id]
    if now != read_version:
        raise Conflict(f"the attributes of {external_id} changed after you read them "
                       f"(submission {now}); nothing was saved: read them again")


def initiative_phasing(
    conn: Connection,
    initiative_ids: Iterable[int],
    metric_id: int,
    scenario: str,
    *,
    as_of: int | None = None,
) -> pd.DataFrame:
    """The phasing of a few initiatives for one metric and scenario (now or as of ``as_of``),
    with the columns of :func:`ledger.store.current_phasing`.

    Looked up through the per-initiative index: the unary ``+`` and ``|| ''`` keep SQLite's
    planner off the programme-wide scan index (which would read every current fact of the
    metric); PostgreSQL plans it the same either way.
    """
    ids = sorted({int(i) for i in initiative_ids})
    where, params = version_filter(as_of)
    frame = read_frame_in(
        conn,
        "SELECT id, initiative_id, metric_id, scenario, CAST(month AS VARCHAR(10)) AS month, "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
        "amount_minor, valid_from FROM phasing WHERE initiative_id IN :ids "
        f"AND +metric_id = :m AND scenario || '' = :s AND {where}",
        {**params, "m": int(metric_id), "s": scenario}, "ids", ids,
    )
    for col in ("id", "initiative_id", "metric_id", "amount_minor", "valid_from"):
        frame[col] = frame[col].astype("int64") if len(frame) else pd.Series(dtype="int64")
    for col in ("scenario", "month"):
        frame[col] = frame[col].astype(object)
    return frame


def phasing_sums(conn: Connection, initiative_ids: Iterable[int], metric_id: int,
                 scenarios: Iterable[str], first: date, last: date) -> dict[tuple[int, str], int]:
    """Per (initiative, scenario): the sum of its current phasing of one metric over the
    months ``first`` to ``last``, in minor units (exact: summed by the database as
    integers). Pairs with nothing in those months are left out.

    Looked up through the per-initiative index, as :func:`initiative_phasing` is.
    """
    wanted = sorted({str(s) for s in scenarios})
    frame = read_frame_in(
        conn,
        "SELECT initiative_id, scenario, SUM(amount_minor) AS total FROM phasing "  # noqa: S608  (the scenario list: bound parameters named in code)
        "WHERE initiative_id IN :ids AND +metric_id = :m AND scenario || '' IN ("
        + ", ".join(f":s{k}" for k in range(len(wanted))) + f") AND valid_to = {OPEN} "
        "AND month >= :first AND month <= :last GROUP BY initiative_id, scenario",
        {"m": int(metric_id), "first": first, "last": last,
         **{f"s{k}": s for k, s in enumerate(wanted)}}, "ids", initiative_ids,
    )
    return {(int(i), str(s)): int(t) for i, s, t in zip(frame["initiative_id"],
                                                         frame["scenario"], frame["total"],
                                                         strict=True)}


def replace_initiative_phasing(
    conn: Connection,
    initiative_ids: Iterable[int],
    metric_id: int,
    scenario: str,
    incoming: pd.DataFrame,
    submission_id: int,
    *,
    dry_run: bool = False,
) -> FactChanges:
    """Make ``incoming`` the whole phasing of ``initiative_ids`` for one metric and scenario.

    ``incoming`` has ``initiative_id, month, amount_minor`` (month ``YYYY-MM-01``). Months
    of these initiatives that ``incoming`` does not list end (even when an initiative has no
    rows left at all, which :func:`ledger.store.write_phasing` would leave untouched).
    Other initiatives, metrics and scenarios are not touched.
    """
    ids = sorted({int(i) for i in initiative_ids})
    inc = incoming[["initiative_id", "month", "amount_minor"]].copy()
    inc["metric_id"] = int(metric_id)
    inc["scenario"] = scenario
    inc = inc[[*PHASING_KEY, "amount_minor"]].astype(
        {"initiative_id": "int64", "metric_id": "int64", "amount_minor": "int64"}
    )
    current = initiative_phasing(conn, ids, metric_id, scenario)
    changes = diff_facts(current, inc, PHASING_KEY, None)
    gone = current.merge(inc[PHASING_KEY], on=PHASING_KEY, how="left", indicator=True)
    gone = gone[gone["_merge"] == "left_only"]
    changes.removed = pd.DataFrame({
        **{k: gone[k].to_numpy() for k in PHASING_KEY},
        "old_amount_minor": gone["amount_minor"].astype("int64").to_numpy(),
        "old_id": gone["id"].astype("int64").to_numpy(),
    })
    if not dry_run and changes.count:
        write_fact_changes(conn, Phasing.__table__, PHASING_KEY, changes, submission_id)
    return changes


@dataclass(frozen=True)
class InitiativeRef:
    id: int
    external_id: str
    name: str
    owner: str
    stage: str
    status: str


def find_initiative(conn: Connection, external_id: str) -> InitiativeRef:
    """The initiative ``external_id`` as it is now.

    Raises:
        NotFound: no such initiative (the message suggests how to list them).
    """
    row = conn.execute(
        text("SELECT i.id, i.external_id, v.name, v.owner, sg.code, v.status "
             "FROM initiative i JOIN initiative_version v ON v.initiative_id = i.id "
             "AND v.valid_to = :open JOIN stage_gate sg ON sg.id = v.stage_gate_id "
             "WHERE i.external_id = :e"),
        {"open": OPEN, "e": external_id.strip()},
    ).first()
    if row is None:
        raise NotFound(f"no initiative {external_id!r} in this ledger")
    return InitiativeRef(int(row[0]), row[1], row[2], row[3], row[4], row[5])


@dataclass(frozen=True)
class PhasingEdit:
    """What :func:`set_phasing` did: ``submission_id`` is None when nothing changed."""

    external_id: str
    metric: str
    scenario: str
    month: date
    old: Decimal | None
    new: Decimal | None
    submission_id: int | None


def set_phasing(
    ledger: Ledger,
    external_id: str,
    month: date,
    amount: Decimal | None,
    *,
    metric: str | None = None,
    scenario: str = "plan",
    user: str | None = None,
    note: str = "",
) -> PhasingEdit:
    """Set one month's amount of one initiative (``amount=None`` empties the month).

    The amount is rounded half away from zero to the metric's decimals. One submission
    (kind ``edit``) records who and why; nothing is written when the value is unchanged.

    Raises:
        NotFound: unknown initiative or metric.
        LedgerError: month outside the horizon, withdrawn initiative, bad scenario, a
            committed plan changed without a note.
    """
    check_scenario(scenario)
    month = first_of_month(month)
    with ledger.writing() as conn:
        prog = ledger.programme(conn)
        m: MetricInfo = ledger.metric(metric, conn)
        if not prog.first_month <= month <= prog.last_month:
            raise LedgerError(
                f"month {month:%Y-%m} is outside the programme's horizon "
                f"({prog.first_month:%Y-%m} to {prog.last_month:%Y-%m})"
            )
        ini = find_initiative(conn, external_id)
        if ini.status != "active":
            raise LedgerError(f"initiative {ini.external_id} is withdrawn: its phasing is frozen")
        new_minor = None if amount is None else to_minor(amount, m.decimals)
        if new_minor is not None and abs(new_minor) > MAX_EDIT_MINOR:
            # The importer's bound (importers.amounts.MAX_MINOR): sums stay exact in int64.
            raise LedgerError(f"amount {amount} is too large for the ledger (at most "
                              f"{from_minor(MAX_EDIT_MINOR, m.decimals):,} in {m.code})")
        phasing = initiative_phasing(conn, [ini.id], m.id, scenario)
        cur = phasing[phasing["month"] == month.isoformat()]
        old_minor = int(cur["amount_minor"].iloc[0]) if len(cur) else None
        old = None if old_minor is None else from_minor(old_minor, m.decimals)
        new = None if new_minor is None else from_minor(new_minor, m.decimals)
        if old_minor == new_minor:
            return PhasingEdit(ini.external_id, m.code, scenario, month, old, new, None)
        if scenario == "plan" and not note.strip():
            from ledger.approvals import commitment

            committed = commitment(conn, ini.id)
            if committed is not None:
                raise LedgerError(
                    f"{ini.external_id}'s plan is committed (at {committed.stage}, submission "
                    f"{committed.submission}): give --note to change it")
        sub = new_submission(
            conn, kind="edit", user=current_user(user), note=note,
            details={"edit": "phasing", "initiative": ini.external_id, "metric": m.code,
                     "scenario": scenario, "month": month.isoformat()},
        )
        # One fact: end its version (if any), insert the new one (if any). No frames needed.
        if len(cur):
            close_versions(conn, Phasing.__table__, [int(cur["id"].iloc[0])], sub.id)
        if new_minor is not None:
            conn.execute(
                text("INSERT INTO phasing (initiative_id, metric_id, scenario, month, "
                     "amount_minor, valid_from, valid_to) VALUES (:i, :m, :s, :mo, :a, :f, "
                     ":t)"),
                {"i": ini.id, "m": m.id, "s": scenario, "mo": month, "a": new_minor,
                 "f": sub.id, "t": OPEN},
            )
        return PhasingEdit(ini.external_id, m.code, scenario, month, old, new, sub.id)


@dataclass(frozen=True)
class StageMove:
    """What :func:`set_stage` did: ``submission_id`` is None when already at that gate."""

    external_id: str
    old: str
    new: str
    submission_id: int | None


def set_stage(
    ledger: Ledger,
    external_id: str,
    stage: str,
    *,
    user: str | None = None,
    note: str = "",
    read_version: int | None = None,
) -> StageMove:
    """Move an initiative to stage gate ``stage`` (e.g. ``L3``): one submission (kind
    ``stage``) with who and why; the previous attributes stay on record.

    ``read_version``, when given, is the submission that wrote the attributes the editor
    saw (:func:`attribute_versions`): a newer change refuses the move.

    Raises:
        NotFound: unknown initiative or stage gate.
        Conflict: the attributes changed after ``read_version``; nothing written.
    """
    code = stage.strip().upper()
    with ledger.writing() as conn:
        ledger.programme(conn)
        gate_frame = ledger.stage_gates(conn)
        gates = {str(c): int(i) for c, i in zip(gate_frame["code"], gate_frame["id"],
                                                strict=True)}
        if code not in gates:
            raise NotFound(f"no stage gate {stage!r} (known: {', '.join(gates)})")
        ini = find_initiative(conn, external_id)
        if read_version is not None:
            check_attribute_version(conn, ini.id, ini.external_id, read_version)
        if ini.stage == code:
            return StageMove(ini.external_id, ini.stage, code, None)
        sub = new_submission(
            conn, kind="stage", user=current_user(user), note=note,
            details={"edit": "stage", "initiative": ini.external_id, "from": ini.stage,
                     "to": code},
        )
        cur = current_initiatives(conn)
        row = cur[cur["initiative_id"] == ini.id][["external_id", *ATTRIBUTES]].copy()
        row["stage_gate_id"] = gates[code]
        write_initiatives(conn, row, sub.id)
        return StageMove(ini.external_id, ini.stage, code, sub.id)

"""The programme's month-end close: which months are closed (their outturn is actuals).

``tledger programme close 2026-10`` records that finance closed October 2026 (and every
month before it). Each close is a submission with its author and note, and a row in the
append-only ``month_close`` table; the last closed month at an instant is the newest row
valid then. Closing an earlier month than the one closed (re-opening) needs ``force`` and
a note saying why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Connection, text

from ledger.api import Ledger
from ledger.errors import LedgerError
from ledger.months import add_months, first_of_month
from ledger.store import current_user, new_submission, read_frame, utcnow
from ledger.vocabulary import stored_utc

__all__ = ["CloseResult", "close_month", "closed_through", "closes"]


@dataclass(frozen=True)
class CloseResult:
    month: date
    previous: date | None
    submission_id: int
    forced: bool


def closed_through(conn: Connection, as_of: int | None = None) -> date | None:
    """The last closed month valid at submission ``as_of`` (None: now); None if none."""
    where = "" if as_of is None else " WHERE created_submission_id <= :s"
    row = conn.execute(text(
        f"SELECT CAST(month AS VARCHAR(10)) FROM month_close{where} "  # noqa: S608  (fixed SQL; values bound)
        "ORDER BY created_submission_id DESC, id DESC LIMIT 1"),
        {} if as_of is None else {"s": int(as_of)}).first()
    return None if row is None else date.fromisoformat(str(row[0])[:10])


def close_month(ledger: Ledger, month: date, *, user: str | None = None, note: str = "",
                force: bool = False, now: datetime | None = None) -> CloseResult:
    """Record that ``month`` (and every month before it) is closed.

    Raises:
        LedgerError: the month is outside the horizon, has not ended yet, is already the
            closed month, or is earlier than the closed month without ``force`` and a note.
    """
    month = first_of_month(month)
    with ledger.writing() as conn:
        prog = ledger.programme(conn)
        if not prog.first_month <= month <= prog.last_month:
            raise LedgerError(f"{month:%Y-%m} is outside the horizon "
                              f"({prog.first_month:%Y-%m} to {prog.last_month:%Y-%m})")
        today = (now or utcnow()).date()
        if add_months(month, 1) > today:
            raise LedgerError(f"{month:%Y-%m} has not ended yet (today is {today:%Y-%m-%d}): "
                              "a month is closed after its last day")
        previous = closed_through(conn)
        if previous == month:
            raise LedgerError(f"{month:%Y-%m} is already the last closed month")
        backwards = previous is not None and month < previous
        if backwards and not (force and note.strip()):
            raise LedgerError(
                f"{month:%Y-%m} is before the last closed month ({previous:%Y-%m}): "
                "re-opening months needs --force and a --note saying why")
        details: dict[str, object] = {"close": f"{month:%Y-%m}"}
        if previous is not None:
            details["previous"] = f"{previous:%Y-%m}"
        if backwards:
            details["forced"] = True
        sub = new_submission(conn, kind="setup", user=current_user(user),
                             note=note or f"close {month:%Y-%m}", details=details)
        conn.execute(text("INSERT INTO month_close (month, created_submission_id) "
                          "VALUES (:m, :s)"), {"m": month, "s": sub.id})
    return CloseResult(month, previous, sub.id, backwards)


def closes(ledger: Ledger) -> pd.DataFrame:
    """Every close, oldest first: ``month, submission, when, who, note, forced``."""
    with ledger.reading() as conn:
        frame = read_frame(
            conn,
            'SELECT CAST(c.month AS VARCHAR(10)) AS month, s.id AS submission, '
            's.created_at AS "when", s."user" AS who, s.note, s.details '
            "FROM month_close c JOIN submission s ON s.id = c.created_submission_id "
            "ORDER BY c.created_submission_id, c.id")
    return pd.DataFrame({
        "month": [str(m)[:7] for m in frame["month"]],
        "submission": [int(s) for s in frame["submission"]],
        "when": [stored_utc(w) for w in frame["when"]],
        "who": frame["who"].astype(str).tolist(),
        "note": frame["note"].astype(str).tolist(),
        "forced": [bool(json.loads(d).get("forced")) if d else False
                   for d in frame["details"]],
    })

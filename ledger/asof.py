""""As of": the one rule for reading a point in the ledger's history.

Every command and API that takes an as-of value (the gap, the checks, the report, target
listings) reads it here, so they accept the same forms:

* a submission id (``42`` or the text ``"42"``): the ledger right after that submission;
* an ISO date (``2026-10-31``): the end of that day in UTC, so everything committed on
  that day is included;
* an ISO date-time (``2026-10-31T17:00:00+10:00``); without an offset it is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import overload

from sqlalchemy import Connection, text

from ledger.errors import LedgerError

EXPECTED = ("a submission id (42), an ISO date (2026-10-31) or an ISO date-time "
            "(2026-10-31T17:00:00+10:00; UTC without an offset)")


def parse_as_of(value: datetime | date | int | str | None) -> datetime | int | None:
    """None (now), a submission id, or an aware UTC instant.

    Raises:
        LedgerError: text that is none of the accepted forms, or a negative id.
    """
    if value is None or isinstance(value, datetime | date):
        return as_instant(value)
    if isinstance(value, int):
        if value < 0:
            raise LedgerError(f"as-of {value}: expected {EXPECTED}")
        return value
    raw = value.strip()
    if not raw:
        return None
    if raw.isdigit():
        return int(raw)
    return as_instant(raw)


@overload
def as_instant(value: datetime | date | str) -> datetime: ...
@overload
def as_instant(value: None) -> None: ...
def as_instant(value: datetime | date | str | None) -> datetime | None:
    """An instant (not a submission id) as an aware UTC datetime; None stays None.

    Raises:
        LedgerError: text that is neither an ISO date nor an ISO date-time.
    """
    if value is None:
        return None
    if isinstance(value, str):
        raw = value.strip()
        try:
            if len(raw) == 10:
                value = date.fromisoformat(raw)
            else:
                value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise LedgerError(f"as-of {raw[:40]!r}: expected {EXPECTED}") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    end_of_day = datetime.combine(value + timedelta(days=1), time(0), tzinfo=UTC)
    return end_of_day - timedelta(microseconds=1)


def submission_at(conn: Connection, point: datetime | int) -> tuple[int, datetime | None]:
    """(submission id, its instant) for a parsed as-of point.

    An instant maps to the last submission committed at or before it (0 if none); a
    submission id must exist, and its instant is the time it was committed.

    Raises:
        LedgerError: a submission id the ledger does not have.
    """
    from ledger.store import submission_as_of

    if isinstance(point, datetime):
        return submission_as_of(conn, point), point
    row = conn.execute(text("SELECT created_at FROM submission WHERE id = :i"),
                       {"i": point}).first()
    if row is None:
        newest = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM submission")).scalar_one()
        raise LedgerError(f"as-of {point}: no such submission (the newest is {newest})")
    created = row[0]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    return point, as_instant(created)

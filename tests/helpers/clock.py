"""A clock for tests: submissions at distinct instants, and instants between them, without
sleeping.

:class:`SteppingClock` follows the system clock but never repeats or goes back: every
reading is at least a millisecond after the previous one. :func:`between` returns an
instant strictly after every submission written so far and strictly before every later
one, which is what an "as of" test needs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.store import set_clock

STEP = timedelta(milliseconds=1)


class SteppingClock:
    """Real time, made strictly increasing in steps of at least :data:`STEP`."""

    def __init__(self) -> None:
        self.last = datetime.now(UTC) - STEP

    def __call__(self) -> datetime:
        self.last = max(datetime.now(UTC), self.last + STEP)
        return self.last


_installed: SteppingClock | None = None


def install() -> SteppingClock:
    """Stamp this process's submissions with a new :class:`SteppingClock`."""
    global _installed
    _installed = SteppingClock()
    set_clock(_installed)
    return _installed


def uninstall() -> None:
    global _installed
    _installed = None
    set_clock(None)


def between() -> datetime:
    """An instant after every submission so far and before every later one (this process's
    submissions, stamped by the installed clock)."""
    assert _installed is not None, "tests/conftest.py installs the clock for every test"
    return _installed()

"""What every import command does around its work: check its arguments, open its
transaction, report progress, and keep the cycle collector out of the way."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection

from ledger.api import Ledger
from ledger.errors import LedgerError
from ledger.progress import NoProgress, Progress
from ledger.vocabulary import parse_scale

MODES = ("update", "snapshot")


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for an import, resume it after.

    An import allocates millions of short-lived objects (cells, keys, rows) that reference
    counting frees on its own; the cycle collector, triggered by those allocations, would
    scan every live container again and again meanwhile (about a quarter of a 5 %-changed
    re-import's read and check, measured). Once resumed it collects any cycles made.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def started_steps(progress: Progress | None, total: int) -> Progress:
    """The caller's progress (started with ``total`` steps), or one that shows nothing."""
    steps: Progress = progress if progress is not None else NoProgress()
    steps.start(total)
    return steps


def check_args(mode: str, scale: Decimal | None) -> None:
    """Refuse an unknown mode or a scale that is not a positive number."""
    if mode not in MODES:
        raise LedgerError(f"mode {mode!r}: expected update (default: leave initiatives the "
                          "workbook lacks alone) or snapshot (withdraw them)")
    if scale is not None:
        parse_scale(scale)


def chosen_scale(given: Decimal | None, in_mapping: Decimal | None,
                 mapping_path: Path | None) -> Decimal | None:
    """The scale amounts are read with: ``--scale`` or the mapping's ``scale``, whichever
    is given. Given both, they must agree: a sheet read at 1 instead of 1000 is wrong by
    three orders of magnitude, so a conflict is refused rather than settled by a rule.

    Raises:
        LedgerError: both given, with different values (the message names both).
    """
    if given is None or in_mapping is None:
        return in_mapping if given is None else Decimal(given)
    if Decimal(given) != in_mapping:
        where = mapping_path.name if mapping_path is not None else "the mapping"
        raise LedgerError(f"--scale {Decimal(given).normalize():f} and scale = "
                          f"{in_mapping.normalize():f} in {where} differ: give one of them, "
                          "or the same value in both")
    return Decimal(given)


@contextmanager
def transaction(ledger: Ledger, dry_run: bool) -> Iterator[Connection]:
    """A write transaction, or for a dry run a read-only snapshot."""
    ctx = ledger.reading() if dry_run else ledger.writing()
    with ctx as conn:
        yield conn

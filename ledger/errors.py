"""Errors a user can cause and act on. The CLI prints their message on one line, exits 1."""

from __future__ import annotations


class LedgerError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""

    exit_code = 1


class LedgerNotReady(LedgerError):
    """The database has no ledger yet, or an outdated schema."""


class LedgerBusy(LedgerError):
    """Another writer holds the ledger for longer than the busy timeout."""


class NotFound(LedgerError):
    """A code or id that the ledger does not have."""


class Conflict(LedgerError):
    """A write that would silently overwrite a newer change."""


class LedgerTooNew(LedgerNotReady):
    """The ledger was written by a newer tledger: its schema revision is unknown here."""


class LedgerDamaged(LedgerError):
    """The database file is corrupt: restore it from a backup."""


class StorageFull(LedgerError):
    """The disk holding the ledger is full; the write was rolled back."""

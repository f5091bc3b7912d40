"""Counts in words, as every message and table title writes them: ``1 initiative``,
``2 initiatives``. Imports nothing, so the CLI's ``--help`` stays light."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` with its noun: ``1 initiative``, ``1,200 rows``, ``2 value changes``
    (``plural_form`` for a noun that does not take an ``s``)."""
    noun = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {noun}"

"""The current bottom-up kept per process and rolled forward by what later submissions wrote.

A report of the current state sums every current fact of a metric and scenario (600,000 on
a 10,000-initiative ledger). Between two reports usually a few submissions land, each
changing a few facts. Because history is append-only and submission ids increase in commit
order (:mod:`ledger.db`), the current bottom-up at submission N is the one at an earlier
submission S plus the facts opened after S and still current, minus the facts that were
current at S and closed since::

    current(N) = current(S) + sum(valid_from > S, valid_to = open)
                            - sum(valid_from <= S < valid_to < open)

That holds part by part and for the risk-weighted sums as long as no initiative's version
(its unit, lever, stage, owner, status) and no stage weight changed after S: the parts and
weights of the facts at S are then those of now. When one did, or when the ledger at S is
not the one summed before (another database with the same identity, a restore, a rewritten
history: the chain hash of S differs), the sums are read in full again.

Only whole-ledger reads in a snapshot read transaction are kept: never an as-of report,
never inside a write transaction (its submission is not committed, its sums not final),
never on a connection whose statements may see different states (:func:`snapshot_read`). Entries
are per database identity, metric, scenario, breakdown and weighting, a few dozen at most,
each a few hundred integers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from ledger.models import OPEN

#: How many (ledger, metric, scenario, breakdown, weighting) sums one process keeps.
KEEP = 64

Key = tuple[str, int, str, str | None, bool]
Cell = tuple[str, Any]
"""(ISO month, part key): part key None, an id, or an owner's name."""


@dataclass
class _Sums:
    submission: int
    chain_hash: str
    cells: dict[Cell, list[int]]
    """(month, part key) -> [amount] or [amount, weighted] in minor units."""


_lock = threading.Lock()
_kept: OrderedDict[Key, _Sums] = OrderedDict()
# Counts of reads by how they were answered (tests and benchmarks look at them).
stats = {"full": 0, "rolled": 0, "same": 0}


def _part(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    return int(value)


def _cells(frame: pd.DataFrame, weighted: bool, into: dict[Cell, list[int]] | None = None,
           sign: int = 1) -> dict[Cell, list[int]]:
    """Add ``frame``'s rows (``month, part_key, amount[, weighted]``) into cells."""
    out: dict[Cell, list[int]] = {} if into is None else into
    columns = ["month", "part_key", "amount"] + (["weighted"] if weighted else [])
    for row in frame[columns].itertuples(index=False, name=None):
        cell = out.setdefault((str(row[0]), _part(row[1])), [0] * (len(row) - 2))
        for i, value in enumerate(row[2:]):
            cell[i] += sign * int(value)
    return out


def _frame(cells: dict[Cell, list[int]], weighted: bool) -> pd.DataFrame:
    items = [(m, k, *v) for (m, k), v in cells.items()]
    columns = ["month", "part_key", "amount"] + (["weighted"] if weighted else [])
    frame = pd.DataFrame.from_records(items, columns=columns)
    for col in columns[2:]:
        frame[col] = frame[col].astype("int64")
    return frame


def _chain_hash(conn: Connection, submission: int) -> str | None:
    value = conn.execute(text("SELECT chain_hash FROM submission WHERE id = :s"),
                         {"s": submission}).scalar()
    return None if value is None else str(value)


def snapshot_read(conn: Connection) -> bool:
    """Whether every statement on ``conn`` sees one snapshot, so the newest submission and
    the sums read after it agree: a transaction on SQLite (``BEGIN DEFERRED``, WAL or a
    shared lock), REPEATABLE READ or SERIALIZABLE on PostgreSQL (as
    :func:`ledger.db.reading` opens). A READ COMMITTED connection could see a submission
    land between two statements: its sums are neither kept nor rolled."""
    if not conn.in_transaction():
        return False
    if conn.dialect.name == "sqlite":
        return True
    level = conn.get_execution_options().get("isolation_level")
    return level in ("REPEATABLE READ", "SERIALIZABLE")


def attributes_changed_since(conn: Connection, submission: int) -> bool:
    """Whether an initiative version or a stage weight was opened or closed after
    ``submission`` (each an index range scan)."""
    for table in ("initiative_version", "stage_weight"):
        found = conn.execute(text(
            f"SELECT 1 FROM {table} WHERE valid_from > :s "  # noqa: S608  (constant table names)
            f"OR (valid_to > :s AND valid_to < {OPEN}) LIMIT 1"), {"s": submission}).first()
        if found is not None:
            return True
    return False


def current_bottom_up(
    conn: Connection,
    key: Key,
    newest: int,
    *,
    full: Callable[[], pd.DataFrame],
    delta: Callable[[int], pd.DataFrame],
) -> pd.DataFrame:
    """The current bottom-up for ``key`` at ``newest`` (the snapshot's newest submission).

    ``full()`` sums every current fact; ``delta(since)`` sums the facts that changed after
    ``since`` with their sign (opened +, closed -), both as ``month, part_key, amount[,
    weighted]`` with months possibly repeated. Either way the result is exact.
    """
    weighted = key[4]
    if conn.get_execution_options().get("tledger_write") or not snapshot_read(conn):
        return full()
    with _lock:
        kept = _kept.get(key)
    chain = _chain_hash(conn, newest) if newest else None
    if kept is not None and kept.submission <= newest and \
            _chain_hash(conn, kept.submission) == kept.chain_hash:
        if kept.submission == newest:
            stats["same"] += 1
            return _frame(kept.cells, weighted)
        if not attributes_changed_since(conn, kept.submission):
            cells = {c: list(v) for c, v in kept.cells.items()}
            _cells(delta(kept.submission), weighted, cells)
            stats["rolled"] += 1
            _keep(key, newest, chain, cells)
            return _frame(cells, weighted)
    stats["full"] += 1
    frame = full()
    _keep(key, newest, chain, _cells(frame, weighted))
    return frame


def _keep(key: Key, newest: int, chain: str | None, cells: dict[Cell, list[int]]) -> None:
    if chain is None:  # an empty or unsealed ledger: nothing to tie the sums to
        return
    with _lock:
        current = _kept.get(key)
        if current is not None and current.submission > newest:
            return  # a later read got there first
        _kept[key] = _Sums(newest, chain, cells)
        _kept.move_to_end(key)
        while len(_kept) > KEEP:
            _kept.popitem(last=False)


def kept() -> int:
    """How many sums this process keeps."""
    with _lock:
        return len(_kept)


def forget() -> None:
    """Drop every kept sum (tests; a process that rewrote history on purpose)."""
    with _lock:
        _kept.clear()

"""Loading and saving the ledger: set-based reads and bulk, append-only writes.

Everything here takes a SQLAlchemy :class:`~sqlalchemy.Connection` inside a transaction
(``ledger.db.reading`` / ``ledger.db.writing``) and moves whole tables at once: no per-row
round trips. Fact frames use these columns:

* phasing: ``initiative_id, metric_id, scenario, month, amount_minor``
* target: ``metric_id, scope_kind, scope_code, month, amount_minor``

``month`` is an ISO string ``YYYY-MM-01`` in fact frames (cheap to hash and merge);
``amount_minor`` is an ``int64`` count of the metric's minor units.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, bindparam, text

from ledger import chain
from ledger.faults import pause_point
from ledger.models import OPEN, SCENARIOS, Phasing, Target
from ledger.months import month_number
from ledger.vocabulary import stored_utc

PHASING_KEY = ["initiative_id", "metric_id", "scenario", "month"]
#: Above this many initiatives, current_phasing_arrays reads the metric/scenario's facts
#: whole and filters in numpy (an IN list that long costs more than it saves).
IN_LIST_LIMIT = 2000
TARGET_KEY = ["metric_id", "scope_kind", "scope_code", "month"]


def current_user(explicit: str | None = None) -> str:
    """Who is writing: ``--user``, else ``TLEDGER_USER``, else the OS user."""
    if explicit:
        return explicit
    env = os.environ.get("TLEDGER_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database in some containers
        return "unknown"


def _system_clock() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _system_clock


def utcnow() -> datetime:
    """The time a new submission is stamped with (aware UTC): the system clock, unless a
    test installed another with :func:`set_clock`."""
    return _clock()


def set_clock(clock: Callable[[], datetime] | None) -> Callable[[], datetime]:
    """Stamp submissions with ``clock()`` from now on (None: the system clock again);
    returns the clock it replaces. A seam for tests that need submissions at known,
    distinct instants without sleeping."""
    global _clock
    previous = _clock
    _clock = clock if clock is not None else _system_clock
    return previous


@dataclass(frozen=True)
class SubmissionInfo:
    id: int
    created_at: datetime


def new_submission(
    conn: Connection,
    *,
    kind: str,
    user: str,
    note: str = "",
    source_name: str | None = None,
    source_sha256: str | None = None,
    details: dict[str, Any] | None = None,
    content_parts: str | None = None,
    content_sha256: str | None = None,
) -> SubmissionInfo:
    """Record a submission inside the current write transaction.

    Its timestamp is never earlier than the previous submission's, so ordering by time and
    by id agree (writers are serialised by the write lock).
    """
    now = utcnow()
    last = conn.execute(text("SELECT MAX(created_at) FROM submission")).scalar()
    if last is not None:
        last_dt = stored_utc(last)
        if last_dt > now:
            now = last_dt
    naive = now.astimezone(UTC).replace(tzinfo=None)
    new_id = conn.execute(
        text(
            "INSERT INTO submission (kind, \"user\", created_at, source_name, source_sha256, "
            "note, details, content_parts, content_sha256) VALUES (:kind, :user, "
            ":created_at, :source_name, :sha, :note, :details, :parts, :content) RETURNING id"
        ),
        {
            "kind": kind,
            "user": user,
            "created_at": naive,
            "source_name": source_name,
            "sha": source_sha256,
            "note": note or "",
            "details": json.dumps(details, sort_keys=True) if details else None,
            "parts": content_parts,
            "content": content_sha256,
        },
    ).scalar_one()
    chain.created(conn, int(new_id))  # sealed just before the transaction commits
    return SubmissionInfo(id=int(new_id), created_at=now)


def last_submission_id(conn: Connection) -> int:
    """The newest submission's id (0 for an empty ledger)."""
    return int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM submission")).scalar_one())


def submission_as_of(conn: Connection, instant: datetime) -> int:
    """The last submission committed at or before ``instant`` (0 if none).

    The ledger as of ``instant`` is every version with ``valid_from <= S < valid_to``.
    """
    if instant.tzinfo is None:
        raise ValueError("as-of instants must be timezone-aware")
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    value = conn.execute(
        text("SELECT COALESCE(MAX(id), 0) FROM submission WHERE created_at <= :t"), {"t": naive}
    ).scalar_one()
    return int(value)


def version_filter(as_of: int | None, alias: str = "") -> tuple[str, dict[str, int]]:
    """SQL condition selecting the versions valid at submission ``as_of`` (None: current)."""
    p = f"{alias}." if alias else ""
    if as_of is None:
        return f"{p}valid_to = {OPEN}", {}
    return f"{p}valid_to > :as_of AND {p}valid_from <= :as_of", {"as_of": int(as_of)}


def month_number_sql(conn: Connection, column: str = "month") -> str:
    """SQL turning a month column into ``year * 12 + month - 1`` (:func:`ledger.months.
    month_number`), so a read returns only integers."""
    if conn.dialect.name == "postgresql":
        return (f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER) * 12 + "
                f"CAST(EXTRACT(MONTH FROM {column}) AS INTEGER) - 1")
    return (f"CAST(substr({column}, 1, 4) AS INTEGER) * 12 + "
            f"CAST(substr({column}, 6, 2) AS INTEGER) - 1")


def int_rows(conn: Connection, sql: str, values: dict[str, Any], width: int) -> np.ndarray:
    """Rows of integers (``:name`` parameters) read with the driver's own cursor straight
    into an int64 array of ``width`` columns: SQLAlchemy rows and DataFrames cost more than
    the query on large ledgers. Dates are bound as ISO text on SQLite (as it stores them)."""
    raw = conn.connection.driver_connection
    assert raw is not None  # noqa: S101  (narrows the type)
    if conn.dialect.name == "postgresql":
        sql = re.sub(r":(\w+)", r"%(\1)s", sql)
    else:
        values = {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
    cur = raw.cursor()
    try:
        cur.execute(sql, values)
        return np.array(cur.fetchall(), dtype="int64").reshape(-1, width)
    finally:
        cur.close()


# --------------------------------------------------------------------------- bulk writes


def _sql_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _plain_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The frame's rows as tuples of Python values (dates as ISO text), built column-wise:
    ``Series.tolist`` then ``zip`` is about 3x faster than ``itertuples`` on a million rows."""
    data = [frame[c].tolist() for c in frame.columns]
    for k, c in enumerate(frame.columns):
        if frame[c].dtype == object and any(isinstance(v, date) for v in data[k]):
            data[k] = [_sql_value(v) for v in data[k]]
    return list(zip(*data, strict=True))


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert every row of ``frame`` (columns named as the table's) in one bulk operation.

    PostgreSQL: ``COPY ... FROM STDIN``. SQLite: the driver's ``executemany``.
    """
    if frame.empty:
        return 0
    columns = list(frame.columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None  # noqa: S101  (narrows the type)
        cols = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
            for row in _plain_rows(frame):
                copy.write_row(row)
        return len(frame)
    placeholders = ", ".join("?" for _ in columns)
    cols = ", ".join(f'"{c}"' for c in columns)
    rows = _plain_rows(frame)
    raw = conn.connection.driver_connection
    assert raw is not None  # noqa: S101  (narrows the type)
    raw.executemany(f"INSERT INTO {table.name} ({cols}) VALUES ({placeholders})", rows)  # noqa: S608  (the model's names; values bound as ?)
    return len(rows)


def close_versions(conn: Connection, table: Table, ids: Sequence[int], submission_id: int) -> int:
    """End the versions ``ids`` at ``submission_id`` (the one column ever written twice)."""
    if len(ids) == 0:
        return 0
    id_list = [int(i) for i in ids]
    if conn.dialect.name == "postgresql":
        result = conn.exec_driver_sql(
            f"UPDATE {table.name} SET valid_to = %(sub)s WHERE id = ANY(%(ids)s) "  # noqa: S608  (the model's table name; OPEN an int)
            f"AND valid_to = {OPEN}",
            {"sub": submission_id, "ids": id_list},
        )
        closed = result.rowcount
    else:
        raw = conn.connection.driver_connection
        assert raw is not None  # noqa: S101  (narrows the type)
        closed = 0
        chunk = 30000
        for start in range(0, len(id_list), chunk):
            part = id_list[start:start + chunk]
            # json_each takes the whole id list as one parameter: one statement per chunk.
            cur = raw.execute(
                f"UPDATE {table.name} SET valid_to = ? WHERE id IN "  # noqa: S608  (the model's table name; OPEN an int)
                f"(SELECT value FROM json_each(?)) AND valid_to = {OPEN}",
                (submission_id, json.dumps(part)),
            )
            closed += cur.rowcount
    if closed != len(id_list):
        from ledger.errors import Conflict

        raise Conflict(
            f"{len(id_list) - closed} of {len(id_list)} {table.name} versions were changed by "
            "another writer while this one ran; nothing was written, try again"
        )
    return closed


# --------------------------------------------------------------------------- reads


def read_frame(conn: Connection, sql: str, params: dict[str, Any] | None = None,
               *, lists: Sequence[str] = ()) -> pd.DataFrame:
    """Run ``sql`` and return its rows as a DataFrame (column names from the query).

    Each name in ``lists`` is a parameter holding a list, written ``IN :name`` in ``sql``
    and bound as an expanding parameter (one bound value per item, never SQL text).
    """
    statement = text(sql)
    values = dict(params or {})
    if lists:
        statement = statement.bindparams(*(bindparam(name, expanding=True) for name in lists))
        for name in lists:
            # An empty list becomes IN (NULL), which matches nothing and, unlike SQLAlchemy's
            # empty-set form, lets PostgreSQL type the parameter from its column.
            values[name] = list(values[name]) or [None]
    result = conn.execute(statement, values)
    # Plain tuples: given SQLAlchemy Row objects, from_records probes each row's attributes
    # (a failed key lookup per row): about 5x slower on a million rows, same dtypes.
    rows = [tuple(row) for row in result.fetchall()]
    return pd.DataFrame.from_records(rows, columns=list(result.keys()))


#: Items bound per statement for a long IN list: below SQLite's 32,766 variables and
#: PostgreSQL's 65,535 parameters, with room for the query's other parameters.
IN_LIST_CHUNK = 10_000


def read_frame_in(conn: Connection, sql: str, params: dict[str, Any], name: str,
                  values: Iterable[Any]) -> pd.DataFrame:
    """:func:`read_frame` with ``IN :name`` bound to ``values``, in chunks of
    :data:`IN_LIST_CHUNK` (the rows of all chunks, concatenated): for queries whose rows
    each depend on one value of the list (a filter or a GROUP BY on that column)."""
    items = sorted(set(values))
    frames = [read_frame(conn, sql, {**params, name: items[start:start + IN_LIST_CHUNK]},
                         lists=[name])
              for start in range(0, max(len(items), 1), IN_LIST_CHUNK)]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def current_phasing(
    conn: Connection,
    *,
    metric_ids: Iterable[int] | None = None,
    scenarios: Iterable[str] | None = None,
    initiative_ids: Iterable[int] | None = None,
    as_of: int | None = None,
) -> pd.DataFrame:
    """Phasing versions valid now (or as of submission ``as_of``), with their row ids.

    Columns: ``id, initiative_id, metric_id, scenario, month, amount_minor, valid_from``.
    """
    where, as_of_params = version_filter(as_of)
    params: dict[str, Any] = dict(as_of_params)
    clauses = [where]
    if metric_ids is not None:
        ids = sorted({int(m) for m in metric_ids})
        clauses.append(f"metric_id IN ({', '.join(str(i) for i in ids) or 'NULL'})")
    if scenarios is not None:
        # Scenario names are text: bound, never written into the SQL.
        clauses.append("scenario IN :scenarios")
        params["scenarios"] = sorted(set(scenarios))
    if initiative_ids is not None:
        iids = sorted({int(i) for i in initiative_ids})
        clauses.append(f"initiative_id IN ({', '.join(str(i) for i in iids) or 'NULL'})")
    frame = read_frame(
        conn,
        "SELECT id, initiative_id, metric_id, scenario, CAST(month AS VARCHAR(10)) AS month, "  # noqa: S608  (ids int()-formatted; scenarios bound)
        f"amount_minor, valid_from FROM phasing WHERE {' AND '.join(clauses)}",
        params,
        lists=["scenarios"] if scenarios is not None else [],
    )
    return _typed_facts(frame, ["id", "initiative_id", "metric_id", "amount_minor", "valid_from"])


@dataclass
class PhasingArrays:
    """Phasing facts as int64 numpy arrays of equal length (one element per fact)."""

    initiative_id: np.ndarray
    metric_id: np.ndarray
    scenario_no: np.ndarray
    """Index into ``ledger.models.SCENARIOS``."""
    month_no: np.ndarray
    """year * 12 + month - 1 (:func:`ledger.months.month_number`)."""
    amount_minor: np.ndarray
    id: np.ndarray
    """The version's row id."""

    def __len__(self) -> int:
        return len(self.id)


def current_phasing_arrays(conn: Connection, *, metric_ids: Iterable[int],
                           scenarios: Iterable[str], initiative_ids: Iterable[int] | None,
                           ) -> PhasingArrays:
    """Current phasing of ``initiative_ids`` (None: of every initiative) for the metrics
    and scenarios, as :class:`PhasingArrays`.

    No Python object is made per fact: the database returns one row per (metric,
    scenario, submission, month) group with the group's facts as comma-separated integers
    (``group_concat`` / ``string_agg``), parsed by numpy. About 3x faster than fetching a
    million tuples (SQLite 0.5 s, PostgreSQL 0.7 s for 1.2 M facts).
    """
    metric_ids = sorted({int(m) for m in metric_ids})
    scenarios = sorted(set(scenarios))
    initiative_ids = None if initiative_ids is None else sorted({int(i) for i in initiative_ids})
    z = np.zeros(0, dtype=np.int64)
    empty = PhasingArrays(z, z, z, z, z, z)
    if (initiative_ids is not None and not initiative_ids) or not metric_ids or not scenarios:
        return empty
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad:  # pragma: no cover - checked before
        raise ValueError(f"unknown scenarios {bad}")
    where = (f"WHERE valid_to = {OPEN} "
             f"AND metric_id IN ({', '.join(str(int(m)) for m in metric_ids)}) "
             f"AND scenario IN ({', '.join(repr(s) for s in scenarios)})")
    few = initiative_ids is not None and len(initiative_ids) <= IN_LIST_LIMIT
    if few:
        assert initiative_ids is not None  # noqa: S101  (narrows the type)
        where += (" AND initiative_id IN ("
                  + ", ".join(str(int(i)) for i in initiative_ids) + ")")
    if conn.dialect.name == "postgresql":
        iid, mid, scen, month_no, amount, ids = _read_phasing_postgresql(conn, where)
    else:
        iid, mid, scen, month_no, amount, ids = _read_phasing_sqlite(conn, where)
    if not len(ids):
        return empty
    out = PhasingArrays(iid, mid, scen, month_no, amount, ids)
    if initiative_ids is not None and not few:
        keep = np.isin(iid, np.array(initiative_ids, dtype=np.int64))
        if not keep.all():
            out = PhasingArrays(*(a[keep] for a in (iid, mid, scen, month_no, amount, ids)))
    return out


_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _read_phasing_sqlite(conn: Connection, where: str) -> _Columns:
    """(initiative, metric, scenario no., month no., amount, id) columns from SQLite."""
    raw: Any = conn.connection.driver_connection
    # One result row per group of the covering index (no sort): its three lists come from
    # aggregates that SQLite steps row by row together, so they line up.
    groups = raw.execute(
        "SELECT metric_id, scenario, month, COUNT(*), group_concat(initiative_id, ','), "  # noqa: S608  (ints, and scenarios from SCENARIOS)
        "group_concat(amount_minor, ','), group_concat(id, ',') FROM phasing "
        f"{where} GROUP BY metric_id, scenario, valid_from, month").fetchall()
    iid, amount, ids = (_parse_lists([g[i] for g in groups]) for i in (4, 5, 6))
    return _spread(groups, iid, amount, ids)


def _read_phasing_postgresql(conn: Connection, where: str) -> _Columns:
    """The same columns from PostgreSQL: per group, one ``string_agg`` of
    ``initiative,amount,id`` triples (aligned by construction). The server does the work
    and the client waits on its socket, not holding the GIL, so a thread reading this runs
    beside the import's check; a binary COPY sends a message per fact instead."""
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(
            "SELECT metric_id, scenario, CAST(month AS VARCHAR(10)), COUNT(*), "  # noqa: S608  (ints, and scenarios from SCENARIOS)
            "string_agg(concat_ws(',', initiative_id, amount_minor, id), ',') FROM phasing "
            f"{where} GROUP BY metric_id, scenario, valid_from, month")
        groups = cur.fetchall()
    triples = _parse_lists([g[4] for g in groups]).reshape(-1, 3)
    return _spread(groups, triples[:, 0].copy(), triples[:, 1].copy(), triples[:, 2].copy())


def _parse_lists(texts: list[str]) -> np.ndarray:
    """Comma-separated integers to int64, by numpy's C text parser (a tenth of the time of
    ``split`` and ``int``)."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(",".join(texts), dtype=np.int64, sep=",")


def _spread(groups: list[Any], iid: np.ndarray, amount: np.ndarray, ids: np.ndarray,
            ) -> _Columns:
    """The per-fact columns from per-group (metric, scenario, month, count) rows and the
    groups' facts in order."""
    counts = np.array([int(g[3]) for g in groups], dtype=np.int64)
    if not (len(iid) == len(amount) == len(ids) == int(counts.sum())):
        raise RuntimeError("phasing read: group lists of unequal length")  # pragma: no cover
    month_no = np.array([month_number(str(g[2])) for g in groups], dtype=np.int64)
    scen = np.array([SCENARIOS.index(str(g[1])) for g in groups], dtype=np.int64)
    mid = np.array([int(g[0]) for g in groups], dtype=np.int64)
    return (iid, np.repeat(mid, counts), np.repeat(scen, counts), np.repeat(month_no, counts),
            amount, ids)


def current_targets(
    conn: Connection, *, metric_ids: Iterable[int] | None = None, as_of: int | None = None
) -> pd.DataFrame:
    """Target versions valid now (or as of ``as_of``), with their row ids.

    Columns: ``id, metric_id, scope_kind, scope_code, month, amount_minor, valid_from``.
    """
    where, params = version_filter(as_of)
    clauses = [where]
    if metric_ids is not None:
        ids = sorted({int(m) for m in metric_ids})
        clauses.append(f"metric_id IN ({', '.join(str(i) for i in ids) or 'NULL'})")
    frame = read_frame(
        conn,
        "SELECT id, metric_id, scope_kind, scope_code, CAST(month AS VARCHAR(10)) AS month, "  # noqa: S608  (ids int()-formatted)
        f"amount_minor, valid_from FROM target WHERE {' AND '.join(clauses)}",
        params,
    )
    return _typed_facts(frame, ["id", "metric_id", "amount_minor", "valid_from"])


def _typed_facts(frame: pd.DataFrame, int_columns: list[str]) -> pd.DataFrame:
    for col in int_columns:
        frame[col] = frame[col].astype("int64") if len(frame) else pd.Series(dtype="int64")
    for col in frame.columns:
        if col not in int_columns:
            frame[col] = frame[col].astype(object)
    return frame


# --------------------------------------------------------------------------- versioned writes


@dataclass
class FactChanges:
    """What a versioned write did (or would do, for a dry run)."""

    added: pd.DataFrame
    """Keys that had no current value, with their new amount."""
    changed: pd.DataFrame
    """Keys whose amount changed: ``amount_minor`` (new) and ``old_amount_minor``."""
    removed: pd.DataFrame
    """Keys whose current value ends with no successor, with ``old_amount_minor``."""
    unchanged: int

    @property
    def count(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def diff_facts(
    current: pd.DataFrame,
    incoming: pd.DataFrame,
    key: list[str],
    scope: list[str] | None = None,
    *,
    scopes: pd.DataFrame | None = None,
) -> FactChanges:
    """Compare ``incoming`` facts with ``current`` versions, vectorised.

    ``scope`` (a prefix of the key's columns) says which current facts ``incoming``
    replaces in full: a current fact whose scope tuple appears in ``incoming`` but whose key
    does not is *removed*. ``scopes`` gives those scope tuples explicitly instead (its
    columns a prefix of the key), so a scope whose every month was emptied, and so has no
    incoming fact, still ends its current facts. With neither, nothing is removed (an
    update).
    """
    cur = current[[*key, "id", "amount_minor"]].rename(
        columns={"amount_minor": "old_amount_minor", "id": "old_id"}
    )
    inc = incoming[[*key, "amount_minor"]]
    merged = inc.merge(cur, on=key, how="left", indicator=True)
    is_new = merged["_merge"] == "left_only"
    both = merged[~is_new]
    differs = both["amount_minor"] != both["old_amount_minor"]
    added = merged.loc[is_new, [*key, "amount_minor"]].reset_index(drop=True)
    added["amount_minor"] = added["amount_minor"].astype("int64")
    changed = both.loc[differs, [*key, "amount_minor", "old_amount_minor", "old_id"]].reset_index(
        drop=True
    )
    changed = changed.astype(
        {"amount_minor": "int64", "old_amount_minor": "int64", "old_id": "int64"}
    )
    if scopes is None and scope:
        scopes = inc[scope]
    if scopes is not None and len(scopes):
        in_scope = cur.merge(scopes.drop_duplicates(), on=list(scopes.columns), how="inner")
        gone = in_scope.merge(inc[key], on=key, how="left", indicator=True)
        removed = gone.loc[gone["_merge"] == "left_only", [*key, "old_amount_minor", "old_id"]]
        removed = removed.reset_index(drop=True).astype(
            {"old_amount_minor": "int64", "old_id": "int64"}
        )
    else:
        removed = pd.DataFrame(columns=[*key, "old_amount_minor", "old_id"])
    return FactChanges(
        added=added, changed=changed, removed=removed, unchanged=int((~differs).sum())
    )


def write_fact_changes(
    conn: Connection, table: Table, key: list[str], changes: FactChanges, submission_id: int
) -> None:
    """Apply ``changes`` as new versions under ``submission_id``: close, then insert."""
    old_ids = pd.concat([changes.changed["old_id"], changes.removed["old_id"]]).tolist()
    close_versions(conn, table, old_ids, submission_id)
    pause_point("mid_write")  # test-only (ledger.faults)
    new_rows = pd.concat(
        [changes.added[[*key, "amount_minor"]], changes.changed[[*key, "amount_minor"]]],
        ignore_index=True,
    )
    if new_rows.empty:
        return
    new_rows = new_rows.assign(valid_from=submission_id, valid_to=OPEN)
    new_rows["amount_minor"] = new_rows["amount_minor"].astype("int64")
    bulk_insert(conn, table, new_rows)


def write_phasing(
    conn: Connection,
    incoming: pd.DataFrame,
    submission_id: int,
    *,
    replace_scope: Sequence[str] | None = ("initiative_id", "metric_id", "scenario"),
    dry_run: bool = False,
) -> FactChanges:
    """Write phasing facts as new versions where they differ from the current ones.

    ``incoming`` has ``initiative_id, metric_id, scenario, month, amount_minor`` (month an
    ISO string). By default each (initiative, metric, scenario) present in ``incoming`` is
    replaced in full: months it no longer lists are removed. Pass ``replace_scope=None`` to
    only add and change.
    """
    incoming = incoming.copy()
    incoming["month"] = incoming["month"].map(_iso_month)
    current = current_phasing(
        conn,
        metric_ids=incoming["metric_id"].unique().tolist(),
        scenarios=incoming["scenario"].unique().tolist(),
        initiative_ids=incoming["initiative_id"].unique().tolist(),
    )
    changes = diff_facts(
        current, incoming, PHASING_KEY, list(replace_scope) if replace_scope else None
    )
    if not dry_run:
        write_fact_changes(conn, Phasing.__table__, PHASING_KEY, changes, submission_id)
    return changes


def write_targets(
    conn: Connection,
    incoming: pd.DataFrame,
    submission_id: int,
    *,
    replace_scope: Sequence[str] | None = ("metric_id", "scope_kind", "scope_code"),
    dry_run: bool = False,
) -> FactChanges:
    """Write target facts as a new revision (see :func:`write_phasing`)."""
    incoming = incoming.copy()
    incoming["month"] = incoming["month"].map(_iso_month)
    current = current_targets(conn, metric_ids=incoming["metric_id"].unique().tolist())
    changes = diff_facts(
        current, incoming, TARGET_KEY, list(replace_scope) if replace_scope else None
    )
    if not dry_run:
        write_fact_changes(conn, Target.__table__, TARGET_KEY, changes, submission_id)
    return changes


def _iso_month(value: Any) -> str:
    if isinstance(value, datetime):
        return date(value.year, value.month, 1).isoformat()
    if isinstance(value, date):
        return date(value.year, value.month, 1).isoformat()
    if isinstance(value, pd.Timestamp):
        return date(value.year, value.month, 1).isoformat()
    return str(value)[:10]

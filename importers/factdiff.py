"""Comparing a workbook's phasing with the ledger's, fast: one int64 key per fact.

A fact's key (initiative, metric, scenario, month) is packed into one int64
(``((initiative * 1024 + metric) * 4 + scenario) * 32768 + month number``), so the
comparison of a million incoming facts with a million current ones is two hash lookups
(``pandas.Index.get_indexer``) instead of a four-column merge. The current facts are read
as integers in bulk (binary COPY / grouped ``group_concat``), never as one Python tuple
per fact. The result is the
same :class:`ledger.store.FactChanges` that ``ledger.store.write_fact_changes`` applies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from ledger.models import OPEN, SCENARIOS
from ledger.store import PHASING_KEY, FactChanges

_METRICS = 1024
_SCENARIOS = 4
_MONTHS = 32768
#: Above this many initiatives, read the metric/scenario's facts whole and filter in numpy.
_IN_LIST_LIMIT = 2000


def _month_numbers(months: np.ndarray) -> np.ndarray:
    """ISO ``YYYY-MM-DD`` strings to year * 12 + month - 1 (hashing the few distinct ones)."""
    codes, uniques = pd.factorize(months)
    numbers = np.array([int(str(u)[:4]) * 12 + int(str(u)[5:7]) - 1 for u in uniques],
                       dtype=np.int64)
    return numbers[codes] if len(uniques) else np.zeros(len(months), dtype=np.int64)


def _scenario_numbers(scenarios: np.ndarray) -> np.ndarray:
    codes, uniques = pd.factorize(scenarios)
    numbers = np.array([SCENARIOS.index(str(u)) for u in uniques], dtype=np.int64)
    return numbers[codes] if len(uniques) else np.zeros(len(scenarios), dtype=np.int64)


def scope_keys(initiative_id: np.ndarray, metric_id: np.ndarray,
               scenario: np.ndarray) -> np.ndarray:
    """One int64 per (initiative, metric, scenario)."""
    if np.any(metric_id >= _METRICS):  # pragma: no cover - a ledger has a handful of metrics
        raise ValueError("more than 1023 metrics")
    return ((initiative_id.astype(np.int64) * _METRICS + metric_id.astype(np.int64))
            * _SCENARIOS + _scenario_numbers(scenario))


def fact_keys(initiative_id: np.ndarray, metric_id: np.ndarray, scenario: np.ndarray,
              month: np.ndarray) -> np.ndarray:
    """One int64 per (initiative, metric, scenario, month)."""
    return scope_keys(initiative_id, metric_id, scenario) * _MONTHS + _month_numbers(month)


def _month_number_of_iso(iso: str) -> int:
    return int(iso[:4]) * 12 + int(iso[5:7]) - 1


def read_current(conn: Connection, *, metric_ids: list[int], scenarios: list[str],
                 initiative_ids: list[int] | None) -> dict[str, np.ndarray]:
    """Current phasing of ``initiative_ids`` (None: of every initiative) for the metrics
    and scenarios, as int64 arrays ``id``, ``key`` (:func:`fact_keys`) and ``amount_minor``.

    Only integers travel, in bulk, and no Python object is made per fact: PostgreSQL sends
    a binary ``COPY`` read with one ``numpy.frombuffer``; SQLite returns, per (metric,
    scenario, submission, month) group of its covering index (no sort), three
    ``group_concat`` strings parsed by numpy. About 4x faster than fetching a million
    tuples.
    """
    empty = {n: np.zeros(0, dtype=np.int64) for n in ("id", "key", "amount_minor")}
    if (initiative_ids is not None and not initiative_ids) or not metric_ids or not scenarios:
        return empty
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad:  # pragma: no cover - checked before
        raise ValueError(f"unknown scenarios {bad}")
    where = (f"WHERE valid_to = {OPEN} "
             f"AND metric_id IN ({', '.join(str(int(m)) for m in sorted(set(metric_ids)))}) "
             f"AND scenario IN ({', '.join(repr(s) for s in sorted(set(scenarios)))})")
    few = initiative_ids is not None and len(initiative_ids) <= _IN_LIST_LIMIT
    if few:
        assert initiative_ids is not None
        where += (" AND initiative_id IN ("
                  + ", ".join(str(int(i)) for i in sorted(set(initiative_ids))) + ")")
    if conn.dialect.name == "postgresql":
        iid, mid, scen, month_no, amount, ids = _read_postgresql(conn, where)
    else:
        iid, mid, scen, month_no, amount, ids = _read_sqlite(conn, where)
    if not len(ids):
        return empty
    key = ((iid * _METRICS + mid) * _SCENARIOS + scen) * _MONTHS + month_no
    out = {"id": ids, "key": key, "amount_minor": amount}
    if initiative_ids is not None and not few:
        keep = np.isin(iid, np.array(sorted(set(initiative_ids)), dtype=np.int64))
        if not keep.all():
            out = {k: v[keep] for k, v in out.items()}
    return out


_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _read_sqlite(conn: Connection, where: str) -> _Columns:
    """(initiative, metric, scenario no., month no., amount, id) columns from SQLite."""
    raw: Any = conn.connection.driver_connection
    # The three aggregates are stepped row by row together, so their lists line up.
    groups = raw.execute(
        "SELECT metric_id, scenario, month, COUNT(*), group_concat(initiative_id, ','), "
        "group_concat(amount_minor, ','), group_concat(id, ',') FROM phasing "
        f"{where} GROUP BY metric_id, scenario, valid_from, month").fetchall()
    if not groups:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z, z, z
    counts = np.array([g[3] for g in groups], dtype=np.int64)

    def column(i: int) -> np.ndarray:
        # numpy's text parser (C): a tenth of the time of split() + int conversion.
        values = np.fromstring(",".join(g[i] for g in groups), dtype=np.int64, sep=",")
        if len(values) != counts.sum():  # pragma: no cover - a guard, never seen
            raise RuntimeError("phasing read: group lists of unequal length")
        return values

    month_no = np.array([_month_number_of_iso(str(g[2])) for g in groups], dtype=np.int64)
    scen = np.array([SCENARIOS.index(str(g[1])) for g in groups], dtype=np.int64)
    mid = np.array([int(g[0]) for g in groups], dtype=np.int64)
    return (column(4), np.repeat(mid, counts), np.repeat(scen, counts),
            np.repeat(month_no, counts), column(5), column(6))


_EPOCH_MONTH = 1970 * 12


def _read_postgresql(conn: Connection, where: str) -> _Columns:
    """The same columns from PostgreSQL, as one binary COPY."""
    scenario = "CASE scenario " + " ".join(
        f"WHEN '{name}' THEN {i}" for i, name in enumerate(SCENARIOS)) + " END"
    sql = (f"COPY (SELECT CAST(initiative_id AS BIGINT), CAST(metric_id AS BIGINT), "
           f"CAST({scenario} AS BIGINT), CAST(month - DATE '1970-01-01' AS BIGINT), "
           f"amount_minor, CAST(id AS BIGINT) FROM phasing {where}) TO STDOUT (FORMAT binary)")
    raw: Any = conn.connection.driver_connection
    buf = bytearray()
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for data in copy:
            buf += data
    # Binary COPY: an 11-byte signature, flags and extension length (8 bytes), then per
    # row a field count (int16) and each field's length (int32) and value (int64 here),
    # all big-endian, then a -1 trailer.
    width = 6
    row = np.dtype([("n", ">i2")] + [item for i in range(width)
                                     for item in ((f"len{i}", ">i4"), (f"v{i}", ">i8"))])
    header = 19
    body = memoryview(buf)[header:len(buf) - 2]
    if len(body) % row.itemsize:  # pragma: no cover - a guard, never seen
        raise RuntimeError("phasing read: unexpected COPY layout")
    table = np.frombuffer(body, dtype=row)
    if len(table) and (np.any(table["n"] != width) or np.any(table["len0"] != 8)):
        raise RuntimeError("phasing read: unexpected COPY layout")  # pragma: no cover
    cols = [table[f"v{i}"].astype(np.int64) for i in range(width)]
    days = cols[3].astype("datetime64[D]")
    month_no = days.astype("datetime64[M]").astype(np.int64) + _EPOCH_MONTH
    return cols[0], cols[1], cols[2], month_no, cols[4], cols[5]


def decode_keys(keys: np.ndarray) -> pd.DataFrame:
    """The columns of ``ledger.store.PHASING_KEY`` back from :func:`fact_keys`."""
    month_no = keys % _MONTHS
    rest = keys // _MONTHS
    scenario_no = rest % _SCENARIOS
    rest = rest // _SCENARIOS
    metric = rest % _METRICS
    initiative = rest // _METRICS
    codes, uniques = pd.factorize(month_no)
    iso = np.array([f"{int(u) // 12:04d}-{int(u) % 12 + 1:02d}-01" for u in uniques],
                   dtype=object)
    return pd.DataFrame({
        "initiative_id": initiative,
        "metric_id": metric,
        "scenario": pd.Series(np.array(SCENARIOS, dtype=object)[scenario_no], dtype=object),
        "month": pd.Series(iso[codes] if len(uniques) else np.zeros(0, dtype=object),
                           dtype=object),
    })


def diff_phasing(current: dict[str, np.ndarray], incoming: pd.DataFrame,
                 scopes: np.ndarray) -> FactChanges:
    """Compare incoming facts (columns of ``ledger.store.PHASING_KEY`` + ``amount_minor``)
    with ``current`` (from :func:`read_current`).

    ``scopes`` (:func:`scope_keys`) are the (initiative, metric, scenario) rows the
    workbook states in full: a current fact in one of them that the workbook lacks is
    removed (its cell was emptied). Facts outside ``scopes`` are left alone.
    """
    inc_key = fact_keys(incoming["initiative_id"].to_numpy(np.int64),
                        incoming["metric_id"].to_numpy(np.int64),
                        incoming["scenario"].to_numpy(object),
                        incoming["month"].to_numpy(object))
    inc_amount = incoming["amount_minor"].to_numpy(np.int64)
    cur_key = current["key"]
    where = pd.Index(cur_key).get_indexer(inc_key) if len(cur_key) else \
        np.full(len(inc_key), -1, dtype=np.int64)
    is_new = where < 0
    matched = np.flatnonzero(~is_new)
    old_pos = where[matched]
    differs = current["amount_minor"][old_pos] != inc_amount[matched]
    changed_inc = matched[differs]
    changed_cur = old_pos[differs]

    key_cols = incoming[PHASING_KEY]
    added = key_cols.iloc[np.flatnonzero(is_new)].reset_index(drop=True)
    added["amount_minor"] = inc_amount[is_new]
    changed = key_cols.iloc[changed_inc].reset_index(drop=True)
    changed["amount_minor"] = inc_amount[changed_inc]
    changed["old_amount_minor"] = current["amount_minor"][changed_cur]
    changed["old_id"] = current["id"][changed_cur]

    if len(cur_key):
        # Keys are unique on both sides: a current fact no incoming key matched is gone
        # from the workbook (no second hash lookup needed).
        matched_cur = np.zeros(len(cur_key), dtype=bool)
        matched_cur[old_pos] = True
        pos = np.flatnonzero(~matched_cur)
        pos = pos[np.isin(cur_key[pos] // _MONTHS, scopes)]
    else:
        pos = np.zeros(0, dtype=np.int64)
    removed = decode_keys(cur_key[pos])
    removed["old_amount_minor"] = current["amount_minor"][pos]
    removed["old_id"] = current["id"][pos]
    return FactChanges(added=added, changed=changed, removed=removed,
                       unchanged=int(len(matched) - len(changed_inc)))

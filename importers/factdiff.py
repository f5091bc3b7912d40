"""Comparing a workbook's phasing with the ledger's, fast: one int64 key per fact.

A fact's key (initiative, metric, scenario, month) is packed into one int64
(``((initiative * 1024 + metric) * 4 + scenario) * 32768 + month number``), so the
comparison of a million incoming facts with a million current ones is two hash lookups
(``pandas.Index.get_indexer``) instead of a four-column merge. The current facts are read
as integers in bulk (:func:`ledger.store.current_phasing_arrays`), never as one Python
tuple per fact. The result is the
same :class:`ledger.store.FactChanges` that ``ledger.store.write_fact_changes`` applies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from ledger.models import SCENARIOS
from ledger.months import month_iso, month_number
from ledger.store import PHASING_KEY, FactChanges, PhasingArrays, current_phasing_arrays

_METRICS = 1024
_SCENARIOS = 4
_MONTHS = 32768


def _month_numbers(months: np.ndarray) -> np.ndarray:
    """ISO ``YYYY-MM-DD`` strings to year * 12 + month - 1 (hashing the few distinct ones)."""
    codes, uniques = pd.factorize(months)
    numbers = np.array([month_number(str(u)) for u in uniques], dtype=np.int64)
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
    keys: np.ndarray = ((initiative_id.astype(np.int64) * _METRICS
                         + metric_id.astype(np.int64)) * _SCENARIOS
                        + _scenario_numbers(scenario))
    return keys


def fact_keys(initiative_id: np.ndarray, metric_id: np.ndarray, scenario: np.ndarray,
              month: np.ndarray) -> np.ndarray:
    """One int64 per (initiative, metric, scenario, month)."""
    keys: np.ndarray = (scope_keys(initiative_id, metric_id, scenario) * _MONTHS
                        + _month_numbers(month))
    return keys


def read_current(conn: Connection, *, metric_ids: list[int], scenarios: list[str],
                 initiative_ids: list[int] | None) -> dict[str, np.ndarray]:
    """Current phasing of ``initiative_ids`` (None: of every initiative) for the metrics
    and scenarios, as int64 arrays ``id``, ``key`` (:func:`fact_keys`) and ``amount_minor``
    (read in bulk by :func:`ledger.store.current_phasing_arrays`)."""
    facts = current_phasing_arrays(conn, metric_ids=metric_ids, scenarios=scenarios,
                                   initiative_ids=initiative_ids)
    return keyed(facts)


def keyed(facts: PhasingArrays) -> dict[str, np.ndarray]:
    """``facts`` as :func:`read_current` returns them."""
    key = (((facts.initiative_id * _METRICS + facts.metric_id) * _SCENARIOS
            + facts.scenario_no) * _MONTHS + facts.month_no)
    return {"id": facts.id, "key": key, "amount_minor": facts.amount_minor}


def select(facts: PhasingArrays, *, metric_ids: list[int], scenarios: list[str],
           initiative_ids: list[int]) -> PhasingArrays:
    """The part of ``facts`` (read for a superset) with these metrics, scenarios and
    initiatives."""
    scenario_nos = [SCENARIOS.index(s) for s in scenarios]
    keep = (np.isin(facts.metric_id, np.array(metric_ids, dtype=np.int64))
            & np.isin(facts.scenario_no, np.array(scenario_nos, dtype=np.int64))
            & np.isin(facts.initiative_id, np.array(initiative_ids, dtype=np.int64)))
    if keep.all():
        return facts
    return PhasingArrays(facts.initiative_id[keep], facts.metric_id[keep],
                         facts.scenario_no[keep], facts.month_no[keep],
                         facts.amount_minor[keep], facts.id[keep])


def decode_keys(keys: np.ndarray) -> pd.DataFrame:
    """The columns of ``ledger.store.PHASING_KEY`` back from :func:`fact_keys`."""
    month_no = keys % _MONTHS
    rest = keys // _MONTHS
    scenario_no = rest % _SCENARIOS
    rest = rest // _SCENARIOS
    metric = rest % _METRICS
    initiative = rest // _METRICS
    codes, uniques = pd.factorize(month_no)
    iso = np.array([month_iso(int(u)) for u in uniques], dtype=object)
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

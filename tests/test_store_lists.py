"""Lists reach SQL as bound parameters, in chunks the databases accept."""

from __future__ import annotations

import pytest

import ledger.store as store
from ledger.api import Ledger


def test_in_lists_are_bound_values_and_long_lists_are_read_in_chunks(
        programme: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    for code in ("A1", "A2", "A3", "A4", "A5"):
        programme.add_business_unit(code, f"unit {code}", user="t")
    sql = "SELECT code FROM business_unit WHERE code IN :codes ORDER BY code"
    # A value that would break SQL text if it were spliced in is just a value here.
    hostile = "x') OR 1=1 --"
    with programme.reading() as conn:
        one = store.read_frame(conn, sql, {"codes": ["A2", hostile]}, lists=["codes"])
        monkeypatch.setattr(store, "IN_LIST_CHUNK", 2)
        chunked = store.read_frame_in(conn, sql, {}, "codes", ["A5", "A1", "A3", hostile])
        empty = store.read_frame_in(conn, sql, {}, "codes", [])
    assert one["code"].tolist() == ["A2"]
    assert sorted(chunked["code"]) == ["A1", "A3", "A5"]
    assert empty.empty


def test_scenario_names_reach_the_phasing_read_as_bound_values(programme: Ledger) -> None:
    # A scenario name with quotes is a value to compare, never SQL text: no error, no match,
    # and the table is still there.
    hostile = ["plan", "o'brien", "x\"); DROP TABLE phasing; --"]
    with programme.reading() as conn:
        found = store.current_phasing(conn, scenarios=hostile)
        none = store.current_phasing(conn, scenarios=[])
        still_there = store.read_frame(conn, "SELECT COUNT(*) AS n FROM phasing")
    assert found.empty
    assert list(found.columns) == ["id", "initiative_id", "metric_id", "scenario", "month",
                                   "amount_minor", "valid_from"]
    assert none.empty
    assert still_there["n"].tolist() == [0]

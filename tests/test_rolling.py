"""The current bottom-up rolled forward from an earlier read (ledger.rolling) equals a full
read after every kind of write, for every breakdown and weighting, on both backends."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from helpers.book import Book, mon
from sqlalchemy import text

from ledger import rolling
from ledger.api import Ledger
from ledger.engine import gap

D = Decimal
VIEWS = [(None, False), (None, True), ("business_unit", False), ("lever", True),
         ("stage", True), ("owner", False)]


def _frames(led: Ledger, *, fresh: bool, scenario: str = "plan") -> list[pd.DataFrame]:
    out = []
    for by, weighted in VIEWS:
        if fresh:
            rolling.forget()
        rep = gap(led, by=by, weighted=weighted, scenario=scenario)
        out.append(rep.monthly)
    return out


def _same_as_full_read(led: Ledger, scenario: str = "plan") -> None:
    kept = _frames(led, fresh=False, scenario=scenario)
    full = _frames(led, fresh=True, scenario=scenario)
    for (by, weighted), a, b in zip(VIEWS, kept, full, strict=True):
        pd.testing.assert_frame_equal(a, b, obj=f"by={by} weighted={weighted}")


def test_rolled_sums_equal_a_full_read_after_every_kind_of_write(programme):
    book = Book(programme)
    book.initiatives([
        {"ext": "A", "bu": "PRO", "lever": "PROC", "stage": "L2", "owner": "Ann"},
        {"ext": "B", "bu": "MIN", "lever": "LAB", "stage": "L3", "owner": "Bo"},
        {"ext": "C", "stage": "L1", "owner": "Cy"},
    ])
    book.targets({("programme", ""): {mon(i): "100.00" for i in range(12)}})
    book.phasing({"A": {mon(1): "50.01", mon(2): "150.00"},
                  "B": {mon(2): "25.55", mon(4): "200.03"},
                  "C": {mon(3): "9.99"}})
    rolling.forget()
    _frames(programme, fresh=False)  # every view kept at this submission
    before = dict(rolling.stats)

    book.phasing({"A": {mon(1): "60.07"}})  # A's plan replaced: one month now
    _same_as_full_read(programme)
    assert rolling.stats["rolled"] - before["rolled"] == len(VIEWS)  # rolled, not re-read

    book.phasing({"B": {mon(2): "-3.33", mon(5): "1.01"}, "C": {mon(3): "0.01"}})
    book.phasing({"C": {mon(7): "12.35"}}, scenario="forecast")  # another scenario
    _same_as_full_read(programme)

    book.initiatives([{"ext": "C", "bu": "PRO", "stage": "L4", "owner": "Ann"}])  # moved
    _same_as_full_read(programme)
    book.initiatives([{"ext": "A", "bu": "PRO", "lever": "PROC", "status": "withdrawn",
                       "owner": "Ann"}])
    _same_as_full_read(programme)
    programme.set_stage_weight("L3", D("0.3333"), user="office")
    _same_as_full_read(programme)
    book.initiatives([{"ext": "D", "bu": "MIN", "lever": "ENERGY", "stage": "L5"}])
    book.phasing({"D": {mon(0): "7.77", mon(11): "1.00"}})
    _same_as_full_read(programme)
    _same_as_full_read(programme, scenario="forecast")

    total = gap(programme).programme_fiscal
    # B's second write replaced its plan (200.03 gone), A is withdrawn.
    assert total[total["period"] == "Horizon"]["bottom_up"].iloc[0] == D("-3.33") + D(
        "1.01") + D("0.01") + D("7.77") + D("1.00")


def test_a_copy_of_the_ledger_written_differently_is_read_in_full(programme, tmp_path: Path,
                                                                  backend: str):
    """Two databases with the same identity (a copy, a restore) and submissions with the
    same ids but different contents: the kept sums of one never answer for the other."""
    if backend != "sqlite":
        pytest.skip("a file copy shows it; the chain hash check is the same code on both")
    book = Book(programme)
    book.initiatives([{"ext": "A", "bu": "PRO"}])
    book.phasing({"A": {mon(1): "10.00"}})
    url = str(programme.engine.url)
    copy_path = tmp_path / "copy.db"
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as src, \
            closing(sqlite3.connect(copy_path)) as dst:
        src.backup(dst)  # the file and its write-ahead log
    copy = Ledger.open(f"sqlite:///{copy_path}")
    try:
        rolling.forget()
        gap(programme)
        book.phasing({"A": {mon(1): "20.00"}})
        gap(programme)  # kept at the new submission
        other = Book(copy)
        other.ids.update(book.ids)
        other.phasing({"A": {mon(1): "30.00"}})  # same submission id, other content
        with copy.reading() as conn:
            assert conn.execute(text("SELECT MAX(id) FROM submission")).scalar() == \
                gap(programme).last_submission_id
        assert gap(copy).programme_fiscal["bottom_up"].iloc[-1] == D("30.00")
        assert gap(programme).programme_fiscal["bottom_up"].iloc[-1] == D("20.00")
    finally:
        copy.dispose()


def test_as_of_reports_and_write_transactions_are_not_kept(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A"}])
    first = book.phasing({"A": {mon(1): "10.00"}})
    book.phasing({"A": {mon(1): "20.00"}})
    rolling.forget()
    assert gap(programme, as_of=first.id).programme_fiscal["bottom_up"].iloc[-1] == D("10.00")
    with programme.writing() as conn:
        assert gap(programme, conn=conn).programme_fiscal["bottom_up"].iloc[-1] == D("20.00")
    assert rolling.kept() == 0  # nothing kept by either


def test_a_read_committed_connection_is_read_in_full_and_not_kept(programme, backend: str):
    book = Book(programme)
    book.initiatives([{"ext": "A"}])
    book.phasing({"A": {mon(1): "10.00"}})
    rolling.forget()
    with programme.engine.connect() as conn:
        if backend == "postgresql":
            conn = conn.execution_options(isolation_level="READ COMMITTED")
        with conn.begin():
            assert rolling.snapshot_read(conn) is (backend == "sqlite")
            rep = gap(programme, conn=conn)
    assert rep.programme_fiscal["bottom_up"].iloc[-1] == D("10.00")
    assert rolling.kept() == (1 if backend == "sqlite" else 0)
    with programme.reading() as conn:
        assert rolling.snapshot_read(conn)

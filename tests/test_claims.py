"""Checks on what initiatives claim (issue 18): actuals before an initiative started,
actuals in months not closed, and pairs that may count one saving twice, which the office
can mark as reviewed (both backends; the similarity rule also as a pure function)."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from helpers.book import Book, mon
from helpers.clock import between

from ledger.claims import name_similarity, similar_pairs
from ledger.closing import close_month
from ledger.engine import checks

D = Decimal


def _found(led, check: str, **kwargs) -> set[tuple[object, ...]]:
    rows = checks(led, check_storage=False, **kwargs)
    return {(r["subject"], r["metric"], r["month"], r["amount"])
            for r in rows.to_dict("records") if r["check"] == check}


def test_actuals_before_an_initiative_started_are_named_with_month_metric_and_amount(
        programme):
    book = Book(programme)
    book.initiatives([{"ext": "LATE"}, {"ext": "NOPLAN"}, {"ext": "OK"},
                      {"ext": "GONE", "status": "withdrawn"}])
    # LATE starts in October (its first plan month); OK in July.
    book.phasing({"LATE": {mon(3): "100.00"}, "OK": {mon(0): "10.00"},
                  "GONE": {mon(3): "1.00"}})
    book.phasing({"LATE": {mon(1): "5.00", mon(3): "7.00"}, "NOPLAN": {mon(2): "3.00"},
                  "OK": {mon(0): "9.00"}, "GONE": {mon(0): "2.00"}}, scenario="actual")
    book.phasing({"LATE": {mon(2): "40.00"}}, metric="cost", scenario="actual")
    assert _found(programme, "actual_before_start") == {
        ("LATE", "benefit", date(2026, 8, 1), D("5.00")),
        ("LATE", "cost", date(2026, 9, 1), D("40.00")),
        ("NOPLAN", "benefit", date(2026, 9, 1), D("3.00")),
    }
    found = checks(programme, check_storage=False)
    late = found[(found["check"] == "actual_before_start") & (found["metric"] == "benefit")]
    assert "before the initiative started in 2026-10" in late.iloc[0]["detail"]
    # A one-off cost planned in August starts the initiative there: neither its August
    # benefit actual nor its September cost actual is early any more.
    book.phasing({"LATE": {mon(1): "40.00"}}, metric="cost")
    assert _found(programme, "actual_before_start") == {
        ("NOPLAN", "benefit", date(2026, 9, 1), D("3.00"))}
    assert _found(programme, "actual_before_start", metric="volume") == set()


def test_actuals_in_months_not_closed_are_one_finding_per_metric_and_month(programme):
    book = Book(programme)
    book.initiatives([{"ext": e} for e in ("A", "B", "C", "D", "E")])
    book.phasing({e: {mon(0): "1.00", mon(1): "1.00", mon(2): "1.00"} for e in "ABCDE"})
    book.phasing({"A": {mon(0): "1.00", mon(1): "2.00"}, "B": {mon(1): "3.00"},
                  "C": {mon(1): "4.00"}, "D": {mon(1): "5.00", mon(2): "6.00"},
                  "E": {mon(1): "0"}}, scenario="actual")
    # Nothing closed: every month with actuals is a finding, zero actuals are no claim.
    assert _found(programme, "actual_not_closed") == {
        ("A", "benefit", date(2026, 7, 1), D("1.00")),
        ("A, B, C … (+1)", "benefit", date(2026, 8, 1), D("14.00")),
        ("D", "benefit", date(2026, 9, 1), D("6.00")),
    }
    close_month(programme, date(2026, 8, 1), now=datetime(2026, 12, 1, tzinfo=UTC))
    assert _found(programme, "actual_not_closed") == {
        ("D", "benefit", date(2026, 9, 1), D("6.00"))}
    found = checks(programme, check_storage=False)
    detail = found[found["check"] == "actual_not_closed"].iloc[0]["detail"]
    assert "1 initiative claims actual benefit of 6.00 in 2026-09" in detail
    assert "the last closed month is 2026-08" in detail
    close_month(programme, date(2026, 9, 1), now=datetime(2026, 12, 1, tzinfo=UTC))
    assert _found(programme, "actual_not_closed") == set()


def _pairs_ledger(programme) -> Book:
    book = Book(programme)
    book.initiatives([
        {"ext": "GR-1", "bu": "PRO", "lever": "PROC", "name": "Diesel contract renegotiation"},
        {"ext": "GR-2", "bu": "PRO", "lever": "PROC",
         "name": "Renegotiate the diesel supply contracts"},
        # The same name under another lever: not the same saving.
        {"ext": "GR-3", "bu": "PRO", "lever": "LAB", "name": "Diesel contract renegotiation"},
        # Alike, same unit and lever, but phased in other months.
        {"ext": "GR-4", "bu": "PRO", "lever": "PROC", "name": "Diesel contract renegotiated"},
        # Same unit, lever and months, but a different thing.
        {"ext": "GR-5", "bu": "PRO", "lever": "PROC", "name": "Conveyor belt wear monitoring"},
        {"ext": "GR-6", "bu": "PRO", "lever": "PROC", "name": "Diesel contract renegotiation",
         "status": "withdrawn"},
    ])
    book.phasing({"GR-1": {mon(3): "10.00", mon(4): "10.00"},
                  "GR-2": {mon(4): "8.00", mon(5): "8.00"},
                  "GR-3": {mon(4): "8.00"}, "GR-4": {mon(10): "8.00"},
                  "GR-5": {mon(4): "8.00"}, "GR-6": {mon(4): "8.00"}})
    return book


def test_similar_initiatives_of_one_unit_and_lever_in_the_same_months_are_reported(programme):
    _pairs_ledger(programme)
    assert _found(programme, "possible_double_count") == {
        ("GR-1 / GR-2", "benefit", date(2026, 11, 1), None)}
    found = checks(programme, check_storage=False)
    pair = found[found["check"] == "possible_double_count"].iloc[0]
    assert pair["scope"] == "PRO / PROC"
    assert "'Diesel contract renegotiation' and 'Renegotiate the diesel supply contracts'" \
        in pair["detail"]
    assert "both phase benefit in 1 month from 2026-11" in pair["detail"]
    assert "tledger checks review-pair GR-1 GR-2" in pair["detail"]
    assert _found(programme, "possible_double_count", metric="volume") == set()


def test_a_reviewed_pair_is_no_longer_reported(programme, cli):
    book = _pairs_ledger(programme)
    before = between()
    r = cli("checks", "review-pair", "GR-2", "GR-1", "--note", "different sites: Perth, Kwinana")
    assert r.exit_code == 0, r.output
    assert "GR-1 and GR-2 reviewed (submission" in r.stdout
    assert _found(programme, "possible_double_count") == set()
    # As of before the review, the pair was still reported.
    assert len(_found(programme, "possible_double_count", as_of=before)) == 1
    listed = json.loads(cli("checks", "reviewed", "--format", "json").stdout)
    assert [(p["first"], p["second"], p["who"], p["note"]) for p in listed] == [
        ("GR-1", "GR-2", "tester", "different sites: Perth, Kwinana")]
    subs = programme.submissions()
    last = subs[subs["id"] == subs["id"].max()].iloc[0]
    assert (last["user"], last["note"]) == ("tester", "different sites: Perth, Kwinana")
    # Once is enough; a pair needs two known initiatives and a reason.
    again = cli("checks", "review-pair", "GR-1", "GR-2", "--note", "again")
    assert again.exit_code == 1
    assert "already reviewed" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert "not found" in cli("checks", "review-pair", "GR-1", "NOPE", "--note", "x").stderr
    assert "one initiative" in cli("checks", "review-pair", "GR-1", "GR-1", "--note",
                                   "x").stderr
    assert "--note is required" in cli("checks", "review-pair", "GR-1", "GR-4").stderr
    # The checks themselves still run as `tledger checks`, options and all.
    book.phasing({"GR-4": {mon(4): "8.00"}})
    r = cli("checks", "--format", "json")
    assert r.exit_code == 0, r.output
    pairs = [f["subject"] for f in json.loads(r.stdout) if f["check"] == "possible_double_count"]
    assert pairs == ["GR-1 / GR-4", "GR-2 / GR-4"]


def test_name_similarity_is_a_jaccard_index_of_word_stems():
    assert name_similarity("Diesel contract renegotiation",
                           "Renegotiate the diesel supply contracts") == Fraction(3, 4)
    assert name_similarity("Reduce diesel use", "Diesel use reduction") == 1
    assert name_similarity("Conveyor belt wear monitoring", "Diesel contract") == 0
    assert name_similarity("Diesel supply contract reset (Haul fleet)",
                           "Diesel supply contract reset (Drill & blast)") == Fraction(1, 2)
    assert name_similarity("Shutdown reduction (Mill 1)",
                           "Shutdown reduction (Mill 2)") == Fraction(3, 5)
    assert name_similarity("", "the of") == 0


def test_similar_pairs_among_2000_initiatives_are_found_fast():
    """Grouped by unit and lever, compared only where names share a stem: 2,000
    initiatives in 5 units x 4 levers, every 100th a near copy of the one before."""
    words = ["diesel", "contract", "conveyor", "labour", "roster", "shutdown", "energy",
             "tariff", "spares", "inventory", "haul", "road", "drill", "blast", "pump",
             "motor", "fleet", "tyres", "water", "power"]
    pick = random.Random(18)
    rows: list[dict[str, object]] = []
    for i in range(2000):
        if i % 100 == 1:  # a near copy of the one before: same unit, lever and words
            rows.append({**rows[-1], "initiative_id": i + 1,
                         "name": f"{rows[-1]['name']} phase 2"})
            continue
        rows.append({"initiative_id": i + 1,
                     "name": " ".join(pick.sample(words, 3)) + f" site{i % 97}",
                     "business_unit": f"U{i % 5}", "lever": f"L{i % 4}"})
    frame = pd.DataFrame(rows)
    start = time.perf_counter()
    pairs = similar_pairs(frame)
    elapsed = time.perf_counter() - start
    near_copies = {(i, i + 1) for i in range(1, 2001, 100)}
    assert near_copies <= {(a, b) for a, b, _ in pairs}
    assert all(frame.loc[a - 1, "business_unit"] == frame.loc[b - 1, "business_unit"]
               for a, b, _ in pairs)
    assert elapsed < 2.0, elapsed

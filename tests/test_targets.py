"""Top-down targets: exact phasing, revisions with history, validation, the CLI."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.api import ProgrammeInfo
from ledger.errors import LedgerError, NotFound
from ledger.months import month_range
from ledger.store import current_targets
from ledger.targets import (
    TargetScope,
    parse_scope,
    parse_target_amount,
    phase_total,
    profile_weights,
    set_target,
    target_by_month,
    target_months,
    target_revisions,
    target_summary,
)

PROG = ProgrammeInfo(1, "Cost 2028", "AUD", 7, date(2026, 7, 1), date(2028, 6, 1))


# --------------------------------------------------------------------------- pure


def test_even_split_puts_the_remainder_in_the_last_months():
    assert phase_total(10000, profile_weights("even", 3)) == [3333, 3333, 3334]
    parts = phase_total(10000, profile_weights("even", 12))
    assert parts == [833] * 8 + [834] * 4
    assert sum(parts) == 10000


def test_ramp_is_linearly_increasing_weights():
    assert profile_weights("ramp", 4) == [1, 2, 3, 4]
    assert phase_total(1000, profile_weights("ramp", 4)) == [100, 200, 300, 400]


def test_weights_profile_and_zero_weight_months_get_nothing():
    weights = profile_weights("weights:0,1,1,2", 4)
    assert weights == [Decimal(0), Decimal(1), Decimal(1), Decimal(2)]
    assert phase_total(101, weights) == [0, 25, 25, 51]


@pytest.mark.parametrize(
    ("profile", "n", "message"),
    [
        ("weights:1,2", 3, "2 weights for 3 months"),
        ("weights:1,-1,2", 3, "weight 2 '-1'"),
        ("weights:1,x,2", 3, "weight 2 'x'"),
        ("weights:0,0", 2, "all zero"),
        ("lumpy", 2, "expected even, ramp or weights"),
    ],
)
def test_bad_profiles_say_what_is_wrong(profile, n, message):
    with pytest.raises(LedgerError, match=message):
        profile_weights(profile, n)


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=10**15),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=60)
    .filter(any),
)
def test_any_total_over_any_weights_sums_exactly(total, weights):
    parts = phase_total(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)
    # every month is within one minor unit of its exact share: the remainder is spread
    # one unit at a time, never lumped
    total_w = sum(weights)
    for p, w in zip(parts, weights, strict=True):
        exact = Decimal(total) * w / total_w
        assert exact - 1 < p <= exact + 1


@settings(max_examples=200, deadline=None)
@given(total=st.integers(min_value=0, max_value=10**12), n=st.integers(min_value=1, max_value=60),
       profile=st.sampled_from(["even", "ramp"]))
def test_even_and_ramp_sum_exactly_with_extra_units_at_the_end(total, n, profile):
    parts = phase_total(total, profile_weights(profile, n))
    assert sum(parts) == total
    if profile == "even":
        # the months that got an extra unit are the last ones
        base = total // n
        extra = [p - base for p in parts]
        assert extra == sorted(extra)
        assert set(extra) <= {0, 1}


def test_amounts_as_typed():
    assert parse_target_amount("120M", 2) == 120_000_000_00
    assert parse_target_amount("1,200.5", 2) == 120050
    assert parse_target_amount("4.5k", 3) == 4_500_000
    assert parse_target_amount("2bn", 0) == 2_000_000_000
    assert parse_target_amount("0", 2) == 0
    with pytest.raises(LedgerError, match="more decimals than the metric keeps"):
        parse_target_amount("100.005", 2)
    with pytest.raises(LedgerError, match="negative totals are refused"):
        parse_target_amount("-5", 2)
    with pytest.raises(LedgerError, match="negative totals are refused"):
        parse_target_amount("(5)", 2)
    with pytest.raises(LedgerError, match="expected a number"):
        parse_target_amount("lots", 2)
    with pytest.raises(LedgerError, match="too large for the ledger"):
        parse_target_amount("1e20", 2)


def test_fy27_with_a_july_start_is_jul26_to_jun27():
    months = target_months(PROG, fiscal_year="FY27")
    assert months == month_range(date(2026, 7, 1), date(2027, 6, 1))
    assert target_months(PROG, first="Jan-27", last="2027-03") == [
        date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fiscal_year": "FY29"}, r"2028-07..2029-06 are outside the programme's horizon"),
        ({"first": "2026-01", "last": "2026-12"}, "outside the programme's horizon"),
        ({"fiscal_year": "FY27", "first": "2026-07"}, "not both"),
        ({"first": "2026-07"}, "give both --from and --to"),
        ({"first": "2027-07", "last": "2027-01"}, "before --from"),
        ({}, "give the months"),
        ({"fiscal_year": "27"}, "expected a fiscal year such as FY27"),
    ],
)
def test_month_ranges_are_checked(kwargs, message):
    with pytest.raises(LedgerError, match=message):
        target_months(PROG, **kwargs)


def test_scopes_as_users_write_them():
    assert parse_scope(None) == TargetScope("programme", "")
    assert parse_scope("programme").label == "programme"
    assert parse_scope("unit:PRO") == TargetScope("business_unit", "PRO")
    assert parse_scope("lever:PROC").label == "lever:PROC"
    for bad in ("PRO", "unit:", "region:X", "programme:X"):
        with pytest.raises(LedgerError, match="expected programme, unit:CODE"):
            parse_scope(bad)


# --------------------------------------------------------------------------- ledger


def _months(frame):
    return {row.month: row.amount_minor for row in frame.itertuples()}


def test_set_target_stores_an_exact_revision(programme):
    r = set_target(programme, metric="benefit", amount="100", fiscal_year="FY27",
                   user="cfo", note="board 2026-10")
    assert r.submission_id is not None
    assert r.amounts_minor == [833] * 8 + [834] * 4
    with programme.reading() as conn:
        stored = current_targets(conn)
        sub = conn.exec_driver_sql(
            f'SELECT kind, "user", note FROM submission WHERE id = {r.submission_id}').one()
    assert tuple(sub) == ("target", "cfo", "board 2026-10")
    assert int(stored["amount_minor"].sum()) == 10000
    assert sorted(stored["month"]) == [m.isoformat() for m in month_range(date(2026, 7, 1),
                                                                          date(2027, 6, 1))]
    assert set(stored["scope_kind"]) == {"programme"}
    assert set(stored["scope_code"]) == {""}


def test_a_revision_changes_only_its_months_and_keeps_history(programme):
    first = set_target(programme, metric="benefit", amount="120M", fiscal_year="FY27",
                       note="diagnostic")
    second = set_target(programme, metric="benefit", amount="60M", fiscal_year="FY28",
                        profile="ramp", note="FY28 added")
    third = set_target(programme, metric="benefit", amount="90M", fiscal_year="FY27",
                       note="board cut FY27")
    now = target_by_month(programme, metric="benefit")
    assert len(now) == 24
    fy27 = now[now["month"] < "2027-07"]
    fy28 = now[now["month"] >= "2027-07"]
    assert int(fy27["amount_minor"].sum()) == 90_000_000_00
    assert int(fy28["amount_minor"].sum()) == 60_000_000_00
    assert set(fy28["revision"]) == {second.submission_id}  # FY28 untouched by the FY27 cut
    assert sum(fy27["amount"]) == Decimal("90000000.00")

    # the first revision is still readable, as of its submission
    old = target_by_month(programme, metric="benefit", as_of=first.submission_id)
    assert len(old) == 12
    assert int(old["amount_minor"].sum()) == 120_000_000_00
    with programme.reading() as conn:
        as_of_second = current_targets(conn, as_of=second.submission_id)
    assert int(as_of_second["amount_minor"].sum()) == 180_000_000_00

    hist = target_revisions(programme, metric="benefit")
    assert hist["submission"].tolist() == [first.submission_id, second.submission_id,
                                           third.submission_id]
    assert hist["note"].tolist() == ["diagnostic", "FY28 added", "board cut FY27"]
    assert [str(x) for x in hist["total_before"]] == ["0.00", "120000000.00", "180000000.00"]
    assert [str(x) for x in hist["total_after"]] == ["120000000.00", "180000000.00",
                                                     "150000000.00"]
    assert [str(x) for x in hist["change"]] == ["120000000.00", "60000000.00", "-30000000.00"]
    assert hist["months"].tolist() == ["2026-07..2027-06", "2027-07..2028-06",
                                       "2026-07..2027-06"]
    assert third.total_before_minor == 180_000_000_00
    assert third.total_after_minor == 150_000_000_00


def test_scopes_are_independent_and_listed(programme):
    set_target(programme, metric="benefit", amount="100M", fiscal_year="FY27", note="top")
    set_target(programme, metric="benefit", amount="40M", fiscal_year="FY27", scope="unit:PRO",
               note="PRO share")
    set_target(programme, metric="volume", amount="1234.567", first="2026-07", last="2026-09",
               scope="lever:ENERGY", note="energy tonnes")
    summary = target_summary(programme)
    assert summary[["metric", "scope"]].values.tolist() == [
        ["benefit", "programme"], ["benefit", "unit:PRO"], ["volume", "lever:ENERGY"]]
    assert [str(t) for t in summary["total"]] == ["100000000.00", "40000000.00", "1234.567"]
    assert summary["months"].tolist()[2] == "2026-07..2026-09"
    assert summary["note"].tolist() == ["top", "PRO share", "energy tonnes"]
    pro = target_by_month(programme, metric="benefit", scope="unit:PRO")
    assert int(pro["amount_minor"].sum()) == 40_000_000_00
    vol = target_by_month(programme, metric="volume", scope="lever:ENERGY")
    assert vol["amount_minor"].tolist() == [411522, 411522, 411523]


def test_setting_the_same_figure_again_writes_nothing(programme):
    set_target(programme, metric="benefit", amount="100", fiscal_year="FY27", note="a")
    before = len(programme.submissions())
    again = set_target(programme, metric="benefit", amount="100.00", fiscal_year="FY27",
                       note="same again")
    assert again.submission_id is None
    assert len(programme.submissions()) == before


BAD_SETS = [
    ({"metric": "benfit"}, r"no metric 'benfit' \(did you mean benefit\?\); known: "
                           "benefit, cost, volume"),
    ({"scope": "unit:PRX"}, r"no business unit 'PRX' \(did you mean PRO\?\); known: MIN, PRO"),
    ({"scope": "lever:ENERGIE"}, r"no lever 'ENERGIE' \(did you mean ENERGY\?\)"),
    ({"amount": "1.001"}, "more decimals than the metric keeps"),
    ({"fiscal_year": "FY30"}, "outside the programme's horizon"),
    ({"note": " "}, "needs a --note"),
]


def test_bad_input_is_refused_and_nothing_is_written(programme):
    # one ledger for all cases (a fixture per case would cost more than the checks)
    before = len(programme.submissions())
    for kwargs, message in BAD_SETS:
        args = {"metric": "benefit", "amount": "100", "fiscal_year": "FY27", "note": "x",
                **kwargs}
        with pytest.raises(LedgerError, match=message):
            set_target(programme, **args)
    assert len(programme.submissions()) == before
    with programme.reading() as conn:
        assert current_targets(conn).empty


def test_scope_codes_in_another_case_are_taken_as_known(programme):
    r = set_target(programme, metric="benefit", amount="12", fiscal_year="FY27",
                   scope="lever:proc", note="x")
    assert r.scope == TargetScope("lever", "PROC")


def test_unknown_metric_on_show_suggests(programme):
    with pytest.raises(NotFound, match="did you mean volume"):
        target_by_month(programme, metric="volumes")


# --------------------------------------------------------------------------- CLI


def test_cli_set_list_show_history(cli, programme):
    r = cli("target", "set", "--metric", "benefit", "--amount", "100", "--fiscal-year", "FY27",
            "--note", "board", "--format", "json")
    assert r.exit_code == 0, r.output
    months = json.loads(r.stdout)
    assert len(months) == 12
    assert months[-1] == {"month": "2027-06", "amount": "8.34"}
    assert "recorded as revision" in r.stderr  # the summary keeps stdout parseable
    r = cli("target", "set", "-m", "benefit", "--amount", "60", "--from", "2027-01", "--to",
            "2027-06", "--profile", "weights:1,1,1,1,1,1", "--note", "H2 reset")
    assert r.exit_code == 0, r.output
    assert "recorded as revision" in r.stdout
    assert "100.00 -> 109.98" in r.stdout

    listed = json.loads(cli("target", "list", "--format", "json").stdout)
    assert listed[0]["metric"] == "benefit"
    assert listed[0]["total"] == "109.98"
    assert listed[0]["who"] == "tester"
    assert listed[0]["note"] == "H2 reset"

    shown = json.loads(cli("target", "show", "--metric", "benefit", "-f", "json").stdout)
    assert [m["amount"] for m in shown][-6:] == ["10.00"] * 6
    # Jul-Dec keep 8.33 each from the first revision: 49.98 + 60.00
    assert sum(Decimal(m["amount"]) for m in shown) == Decimal("109.98")

    hist = json.loads(cli("target", "show", "--metric", "benefit", "--history",
                          "-f", "json").stdout)
    assert [(h["total_before"], h["total_after"], h["note"]) for h in hist] == [
        ("0.00", "100.00", "board"), ("100.00", "109.98", "H2 reset")]

    as_of = json.loads(cli("target", "show", "--metric", "benefit", "--as-of",
                           str(hist[0]["submission"]), "-f", "json").stdout)
    assert sum(Decimal(m["amount"]) for m in as_of) == Decimal("100.00")
    csv_out = cli("target", "list", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "metric,scope,months,n_months,total,revision,when,who,note"


def test_cli_mistakes_are_one_line_errors(cli, programme):
    for args, message in [
        (["--amount", "100", "--fy", "FY27", "--scope", "unit:PRX"], "did you mean PRO"),
        (["--amount", "-100", "--fy", "FY27"], "negative"),
        (["--amount", "100", "--fy", "FY27", "--profile", "weights:1,2"], "2 weights"),
        (["--amount", "100", "--from", "2026-07"], "give both --from and --to"),
    ]:
        r = cli("target", "set", "--metric", "benefit", "--note", "x", *args)
        assert r.exit_code == 1, args
        assert r.stderr.startswith("error: "), r.stderr
        assert message in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert json.loads(cli("target", "list", "-f", "json").stdout) == []


def test_cli_as_of_a_date_before_any_target_is_empty(cli, programme):
    cli("target", "set", "-m", "benefit", "--amount", "5", "--fy", "FY27", "--note", "x")
    r = cli("target", "show", "-m", "benefit", "--as-of", "2000-01-01", "-f", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == []
    r = cli("target", "show", "-m", "benefit", "--as-of", "yesterday")
    assert r.exit_code == 1
    assert "expected a submission id" in r.stderr

"""Baselines (issue 18): revisions with history, recorded actuals, the driver flex and its
rounding, the chain's coverage, the CLI."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from helpers.baseline_seed import flexed_cost_base
from helpers.clock import between

from ledger import chain
from ledger.baselines import (
    baseline_by_month,
    baseline_revisions,
    baseline_summary,
    div_half_away,
    parse_rate,
    set_baseline,
    variable_minor,
)
from ledger.errors import LedgerError, NotFound

# --------------------------------------------------------------------------- pure


def test_division_rounds_half_away_from_zero():
    assert div_half_away(5, 2) == 3
    assert div_half_away(-5, 2) == -3
    assert div_half_away(7, 3) == 2
    assert div_half_away(-7, 3) == -2
    assert div_half_away(8, -3) == -3
    assert div_half_away(0, 7) == 0


def test_variable_part_is_rate_times_driver_rounded_per_month():
    # 20 AUD/t x 8,000.000 t = 160,000.00 AUD: 16,000,000 cents
    assert variable_minor(parse_rate("20"), 8_000_000, 2, 3) == 16_000_000
    # 0.005 AUD/t x 1.000 t = 0.005 AUD: half a cent, rounded away from zero to 0.01
    assert variable_minor(parse_rate("0.005"), 1000, 2, 3) == 1
    # 0.004 AUD/t x 1.000 t = 0.004 AUD: 0.00
    assert variable_minor(parse_rate("0.004"), 1000, 2, 3) == 0
    # 12.345678 AUD/t x 333.333 t = 4,115.221..., 4,115.22 AUD
    assert variable_minor(parse_rate("12.345678"), 333_333, 2, 3) == 411_522


def test_rates_are_refused_not_rounded():
    assert parse_rate("12.5") == 12_500_000
    with pytest.raises(LedgerError, match="more than 6 decimals"):
        parse_rate("0.0000001")
    with pytest.raises(LedgerError, match="0 or more"):
        parse_rate("-1")
    with pytest.raises(LedgerError, match="expected a number"):
        parse_rate("twelve")


# --------------------------------------------------------------------------- storage


def test_a_baseline_is_phased_exactly_and_kept_as_revisions(programme):
    first = set_baseline(programme, metric="volume", amount="100", first="2026-07",
                         last="2026-09", note="FY26 volume", user="office")
    assert first.amounts_minor == [33_333, 33_333, 33_334]
    instant = between()
    second = set_baseline(programme, metric="volume", per_month="40", first="2026-08",
                          last="2026-08", note="Aug re-forecast", user="finance")
    assert second.months_changed == 1
    now = baseline_by_month(programme, metric="volume")
    assert now["month"].tolist() == ["2026-07", "2026-08", "2026-09"]
    assert now["baseline"].tolist() == [Decimal("33.333"), Decimal("40.000"), Decimal("33.334")]
    with programme.reading() as conn:
        from ledger.targets import resolve_as_of

        then = baseline_by_month(programme, metric="volume", conn=conn,
                                 as_of=resolve_as_of(conn, instant.isoformat()))
    assert then["baseline"].tolist() == [Decimal("33.333"), Decimal("33.333"),
                                         Decimal("33.334")]
    revs = baseline_revisions(programme, metric="volume")
    assert revs["submission"].tolist() == [first.submission_id, second.submission_id]
    assert revs["who"].tolist() == ["office", "finance"]
    assert revs["total_after"].tolist() == [Decimal("100.000"), Decimal("106.667")]
    assert revs["change"].tolist() == [Decimal("100.000"), Decimal("6.667")]
    again = set_baseline(programme, metric="volume", per_month="40", first="2026-08",
                         last="2026-08", note="same again")
    assert again.submission_id is None


def test_a_flexed_baseline_reads_the_drivers_actual_else_its_baseline(programme):
    flexed_cost_base(programme)
    frame = baseline_by_month(programme, metric="benefit")
    july, august = frame.iloc[0], frame.iloc[1]
    assert (july["fixed"], july["driver_value"], july["driver_from"], july["variable"],
            july["baseline"]) == (Decimal("100000.00"), Decimal("8000.000"), "actual",
                                  Decimal("160000.00"), Decimal("260000.00"))
    assert (august["driver_from"], august["baseline"]) == ("baseline", Decimal("300000.00"))
    assert sum(frame["baseline"]) == Decimal("3560000.00")
    assert (frame["baseline"] == frame["fixed"] + frame["variable"]).all()
    # Changing only the rate is a new revision of every month it covers.
    changed = set_baseline(programme, metric="benefit", per_month="100000",
                           fiscal_year="FY27", driver="volume", rate="21", note="rate")
    assert changed.months_changed == 12
    assert baseline_by_month(programme, metric="benefit")["baseline"].iloc[0] == \
        Decimal("268000.00")


def test_flex_refusals_are_one_line(programme):
    with pytest.raises(LedgerError, match="both --driver METRIC and --rate"):
        set_baseline(programme, metric="benefit", per_month="1", fiscal_year="FY27",
                     driver="volume", note="x")
    with pytest.raises(LedgerError, match="cannot be its own driver"):
        set_baseline(programme, metric="volume", per_month="1", fiscal_year="FY27",
                     driver="volume", rate="1", note="x")
    with pytest.raises(LedgerError, match="no driver or rate"):
        set_baseline(programme, metric="benefit", series="actual", per_month="1",
                     fiscal_year="FY27", driver="volume", rate="1", note="x")
    set_baseline(programme, metric="benefit", per_month="1", fiscal_year="FY27",
                 driver="volume", rate="1", note="flexed")
    with pytest.raises(LedgerError, match="never flexed"):
        set_baseline(programme, metric="cost", per_month="1", fiscal_year="FY27",
                     driver="benefit", rate="1", note="chain")
    with pytest.raises(LedgerError, match="never flexed"):
        set_baseline(programme, metric="volume", per_month="1", fiscal_year="FY27",
                     driver="cost", rate="1", note="chain")
    with pytest.raises(NotFound, match="did you mean volume"):
        set_baseline(programme, metric="benefit", per_month="1", fiscal_year="FY27",
                     driver="volum", rate="1", note="x")
    with pytest.raises(LedgerError, match="negative amounts are refused"):
        set_baseline(programme, metric="volume", per_month="-1", fiscal_year="FY27",
                     note="x")
    with pytest.raises(LedgerError, match="either --amount"):
        set_baseline(programme, metric="volume", fiscal_year="FY27", note="x")
    with pytest.raises(LedgerError, match="needs a --note"):
        set_baseline(programme, metric="volume", per_month="1", fiscal_year="FY27", note=" ")


def test_baselines_are_sealed_in_the_hash_chain(programme):
    set_baseline(programme, metric="volume", per_month="10", fiscal_year="FY27", note="a")
    set_baseline(programme, metric="volume", per_month="11", first="2026-07",
                 last="2026-07", note="b")
    with programme.reading() as conn:
        assert chain.verify(conn).ok
    from sqlalchemy import text

    with programme.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE baseline DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE baseline SET amount_minor = amount_minor + 1 "
                          "WHERE month = :m AND valid_to <> 9223372036854775807"),
                     {"m": date(2026, 7, 1)})
    with programme.reading() as conn:
        result = chain.verify(conn)
    assert not result.ok
    assert "content differs" in (result.problem or "")


def test_summary_lists_baselines_and_actuals(programme):
    set_baseline(programme, metric="volume", per_month="10", fiscal_year="FY27", note="a")
    set_baseline(programme, metric="volume", series="actual", per_month="9",
                 first="2026-07", last="2026-08", note="b", scope="unit:pro")
    frame = baseline_summary(programme)
    assert frame[["metric", "series", "scope", "months", "total"]].values.tolist() == [
        ["volume", "baseline", "programme", "2026-07..2027-06", Decimal("120.000")],
        ["volume", "actual", "unit:PRO", "2026-07..2026-08", Decimal("18.000")],
    ]


# --------------------------------------------------------------------------- CLI


def test_cli_set_list_show_history(programme, cli):
    r = cli("baseline", "set", "-m", "volume", "--amount", "120,000", "--fy", "FY27",
            "--note", "FY26 volume")
    assert r.exit_code == 0, r.output
    assert "recorded as revision" in r.stdout
    r = cli("baseline", "set", "-m", "benefit", "--per-month", "100k", "--fy", "FY27",
            "--driver", "volume", "--rate", "20", "--note", "cost base", "--format", "json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)) == 12
    assert "+ 20 x volume per month" in r.stderr
    r = cli("baseline", "show", "-m", "benefit", "--format", "json")
    rows = json.loads(r.stdout)
    assert rows[0] == {"month": "2026-07", "fixed": "100000.00", "driver": "volume",
                       "rate": "20", "driver_value": "10000.000", "driver_from": "baseline",
                       "variable": "200000.00", "baseline": "300000.00",
                       "revision": rows[0]["revision"]}
    r = cli("baseline", "show", "-m", "benefit", "--history", "--format", "csv")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[1].endswith(",0.00,1200000.00,1200000.00")
    r = cli("baseline", "list", "--format", "csv")
    assert r.stdout.splitlines()[0] == ("metric,series,scope,months,n_months,total,revision,"
                                        "when,who,note")
    r = cli("baseline", "show", "-m", "volume", "--as-of", "1")
    assert r.exit_code == 0
    assert "0 months" in r.stdout


def test_cli_mistakes_are_one_line(programme, cli):
    r = cli("baseline", "set", "-m", "volume", "--amount", "1.0001", "--fy", "FY27",
            "--note", "x")
    assert r.exit_code != 0
    assert "more decimals than the metric keeps" in r.stderr
    assert "Traceback" not in r.output
    r = cli("baseline", "set", "-m", "volume", "--amount", "1", "--fy", "FY35", "--note", "x")
    assert r.exit_code != 0
    assert "outside the programme's horizon" in r.stderr
    r = cli("baseline", "show", "-m", "volume", "--scope", "unit:PRX")
    assert r.exit_code != 0
    assert "did you mean PRO" in r.stderr


def _baselines_workbook(path, rows):
    from fixtures_workbooks import targets_workbook

    return targets_workbook(path, rows, sheet="Baselines")


def test_a_baselines_workbook_is_one_revision_and_replaces_a_flex(programme, cli, tmp_path):
    set_baseline(programme, metric="benefit", per_month="100", fiscal_year="FY27",
                 driver="volume", rate="2", note="flexed")
    rows = [["volume", "programme", *([10000] * 24)],
            ["benefit", "programme", *([100] * 12), *([None] * 12)],
            ["volume", "unit:PRO", "4,000.5", *([None] * 23)]]
    path = _baselines_workbook(tmp_path / "b.xlsx", rows)
    r = cli("baseline", "import", str(path), "--note", "FY26 budget")
    assert r.exit_code == 0, r.output
    # 24 + 1 volume months added; the 12 benefit months keep 100.00 but lose their flex.
    assert "37 added" not in r.stdout
    assert "25 added, 12 changed, 0 removed" in r.stdout
    frame = baseline_by_month(programme, metric="benefit")
    assert frame["driver"].tolist() == [None] * 12
    assert frame["baseline"].tolist() == [Decimal("100.00")] * 12
    assert baseline_by_month(programme, metric="volume", scope="unit:PRO")[
        "baseline"].tolist() == [Decimal("4000.500")]
    revs = baseline_revisions(programme, metric="volume")
    assert revs["note"].tolist() == ["FY26 budget"]
    assert revs["total_after"].tolist() == [Decimal("240000.000")]
    with programme.reading() as conn:
        assert chain.verify(conn).ok
    r = cli("baseline", "import", str(path), "--note", "again")
    assert r.stdout.startswith("already imported")
    actuals = _baselines_workbook(tmp_path / "a.xlsx",
                                  [["volume", "programme", 8000, *([None] * 23)]])
    r = cli("baseline", "import", str(actuals), "--actual", "--note", "July close")
    assert r.exit_code == 0, r.output
    assert baseline_by_month(programme, metric="volume", series="actual")[
        "baseline"].tolist() == [Decimal("8000.000")]
    from ledger.ratio import add_ratio_metric

    add_ratio_metric(programme, code="unit_cost", ratio="benefit/volume")
    bad = _baselines_workbook(tmp_path / "r.xlsx", [["unit_cost", "programme", 1]])
    r = cli("baseline", "import", str(bad), "--note", "x")
    assert r.exit_code == 1
    assert "unit_cost is a ratio metric" in r.stderr
    assert "Traceback" not in r.output


def test_the_targets_template_filled_in_imports_as_baselines(programme, cli, tmp_path):
    """The same template machinery: `template targets`, filled in, read by `baseline
    import` (its first sheet, since it has no sheet Baselines)."""
    import openpyxl

    path = tmp_path / "template.xlsx"
    assert cli("template", "targets", "--out", str(path)).exit_code == 0
    wb = openpyxl.load_workbook(path)
    ws = wb["Targets"]
    ws["A5"], ws["B5"], ws["C5"], ws["D5"] = "volume", "unit:PRO", 4000, "4,100.25"
    wb.save(path)
    r = cli("baseline", "import", str(path), "--note", "PRO volume")
    assert r.exit_code == 0, r.output
    shown = baseline_by_month(programme, metric="volume", scope="unit:PRO")
    assert shown["month"].tolist() == ["2026-07", "2026-08"]
    assert shown["baseline"].tolist() == [Decimal("4000.000"), Decimal("4100.250")]

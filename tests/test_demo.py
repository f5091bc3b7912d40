"""``tledger demo``: works on a fresh directory, twice, deterministically, and never touches
a directory that is not its own. SQLite only by design (the demo creates its own ledger)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from ledger.api import Ledger
from ledger.engine import checks, gap
from ledger.errors import LedgerError
from tledger.demo import DEMO_FILES, generate_initiatives, prepare_directory


def _totals(db_url: str) -> tuple[object, ...]:
    led = Ledger.open(db_url)
    try:
        rep = gap(led, metric="benefit")
        horizon = rep.fiscal[rep.fiscal["period"] == "Horizon"].iloc[0]
        return (horizon["target"], horizon["bottom_up"], len(checks(led)))
    finally:
        led.dispose()


def test_demo_end_to_end_and_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tledger.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("TLEDGER_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    demo = tmp_path / "tledger-demo"
    for name in ("demo.db", "initiatives-processing.xlsx", "mining-pipeline.xlsx",
                 "mining-pipeline.toml", "initiatives-throughput.xlsx", "claimed-actuals.xlsx",
                 "gl-extract.csv", "gl-mapping.toml", "gap-report.xlsx"):
        assert (demo / name).exists(), name
        assert f"tledger-demo/{name}" in result.stdout
    assert "next, try:" in result.stdout
    assert "import mining-pipeline.xlsx --mapping mining-pipeline.toml: changed" in result.stdout
    assert "tledger gap --db tledger-demo/demo.db" in result.stdout
    assert "Checks:" in result.stdout
    assert "Gap: benefit" in result.stdout
    assert "volume plan over 2026-07 to 2028-06: target 1,800,000" in result.stdout
    assert "Unit cost (AUD/t, plan)" in result.stdout
    # Mining's claims and its P&L movement, Jul-Oct 2026 (printed by the demo itself, or by
    # the reconciliation when this tree has `tledger reconcile`)
    assert "1,147,800.00" in result.stdout
    assert "631,290.00" in result.stdout
    db_url = f"sqlite:///{demo / 'demo.db'}"
    first = _totals(db_url)
    _check_seed_case(db_url, demo)
    led = Ledger.open(db_url)
    try:
        assert len(led.business_units()) == 2
        assert len(led.levers()) == 4
        rep = gap(led, metric="benefit", by="stage")
        busy = {p for p in rep.parts
                if rep.fiscal[(rep.fiscal["part"] == p)
                              & (rep.fiscal["period"] == "Horizon")].iloc[0]["bottom_up"] != 0}
        assert {"L0", "L1", "L2", "L3", "L4", "L5"} <= busy, "initiatives at every stage gate"
        imported = led.submissions()
        assert {"initiatives-processing.xlsx", "mining-pipeline.xlsx"} <= set(
            imported["source_name"].dropna())
    finally:
        led.dispose()
    wb = openpyxl.load_workbook(demo / "gap-report.xlsx")
    ini = wb["Initiatives"]
    ids = {ini.cell(r, 1).value for r in range(5, ini.max_row + 1)}
    assert len(ids) == 212  # 200 that take cost out, 12 that add tonnes
    names = {ini.cell(r, 2).value for r in range(5, ini.max_row + 1)}
    minus = [n for n in names if n.startswith("-")]
    assert minus, "a name starting with '-' stays text"
    # Second run: recreated from scratch, same figures.
    result = runner.invoke(app, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _totals(db_url) == first


def test_demo_refuses_a_directory_that_is_not_its_own(tmp_path: Path) -> None:
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(LedgerError, match="not a tledger demo directory"):
        prepare_directory(other)
    assert (other / "notes.txt").read_text() == "keep me"
    # A previous demo's directory: only the demo's own files go.
    prepare_directory(tmp_path / "demo")
    (tmp_path / "demo" / "demo.db").write_text("old")
    (tmp_path / "demo" / "mine.txt").write_text("keep me too")
    prepare_directory(tmp_path / "demo")
    assert not (tmp_path / "demo" / "demo.db").exists()
    assert (tmp_path / "demo" / "mine.txt").exists()
    assert "demo.db" in DEMO_FILES


def test_generator_is_deterministic_and_plausible() -> None:
    a, b = generate_initiatives(), generate_initiatives()
    assert [(i.external_id, i.benefit) for i in a] == [(i.external_id, i.benefit) for i in b]
    assert len(a) == 200
    assert {i.stage for i in a} == {"L0", "L1", "L2", "L3", "L4", "L5"}
    assert {i.business_unit for i in a} == {"PRO", "MIN"}
    assert {i.lever for i in a} == {"PROC", "LAB", "MAINT", "ENERGY"}
    # Whole hundreds of dollars, so Mining's "AUD 000" sheet holds them exactly.
    assert all(v % 100 == 0 for i in a for v in i.benefit.values())
    # Later gates land earlier.
    first = {s: min(min(i.benefit) for i in a if i.stage == s and i.benefit)
             for s in ("L0", "L5")}
    assert first["L5"] < first["L0"]


def _check_seed_case(db_url: str, demo: Path) -> None:
    """The demo's seed case: volume and unit-cost targets, flexed cost bases per unit whose
    programme equals the sum of the units, claims in the closed months, and a GL extract
    in which Mining's claims exceed its P&L movement while Processing's are covered."""
    import csv
    from decimal import Decimal

    from ledger.baselines import baseline_values
    from ledger.closing import closed_through
    from ledger.ratio import ratio_gap
    from ledger.vocabulary import TargetScope
    from tledger import demo_case as case

    led = Ledger.open(db_url)
    try:
        with led.reading() as conn:
            assert closed_through(conn) == case.CLOSED[-1]
            metrics = {m.id: m for m in led.metrics(conn)}
            benefit = next(m for m in metrics.values() if m.code == "benefit")
            scopes = [TargetScope("programme", ""), TargetScope("business_unit", "MIN"),
                      TargetScope("business_unit", "PRO")]
            values = [baseline_values(conn, metrics, benefit, s)["value_minor"].tolist()
                      for s in scopes]
        # Programme = MIN + PRO to the cent, every month; July flexed by 1,462,000 t.
        assert values[0] == [a + b for a, b in zip(values[1], values[2], strict=True)]
        assert values[1][0] == (14_000_000 * 100 + 950 * 1_462_000)
        rep = ratio_gap(led, metric="unit_cost")
        fy = rep.fiscal[rep.fiscal["part"] == "Programme"].set_index("period")
        assert fy.loc["FY28", "implied"] < fy.loc["FY28", "baseline_level"]
        assert fy.loc["Horizon", "uplift"] == Decimal("1492100")
        actual = gap(led, metric="benefit", scenario="actual", by="business_unit")
        claimed = actual.fiscal[actual.fiscal["period"] == "Horizon"].set_index("part")
        assert claimed.loc["MIN", "bottom_up"] == Decimal("1147800.00")
        assert claimed.loc["PRO", "bottom_up"] == Decimal("968600.00")
    finally:
        led.dispose()
    with (demo / "gl-extract.csv").open(encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert list(lines[0]) == ["Period", "Cost centre", "Account", "Amount"]
    gl = {u: sum(Decimal(r["Amount"]) for r in lines if r["Cost centre"][3:7] == code)
          for u, code in (("MIN", "MINE"), ("PRO", "PROC"))}
    base = {u: sum(Decimal(case.flexed_cents(u, m)) / 100 for m in case.CLOSED)
            for u in ("MIN", "PRO")}
    # movement = flexed baseline - GL actual; Mining's claims exceed it, Processing's do not
    assert base["MIN"] - gl["MIN"] == Decimal("631290.00") < Decimal("1147800.00")
    assert base["PRO"] - gl["PRO"] == Decimal("1007344.00") > Decimal("968600.00")

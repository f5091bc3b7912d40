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
                 "mining-pipeline.toml", "gap-report.xlsx"):
        assert (demo / name).exists(), name
        assert f"tledger-demo/{name}" in result.stdout
    assert "next, try:" in result.stdout
    assert "import mining-pipeline.xlsx --mapping mining-pipeline.toml: changed" in result.stdout
    assert "tledger gap --db tledger-demo/demo.db" in result.stdout
    assert "Checks:" in result.stdout
    assert "Gap: benefit" in result.stdout
    db_url = f"sqlite:///{demo / 'demo.db'}"
    first = _totals(db_url)
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
    assert len(ids) == 200
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

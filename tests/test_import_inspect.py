"""``tledger import inspect``: what the import would do, said before it is done, and the
starter mapping that takes an office tracker from "my tracker" to "imported"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers.ledger_reads import counts, phasing
from trackers.build_imap import BUILDERS, office_pipeline, volume_tracker
from typer.testing import CliRunner

from importers import ImportProblems, import_initiatives
from importers.inspection import inspect_workbook, starter_mapping
from importers.mapping import load_mapping
from ledger.api import Ledger


def _bare_cli(monkeypatch: pytest.MonkeyPatch, folder: Path):  # type: ignore[no-untyped-def]
    """The CLI with no ledger anywhere: no TLEDGER_DATABASE_URL, no tledger.db here."""
    from tledger.cli import app

    monkeypatch.delenv("TLEDGER_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(folder)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)


def test_inspect_without_a_ledger_says_codes_were_not_checked(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tracker = office_pipeline(tmp_path)
    run = _bare_cli(monkeypatch, tmp_path)
    r = run("import", "inspect", tracker.path.name, "--mapping", tracker.mapping.name)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "sheet 'Pipeline'  <- chosen: named in the mapping (sheet = 'Pipeline')" in out
    assert "header row 4 of 'Pipeline'; layout wide, 24 month columns 2026-07 to 2028-06" in out
    assert "unit note in Pipeline!A2: amounts in units of 1,000; the mapping's scale 1000" in out
    assert ("rows: 24 read (12 initiatives); skipped: 2 title, 2 subtotal, 2 blank, 1 total"
            in out)
    assert "codes were not checked" in out
    roles = dict(re.findall(r"│ (\w+) +│ [^│]*│ (\w+) +│", out))
    assert roles["A"] == "id"
    assert roles["H"] == "note"
    assert roles["I"] == "ignored"
    assert roles["J"] == "month"
    assert roles["AH"] == "total"
    r = run("import", "inspect", tracker.path.name, "--mapping", tracker.mapping.name,
            "--format", "json")
    data = json.loads(r.stdout)
    assert data["codes_checked"] is False
    assert data["skipped"]["subtotal"] == [17, 31]
    assert [p["cell"] for p in data["problems"]] == ["H12"]  # the formula comment
    metric = {x["value"]: x["code"] for x in data["labels"] if x["role"] == "metric"}
    assert metric == {"Net benefit": "benefit", "One-off cost": "cost"}


def test_inspect_names_values_that_are_not_codes_with_the_closest(programme: Ledger,
                                                                  tmp_path: Path) -> None:
    tracker = office_pipeline(tmp_path)
    found = inspect_workbook(tracker.path, ledger=programme, ledger_name="test")
    assert found.found_elsewhere == "Pipeline"
    assert found.problems[0].sheet == "Read me"  # the import's own first problem
    got = {(x.role, x.value): (x.code, x.how, x.closest) for x in found.labels}
    assert got[("metric", "Net benefit")] == (None, "unresolved", "benefit")
    assert got[("metric", "One-off cost")] == (None, "unresolved", "cost")
    assert got[("stage", "Gate 3 - Approved")] == (None, "unresolved", "L3")
    assert got[("stage", "Idea")] == ("L0", "name", None)
    assert got[("business_unit", "PRO")] == ("PRO", "code", None)
    assert got[("owner", "A. Ng")] == (None, "differs", "Anna Ng")


def test_inspect_reports_what_the_import_reports(programme: Ledger, tmp_path: Path) -> None:
    """No second parser: with a ledger, inspect's problems are the import's, cell for cell."""
    tracker = volume_tracker(tmp_path)
    half = tmp_path / "half.toml"
    half.write_text('sheet = "Throughput"\n[columns]\nowner = "Lead"\n', encoding="utf-8")
    with pytest.raises(ImportProblems) as caught:
        import_initiatives(programme, [tracker.path], mapping=half)
    found = inspect_workbook(tracker.path, mapping=half, ledger=programme)
    assert [str(p) for p in found.problems] == [str(p) for p in caught.value.problems]
    assert found.error_count == sum(1 for p in caught.value.problems if p.severity == "error")


def test_write_mapping_takes_a_tracker_to_imported(programme: Ledger, cli,
                                                   tmp_path: Path) -> None:
    """The walkthrough of docs/importing.md: inspect, write the starter mapping, uncomment
    the value lines it proposes, import: the totals match the tracker's to the cent."""
    tracker = office_pipeline(tmp_path)
    starter = tmp_path / "pipeline.toml"
    r = cli("import", "inspect", str(tracker.path), "--write-mapping", str(starter))
    assert r.exit_code == 0, r.output
    text = starter.read_text(encoding="utf-8")
    assert 'sheet = "Pipeline"' in text
    assert "scale = 1000" in text
    assert 'ignore = ["RAG"]' in text
    assert 'note = "Comments"' in text
    assert '# "Net benefit" = "benefit"' in text
    assert '# "Gate 3 - Approved" = "L3"' in text
    assert '"Idea" = "L0"' in text
    assert '# "A. Ng" = "Anna Ng"' in text
    # Not overwritten without --force.
    before = starter.read_text(encoding="utf-8")
    r = cli("import", "inspect", str(tracker.path), "--write-mapping", str(starter))
    assert r.exit_code == 1
    assert "the file exists; pass --force" in r.output
    assert starter.read_text(encoding="utf-8") == before
    # The user's edit: take the proposed values.
    starter.write_text(re.sub(r'(?m)^# (".*" = ")', r"\1", text), encoding="utf-8")
    r = cli("import", "inspect", str(tracker.path), "--mapping", str(starter))
    assert "0 errors, 1 warnings" in r.stdout
    empty = counts(programme)
    r = cli("import", "initiatives", str(tracker.path), "--mapping", str(starter))
    assert r.exit_code == 0, r.output
    assert counts(programme) != empty
    for (metric, scenario), expected in tracker.expected.items():
        assert sum(phasing(programme, metric, scenario).values()) == expected


def test_inspect_refuses_csv_and_a_missing_file(cli, programme: Ledger,
                                                tmp_path: Path) -> None:
    tracker = office_pipeline(tmp_path)
    r = cli("import", "inspect", str(tracker.path), "--format", "csv")
    assert r.exit_code == 1
    assert "use table or json" in r.output
    r = cli("import", "inspect", str(tmp_path / "nope.xlsx"))
    assert r.exit_code == 1
    assert "no such file" in r.output


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_starter_mapping_reads_back_as_the_same_choices(tmp_path: Path, name: str) -> None:
    """The starter mapping is valid TOML, and inspecting with it finds what was found
    without it: same sheet, header row, layout and column roles."""
    tracker = BUILDERS[name](tmp_path)
    first = inspect_workbook(tracker.path)
    starter = tmp_path / "starter.toml"
    starter.write_text(starter_mapping(first), encoding="utf-8")
    mapping = load_mapping(starter)
    assert mapping.sheet == first.sheet
    again = inspect_workbook(tracker.path, mapping=starter)
    assert (again.sheet, again.header_row, again.layout) == (
        first.sheet, first.header_row, first.layout)
    roles = {c.column: c.role for c in first.columns}
    # What was unknown is now ignored by name; every other column keeps its role.
    assert {c.column: c.role for c in again.columns} == {
        k: "ignored" if v == "unknown" else v for k, v in roles.items()}
    assert again.found_elsewhere is None

"""Issue 14, "map values, not only columns": office trackers imported with only a mapping
file (value maps, names read as codes, ignored and note columns, formula comments), to the
cent, on SQLite and PostgreSQL. The trackers are written by tests/trackers/build_imap.py,
which also sums their expected totals from its source data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import xlsxwriter
from fixtures_workbooks import canonical_workbook, initiative_row
from helpers.cells import months
from helpers.ledger_reads import counts, phasing
from trackers.build_imap import BUILDERS, Tracker, office_pipeline, site_tracker

from importers import ImportProblems, import_initiatives
from importers.mapping import Mapping, load_mapping
from ledger.api import Ledger
from ledger.history import history
from ledger.initiatives import current_initiatives


def _current(ledger: Ledger) -> dict[str, dict[str, object]]:
    with ledger.reading() as conn:
        frame = current_initiatives(conn)
    return {str(r["external_id"]): r for r in frame.to_dict("records")}


def _problems(ledger: Ledger, path: Path, mapping: Path) -> list[str]:
    with pytest.raises(ImportProblems) as caught:
        import_initiatives(ledger, [path], mapping=mapping)
    return [str(p) for p in caught.value.problems if p.severity == "error"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_tracker_imports_to_the_cent_with_only_its_mapping(
        programme: Ledger, tmp_path: Path, name: str) -> None:
    tracker: Tracker = BUILDERS[name](tmp_path)
    result = import_initiatives(programme, [tracker.path], mapping=tracker.mapping)
    assert result.submission_id is not None
    for (metric, scenario), expected in tracker.expected.items():
        got = phasing(programme, metric, scenario)
        assert sum(got.values()) == expected, (metric, scenario)
        per: dict[tuple[str, str], int] = {}
        for (ext, _month), minor in got.items():
            per[(ext, metric)] = per.get((ext, metric), 0) + minor
        assert per == {k: v for k, v in tracker.per_initiative.items() if k[1] == metric}
    current = _current(programme)
    assert set(current) == set(tracker.initiatives)
    for ext, attributes in tracker.initiatives.items():
        for key, value in attributes.items():
            assert current[ext][key] == value, (ext, key)
        # A comments column is a note, never the description.
        assert current[ext]["description"] == ""
    for ext, note in tracker.notes.items():
        seen = history(programme, ext)
        assert list(seen.loc[seen["what"] == "row note", "new"]) == [note], ext
    # A formula comment is a warning naming its cell; nothing stores its saved 0.
    warned = [f"{w.sheet}!{w.cell}" for w in result.warnings if "formula" in w.found]
    assert warned == tracker.formula_cells
    for ext in tracker.initiatives:
        seen = history(programme, ext)
        assert "0" not in set(seen.loc[seen["what"] == "row note", "new"])
    # The same file again: recognised, nothing written.
    again = import_initiatives(programme, [tracker.path], mapping=tracker.mapping)
    assert again.already_imported


def test_office_tracker_without_value_maps_names_each_label(programme: Ledger,
                                                           tmp_path: Path) -> None:
    tracker = office_pipeline(tmp_path)
    bare = tmp_path / "bare.toml"
    bare.write_text('sheet = "Pipeline"\nscale = 1000\n', encoding="utf-8")
    before = counts(programme)
    problems = _problems(programme, tracker.path, bare)
    assert counts(programme) == before
    text = "\n".join(problems)
    # Metric labels in column G, stage labels in F, the alias owners' rows disagree on C.
    assert re.search(r"Pipeline!G5: found 'Net benefit', expected a metric code: "
                     r"benefit, cost, volume", text)
    assert re.search(r"Pipeline!F\d+: found 'Gate 3 - Approved', expected a stage gate "
                     r"code", text)
    assert re.search(r"Pipeline!C\d+: found 'A. Ng' \(Owner, column \"Owner\"\), expected "
                     r"'Anna Ng', as on OPS-\d+'s first row", text)
    # The comments column is a note by default: never an "attributes must agree" error.
    assert "Comments" not in text


def test_comments_taken_as_description_name_the_column_in_agreement_errors(
        programme: Ledger, tmp_path: Path) -> None:
    tracker = office_pipeline(tmp_path)
    mapping = tmp_path / "desc.toml"
    mapping.write_text(tracker.mapping.read_text(encoding="utf-8").replace(
        'note = "Comments"', 'description = "Comments"'), encoding="utf-8")
    problems = _problems(programme, tracker.path, mapping)
    assert problems
    assert all('(Description, column "Comments")' in p for p in problems), problems
    # Each initiative whose benefit row has a comment and cost row none: one error each.
    commented = [e for e in tracker.notes]
    assert len(problems) == len(commented)
    assert re.match(r"imap_office_pipeline\.xlsx Pipeline!H\d+: found an empty cell "
                    r"\(Description, column \"Comments\"\), expected 'Phasing per site plan",
                    problems[0])


def test_a_map_value_that_is_not_a_code_names_the_mapping_line(programme: Ledger,
                                                               tmp_path: Path) -> None:
    tracker = office_pipeline(tmp_path)
    source = tracker.mapping.read_text(encoding="utf-8").replace(
        '"One-off cost" = "cost"', '"One-off cost" = "costs"').replace(
        '"Gate 3 - Approved" = "L3"', '"Gate 3 - Approved" = "Approved"')
    tracker.mapping.write_text(source, encoding="utf-8")
    lines = source.splitlines()
    cost_line = next(i for i, x in enumerate(lines, 1) if x.startswith('"One-off cost"'))
    gate_line = next(i for i, x in enumerate(lines, 1) if x.startswith('"Gate 3'))
    problems = _problems(programme, tracker.path, tracker.mapping)
    assert (f"imap_office_pipeline.xlsx: found imap_office_pipeline.toml line {cost_line} "
            "([values.metric] 'One-off cost') = 'costs', expected a metric code the ledger "
            "knows: benefit, cost, volume (did you mean 'cost'?)") in problems
    assert (f"imap_office_pipeline.xlsx: found imap_office_pipeline.toml line {gate_line} "
            "([values.stage] 'Gate 3 - Approved') = 'Approved', expected a stage gate code "
            "the ledger knows: L0, L1, L2, L3, L4, L5") in problems


def test_a_name_two_codes_share_is_an_error_naming_both(programme: Ledger,
                                                        tmp_path: Path) -> None:
    programme.add_lever("LBR", "Labour", user="setup")  # LAB is named Labour too
    tracker = site_tracker(tmp_path)
    problems = _problems(programme, tracker.path, tracker.mapping)
    assert problems
    assert all("found 'Labour', expected one lever: 'LAB' (Labour) and 'LBR' (Labour) "
               "are both named so; say which in the mapping: [values.lever] "
               '"Labour" = "LAB"' in p for p in problems), problems
    # A value map settles it.
    tracker.mapping.write_text(tracker.mapping.read_text(encoding="utf-8")
                               + '\n[values.lever]\n"Labour" = "LBR"\n', encoding="utf-8")
    import_initiatives(programme, [tracker.path], mapping=tracker.mapping)
    levers = {v["lever"] for v in _current(programme).values()}
    assert "LBR" in levers
    assert "LAB" not in levers


def test_formula_text_cells(programme: Ledger, tmp_path: Path) -> None:
    """A formula whose saved value is text is read as that text; one whose saved value is
    a number is a warning naming the cell and is read as empty."""
    path = tmp_path / "formulas.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Initiatives")
    for c, head in enumerate(["ID", "Name", "Owner", "Stage", "Description", "Jul-26"]):
        sheet.write_string(0, c, head)
    sheet.write_row(1, 0, ["F-1"])
    sheet.write_formula(1, 1, '="Pump "&"refit"', None, "Pump refit")
    sheet.write_row(1, 2, ["Ana Lima", "L1"])
    sheet.write_formula(1, 4, "=owner to confirm timing", None, 0)
    sheet.write_number(1, 5, 10.5)
    # As Excel itself saves it: an error value (#NAME?), a warning too, not an error.
    sheet.write_row(2, 0, ["F-2", "Pump two", "Ana Lima", "L1"])
    sheet.write_formula(2, 4, "=owner to confirm timing", None, "#NAME?")
    book.close()
    result = import_initiatives(programme, [path])
    current = _current(programme)["F-1"]
    assert current["name"] == "Pump refit"
    assert current["description"] == ""
    assert _current(programme)["F-2"]["description"] == ""
    warning, named = result.warnings
    assert (named.cell, named.found) == ("E3", "=owner to confirm timing (a formula, column "
                                         "'Description') whose saved value is '#NAME?', not "
                                         "text")
    assert str(warning) == (
        "formulas.xlsx Initiatives!E2: found =owner to confirm timing (a formula, column "
        "'Description') whose saved value is '0', not text, expected text: the cell is read "
        "as empty (type the text without the leading '=', or put an apostrophe before it)")
    assert phasing(programme) == {("F-1", "2026-07"): 1050}


def test_ignore_drops_a_column(programme: Ledger, tmp_path: Path) -> None:
    path = canonical_workbook(tmp_path / "a.xlsx", [
        initiative_row("GR-1", months(24, {0: 1}), description="typed by mistake")])
    mapping = tmp_path / "m.toml"
    mapping.write_text('ignore = ["description"]\n', encoding="utf-8")
    import_initiatives(programme, [path], mapping=mapping)
    assert _current(programme)["GR-1"]["description"] == ""


def test_new_settings_keep_an_old_mappings_digest(tmp_path: Path) -> None:
    """A mapping without ignore or values reads as it did before they existed (its
    recorded digest, and so "already imported", unchanged)."""
    path = tmp_path / "old.toml"
    path.write_text('sheet = "Pipeline"\n[columns]\nid = "Ref"\n', encoding="utf-8")
    dumped = load_mapping(path).model_dump_json()
    assert "ignore" not in dumped
    assert "values" not in dumped
    assert Mapping().model_dump_json() == (
        '{"sheet":null,"header_row":"auto","layout":"auto","scale":null,"columns":{},'
        '"months":{"columns":"auto"},"skip":{"id_matches":[],"rows":[]},"defaults":{}}')


@pytest.mark.parametrize(("toml", "message"), [
    ('[values.colour]\n"Red" = "R"\n',
     "values: Value error, unknown role 'colour' for a value map"),
    ('[values.metric]\n"Net benefit" = " "\n', "an empty label or value"),
    ('ignore = "RAG"\n', "ignore: Input should be a valid list"),
])
def test_bad_value_maps_are_refused_by_name(tmp_path: Path, toml: str, message: str) -> None:
    from ledger.errors import LedgerError

    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(LedgerError, match=re.escape(message)):
        load_mapping(path)


def test_history_shows_the_row_note(programme: Ledger, cli, tmp_path: Path) -> None:
    tracker = site_tracker(tmp_path)
    r = cli("import", "initiatives", str(tracker.path), "--mapping", str(tracker.mapping))
    assert r.exit_code == 0, r.output
    r = cli("history", "MIN-02")
    [line] = [x for x in r.stdout.splitlines() if "row note" in x]
    assert "Capex" in line  # (the table wraps or cuts the rest: the JSON has it whole)
    assert "->" not in line
    r = cli("history", "MIN-02", "--format", "json")
    notes = [x for x in json.loads(r.stdout) if x["what"] == "row note"]
    assert [(x["old"], x["new"]) for x in notes] == [(None, "Capex approved in FY27 budget")]
    # An initiative without a comment has no note line.
    r = cli("history", "MIN-01", "--format", "json")
    assert not [x for x in json.loads(r.stdout) if x["what"] == "row note"]


def test_targets_read_metric_labels_and_names(programme: Ledger, tmp_path: Path) -> None:
    from fixtures_workbooks import targets_workbook

    from importers import import_targets
    from ledger.store import current_targets

    path = targets_workbook(tmp_path / "t.xlsx", [
        ["Net benefit", "programme", *([1000] * 24)],
        ["One-off cost to achieve", "programme", "2,500.25", *([None] * 23)]])
    mapping = tmp_path / "t.toml"
    mapping.write_text('[values.metric]\n"Net benefit" = "benefit"\n', encoding="utf-8")
    import_targets(programme, path, mapping=mapping)
    with programme.reading() as conn:
        cur = current_targets(conn)
    metric_code = {m.id: m.code for m in programme.metrics()}
    got = cur.groupby(cur["metric_id"].map(metric_code))["amount_minor"].sum().to_dict()
    assert got == {"benefit": 2_400_000, "cost": 250_025}


def test_every_documented_mapping_is_valid(tmp_path: Path) -> None:
    """Each TOML block of docs/importing.md reads as a mapping (the walkthrough's starter
    mapping, the value maps reference, the full example)."""
    doc = (Path(__file__).parent.parent / "docs" / "importing.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    assert len(blocks) >= 3
    for n, block in enumerate(blocks):
        path = tmp_path / f"doc{n}.toml"
        path.write_text(block, encoding="utf-8")
        load_mapping(path)
    values = next(load_mapping(tmp_path / f"doc{n}.toml") for n, b in enumerate(blocks)
                  if "[values.scenario]" in b)
    assert values.values["stage"] == {"Idea": "L0", "Gate 3 - Approved": "L3"}
    assert values.ignore == ["RAG", "Status", "FY27 total"]


def test_a_text_formula_without_a_saved_value_is_a_warning(programme: Ledger,
                                                           tmp_path: Path) -> None:
    """openpyxl writes a formula with no saved value: in a text column that is a warning
    and an empty cell (in a month column it stays an error: test_import.py)."""
    path = canonical_workbook(tmp_path / "f.xlsx", [
        initiative_row("GR-1", months(24, {0: 7}), description="=owner to confirm timing")])
    result = import_initiatives(programme, [path])
    [warning] = result.warnings
    assert (warning.cell, warning.found) == (
        "G5", "a formula without a saved value, column 'Description'")
    assert _current(programme)["GR-1"]["description"] == ""
    assert phasing(programme) == {("GR-1", "2026-07"): 700}

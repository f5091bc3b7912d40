"""Amounts are read as written or refused: error cells in any XML spelling, text amounts by
one rule (thousands in groups of three, one sign, a decimal comma only when the mapping says
so), and large amounts rounded half away from zero like every other (both backends)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fixtures_workbooks import canonical_workbook, initiative_row, replace_part, targets_workbook
from helpers.cells import months
from helpers.ledger_reads import counts, phasing
from helpers.owner_seed import plan_of, seed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import text as sql

from importers import ImportProblems, import_initiatives, import_targets
from importers.owner import import_owner_workbook
from importers.problems import Problem
from ledger.api import Ledger
from ledger.errors import LedgerError
from ledger.money import round_half_away
from reports.owner_workbook import collect_owner_export, write_owner_workbook

SHEET = "xl/worksheets/sheet1.xml"


def _problems(ledger: Ledger, path: Path, **kwargs: Any) -> dict[str, Problem]:
    """Import ``path`` expecting a refusal: its problems by cell, after checking that
    nothing was written."""
    before = counts(ledger)
    with pytest.raises(ImportProblems) as info:
        import_initiatives(ledger, [path], **kwargs)
    assert counts(ledger) == before
    return {p.cell: p for p in info.value.problems}


# ------------------------------------------------------------------------ error cells


@pytest.mark.parametrize("spelling", [b"t='e'", b't = "e"', b"t\n=\t'e'", b't="e"'])
def test_an_error_cell_in_any_xml_spelling_is_refused_not_read_as_empty(
        programme: Ledger, tmp_path: Path, spelling: bytes) -> None:
    path = canonical_workbook(tmp_path / "a.xlsx",
                              [initiative_row("GR-1", months(24, {0: 100, 1: 5}))])
    errored = replace_part(path, tmp_path / "e.xlsx", SHEET, lambda xml: xml.replace(
        b'<c r="K5" t="n"><v>5</v></c>', b'<c r="K5" ' + spelling + b"><v>#REF!</v></c>"))
    problems = _problems(programme, errored)
    assert problems["K5"].found == "#REF!"
    assert problems["K5"].expected == "a number (the cell shows an error)"


def test_an_error_cell_without_a_cell_reference_is_placed_and_refused(
        programme: Ledger, tmp_path: Path) -> None:
    # XML may leave out r="..." (the cell follows the previous one): the whole sheet is
    # then parsed to place it.
    path = canonical_workbook(tmp_path / "a.xlsx",
                              [initiative_row("GR-1", months(24, {0: 100, 1: 5}))])
    errored = replace_part(path, tmp_path / "e.xlsx", SHEET, lambda xml: xml.replace(
        b'<c r="K5" t="n"><v>5</v></c>', b"<c t='e'><v>#DIV/0!</v></c>"))
    problems = _problems(programme, errored)
    assert problems["K5"].found == "#DIV/0!"


def test_an_error_formula_is_shown_by_its_error_not_its_formula(programme: Ledger,
                                                               tmp_path: Path) -> None:
    path = canonical_workbook(tmp_path / "a.xlsx",
                              [initiative_row("GR-1", months(24, {0: 100, 1: 5}))])
    errored = replace_part(path, tmp_path / "e.xlsx", SHEET, lambda xml: xml.replace(
        b'<c r="K5" t="n"><v>5</v></c>',
        b"<c r='K5' t='e'><f>J5/0</f><v>#DIV/0!</v></c>"))
    assert _problems(programme, errored)["K5"].found == "#DIV/0!"


def test_text_that_looks_like_an_error_attribute_is_not_one(programme: Ledger,
                                                            tmp_path: Path) -> None:
    rows = [initiative_row("GR-1", months(24, {0: 100}), description='a t = "e" b t=\'e\'')]
    path = canonical_workbook(tmp_path / "a.xlsx", rows)
    import_initiatives(programme, [path])
    assert phasing(programme) == {("GR-1", "2026-07"): 10000}


# ------------------------------------------------------------------------ text amounts

#: Text cells and what they mean with the default decimal point (minor units, 2 decimals).
GOOD_TEXT = {
    "1,234": 123400,
    "1,234,567.89": 123456789,
    "(350)": -35000,
    "-350": -35000,
    "$1,000.50": 100050,
    "-$5": -500,
    " 2 500.50 ": 250050,
    "12.5": 1250,
    "1e3": 100000,
}
#: Text cells that are refused, and a part of what the refusal says is accepted.
BAD_TEXT = {
    "1,20": "a comma only between groups of three digits",
    "12,34,567": "a comma only between groups of three digits",
    "1.234,56": "a comma only between groups of three digits",
    "0,123": "a comma only between groups of three digits",
    "1,234 567": "a comma only between groups of three digits",
    "(-350)": "one sign",
    "--5": "one sign",
    "-(5)": "one sign",
    "1 20": "a number such as 1200, 1,200.50, -350 or (350)",
}


def _text_workbook(path: Path, cells: list[str]) -> Path:
    rows = [initiative_row(f"GR-{i}", months(24, {0: cell})) for i, cell in enumerate(cells)]
    return canonical_workbook(path, rows)


def test_text_amounts_with_thousands_separators_and_one_sign_are_read_exactly(
        programme: Ledger, tmp_path: Path) -> None:
    import_initiatives(programme, [_text_workbook(tmp_path / "t.xlsx", list(GOOD_TEXT))])
    assert phasing(programme) == {(f"GR-{i}", "2026-07"): minor
                                  for i, minor in enumerate(GOOD_TEXT.values())}


def test_misplaced_separators_and_double_negatives_are_refused_naming_the_cell(
        programme: Ledger, tmp_path: Path) -> None:
    problems = _problems(programme, _text_workbook(tmp_path / "t.xlsx", list(BAD_TEXT)))
    assert len(problems) == len(BAD_TEXT)
    for i, (text, expected) in enumerate(BAD_TEXT.items()):
        p = problems[f"J{5 + i}"]
        assert p.sheet == "Initiatives", p
        assert p.found == repr(text), p
        assert expected in p.expected, p
        assert "\n" not in str(p)


def _mapping(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_decimal_comma_is_read_only_when_the_mapping_says_so(programme: Ledger,
                                                               tmp_path: Path) -> None:
    cells = ["1.234,56", "1,20", "(1.000.000)", "1 234,5", "7"]
    path = _text_workbook(tmp_path / "t.xlsx", cells)
    assert set(_problems(programme, path)) == {"J5", "J6", "J7", "J8"}
    comma = _mapping(tmp_path, 'decimal = ","\n')
    import_initiatives(programme, [path], mapping=comma)
    assert phasing(programme) == {("GR-0", "2026-07"): 123456, ("GR-1", "2026-07"): 120,
                                  ("GR-2", "2026-07"): -100000000, ("GR-3", "2026-07"): 123450,
                                  ("GR-4", "2026-07"): 700}


def test_with_a_decimal_comma_a_point_outside_groups_of_three_is_refused(
        programme: Ledger, tmp_path: Path) -> None:
    path = _text_workbook(tmp_path / "t.xlsx", ["1.5", "1,234.56"])
    problems = _problems(programme, path, mapping=_mapping(tmp_path, 'decimal = ","\n'))
    assert set(problems) == {"J5", "J6"}
    assert "a point only between groups of three digits" in problems["J5"].expected


#: What a mapping of only ``scale = 1000`` recorded before the decimal setting existed.
OLD_SCALE_MAPPING = ('{"sheet":null,"header_row":"auto","layout":"auto","scale":"1000",'
                     '"columns":{},"months":{"columns":"auto"},"skip":{"id_matches":[],'
                     '"rows":[]},"defaults":{}}')


def test_the_decimal_setting_is_an_import_parameter_and_old_mappings_keep_their_digest(
        programme: Ledger, tmp_path: Path) -> None:
    path = _text_workbook(tmp_path / "t.xlsx", ["7"])
    first = import_initiatives(programme, [path], mapping=_mapping(tmp_path, "scale = 1000\n"))
    with programme.reading() as conn:
        details = conn.execute(sql("SELECT details FROM submission WHERE id = :i"),
                               {"i": first.submission_id}).scalar_one()
    assert json.loads(details)["mapping_sha256"] == hashlib.sha256(
        OLD_SCALE_MAPPING.encode()).hexdigest()
    again = import_initiatives(programme, [path],
                               mapping=_mapping(tmp_path, 'scale = 1000\ndecimal = ","\n'))
    assert not again.already_imported


def test_a_mapping_with_another_decimal_separator_is_refused_by_name(
        programme: Ledger, tmp_path: Path) -> None:
    path = _text_workbook(tmp_path / "t.xlsx", ["7"])
    with pytest.raises(LedgerError, match=r"decimal: Input should be '\.' or ','"):
        import_initiatives(programme, [path], mapping=_mapping(tmp_path, 'decimal = ";"\n'))


def test_targets_workbooks_follow_the_same_text_rule(programme: Ledger, tmp_path: Path) -> None:
    values = ["1,20", "1,200", *([None] * 22)]
    path = targets_workbook(tmp_path / "t.xlsx", [["benefit", "programme", *values]])
    with pytest.raises(ImportProblems) as info:
        import_targets(programme, path)
    assert [p.cell for p in info.value.problems] == ["C5"]
    import_targets(programme, path, mapping=_mapping(tmp_path, 'decimal = ","\n'))


def test_owner_workbooks_follow_the_same_text_rule(programme: Ledger, tmp_path: Path) -> None:
    seed(programme)
    src = write_owner_workbook(collect_owner_export(programme, "Ana Lima"), tmp_path / "a.xlsx")
    for text in ("1,20", "(-350)"):
        wb = load_workbook(src)
        wb["Initiatives"]["J5"] = text
        wb.save(tmp_path / "e.xlsx")
        with pytest.raises(ImportProblems) as info:
            import_owner_workbook(programme, tmp_path / "e.xlsx")
        assert [p.cell for p in info.value.problems] == ["J5"], text
    wb = load_workbook(src)
    wb["Initiatives"]["J5"] = "1,234.5"
    wb.save(tmp_path / "g.xlsx")
    import_owner_workbook(programme, tmp_path / "g.xlsx")
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1234.50")


@pytest.mark.parametrize("typed", ["1,20", "(-350)", "--5", "1.234,56"])
def test_typed_amounts_follow_the_same_text_rule(programme: Ledger, cli: Any,
                                                 typed: str) -> None:
    seed(programme)
    r = cli("phasing", "set", "GR-0001", "--month", "2027-03", "--amount", typed)
    assert r.exit_code == 1, r.stderr
    assert r.stderr.startswith(f"error: --amount {typed!r}"), r.stderr
    assert r.stderr.count("\n") == 1
    assert "expected" in r.stderr
    r = cli("target", "set", "-m", "benefit", "--amount", typed + "M", "--fy", "FY27",
            "--note", "typed")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"error: amount '{typed}M': expected")
    assert r.stderr.count("\n") == 1
    assert "such as 120000000, 120,000,000 or 120M" in r.stderr
    assert plan_of(programme, "GR-0001")["2027-03"] == Decimal("3000.00")
    r = cli("phasing", "set", "GR-0001", "--month", "2027-03", "--amount", "1,234,567.5")
    assert r.exit_code == 0, r.output
    assert plan_of(programme, "GR-0001")["2027-03"] == Decimal("1234567.50")


# ------------------------------------------------------------------------ large amounts


@pytest.fixture
def rupiah(ledger: Ledger) -> Ledger:
    """A programme in IDR, the standard metrics (2 decimals), same months as the standard."""
    ledger.create_programme(name="Biaya 2028", currency="IDR", fy_start_month=1,
                            first_month=date(2026, 7, 1), last_month=date(2028, 6, 1),
                            user="setup")
    ledger.add_business_unit("PRO", "Processing", user="setup")
    ledger.add_lever("PROC", "Procurement", user="setup")
    return ledger


#: (cell, minor units kept, rounded): numbers up to 10**13 rupiah with 2 decimals, as number
#: cells (each float's shortest text is the decimal shown) and as text; ties are rounded
#: away from zero, with a warning.
LARGE: list[tuple[float | str, int, bool]] = [
    (123456789012.345, 12345678901235, True),
    ("123,456,789,012.345", 12345678901235, True),
    (-123456789012.345, -12345678901235, True),
    (9876543210123.45, 987654321012345, False),
    (9876543210123.455, 987654321012346, True),
    ("(9,876,543,210,123.455)", -987654321012346, True),
    (1e13, 10**15, False),
    (4503599627370.495, 450359962737050, True),
    (1125899906842.625, 112589990684263, True),
    (2251799813685.25, 225179981368525, False),
]


def test_large_amounts_are_exact_and_ties_round_away_from_zero(rupiah: Ledger,
                                                               tmp_path: Path) -> None:
    rows = [initiative_row(f"ID-{i}", months(24, {0: cell}))
            for i, (cell, _, _) in enumerate(LARGE)]
    result = import_initiatives(rupiah, [canonical_workbook(tmp_path / "idr.xlsx", rows)])
    assert phasing(rupiah) == {(f"ID-{i}", "2026-07"): minor
                               for i, (_, minor, _) in enumerate(LARGE)}
    assert {w.cell for w in result.warnings} == {
        f"J{5 + i}" for i, (_, _, rounded) in enumerate(LARGE) if rounded}


def test_an_amount_above_the_limit_is_refused_as_number_and_as_text(rupiah: Ledger,
                                                                    tmp_path: Path) -> None:
    rows = [initiative_row("ID-0", months(24, {0: 10000000000000.01})),
            initiative_row("ID-1", months(24, {0: "10,000,000,000,000.01"}))]
    problems = _problems(rupiah, canonical_workbook(tmp_path / "idr.xlsx", rows))
    assert set(problems) == {"J5", "J6"}


# ------------------------------------------------------------------------ the property

LIMIT = Decimal(10) ** 13


def _amount(digits: int, places: int, negative: bool) -> Decimal:
    return (-1 if negative else 1) * Decimal(digits).scaleb(-places)


def _as_number_cell(value: Decimal) -> bool:
    """The float nearest ``value`` is written, and read back, as ``value`` itself."""
    return Decimal(repr(float(value))) == value


#: Amounts up to 10**13 with up to 4 decimals (many need rounding), and ties at the top of
#: the range (half a cent above 5 * 10**12 minor units, where a float rounds half to even),
#: each one a number cell can hold exactly.
decimals_in_range = st.one_of(
    st.builds(_amount, st.integers(0, 10**17), st.integers(0, 4), st.booleans()),
    st.builds(_amount, st.integers(5 * 10**14, 10**15 - 1).map(lambda k: 10 * k + 5),
              st.just(3), st.booleans()),
).filter(lambda d: abs(d) <= LIMIT and _as_number_cell(d))


def _as_text(value: Decimal, parentheses: bool, spaces: bool) -> str:
    text = f"{abs(value):,}".replace(",", " " if spaces else ",")
    if value >= 0:
        return text
    return f"({text})" if parentheses else f"-{text}"


def test_any_amount_in_range_as_number_or_grouped_text_is_stored_rounded_half_away(
        rupiah: Ledger, tmp_path: Path) -> None:
    seen = {"n": 0}

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(values=st.lists(decimals_in_range, min_size=1, max_size=24),
           parentheses=st.booleans(), spaces=st.booleans())
    def check(values: list[Decimal], parentheses: bool, spaces: bool) -> None:
        n = seen["n"] = seen["n"] + 1
        number_cells = [float(v) for v in values]
        text_cells = [_as_text(v, parentheses, spaces) for v in values]
        path = canonical_workbook(tmp_path / f"p{n}.xlsx", [
            initiative_row(f"N{n}", number_cells), initiative_row(f"T{n}", text_cells)])
        import_initiatives(rupiah, [path], note=str(n))
        got = phasing(rupiah)
        for i, v in enumerate(values):
            month = f"{2026 + (6 + i) // 12}-{(6 + i) % 12 + 1:02d}"
            want = int(round_half_away(v, 2).scaleb(2))
            for ext in (f"N{n}", f"T{n}"):
                assert got.get((ext, month), 0) == want, (ext, month, v, text_cells[i])

    check()
    assert seen["n"] == 25

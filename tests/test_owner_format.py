"""The owner-workbook stamp's signature (pure functions, no ledger) and message quoting."""

from __future__ import annotations

import math

from importers.problems import Problem, shorten
from ledger.owner_format import (
    ATTRIBUTE_KEYS,
    META_KEYS,
    exported_rows,
    sign,
    signature_matches,
    stamp_payload,
)

KEY = bytes(range(32))
META = {k: f"value of {k}" for k in META_KEYS} | {"as_of": "12"}
TABLE = [["GR-0001", "7", "3", "5"], ["GR-0002", "9", "3", "6"]]
INITIATIVES = [
    {"external_id": "GR-0001", "name": "Spares pooling", "owner": "Ana Lima",
     "business_unit": "PRO", "lever": "PROC", "stage": "L2", "description": None},
    {"external_id": "GR-0002", "name": "Shift roster", "owner": "Ana Lima",
     "business_unit": "MIN", "lever": math.nan, "stage": "L3", "description": "night"},
]
AMOUNTS = [("GR-0001", "2026-07-01", 100000), ("GR-0002", "2026-09-01", 50025),
           ("GR-0001", "2026-08-01", 200050)]
MONTHS = ["2026-07-01", "2026-08-01", "2026-09-01"]


def _payload(meta=META, table=TABLE, initiatives=INITIATIVES, amounts=AMOUNTS) -> bytes:
    return stamp_payload(meta, table, exported_rows(initiatives, amounts, MONTHS))


def test_an_unchanged_stamp_matches_its_signature():
    signature = sign(KEY, _payload())
    assert len(signature) == 64
    assert signature_matches(KEY, _payload(), signature)
    assert signature_matches(KEY, _payload(), signature.upper() + " ")


def test_the_order_of_initiatives_and_months_does_not_matter():
    assert _payload(initiatives=INITIATIVES[::-1], amounts=AMOUNTS[::-1]) == _payload()


def test_any_edit_to_metadata_table_or_exported_cells_breaks_the_signature():
    signature = sign(KEY, _payload())
    edited = [
        _payload(meta=META | {"as_of": "13"}),
        _payload(meta=META | {"ledger_id": "another"}),
        _payload(meta=META | {"owner": "Ben Okafor"}),
        _payload(table=[["GR-0001", "8", "3", "5"], TABLE[1]]),
        _payload(table=[["GR-0003", "7", "3", "5"], TABLE[1]]),
        _payload(table=TABLE[:1]),
        _payload(initiatives=[INITIATIVES[0] | {"owner": "Ben Okafor"}, INITIATIVES[1]]),
        _payload(amounts=[*AMOUNTS[:2], ("GR-0001", "2026-08-01", 200051)]),
        _payload(amounts=AMOUNTS[:2]),
    ]
    assert len(set(edited)) == len(edited)
    assert not any(signature_matches(KEY, p, signature) for p in edited)


def test_only_the_exporting_ledgers_key_signs():
    assert not signature_matches(bytes(32), _payload(), sign(KEY, _payload()))


def test_a_garbage_signature_is_a_mismatch_not_an_error():
    for garbage in ("", "zz", "é" * 64, "0" * 10_000):
        assert not signature_matches(KEY, _payload(), garbage)


def test_exported_rows_keep_only_the_workbooks_months_and_blank_missing_attributes():
    rows = exported_rows(INITIATIVES, [*AMOUNTS, ("GR-0001", "2030-01-01", 1)], MONTHS)
    assert rows[0].amounts == (("2026-07-01", 100000), ("2026-08-01", 200050))
    assert rows[0].attributes[ATTRIBUTE_KEYS.index("description")] == ""
    assert rows[1].attributes[ATTRIBUTE_KEYS.index("lever")] == ""


def test_shorten_quotes_a_prefix_and_says_how_long_the_value_was():
    assert shorten("GR-0001") == "GR-0001"
    assert shorten(None) == ""
    long = shorten("x" * 1_000_000)
    assert long == "x" * 60 + "… (1,000,000 characters)"


def test_shorten_keeps_a_quoted_value_on_one_line():
    assert shorten("Spares\npooling\r\nphase 2") == "Spares⏎pooling⏎phase 2"


def test_a_problem_never_carries_a_huge_value():
    p = Problem("a.xlsx", "Initiatives", "B5", "x" * 1_000_000, "y" * 1_000_000)
    assert len(str(p)) < 700
    assert "1,000,000 characters" in p.found

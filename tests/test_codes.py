"""Codes that cannot collide: unique regardless of case, never read as numbers by Excel;
refused when created (API, CLI, import), reported by the checks, and a ledger that already
has such pairs is not upgraded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures_workbooks import canonical_workbook, initiative_row
from helpers.cells import months
from helpers.ledger_reads import counts
from sqlalchemy import text

import migrations
from importers import import_initiatives
from ledger.api import Ledger
from ledger.codes import code_collisions, numeric_value
from ledger.db import schema_state
from ledger.engine import checks
from ledger.errors import LedgerError
from ledger.initiatives import write_initiatives
from ledger.store import new_submission


@pytest.mark.parametrize(("code", "number"), [("01", "1"), ("1", "1"), ("1E3", "1000"),
                                              ("-1.5", "-1.5"), ("50%", "0.5"),
                                              ("1,000", "1000"), (".5", "0.5")])
def test_number_like_codes(code: str, number: str) -> None:
    value = numeric_value(code)
    assert value is not None
    assert f"{value.normalize():f}" == number


@pytest.mark.parametrize("code", ["PRO", "L3", "E1", "1A", "X*?~", "1-2", "GR-0001", "1E"])
def test_text_codes(code: str) -> None:
    assert numeric_value(code) is None


def test_collision_groups() -> None:
    assert code_collisions(["PRO", "pro", "MIN", "01", "1", "x"]) == [["01", "1"], ["PRO", "pro"]]
    assert code_collisions(["01", "1"], numeric=False) == []


def test_a_unit_differing_only_by_case_is_refused(programme: Ledger) -> None:
    assert "PRO" in programme.business_units()["code"].tolist()
    with pytest.raises(LedgerError, match="'pro' collides with the existing business unit 'PRO'"):
        programme.add_business_unit("pro", "Processing again")
    with pytest.raises(LedgerError, match="already exists"):
        programme.add_business_unit("PRO", "Processing")
    with pytest.raises(LedgerError, match="collides with the existing metric 'benefit'"):
        programme.add_metric(code="Benefit", name="x", unit="AUD", kind="benefit", decimals=2)
    programme.add_lever("NEW", "New lever")
    with pytest.raises(LedgerError, match="'new' collides"):
        programme.add_lever("new", "again")
    assert "pro" not in programme.business_units()["code"].tolist()


@pytest.mark.parametrize("code", ["01", "1E3", "7"])
def test_a_code_excel_reads_as_a_number_is_refused(programme: Ledger, code: str) -> None:
    with pytest.raises(LedgerError, match="reads as the number"):
        programme.add_lever(code, "numeric")
    with pytest.raises(LedgerError, match="reads as the number"):
        programme.add_business_unit(code, "numeric")


def test_cli_says_it_in_one_line(programme: Ledger, cli: Any) -> None:
    r = cli("unit", "add", "pro", "Processing again")
    assert r.exit_code == 1
    assert r.stderr.strip().count("\n") == 0
    assert "'PRO'" in r.stderr


def test_an_initiative_id_differing_only_by_case_is_refused(programme: Ledger) -> None:
    sg = dict(zip(programme.stage_gates()["code"], programme.stage_gates()["id"], strict=True))

    def frame(*ids: str) -> pd.DataFrame:
        return pd.DataFrame([{"external_id": e, "name": e, "owner": "Ann",
                              "business_unit_id": None, "lever_id": None,
                              "stage_gate_id": sg["L1"], "description": ""} for e in ids])

    with programme.writing() as conn:
        sub = new_submission(conn, kind="import", user="t", note="")
        write_initiatives(conn, frame("GR-0001"), sub.id)
    def write(*ids: str) -> None:
        with programme.writing() as conn:
            sub = new_submission(conn, kind="import", user="t", note="")
            write_initiatives(conn, frame(*ids), sub.id)

    def dry_run(*ids: str) -> None:  # as the importer plans an import
        with programme.reading() as conn:
            write_initiatives(conn, frame(*ids), 0, dry_run=True)

    for ids in (("gr-0001",), ("GR-0002", "gr-0002")):
        with pytest.raises(LedgerError, match="collides with the existing initiative"):
            write(*ids)
        with pytest.raises(LedgerError, match="collides"):
            dry_run(*ids)


def _force_codes(ledger: Ledger) -> None:
    """Codes written behind the API's back (as an older tledger allowed)."""
    with ledger.writing() as conn:
        sub = new_submission(conn, kind="reference", user="t", note="old codes")
        for code in ("pro", "01", "1"):
            conn.execute(text("INSERT INTO lever (code, name, created_submission_id) "
                              "VALUES (:c, :c, :s)") if code != "pro" else
                         text("INSERT INTO business_unit (code, name, created_submission_id) "
                              "VALUES (:c, :c, :s)"), {"c": code, "s": sub.id})


def test_checks_report_collisions(programme: Ledger) -> None:
    _force_codes(programme)
    found = checks(programme)
    mine = found[found["check"] == "code_collision"]
    assert set(mine["severity"]) == {"error"}
    subjects = set(mine["subject"])
    assert "PRO / pro" in subjects
    assert "01 / 1" in subjects
    assert {"01", "1"} <= subjects, "each number-like lever too"


def test_upgrade_refuses_a_ledger_with_collisions(programme: Ledger) -> None:
    with programme.engine.begin() as conn:
        migrations.downgrade(conn, "0005")
    _force_codes(programme)
    def upgrade() -> None:
        with programme.engine.begin() as conn:
            migrations.upgrade(conn)

    with pytest.raises(LedgerError, match="cannot upgrade, nothing was changed") as err:
        upgrade()
    assert "business unit: 'PRO', 'pro'" in str(err.value)
    assert "lever: '01', '1'" in str(err.value)
    assert schema_state(programme.engine)[0] == "0005"
    with programme.engine.begin() as conn:
        conn.execute(text("UPDATE business_unit SET code = 'PRO2' WHERE code = 'pro'"))
        conn.execute(text("UPDATE lever SET code = 'L01' WHERE code = '01'"))
        conn.execute(text("UPDATE lever SET code = 'L1X' WHERE code = '1'"))
        migrations.upgrade(conn)
    assert schema_state(programme.engine)[0] == migrations.HEAD


def test_the_importer_refuses_an_id_differing_only_by_case(programme: Ledger, cli: Any,
                                                          tmp_path: Path) -> None:
    """A workbook adding gr-1 beside GR-1 is refused in one line, nothing written."""
    first = canonical_workbook(tmp_path / "a.xlsx",
                               [initiative_row("GR-1", months(24, {0: 1}))])
    assert import_initiatives(programme, [first]).facts_added == 1
    before = counts(programme)
    second = canonical_workbook(tmp_path / "b.xlsx",
                                [initiative_row("gr-1", months(24, {0: 2}))])
    with pytest.raises(LedgerError, match="'gr-1' collides with the existing initiative 'GR-1'"):
        import_initiatives(programme, [second])
    assert counts(programme) == before
    r = cli("import", "initiatives", str(second))
    assert r.exit_code == 1
    assert r.stderr.strip().count("\n") == 0
    assert "collides" in r.stderr
    assert counts(programme) == before

"""``--scale`` beside a mapping's ``scale``: either alone is used; both must agree."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fixtures_workbooks import canonical_workbook, initiative_row, targets_workbook
from helpers.cells import months
from helpers.ledger_reads import counts, phasing

from importers import import_initiatives
from ledger.errors import LedgerError


def _mapping(tmp_path: Path, scale: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(f"scale = {scale}\n", encoding="utf-8")
    return path


def test_the_mapping_scale_alone_or_the_same_scale_twice(programme, cli, tmp_path):
    book = canonical_workbook(tmp_path / "a.xlsx", [initiative_row("GR-1", months(24, {0: 1.5}))])
    r = cli("import", "initiatives", str(book), "--mapping", str(_mapping(tmp_path, "1000")),
            "--scale", "1e3")
    assert r.exit_code == 0, r.output
    assert phasing(programme) == {("GR-1", "2026-07"): 150000}


@pytest.mark.parametrize("kind", ["initiatives", "targets"])
def test_a_different_scale_on_the_command_line_is_refused(programme, cli, tmp_path, kind):
    if kind == "initiatives":
        book = canonical_workbook(tmp_path / "b.xlsx",
                                  [initiative_row("GR-1", months(24, {0: 1.5}))])
    else:
        book = targets_workbook(tmp_path / "b.xlsx", [["benefit", "programme",
                                                       *months(24, {0: 1.5})]])
    before = counts(programme)
    r = cli("import", kind, str(book), "--mapping", str(_mapping(tmp_path, "1000")),
            "--scale", "1")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("error: --scale 1 and scale = 1000 in m.toml differ: give one "
                                "of them, or the same value in both")
    assert counts(programme) == before


def test_the_api_refuses_the_conflict_too(programme, tmp_path):
    book = canonical_workbook(tmp_path / "c.xlsx", [initiative_row("GR-1", months(24, {0: 20}))])
    with pytest.raises(LedgerError, match="differ"):
        import_initiatives(programme, [book], mapping=_mapping(tmp_path, "0.001"),
                           scale=Decimal(1000))
    import_initiatives(programme, [book], mapping=_mapping(tmp_path, "0.001"))
    assert phasing(programme) == {("GR-1", "2026-07"): 2}  # 20 x 0.001 = 0.02

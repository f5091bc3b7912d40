"""The reconciliation's drill-down (``ledger.pnl.drill``, ``tledger reconcile --lines``):
the GL lines that make a unit-month's actual and the initiatives that claim its saving,
tied to :func:`ledger.pnl.reconcile`'s cell to the cent, on the worked example of
docs/reconciliation.md (tests/helpers/pnl_seed.py)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from helpers.pnl_seed import GL_CSV, import_example, seed

from ledger.errors import LedgerError
from ledger.pnl import drill, reconcile

D = Decimal
FIGURES = ["baseline", "actual", "movement", "claimed", "unexplained"]


@pytest.fixture
def example(programme, tmp_path):
    seed(programme)
    import_example(programme, tmp_path)
    return programme


def test_every_cell_ties_to_its_lines_and_claims(example, tmp_path) -> None:
    frame = reconcile(example).frame
    units = frame[frame["part"] != "Programme"]
    assert len(units) == 6  # MIN and PRO x July, August, September
    for row in units.to_dict("records"):
        (cell,) = drill(example, unit=row["part"], month=row["period"]).cells
        assert [getattr(cell, f) for f in FIGURES] == [row[f] for f in FIGURES], row
        assert cell.reported == row["reported"]
        assert sum((c.amount for c in cell.claims), D("0.00")) == row["claimed"]
        if row["reported"]:
            assert sum((ln.amount for ln in cell.lines), D("0.00")) == row["actual"]
        else:
            assert cell.lines == []
    # MIN July: two lines of the extract, as written, and GR-0001's claim.
    (cell,) = drill(example, unit="min", month="Jul-26").cells
    assert [(ln.cost_centre, ln.account, ln.amount, ln.source) for ln in cell.lines] == [
        ("CC-MIN-01", "6100 Maintenance", D("812345.67"), "gl.csv"),
        ("CC-MIN-02", "6200 Labour", D("500000.00"), "gl.csv")]
    assert [(c.external_id, c.name, c.owner, c.amount) for c in cell.claims] == [
        ("GR-0001", "Savings MIN", "Ana Lima", D("80000.00"))]
    # PRO August: a credit line nets the month to its baseline.
    (aug,) = drill(example, unit="PRO", month="2026-08").cells
    assert [ln.amount for ln in aug.lines] == [D("305000.00"), D("-5000.00")]
    assert aug.claims == []
    # A new July extract replaces July's lines; as of before it, the first extract's.
    first = drill(example, unit="PRO", month="2026-07")
    july = "\n".join(line for line in GL_CSV.replace(",290000", ",280000").splitlines()
                     if line.startswith(("Period", "2026-07"))) + "\n"
    sub = import_example(example, tmp_path, july, name="gl_july_v2.csv")
    assert sub is not None
    (now,) = drill(example, unit="PRO", month="2026-07").cells
    assert [(ln.amount, ln.submission, ln.source) for ln in now.lines] == [
        (D("280000.00"), sub, "gl_july_v2.csv")]
    assert now.movement == D("20000.00")
    before = drill(example, unit="PRO", month="2026-07", as_of=sub - 1)
    assert before.cells == first.cells
    assert before.as_of == sub - 1


def test_cli_lines_shapes_and_errors(example, cli) -> None:
    out = cli("reconcile", "--unit", "MIN", "--month", "2026-07", "--lines",
              "--format", "json")
    assert out.exit_code == 0, out.output
    page = json.loads(out.stdout)
    assert sorted(page) == ["cell", "claims", "gl_lines"]
    summary = json.loads(cli("reconcile", "--unit", "MIN", "--month", "2026-07",
                             "--format", "json").stdout)
    assert len(summary) == 1
    assert {f: page["cell"][f] for f in FIGURES} == {f: summary[0][f] for f in FIGURES}
    assert page["cell"]["actual"] == "1312345.67"
    assert sum(D(r["amount"]) for r in page["gl_lines"]) == D(summary[0]["actual"])
    assert sum(D(r["amount"]) for r in page["claims"]) == D(summary[0]["claimed"])
    assert page["gl_lines"][0] == {
        "unit": "MIN", "month": "2026-07", "metric": "benefit", "cost_centre": "CC-MIN-01",
        "account": "6100 Maintenance", "submission": page["gl_lines"][0]["submission"],
        "source": "gl.csv", "amount": "812345.67"}
    assert page["claims"] == [{"unit": "MIN", "month": "2026-07", "metric": "benefit",
                               "external_id": "GR-0001", "name": "Savings MIN",
                               "owner": "Ana Lima", "amount": "80000.00"}]
    rows = list(csv.DictReader(io.StringIO(cli(
        "reconcile", "-u", "PRO", "--month", "2026-08", "--lines", "--format", "csv").stdout)))
    assert [(r["kind"], r["cost_centre"], r["account"], r["amount"]) for r in rows] == [
        ("gl", "CC-PRO-01", "6100 Maintenance", "305000.00"),
        ("gl", "CC-PRO-01", "6900 Recoveries", "-5000.00")]
    # The page reads top to bottom; September has no extract but its claim is listed.
    table = cli("reconcile", "--unit", "PRO", "--month", "Sep-26", "--lines")
    assert table.exit_code == 0, table.output
    order = [table.stdout.index(w) for w in ("baseline", "GL actual", "movement", "GR-0002",
                                             "claimed", "unexplained")]
    assert order == sorted(order)
    assert "not reported" in table.stdout
    assert "no GL extract for benefit" in table.stdout
    assert "5,000.00" in table.stdout
    for args, message in [
        (["--unit", "XX", "--month", "2026-07"],
         "--unit 'XX': no such business unit (known: MIN, PRO)"),
        (["--unit", "MIN", "--month", "2030-01"],
         "--month 2030-01: outside the programme's horizon (2026-07 to 2028-06)"),
        (["--unit", "MIN", "--month", "July"], "--month: found 'July', expected a month"),
        (["--unit", "MIN"], "--lines needs --unit and --month"),
    ]:
        bad = cli("reconcile", *args, "--lines")
        assert bad.exit_code == 1, (args, bad.output)
        assert message in bad.stderr, (args, bad.stderr)
        assert "Traceback" not in bad.output
    mixed = cli("reconcile", "--month", "2026-07", "--fiscal-year")
    assert "--month picks a month's rows: leave out --fiscal-year" in mixed.stderr
    with pytest.raises(LedgerError, match="known: MIN, PRO"):
        drill(example, unit="nope", month="2026-07")


def test_a_unit_without_any_claim_drills_to_its_lines(programme, tmp_path) -> None:
    import_example(programme, tmp_path)  # GL lines, no claims and no baselines at all
    (cell,) = drill(programme, unit="MIN", month="2026-07", metric="benefit").cells
    assert cell.claims == []
    assert cell.claimed == D("0.00")
    assert [ln.amount for ln in cell.lines] == [D("812345.67"), D("500000.00")]
    assert cell.actual == D("1312345.67")
    assert cell.movement is None

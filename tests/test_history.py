"""An initiative's history: every change, newest first, with who, when, source and note."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from helpers.owner_seed import INITIATIVES, seed
from openpyxl import load_workbook

from importers.owner import import_owner_workbook
from ledger.history import HISTORY_COLUMNS, history
from ledger.phasing import set_phasing, set_stage
from reports.owner_workbook import collect_owner_export, write_owner_workbook


def test_history_lists_every_change_newest_first(programme, tmp_path):
    seed(programme)
    set_phasing(programme, "GR-0001", date(2027, 3, 1), Decimal("125000"), user="ana",
                note="slipped")
    # Back to L1, not on to L3: a committed plan is not changed from an owner's workbook.
    set_stage(programme, "GR-0001", "L1", user="pmo", note="steerco")
    path = write_owner_workbook(collect_owner_export(programme, "Ana Lima"),
                                tmp_path / "ana.xlsx")
    wb = load_workbook(path)
    wb["Initiatives"]["K5"] = None
    wb["Initiatives"]["L5"] = 10
    wb.save(path)
    result = import_owner_workbook(programme, path, user="ana", note="monthly update")
    set_phasing(programme, "GR-0003", date(2026, 7, 1), Decimal("1"), user="ben")  # not ours

    frame = history(programme, "GR-0001")
    assert list(frame.columns) == HISTORY_COLUMNS
    assert frame["submission"].is_monotonic_decreasing
    rows = [(r["who"], r["kind"], r["what"], r["old"], r["new"], r["note"])
            for r in frame.to_dict("records")]
    assert rows == [
        ("ana", "import", "benefit plan 2026-08", "2000.50", None, "monthly update"),
        ("ana", "import", "benefit plan 2026-09", None, "10.00", "monthly update"),
        ("pmo", "stage", "stage", "L2", "L1", "steerco"),
        ("ana", "edit", "benefit plan 2027-03", "3000.00", "125000.00", "slipped"),
        ("office", "import", "created", None, "Spares pooling (Ana Lima, L2)", "seed"),
        ("office", "import", "benefit plan 2026-07", None, "1000.00", "seed"),
        ("office", "import", "benefit plan 2026-08", None, "2000.50", "seed"),
        ("office", "import", "benefit plan 2027-03", None, "3000.00", "seed"),
    ]
    by_kind = {r["kind"]: r["source"] for r in frame.to_dict("records")}
    assert by_kind["edit"] == "manual"
    assert by_kind["stage"] == "manual"
    imported = frame[frame["submission"] == result.submission_id]["source"].iloc[0]
    assert imported == f"ana.xlsx sha256:{result.sha256}"
    assert frame["when"].is_monotonic_decreasing
    assert not frame["forced"].any()


def test_history_marks_forced_imports_and_owner_changes(programme, tmp_path):
    # GR-0002 at L2: a committed plan (L3+) is never written from an owner's workbook.
    seed(programme, initiatives={**INITIATIVES, "GR-0002": ("Shift roster", "Ana Lima", "MIN",
                                                           "LAB", "L2")})
    path = write_owner_workbook(collect_owner_export(programme, "Ana Lima"),
                                tmp_path / "ana.xlsx")
    wb = load_workbook(path)
    wb["Initiatives"]["J6"] = 5
    wb.save(path)
    set_phasing(programme, "GR-0002", date(2026, 9, 1), Decimal("1"), user="office")
    import_owner_workbook(programme, path, force=True, user="ana")
    seed(programme, initiatives={"GR-0002": ("Shift roster", "Ben Okafor", "MIN", "LAB",
                                             "L4")}, plan={})
    frame = history(programme, "GR-0002")
    top = frame[frame["submission"] == frame["submission"].max()]
    assert sorted(zip(top["what"], top["old"], top["new"], strict=True)) == [
        ("owner", "Ana Lima", "Ben Okafor"), ("stage", "L2", "L4")]
    forced = frame[frame["forced"]]
    assert set(forced["what"]) == {"benefit plan 2026-07", "benefit plan 2026-09"}


def test_cli_history_formats(programme, cli):
    seed(programme)
    set_phasing(programme, "GR-0002", date(2026, 9, 1), Decimal("600"), user="ana",
                note="up")
    r = cli("history", "GR-0002", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data[0]["what"] == "benefit plan 2026-09"
    assert (data[0]["old"], data[0]["new"]) == ("500.25", "600.00")
    assert data[0]["who"] == "ana"
    assert data[0]["source"] == "manual"
    r = cli("history", "GR-0002")
    assert r.exit_code == 0
    assert "2026-09" in r.stdout
    assert "600.00" in r.stdout
    assert "2 submissions, 3 changes" in r.stderr
    r = cli("history", "GR-0404")
    assert r.exit_code == 1
    assert "no initiative 'GR-0404'" in r.stderr

"""A ledger with every kind of write in its history, for the hash chain and migration
tests."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fixtures_workbooks import targets_workbook
from openpyxl import load_workbook
from reliability.support import MONTHS, pipeline_workbook

from importers import import_initiatives, import_targets
from importers.owner import import_owner_workbook
from ledger.api import Ledger
from ledger.phasing import set_phasing, set_stage
from reports.owner_workbook import collect_owner_export, write_owner_workbook


def pipeline_rows(n: int, *, bump: int = 0, skip: str | None = None) -> list[dict]:
    """Pipeline rows for n initiatives: a plan with every fifth cell blank, and a forecast."""
    out = []
    for i in range(n):
        ext = f"GR-{i:04d}"
        if ext == skip:
            continue
        base = {"id": ext, "name": f"Initiative {i}", "owner": "Ana Lima" if i % 2 else "Bo",
                "unit": ("PRO", "MIN")[i % 2], "lever": ("PROC", "LAB")[i % 2],
                "stage": ("L1", "L2", "L3")[i % 3]}
        out.append({**base, "amounts": [None if (i + m) % 5 == 0 else 1000 * (i + 1) + m + bump
                                        for m in range(24)]})
        out.append({**base, "scenario": "forecast", "amounts": [900 * (i + 1) + m
                                                                for m in range(24)]})
    return out


def build_busy_ledger(led: Ledger, folder: Path) -> None:
    """Every kind of write: set-up and reference data, a stage weight, two target
    revisions, an import and a re-phasing snapshot import, an owner workbook round trip,
    single edits and a stage move."""
    led.set_stage_weight("L2", Decimal("0.55"), user="office", note="steerco")
    targets_workbook(folder / "t1.xlsx", [["benefit", "programme", *[100_000] * 24],
                                          ["benefit", "unit:PRO", *[60_000] * 24]])
    import_targets(led, folder / "t1.xlsx", user="office", note="board")
    targets_workbook(folder / "t2.xlsx", [["benefit", "programme", *[110_000] * 24]])
    import_targets(led, folder / "t2.xlsx", user="office", note="revised")
    import_initiatives(led, [pipeline_workbook(folder / "p1.xlsx", pipeline_rows(6))],
                       user="office", note="first pipeline")
    import_initiatives(led, [pipeline_workbook(folder / "p2.xlsx",
                                               pipeline_rows(6, bump=1, skip="GR-0004"))],
                       user="office", note="re-phased", mode="snapshot")
    export = write_owner_workbook(collect_owner_export(led, "Ana Lima"), folder / "ana.xlsx")
    wb = load_workbook(export)
    wb["Initiatives"]["J5"] = 4242.42
    wb.save(folder / "ana-back.xlsx")
    import_owner_workbook(led, folder / "ana-back.xlsx", user="ana", note="owner update")
    set_stage(led, "GR-0003", "L3", user="bo", note="approved")
    set_phasing(led, "GR-0001", MONTHS[3], Decimal("4321.09"), user="ana", note="edit")
    set_phasing(led, "GR-0002", MONTHS[4], None, user="ana", note="cleared")

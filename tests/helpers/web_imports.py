"""Workbooks and reads shared by the imports page's tests (no tests here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fixtures_workbooks import canonical_workbook, initiative_row
from sqlalchemy import text

from helpers.web import csrf_of
from ledger.api import Ledger

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOKEN_PATH = re.compile(r"^/imports/([A-Za-z0-9_-]+)$")


def bad_and_fixed(tmp_path: Path) -> tuple[Path, Path]:
    """pipeline.xlsx twice: with a text amount (J5) and an unknown unit (D6), then fixed."""
    bad = tmp_path / "bad" / "pipeline.xlsx"
    fixed = tmp_path / "fixed" / "pipeline.xlsx"
    bad.parent.mkdir()
    fixed.parent.mkdir()
    canonical_workbook(bad, [initiative_row("GR-0101", ["12x", 100]),
                             initiative_row("GR-0102", [5], unit="NOPE")])
    canonical_workbook(fixed, [initiative_row("GR-0101", [12, 100]),
                               initiative_row("GR-0102", [5])])
    return bad, fixed


def last_submission(led: Ledger) -> dict[str, Any]:
    with led.reading() as conn:
        row = conn.execute(text('SELECT id, kind, "user" AS user_name, source_name, '
                                "source_sha256 FROM submission ORDER BY id DESC LIMIT 1")
                           ).mappings().one()
    return dict(row)


def upload(client, path: Path, kind: str = "initiatives", **fields: str):  # type: ignore[no-untyped-def]
    page = client.get("/imports")
    return client.post("/imports", data={"csrf": csrf_of(page.text), "kind": kind, **fields},
                       files={"workbook": (path.name, path.read_bytes(), XLSX)})


def token_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text
    found = TOKEN_PATH.match(response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)

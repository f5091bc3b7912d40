"""The office's imports page: upload, dry run (every problem with its cell, the CLI's
problem report), confirm as the CLI's import (same SHA-256 idempotency), the size limit,
who may use it, and that the upload is kept only until confirm, cancel or timeout."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import openpyxl
from fixtures_workbooks import targets_workbook
from helpers.web import csrf_of, submissions
from helpers.web_imports import XLSX, bad_and_fixed, last_submission, token_of, upload
from helpers.web_sessions import quick_site, session_client

from ledger.api import Ledger
from tledger.web.uploads import UploadStore


def office_and_workbooks(programme: Ledger, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The seeded site, the office's client, and the bad and fixed pipeline.xlsx."""
    site = quick_site(programme)
    return site, session_client(site, "off@example.com"), *bad_and_fixed(tmp_path)


def kept(led: Ledger) -> list[Path]:
    """Every file the app keeps for uploads of this ledger."""
    root = UploadStore(led.engine.url.render_as_string(hide_password=False)).root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_dry_run_with_errors_lists_every_cell_and_its_report_is_the_clis(
        programme, cli, tmp_path):
    _, office, bad, _ = office_and_workbooks(programme, tmp_path)
    before = submissions(programme)
    token = token_of(upload(office, bad))
    page = office.get(f"/imports/{token}")
    assert page.status_code == 200
    # The CLI's report of the same file: every problem's cell is on the page.
    report = tmp_path / "cli-problems.csv"
    assert cli("import", "initiatives", str(bad), "--report", str(report)).exit_code == 1
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert {r["cell"] for r in rows} >= {"J5", "D6"}
    for r in rows:
        assert f'<td class="cell">{r["cell"]}</td>' in page.text
    assert 'id="confirm"' not in page.text
    assert submissions(programme) == before
    assert kept(programme) == [kept(programme)[0]]  # only what the dry run found
    assert kept(programme)[0].name == "upload.json"
    # The download is the CLI's report, byte for byte (CSV) and cell for cell (xlsx).
    got = office.get(f"/imports/{token}/problems.csv")
    assert got.status_code == 200
    assert "attachment" in got.headers["content-disposition"]
    assert got.content == report.read_bytes()
    xlsx = office.get(f"/imports/{token}/problems.xlsx")
    cli_xlsx = tmp_path / "cli-problems.xlsx"
    cli("import", "initiatives", str(bad), "--report", str(cli_xlsx))

    def cells(data: bytes) -> list[tuple]:
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        return list(sheet.iter_rows(values_only=True))

    assert cells(xlsx.content) == cells(cli_xlsx.read_bytes())
    assert office.get(f"/imports/{token}/problems.pdf").status_code == 400


def test_confirm_is_the_clis_import_and_the_same_file_again_adds_nothing(
        programme, cli, tmp_path):
    _, office, _, fixed = office_and_workbooks(programme, tmp_path)
    before = submissions(programme)
    token = token_of(upload(office, fixed, note="October pipeline"))
    page = office.get(f"/imports/{token}").text
    assert "initiatives added: 2 (GR-0101, GR-0102)" in page
    assert '<td class="num">117.00</td>' in page  # benefit plan moved by 12 + 100 + 5
    assert submissions(programme) == before
    done = office.post(f"/imports/{token}/confirm", data={"csrf": csrf_of(page)})
    assert done.status_code == 303
    assert done.headers["location"] == "/imports"
    assert "Imported pipeline.xlsx: changed" in office.get("/imports").text
    assert submissions(programme) == before + 1
    sub = last_submission(programme)
    assert sub["source_sha256"] == hashlib.sha256(fixed.read_bytes()).hexdigest()
    assert (sub["source_name"], sub["user_name"]) == ("pipeline.xlsx", "off@example.com")
    assert kept(programme) == []
    # The token is spent; the same file uploaded again is "already imported".
    assert office.post(f"/imports/{token}/confirm",
                       data={"csrf": csrf_of(page)}).status_code == 404
    again = office.get(f"/imports/{token_of(upload(office, fixed))}").text
    assert f"already imported as submission {sub['id']}" in again
    assert 'id="confirm"' not in again
    r = cli("import", "initiatives", str(fixed))
    assert r.exit_code == 0
    assert "already imported" in r.output
    assert submissions(programme) == before + 1


def test_a_ledger_changed_since_the_dry_run_is_said_not_imported(programme, tmp_path):
    _, office, _, fixed = office_and_workbooks(programme, tmp_path)
    token = token_of(upload(office, fixed))
    page = office.get(f"/imports/{token}").text
    programme.add_lever("NEW", "New lever", user="someone")  # a write in between
    before = submissions(programme)
    again = office.post(f"/imports/{token}/confirm", data={"csrf": csrf_of(page)})
    assert again.headers["location"] == f"/imports/{token}"
    shown = office.get(f"/imports/{token}").text
    assert "The ledger changed since this dry run" in shown
    assert 'id="confirm"' in shown
    assert submissions(programme) == before
    assert office.post(f"/imports/{token}/confirm",
                       data={"csrf": csrf_of(shown)}).status_code == 303
    assert submissions(programme) == before + 1


def test_a_targets_workbook_shows_totals_per_scope_and_lands_as_one_revision(
        programme, tmp_path):
    site = quick_site(programme)
    office = session_client(site, "off@example.com")
    path = targets_workbook(tmp_path / "targets.xlsx", [["benefit", "programme", 1000, 2000],
                                                        ["benefit", "unit:PRO", 500]])
    token = token_of(upload(office, path, kind="targets", note="board"))
    page = office.get(f"/imports/{token}").text
    assert "3,000.00" in page
    assert "unit:PRO" in page
    before = submissions(programme)
    office.post(f"/imports/{token}/confirm", data={"csrf": csrf_of(page)})
    assert submissions(programme) == before + 1
    assert last_submission(programme)["source_name"] == "targets.xlsx"


def test_cancel_and_timeout_remove_the_upload(programme, tmp_path):
    site, office, _, fixed = office_and_workbooks(programme, tmp_path)
    token = token_of(upload(office, fixed))
    assert [p.name for p in kept(programme)] == ["pipeline.xlsx", "upload.json"]
    page = office.get(f"/imports/{token}").text
    assert office.post(f"/imports/{token}/cancel",
                       data={"csrf": csrf_of(page)}).status_code == 303
    assert kept(programme) == []
    assert office.get(f"/imports/{token}").status_code == 404
    token = token_of(upload(office, fixed))
    site.clock.advance(minutes=20)  # in steps: the session's idle limit is 30 minutes
    office.get("/imports")
    assert kept(programme) != []
    site.clock.advance(minutes=11)
    office.get("/imports")
    assert kept(programme) == []
    assert office.get(f"/imports/{token}").status_code == 404


def test_an_upload_past_the_size_limit_is_refused_and_nothing_kept(
        programme, tmp_path, monkeypatch):
    site = quick_site(programme)
    office = session_client(site, "off@example.com")
    csrf = csrf_of(office.get("/imports").text)
    monkeypatch.setenv("TLEDGER_IMPORT_MAX_BYTES", "10000")
    before = submissions(programme)
    # Within the request's room (the mapping's) but past the workbook's limit.
    r = office.post("/imports", data={"csrf": csrf, "kind": "initiatives"},
                    files={"workbook": ("big.xlsx", b"x" * 20_000, XLSX)})
    assert r.status_code == 400
    assert "larger than 10,000 bytes" in r.text
    # Past the request's limit: refused by its declared length, before reading it.
    huge = b"x" * (10_000 + 300_000)
    r = office.post("/imports", data={"csrf": csrf, "kind": "initiatives"},
                    files={"workbook": ("huge.xlsx", huge, XLSX)})
    assert r.status_code == 413
    assert "TLEDGER_IMPORT_MAX_BYTES" in r.text
    # Streamed without a length: refused once the stream passes the limit.
    body = (b'--b\r\ncontent-disposition: form-data; name="workbook"; filename="s.xlsx"'
            b"\r\n\r\n") + huge + b"\r\n--b--\r\n"
    r = office.post("/imports", content=iter([body[i:i + 65536]
                                              for i in range(0, len(body), 65536)]),
                    headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413
    assert submissions(programme) == before
    assert kept(programme) == []


def test_owners_and_finance_get_403_on_every_imports_route(programme, tmp_path):
    site, office, _, fixed = office_and_workbooks(programme, tmp_path)
    token = token_of(upload(office, fixed))
    for email in ("ana@example.com", "fin@example.com"):
        refused_everything(programme, session_client(site, email), token, fixed)


def refused_everything(programme: Ledger, other, token: str, fixed: Path) -> None:  # type: ignore[no-untyped-def]
    csrf = csrf_of(other.get("/initiatives").text)
    before = submissions(programme)
    assert other.get("/imports").status_code == 403
    assert other.get(f"/imports/{token}").status_code == 403
    assert other.get(f"/imports/{token}/problems.csv").status_code == 403
    assert other.post("/imports", data={"csrf": csrf, "kind": "initiatives"},
                      files={"workbook": (fixed.name, fixed.read_bytes(), XLSX)}
                      ).status_code == 403
    for action in ("confirm", "cancel"):
        assert other.post(f"/imports/{token}/{action}",
                          data={"csrf": csrf}).status_code == 403
    assert submissions(programme) == before
    assert [p.name for p in kept(programme)] == ["pipeline.xlsx", "upload.json"]

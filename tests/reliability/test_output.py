"""Ledger text is printed as written, and printing can never undo a saved change.

Names, owners, notes, users, ids and file names that look like Rich markup
(``Okafor, Ben [/interim]``, ``[link=...]``), emoji codes or stray backslashes go through
the real CLI on both backends: every command exits 0 and shows the text exactly, in table,
CSV and JSON, and a terminal never gets a hidden hyperlink. A command whose write is
committed exits 0 with one line on stderr saying so, even when its output cannot be
printed (a closed pipe, a failing console).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers.owner_seed import plan_of, seed
from openpyxl import load_workbook

from ledger.api import Ledger

#: Text a markup parser would eat, turn into a link, an emoji or an error.
TEXTS = [
    "Okafor, Ben [/interim]",
    "Lima, Ana [contractor]",
    "[link=https://example.invalid]x[/link]",
    "[bold]",
    "\\[",
    "Ana\\",
    "Thumbs :thumbs_up:",
]
IDS = [f"GR-000{i}" for i in range(1, len(TEXTS) + 1)]
#: An initiative whose id itself looks like markup.
ODD_ID = "[red]GR-0099"

REPO = Path(__file__).resolve().parents[2]
HYPERLINK = "\x1b]8;"
SGR = re.compile(r"\x1b\[[0-9;]*m")


def _seed(led: Ledger) -> None:
    initiatives: dict[str, tuple[str, str, str, str, str]] = {
        ext: (text, text, "PRO", "PROC", "L2") for ext, text in zip(IDS, TEXTS, strict=True)}
    initiatives[ODD_ID] = ("Plain name", "Ana Lima", "MIN", "LAB", "L3")
    plan = {(ext, "2026-07-01"): Decimal(100 + i) for i, ext in enumerate(initiatives)}
    seed(led, initiatives=initiatives, plan=plan, user=TEXTS[2], note=TEXTS[0])


def _values(stdout: str, fmt: str) -> set[str]:
    """Every text value of the command's output (table: the raw stdout as one value)."""
    if fmt == "csv":
        return {cell for row in csv.reader(io.StringIO(stdout)) for cell in row}
    if fmt == "json":
        data = json.loads(stdout)
        rows = data if isinstance(data, list) else [data]
        return {str(v) for row in rows for v in row.values() if v is not None}
    return {stdout}


def _assert_shown(stdout: str, fmt: str, texts: list[str]) -> None:
    values = _values(stdout, fmt)
    for text in texts:
        if fmt == "table":
            assert text in stdout, f"{text!r} not shown as written in:\n{stdout}"
        else:
            assert text in values, f"{text!r} not among the {fmt} values {sorted(values)}"
    assert HYPERLINK not in stdout


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for every cell in full: a narrower one wraps long text or
    ends it with an ellipsis, which is layout, not what these tests are about."""
    from tledger.cli import common

    monkeypatch.setattr(common.console, "width", 1000)


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


FORMATS = ["table", "csv", "json"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_gap_by_owner_shows_owner_names_as_written(programme, cli, fmt):
    _seed(programme)
    r = _ok(cli("gap", "--by", "owner", "--format", fmt))
    _assert_shown(r.stdout, fmt, TEXTS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_history_shows_names_users_notes_and_ids_as_written(programme, cli, fmt):
    _seed(programme)
    for i, text in enumerate(TEXTS):
        _ok(cli("phasing", "set", ODD_ID, "--month", "2026-08", "--amount", str(10 + i),
                "--user", text, "--note", text))
    r = _ok(cli("history", "--format", fmt, ODD_ID))
    _assert_shown(r.stdout, fmt, TEXTS)
    if fmt == "table":
        assert f"History of {ODD_ID}" in r.stdout
    r = _ok(cli("history", "--format", fmt, IDS[0]))
    _assert_shown(r.stdout, fmt, [TEXTS[0], TEXTS[2]])  # its name, and the seed's user


@pytest.mark.parametrize("fmt", FORMATS)
def test_unit_list_shows_unit_names_as_written(programme, cli, fmt):
    for i, text in enumerate(TEXTS):
        r = _ok(cli("unit", "add", f"U[{i}]", text, "--note", text))
        assert f"business unit U[{i}] added" in r.stdout
    r = _ok(cli("unit", "list", "--format", fmt))
    _assert_shown(r.stdout, fmt, [*TEXTS, "U[0]"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_target_history_shows_users_and_notes_as_written(programme, cli, fmt):
    for i, text in enumerate(TEXTS):
        r = _ok(cli("target", "set", "-m", "benefit", "--amount", str(1000 + i), "--fy", "FY27",
                    "--note", text, "--user", text))
        assert "recorded as revision" in r.output
    r = _ok(cli("target", "show", "-m", "benefit", "--history", "--format", fmt))
    _assert_shown(r.stdout, fmt, TEXTS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_bridge_detail_shows_initiative_names_and_ids_as_written(programme, cli, fmt):
    r0 = _ok(cli("bridge", "--from", "2000-01-01"))  # an instant before anything was written
    assert "start total" in r0.stdout
    _seed(programme)
    r = _ok(cli("bridge", "--from", "2000-01-01", "--detail", "--format", fmt))
    _assert_shown(r.stdout, fmt, [*TEXTS, ODD_ID])


def test_phasing_export_and_import_show_owner_and_file_names_as_written(programme, cli,
                                                                        tmp_path):
    _seed(programme)
    owner = TEXTS[0]
    out = tmp_path / "Okafor [contractor] [bold] :thumbs_up:.xlsx"
    r = _ok(cli("phasing", "export", "--owner", owner, "--out", str(out)))
    assert f"wrote {out}: 1 initiative of {owner}" in r.stdout
    wb = load_workbook(out)
    wb["Initiatives"]["J5"] = 321  # Jul-26 of its one initiative
    wb.save(out)
    r = _ok(cli("phasing", "import", str(out), "--note", TEXTS[2], "--user", TEXTS[5]))
    assert f"{out.name}: {owner}'s 1 initiative," in r.stdout
    assert "submission" in r.stdout
    assert plan_of(programme, IDS[0])["2026-07"] == Decimal("321.00")


def test_phasing_set_shows_an_id_that_looks_like_markup_as_written(programme, cli):
    _seed(programme)
    r = _ok(cli("phasing", "set", ODD_ID, "--month", "2026-09", "--amount", "5",
                "--note", TEXTS[1], "--user", TEXTS[3]))
    assert f"{ODD_ID} 2026-09 benefit plan: (empty) -> 5.00 (submission" in r.stdout
    r = _ok(cli("stage", "set", ODD_ID, "L4", "--note", TEXTS[4]))
    assert f"{ODD_ID}: L3 -> L4 (submission" in r.stdout


def test_a_message_naming_ledger_text_stays_one_line_in_a_narrow_terminal(
        programme, cli, monkeypatch, tmp_path):
    """Scripts read these lines: a long owner or path is not broken over two."""
    from tledger.cli import common

    _seed(programme)
    monkeypatch.setattr(common.console, "width", 40)
    out = tmp_path / ("long " * 12 + "[bold].xlsx")
    r = _ok(cli("phasing", "export", "--owner", TEXTS[1], "--out", str(out)))
    assert r.stdout.startswith(f"wrote {out}: 1 initiative of {TEXTS[1]}, ")
    assert r.stdout.count("\n") == 1
    r = _ok(cli("phasing", "set", ODD_ID, "--month", "2026-09", "--amount", "5",
                "--note", "x" * 80))
    assert r.stdout.count("\n") == 1
    assert r.stdout.startswith(f"{ODD_ID} 2026-09 ")


def test_an_error_naming_markup_text_shows_it_as_written(programme, cli):
    _seed(programme)
    for text in (TEXTS[0], TEXTS[5], "[link=https://example.invalid]y"):
        r = cli("history", text)
        assert r.exit_code != 0
        assert r.stderr.startswith("error: "), r.stderr
        assert text in r.stderr, r.stderr
        assert "Traceback" not in r.output


# ------------------------------------------------------------ a real terminal
def _tledger(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("TLEDGER_")}
    child.update(TLEDGER_DATABASE_URL=url, TLEDGER_USER="child", COLUMNS="1000",
                 PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-c", "from tledger.cli import main; main()",
                           *args], env=child, capture_output=True, timeout=120, check=False)


def test_a_forced_terminal_gets_no_hyperlink_and_the_text_as_written(programme, db_url):
    _seed(programme)
    for args in (["gap", "--by", "owner"], ["history", IDS[2]],
                 ["bridge", "--from", "2000-01-01", "--detail"]):
        proc = _tledger(db_url, *args, FORCE_COLOR="1", TTY_COMPATIBLE="1")
        out = proc.stdout.decode()
        assert proc.returncode == 0, proc.stderr.decode()
        assert "\x1b[" in out, "the terminal was not forced: colours expected"
        assert HYPERLINK not in out
        shown = SGR.sub("", out)
        for text in (TEXTS if args[0] != "history" else [TEXTS[0], TEXTS[2]]):
            assert text in shown, (args, text)


def test_an_import_progress_bar_shows_the_file_name_as_written(programme, db_url, tmp_path):
    """On a terminal, stderr gets a progress bar naming the workbook being read."""
    from reliability.support import MONTHS, pipeline_workbook

    book = pipeline_workbook(tmp_path / "Lima [bold] [link=mailto:x@example.invalid]y.xlsx",
                             [{"id": "GR-0100", "name": TEXTS[1], "owner": TEXTS[0],
                               "amounts": [100] * len(MONTHS)}])
    proc = _tledger(db_url, "import", "initiatives", str(book), "--note", TEXTS[3],
                    FORCE_COLOR="1", TTY_COMPATIBLE="1")
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    # The bar is redrawn on a timer: which step it last showed depends on the machine.
    assert re.search(r"(reading|checking|writing) Lima \[bold\] "
                     r"\[link=mailto:x@example\.invalid\]y\.xlsx", SGR.sub("", err)), err
    assert HYPERLINK not in err
    assert HYPERLINK not in proc.stdout.decode()


# ------------------------------------------------------------ output lost after a commit
class _Broken:
    """A console whose printing fails as a closed pipe or a Rich error would."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise self.error


def _break_printing(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    from tledger.cli import common

    monkeypatch.setattr(common.console, "print", _Broken(error))


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"),
                                   UnicodeEncodeError("ascii", "é", 0, 1, "no"),
                                   KeyboardInterrupt()],
                         ids=["broken-pipe", "encoding", "interrupt"])
def test_a_single_edit_whose_output_fails_still_exits_0_and_says_it_was_saved(
        programme, cli, monkeypatch, error):
    _seed(programme)
    _break_printing(monkeypatch, error)
    r = cli("phasing", "set", IDS[0], "--month", "2026-10", "--amount", "77")
    assert r.exit_code == 0, r.output
    assert re.fullmatch(r"tledger: the change WAS saved \(submission \d+\), but printing its "
                        r"summary failed \(\w+.*\)\n", r.stderr), r.stderr
    assert plan_of(programme, IDS[0])["2026-10"] == Decimal("77.00")


def test_an_owner_workbook_import_whose_output_fails_still_exits_0(programme, cli,
                                                                   monkeypatch, tmp_path):
    from rich.errors import MarkupError

    _seed(programme)
    out = tmp_path / "ana.xlsx"
    # The forecast: GR-0099 is at L3, so its plan is committed and locked in the workbook.
    _ok(cli("phasing", "export", "--owner", "Ana Lima", "--scenario", "forecast",
            "--out", str(out)))
    wb = load_workbook(out)
    wb["Initiatives"]["K5"] = 55  # Aug-26
    wb.save(out)
    _break_printing(monkeypatch, MarkupError("closing tag '[/interim]' has nothing to close"))
    r = cli("phasing", "import", str(out))
    assert r.exit_code == 0, r.output
    assert "the change WAS saved (submission" in r.stderr
    assert "MarkupError" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert plan_of(programme, ODD_ID, "forecast")["2026-08"] == Decimal("55.00")


def test_a_target_revision_whose_output_fails_still_exits_0(programme, cli, monkeypatch):
    _break_printing(monkeypatch, BrokenPipeError(32, "Broken pipe"))
    r = cli("target", "set", "-m", "benefit", "--amount", "1200", "--fy", "FY27", "--note", "b")
    assert r.exit_code == 0, r.output
    assert "the change WAS saved (submission" in r.stderr
    from ledger.targets import target_summary

    assert len(target_summary(programme)) == 1


def test_a_read_whose_output_fails_is_still_a_failure(programme, cli, monkeypatch):
    """Nothing was written, so nothing claims it was: the failure stays a failure."""
    _seed(programme)
    with monkeypatch.context() as patched:
        _break_printing(patched, BrokenPipeError(32, "Broken pipe"))
        r = cli("gap", "--by", "owner")
    assert r.exit_code == 1
    assert "WAS saved" not in r.output
    r = _ok(cli("gap", "--by", "owner", "--format", "csv"))
    assert "WAS saved" not in r.output


def test_a_single_edit_into_a_closed_pipe_exits_0_and_is_saved(programme, db_url):
    """A real process whose stdout is a pipe nobody reads any more (``| head -0``)."""
    _seed(programme)
    read, write = os.pipe()
    child = {k: v for k, v in os.environ.items() if not k.startswith("TLEDGER_")}
    child.update(TLEDGER_DATABASE_URL=db_url, TLEDGER_USER="child", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", "from tledger.cli import main; main()",
                             "phasing", "set", IDS[1], "--month", "2026-11", "--amount", "9"],
                            env=child, stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    os.close(read)  # before the child, still starting, prints anything
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    lines = err.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tledger: the change WAS saved (submission ")
    assert "BrokenPipeError" in lines[0]
    assert plan_of(programme, IDS[1])["2026-11"] == Decimal("9.00")


def test_the_demo_shows_a_directory_that_looks_like_markup_as_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo makes its own SQLite ledger: one run, no backend."""
    from typer.testing import CliRunner

    from tledger.cli import app

    monkeypatch.delenv("TLEDGER_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    where = "demo [bold] :thumbs_up: Ana\\"
    r = CliRunner().invoke(app, ["demo", "--dir", where], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert f"tledger gap --db {where}/demo.db" in r.stdout
    assert f"  report     {where}/gap-report.xlsx" in r.stdout
    assert "Checks:" in r.stdout
    assert HYPERLINK not in r.stdout


def test_text_the_terminal_cannot_encode_is_one_clear_line_or_a_saved_change(programme,
                                                                              db_url):
    """A C locale or a Windows code page cannot show every name: a read says so in one
    line (replacing the character would change what a script reads); a write still
    stands."""
    programme.add_business_unit("NG", "Nguy\u1ec5n \u2603", user="setup")
    for fmt in FORMATS:
        proc = _tledger(db_url, "unit", "list", "--format", fmt, PYTHONIOENCODING="ascii")
        err = proc.stderr.decode()
        assert proc.returncode == 1, err
        assert err.splitlines() == [
            "error: cannot print '\\u1ec5' in the encoding of this terminal or pipe (ascii): "
            "set PYTHONIOENCODING=utf-8 (or a UTF-8 locale) and run again"], err
    proc = _tledger(db_url, "lever", "add", "N\u2603", PYTHONIOENCODING="ascii")
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert err.startswith("tledger: the lever WAS added, but printing its summary failed "
                          "(UnicodeEncodeError")
    assert len(err.splitlines()) == 1
    assert "N\u2603" in set(programme.levers()["code"])


def test_a_single_edit_with_stdout_closed_exits_0_and_is_saved(programme, db_url):
    """Started with no stdout at all (``>&-``): nothing can be printed, nothing fails."""
    _seed(programme)
    child = {k: v for k, v in os.environ.items() if not k.startswith("TLEDGER_")}
    child.update(TLEDGER_DATABASE_URL=db_url, TLEDGER_USER="child", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", "from tledger.cli import main; main()",
         "phasing", "set", IDS[2], "--month", "2026-12", "--amount", "8"],
        env=child, stderr=subprocess.PIPE, timeout=120, check=False,
        preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()
    assert plan_of(programme, IDS[2])["2026-12"] == Decimal("8.00")

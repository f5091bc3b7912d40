"""`tledger` starts without the heavy libraries: `import tledger.cli`, `--help` of the
tool and of its groups, and usage errors load no pandas, numpy, SQLAlchemy, Alembic or
workbook library. Commands import those themselves when they run.

Each check runs in a fresh interpreter, since this test process has long imported them.
Nothing here is timed: the modules loaded are what is asserted.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "numpy", "sqlalchemy", "alembic", "xlsxwriter", "openpyxl",
         "python_calamine")
REPO = Path(__file__).resolve().parent.parent

#: Runs ``tledger ARGV...`` through ``tledger.cli.main`` and prints, as its last line on
#: stdout, the exit code and which heavy modules were loaded by then.
_RUN = f"""
import json, sys
import tledger.cli
heavy = {HEAVY!r}
code = 0
try:
    tledger.cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("\\nRESULT " + json.dumps({{"code": code,
                                  "heavy": sorted(m for m in heavy if m in sys.modules)}}))
"""


def _tledger(*argv: str, cwd: Path = REPO) -> tuple[int, list[str], str, str]:
    """Exit code, heavy modules loaded, stdout (without the result line) and stderr."""
    proc = subprocess.run([sys.executable, "-c", _RUN, *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    assert last.startswith("RESULT "), proc.stdout + proc.stderr
    result = json.loads(last.removeprefix("RESULT "))
    return result["code"], result["heavy"], out, proc.stderr


def test_import_ledger_cli_loads_no_heavy_library() -> None:
    probe = (f"import sys, tledger.cli; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
             )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"


def test_import_of_a_heavy_library_is_seen() -> None:
    """The probe itself can fail: a command that needs pandas is reported as loading it."""
    code, heavy, _, err = _tledger("gap", "--db", "/nonexistent-folder/ledger.db")
    assert code == 1
    assert "error: folder /nonexistent-folder does not exist" in err
    assert "pandas" in heavy
    assert "sqlalchemy" in heavy


def test_help_lists_the_commands_without_heavy_libraries() -> None:
    code, heavy, out, _ = _tledger("--help")
    assert code == 0
    assert heavy == []
    for command in ("init", "db", "programme", "unit", "lever", "stage", "metric", "target",
                    "import", "template", "phasing", "history", "bridge", "gap", "checks",
                    "report", "demo", "verify"):
        assert f"\n  {command} " in out, f"{command} missing from --help:\n{out}"
    assert "Transformation target ledger" in out


def test_import_initiatives_help_without_heavy_libraries() -> None:
    code, heavy, out, _ = _tledger("import", "initiatives", "--help")
    assert code == 0
    assert heavy == []
    assert "Import initiative workbooks" in out
    for option in ("--mapping", "--mode", "--scale", "--dry-run", "--report", "--force",
                   "--format", "--db", "--user", "--note"):
        assert option in out


@pytest.mark.parametrize("group", ["gap", "checks", "target", "target set", "phasing",
                                   "phasing export", "report gap", "template initiatives",
                                   "db", "programme show", "stage", "metric add", "history",
                                   "bridge", "demo", "verify", "db grant"])
def test_group_and_command_help_without_heavy_libraries(group: str) -> None:
    code, heavy, out, _ = _tledger(*group.split(), "--help")
    assert code == 0
    assert heavy == []
    assert "Usage: " in out
    assert group in out


@pytest.mark.parametrize("argv", [["--no-such-option"], ["gap", "--no-such-option"],
                                  ["no-such-command"], ["gap", "--format", "xml"]])
def test_usage_error_exits_2_without_heavy_libraries(argv: list[str]) -> None:
    code, heavy, _, err = _tledger(*argv)
    assert code == 2
    assert heavy == []
    assert "Error:" in err
    assert "Usage:" in err


def test_commands_import_what_they_need_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """Each command loads its own libraries: a fresh interpreter runs them end to end."""
    db = str(tmp_path / "ledger.db")
    steps = [
        ["init", "--db", db],
        ["programme", "create", "--name", "Cost 2028", "--from", "2026-07", "--to", "2027-06",
         "--db", db],
        ["unit", "add", "PRO", "Processing", "--db", db],
        ["target", "set", "-m", "benefit", "--amount", "1200", "--fy", "FY27", "--note",
         "board", "--db", db, "--format", "csv"],
        ["target", "list", "--db", db, "--format", "csv"],
        ["metric", "list", "--db", db, "--format", "json"],
        ["gap", "--db", db, "--format", "csv"],
        ["gap", "--db", db],
        ["checks", "--db", db, "--format", "csv"],
        ["db", "current", "--db", db],
        ["verify", "--db", db],
    ]
    outputs = []
    for argv in steps:
        code, heavy, out, err = _tledger(*argv, cwd=tmp_path)
        assert code == 0, (argv, out, err)
        assert "pandas" in heavy, argv
        assert "sqlalchemy" in heavy, argv
        outputs.append(out)
    assert "2026-07,100.00" in outputs[3]
    assert '"code": "benefit"' in outputs[5]
    assert "2026-07" in outputs[6]
    assert "100.00" in outputs[6]
    assert "Gap: benefit" in outputs[7]
    assert "up to date" in outputs[9]


def test_database_error_is_one_line_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """SQLAlchemy's errors reaching the top-level group are still one line, although the
    group no longer imports SQLAlchemy up front: a ledger whose lever table is gone makes
    `programme show` fail in its own query."""
    db = str(tmp_path / "ledger.db")
    for argv in (["init", "--db", db],
                 ["programme", "create", "--name", "X", "--from", "2026-07", "--to", "2027-06",
                  "--db", db]):
        assert _tledger(*argv, cwd=tmp_path)[0] == 0
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE lever")
    code, heavy, out, err = _tledger("programme", "show", "--db", db, cwd=tmp_path)
    assert code == 1
    assert err == f"error: database error on sqlite:///{db}: no such table: lever\n"
    assert out == ""
    assert "sqlalchemy" in heavy


_OTHER_ERRORS = """
import sys
import typer
from tledger.cli import app, main

@app.command("boom")
def boom() -> None:
    raise ValueError("not a database error")

@app.command("exit3")
def exit3() -> None:
    raise typer.Exit(3)

@app.command("abort")
def abort() -> None:
    raise typer.Abort()

try:
    main(sys.argv[1:])
except SystemExit as exc:
    print("exit", exc.code)
except ValueError as exc:
    print("raised", type(exc).__name__, exc)
"""


@pytest.mark.parametrize(("command", "expected", "stderr"), [
    ("boom", "raised ValueError not a database error", ""),
    ("exit3", "exit 3", ""),
    ("abort", "exit 1", "Aborted!"),
])
def test_other_exceptions_pass_the_group_unchanged(command: str, expected: str,
                                                    stderr: str) -> None:
    """Without SQLAlchemy loaded, and with it loaded, what is not a database error leaves
    the group as it came: a bug's exception, typer.Exit's code, Abort."""
    for preload in ("", "import sqlalchemy.exc; "):
        proc = subprocess.run([sys.executable, "-c", preload + _OTHER_ERRORS, command],
                              cwd=REPO, capture_output=True, text=True, timeout=120,
                              check=True)
        assert proc.stdout.strip() == expected
        assert proc.stderr.strip() == stderr

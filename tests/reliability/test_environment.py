"""Mistakes in tledger's surroundings end in one line and exit code 1, never a traceback.

A full disk, a ledger written by a newer tledger, a bad ``TLEDGER_*`` setting, a file name
with ``?`` or ``#`` in it, a corrupted SQLite file, several ``tledger init`` at once: each
is made for real (a 4 MB tmpfs filled up, pages of a real ledger overwritten, concurrent
processes) and run through the real ``tledger`` command.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from importers import import_initiatives
from ledger.api import Ledger
from ledger.db import make_engine, resolve_url
from ledger.errors import LedgerTooNew, StorageFull
from ledger.settings import SettingError, parse_count, parse_duration, parse_size
from migrations import HEAD, head_revision, known_revisions
from reliability.support import (
    MONTHS,
    TLEDGER,
    child_env,
    current_facts,
    pipeline_workbook,
    record,
    setup_programme,
    snapshot,
)


def _tledger(*args: str, env: dict[str, str], cwd: Path | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TLEDGER, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def _one_line_error(proc: subprocess.CompletedProcess[str] | Any, *needles: str) -> str:
    """The single ``error: ...`` line a failed command printed; checks it holds ``needles``."""
    err = proc.stderr
    assert "Traceback" not in err + proc.stdout, err
    code = proc.returncode if hasattr(proc, "returncode") else proc.exit_code
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _rows(n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"id": f"GR-{i:04d}", "name": f"Initiative {i}",
             "amounts": [rng.randint(1, 10**6) for _ in MONTHS]} for i in range(n)]


# ------------------------------------------------------------------ settings

@pytest.mark.parametrize(("raw", "seconds"), [("30", 30.0), ("30s", 30.0), ("500ms", 0.5),
                                              ("2m", 120.0), ("0.2", 0.2), (" 1h ", 3600.0),
                                              ("0", 0.0)])
def test_durations_accept_seconds_and_units(raw: str, seconds: float) -> None:
    assert parse_duration("TLEDGER_BUSY_TIMEOUT", raw) == seconds


@pytest.mark.parametrize("raw", ["nan", "inf", "-1", "-5s", "30x", "1e3", "s", "30 s 2"])
def test_a_bad_duration_names_the_variable_the_value_and_what_is_accepted(raw: str) -> None:
    with pytest.raises(SettingError) as info:
        parse_duration("TLEDGER_BUSY_TIMEOUT", raw)
    assert str(info.value) == (f"environment variable TLEDGER_BUSY_TIMEOUT={raw!r}: expected "
                               "a duration such as 30, 30s, 500ms or 2m (seconds unless ms, s, "
                               "m or h follows; not negative)")


@pytest.mark.parametrize(("raw", "size"), [("1073741824", 1 << 30), ("1G", 1 << 30),
                                           ("512M", 512 << 20), ("1GiB", 1 << 30),
                                           ("1gb", 10**9), ("64k", 65536), ("1.5K", 1536),
                                           ("100B", 100)])
def test_sizes_accept_bytes_and_units(raw: str, size: int) -> None:
    assert parse_size("TLEDGER_IMPORT_MAX_BYTES", raw) == size


@pytest.mark.parametrize("raw", ["abc", "nan", "inf", "-1", "1X", "0.5", "1e9", "x" * 200])
def test_a_bad_size_is_refused_in_one_line(raw: str) -> None:
    with pytest.raises(SettingError) as info:
        parse_size("TLEDGER_IMPORT_MAX_BYTES", raw)
    message = str(info.value)
    assert message.startswith("environment variable TLEDGER_IMPORT_MAX_BYTES=")
    assert "expected a size in bytes such as 1073741824, 512M, 1G or 1GiB" in message
    assert "\n" not in message
    assert len(message) < 220


def test_counts_accept_whole_numbers_only() -> None:
    assert parse_count("TLEDGER_IMPORT_MAX_CELLS", "30_000_000") == 30_000_000
    for raw in ["abc", "-1", "1.5", "nan", "1e6"]:
        with pytest.raises(SettingError, match="TLEDGER_IMPORT_MAX_CELLS"):
            parse_count("TLEDGER_IMPORT_MAX_CELLS", raw)


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("TLEDGER_BUSY_TIMEOUT", "nan", "a duration such as 30, 30s, 500ms or 2m"),
    ("TLEDGER_BUSY_TIMEOUT", "-3", "a duration such as 30, 30s, 500ms or 2m"),
    ("TLEDGER_IMPORT_MAX_BYTES", "lots", "a size in bytes such as 1073741824"),
    ("TLEDGER_IMPORT_MAX_CELLS", "abc", "a whole number such as 30000000"),
    ("TLEDGER_SQLITE_JOURNAL", "wall", "one of wal, delete, truncate, persist"),
    ("TLEDGER_BULK_LOAD_MIN_FACTS", "many", "a whole number"),
])
def test_a_bad_setting_stops_an_import_in_one_line_and_writes_nothing(
        variable: str, value: str, expected: str, programme: Ledger, db_url: str,
        tmp_path: Path) -> None:
    if variable == "TLEDGER_SQLITE_JOURNAL" and not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no journal mode")
    book = pipeline_workbook(tmp_path / "in.xlsx", _rows(3))
    before = snapshot(db_url)
    proc = _tledger("import", "initiatives", str(book), env=child_env(db_url, **{variable: value}))
    _one_line_error(proc, f"environment variable {variable}={value!r}: expected {expected}")
    assert snapshot(db_url) == before


def test_settings_with_units_are_used(programme: Ledger, db_url: str, tmp_path: Path) -> None:
    book = pipeline_workbook(tmp_path / "in.xlsx", _rows(3))
    env = child_env(db_url, TLEDGER_BUSY_TIMEOUT="30s", TLEDGER_IMPORT_MAX_BYTES="1G",
                    TLEDGER_IMPORT_MAX_CELLS="30_000_000")
    proc = _tledger("import", "initiatives", str(book), env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(current_facts(db_url)) == 3 * len(MONTHS)
    other = pipeline_workbook(tmp_path / "other.xlsx", _rows(3, seed=5))
    small = child_env(db_url, TLEDGER_IMPORT_MAX_BYTES="1K")
    proc = _tledger("import", "initiatives", str(other), env=small)
    _one_line_error(proc, "at most 1,024 (TLEDGER_IMPORT_MAX_BYTES)")


# ------------------------------------------------------------------ a full disk

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB file system (tmpfs), unmounted afterwards."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` until ``leave`` bytes (or fewer) are free."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with filler.open("wb") as out:
        try:
            out.write(b"\0" * max(0, free - leave))
            out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_ends_an_import_and_a_single_edit_in_one_line(small_disk: Path,
                                                                  tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk / 'ledger.db'}"
    Ledger.init(url).dispose()
    setup_programme(url)
    env = child_env(url)
    small = pipeline_workbook(tmp_path / "small.xlsx", _rows(3))
    assert _tledger("import", "initiatives", str(small), env=env).returncode == 0
    big = pipeline_workbook(tmp_path / "big.xlsx", _rows(400, seed=1))
    before = snapshot(url)

    # Room for the journal to start, not for 400 initiatives: SQLite says "full".
    filler = _fill(small_disk, leave=200_000)
    proc = _tledger("import", "initiatives", str(big), env=env)
    _one_line_error(proc, f"cannot write to {url}: the disk is full (",
                    "); nothing was written")
    # An API caller gets it as a LedgerError too, not as a raw driver error.
    led = Ledger.open(url)
    with pytest.raises(StorageFull, match="the disk is full"):
        import_initiatives(led, [big], user="api")
    led.dispose()
    # No room at all: SQLite can only say "disk I/O error"; tledger sees the disk is full.
    filler.unlink()
    filler = _fill(small_disk, leave=0)
    proc = _tledger("phasing", "set", "GR-0001", "--month", "2027-03", "--amount", "5", env=env)
    _one_line_error(proc, f"cannot write to {url}: the disk is full (",
                    "); nothing was written")
    filler.unlink()
    assert snapshot(url) == before
    assert _tledger("import", "initiatives", str(big), env=env).returncode == 0
    record("environment: full disks met", 2, backend="sqlite")


# ------------------------------------------------------------------ a newer schema

@pytest.mark.parametrize("command", [
    ["init"], ["db", "upgrade"], ["db", "current"], ["gap"], ["checks"], ["programme", "show"],
    ["phasing", "set", "GR-0001", "--month", "2027-03", "--amount", "5"],
])
def test_a_ledger_from_a_newer_tledger_is_refused_by_every_command(
        command: list[str], db_url: str, cli: Any) -> None:
    engine = make_engine(resolve_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    r = cli(*command)
    _one_line_error(r, "was written by a newer tledger (schema revision 0099); upgrade tledger")
    with make_engine(resolve_url(db_url)).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0099"


def test_the_api_refuses_to_migrate_a_ledger_from_a_newer_tledger(db_url: str) -> None:
    led = Ledger.open(db_url)
    with led.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(LedgerTooNew):
        led.upgrade()
    led.dispose()


def test_known_revisions_are_the_migration_scripts() -> None:
    from alembic.config import Config  # noqa: F401  (Alembic is what the list must match)
    from alembic.script import ScriptDirectory

    from migrations import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert known_revisions() == {rev.revision for rev in scripts.walk_revisions()}
    assert HEAD in known_revisions()
    assert head_revision() == HEAD


# ------------------------------------------------------------------ literal file names

@pytest.mark.parametrize("name", ["budget?v2.db", "plan#3.db", "100%.db", "a b?c=d&e.db"])
def test_a_plain_path_is_the_file_name_exactly(name: str, tmp_path: Path) -> None:
    env = child_env("unused")
    env.pop("TLEDGER_DATABASE_URL")
    first, last = f"{MONTHS[0]:%Y-%m}", f"{MONTHS[-1]:%Y-%m}"
    for args in (["init", "--db", name],
                 ["programme", "create", "--name", "X", "--from", first, "--to", last,
                  "--db", name],
                 ["gap", "--db", name]):
        proc = _tledger(*args, env=env, cwd=tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        if args[0] == "init":  # messages name the file as the user wrote it
            assert f"ledger ready at sqlite:///{name} (schema {HEAD})" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db"
                  or p.name == name) == [name]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no "budget", no "-wal" left over
    # The same path through the environment, as an absolute path.
    env["TLEDGER_DATABASE_URL"] = str(tmp_path / name)
    proc = _tledger("programme", "show", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "X" in proc.stdout, proc.stderr
    assert resolve_url(str(tmp_path / name)).startswith("sqlite:///")


# ------------------------------------------------------------------ a damaged file

@pytest.fixture
def filled_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger.init(url).dispose()
    setup_programme(url)
    book = pipeline_workbook(tmp_path / "in.xlsx", _rows(200))
    assert _tledger("import", "initiatives", str(book), env=child_env(url)).returncode == 0
    return url


def _leaf_pages(url: str, name: str) -> list[int]:
    """The leaf pages of table or index ``name`` (SQLite's ``dbstat``)."""
    with sqlite3.connect(Path(url.removeprefix("sqlite:///"))) as raw:
        return [int(r[0]) for r in raw.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
            (name,))]


def _overwrite_pages(url: str, pages: list[int]) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as raw:
        size = int(raw.execute("PRAGMA page_size").fetchone()[0])
    rng = random.Random(12)
    with path.open("r+b") as f:
        for page in pages:  # 1-based, as SQLite numbers them
            f.seek((page - 1) * size)
            f.write(bytes(rng.randrange(256) for _ in range(size)))


def test_checks_report_a_damaged_file_that_still_answers_gap(filled_sqlite: str) -> None:
    url = filled_sqlite
    # The index of "as of" queries: today's gap report never reads it.
    _overwrite_pages(url, _leaf_pages(url, "ix_phasing_valid_from")[:2])
    env = child_env(url)
    # The damage is where a gap report does not look: it answers as if all were well.
    assert _tledger("gap", "--format", "csv", env=env).returncode == 0
    proc = _tledger("checks", "--format", "csv", env=env)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 1, proc.stderr
    assert "ledger_damaged,error" in proc.stdout, proc.stdout
    assert "restore the ledger from a backup" in proc.stdout, proc.stdout
    record("environment: damaged files found by checks", 1, backend="sqlite")


@pytest.mark.parametrize(("damage", "found"), [
    ("header", "file is not a database"),
    ("schema", "malformed"),
])
def test_a_damaged_file_ends_every_command_in_one_line(filled_sqlite: str, damage: str,
                                                       found: str) -> None:
    path = Path(filled_sqlite.removeprefix("sqlite:///"))
    with path.open("r+b") as f:
        if damage == "header":
            f.write(b"\x13" * 16)  # the magic string "SQLite format 3\0"
        else:
            f.seek(100)  # page 1 after the file header: the schema table's root
            f.write(bytes(random.Random(3).randrange(256) for _ in range(3000)))
    for args in (["gap"], ["checks"], ["db", "current"], ["init"]):
        proc = _tledger(*args, env=child_env(filled_sqlite))
        line = _one_line_error(proc, found, "restore it from a backup")
        assert "is damaged" in line


# ------------------------------------------------------------------ concurrent init

def _race_inits(url: str, n: int) -> list[subprocess.CompletedProcess[str]]:
    env = child_env(url)
    procs = [subprocess.Popen([TLEDGER, "init"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_concurrent_inits_all_end_with_one_ledger(backend: str, databases: Any,
                                                  tmp_path: Path) -> None:
    url = (f"sqlite:///{tmp_path / f'race-{uuid.uuid4().hex[:6]}.db'}" if backend == "sqlite"
           else databases.postgres(migrated=False))
    try:
        results = _race_inits(url, 4)
        for r in results:
            assert r.returncode == 0, r.stderr
            assert "Traceback" not in r.stderr, r.stderr
            assert f"(schema {HEAD})" in r.stdout
        engine = make_engine(resolve_url(url))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars(
                ).all() == [HEAD]
            assert conn.execute(text("SELECT COUNT(*) FROM ledger_identity")).scalar() == 1
        engine.dispose()
        record("environment: concurrent inits", len(results), backend=backend)
    finally:
        databases.drop(url)

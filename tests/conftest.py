"""Shared fixtures: every ledger test runs on SQLite and, when
``TLEDGER_TEST_POSTGRES_URL`` is set, on PostgreSQL too.

Each test gets its own database: a copy of a migrated SQLite file, or a PostgreSQL database
created from a migrated template (``CREATE DATABASE ... TEMPLATE``), so tests and parallel
runs (pytest-xdist workers, several developers) never collide. A PostgreSQL database a test
has finished with is emptied back to the template's state and handed to the worker's next
test when its catalogue is still the template's (``helpers/pg_reuse.py``), else dropped. Set
``TLEDGER_REQUIRE_POSTGRES=1`` (as ``.ci/run`` does) to fail instead of skipping when
PostgreSQL is not configured.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from helpers import clock
from helpers.pg_reuse import Template
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from ledger.api import Ledger
from ledger.db import resolve_url

PG_URL = os.environ.get("TLEDGER_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("TLEDGER_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the machine has cores. The suite waits a third of
    its time on PostgreSQL, LibreOffice, Chromium and child processes (on 2 cores: 11 min
    of CPU in 9 min with 2 workers); a third worker fills those waits (8 min)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if REQUIRE_PG and not PG_URL:
        raise pytest.UsageError(
            "TLEDGER_REQUIRE_POSTGRES=1 but TLEDGER_TEST_POSTGRES_URL is not set"
        )


def _admin_engine():  # type: ignore[no-untyped-def]
    assert PG_URL
    return create_engine(resolve_url(PG_URL), isolation_level="AUTOCOMMIT")


def _pg_url_for(name: str) -> str:
    assert PG_URL
    return make_url(resolve_url(PG_URL)).set(database=name).render_as_string(hide_password=False)


class _Databases:
    """Creates migrated databases for tests, cheaply, from a per-process template."""

    def __init__(self, tmp_root: Path) -> None:
        self.tmp_root = tmp_root
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._template: Template | None = None
        self._created_pg: list[str] = []
        self._migrated_pg: set[str] = set()
        self._free_pg: list[str] = []
        """Migrated databases emptied back to the template's state, ready for a test."""
        self.tag = uuid.uuid4().hex[:10]

    def sqlite(self, dest: Path, migrated: bool = True) -> str:
        if not migrated:
            return f"sqlite:///{dest}"
        if self._sqlite_template is None:
            tpl = self.tmp_root / f"template-{self.tag}.db"
            led = Ledger.init(f"sqlite:///{tpl}")
            led.dispose()
            self._sqlite_template = tpl
        shutil.copyfile(self._sqlite_template, dest)
        return f"sqlite:///{dest}"

    def postgres(self, migrated: bool = True) -> str:
        if not PG_URL:
            if REQUIRE_PG:
                pytest.fail("PostgreSQL required but TLEDGER_TEST_POSTGRES_URL is not set")
            pytest.skip("TLEDGER_TEST_POSTGRES_URL not set")
        if migrated and self._free_pg:
            return _pg_url_for(self._free_pg.pop())
        admin = _admin_engine()
        name = f"tl_{self.tag}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            if migrated:
                if self._pg_template is None:
                    tpl = f"tl_tpl_{self.tag}"
                    conn.execute(text(f'CREATE DATABASE "{tpl}"'))
                    led = Ledger.init(_pg_url_for(tpl))
                    led.dispose()
                    self._pg_template = tpl
                    self._created_pg.append(tpl)
                    self._template = Template(_pg_url_for(tpl))
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._pg_template}"'))
                self._migrated_pg.add(name)
            else:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self._created_pg.insert(0, name)
        return _pg_url_for(name)

    def drop(self, url: str) -> None:
        if not url.startswith("postgresql"):
            return
        name = make_url(url).database
        if name in self._migrated_pg and name not in self._free_pg and \
                self._template is not None and self._template.reset(url):
            self._free_pg.append(name)
            return
        self._migrated_pg.discard(name)
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if name in self._created_pg:
            self._created_pg.remove(name)

    def drop_all(self) -> None:
        self._migrated_pg.clear()
        for name in list(self._created_pg):
            self.drop(_pg_url_for(name))


@pytest.fixture(autouse=True)
def stepping_clock() -> Iterator[None]:
    """Submissions in this process get distinct, increasing instants (tests/helpers/clock.py),
    so a test takes an instant between two writes with ``between()`` instead of sleeping."""
    clock.install()
    yield
    clock.uninstall()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Databases]:
    dbs = _Databases(tmp_path_factory.mktemp("templates"))
    yield dbs
    if PG_URL:
        dbs.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: tests using it run once per backend."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, databases: _Databases, tmp_path: Path) -> Iterator[str]:
    """A fresh ledger database migrated to head, with no programme yet."""
    url = databases.sqlite(tmp_path / "ledger.db") if backend == "sqlite" else databases.postgres()
    yield url
    databases.drop(url)


@pytest.fixture
def empty_db_url(backend: str, databases: _Databases, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: no tables, no ledger."""
    if backend == "sqlite":
        url = databases.sqlite(tmp_path / "empty.db", migrated=False)
    else:
        url = databases.postgres(migrated=False)
    yield url
    databases.drop(url)


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """An open ledger (migrated, no programme yet)."""
    led = Ledger.open(db_url)
    yield led
    led.dispose()


#: The standard test programme: FY from July, two fiscal years.
STD_FIRST = date(2026, 7, 1)
STD_LAST = date(2028, 6, 1)


@pytest.fixture
def programme(ledger: Ledger) -> Ledger:
    """A ledger with the standard programme: "Cost 2028", AUD, FY from July, 2026-07 to
    2028-06; business units PRO and MIN; levers PROC, LAB, MAINT, ENERGY; default metrics
    ``benefit`` and ``cost`` (2 decimals) and ``volume`` (t, 3 decimals)."""
    ledger.create_programme(name="Cost 2028", currency="AUD", fy_start_month=7,
                            first_month=STD_FIRST, last_month=STD_LAST, user="setup")
    ledger.add_business_unit("PRO", "Processing", user="setup")
    ledger.add_business_unit("MIN", "Mining", user="setup")
    for code, name in [("PROC", "Procurement"), ("LAB", "Labour"), ("MAINT", "Maintenance"),
                       ("ENERGY", "Energy")]:
        ledger.add_lever(code, name, user="setup")
    ledger.add_metric(code="volume", name="Ore volume", unit="t", kind="benefit", decimals=3,
                      user="setup")
    return ledger


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``tledger`` in-process against the test's ledger (TLEDGER_DATABASE_URL set)."""
    from tledger.cli import app

    monkeypatch.setenv("TLEDGER_DATABASE_URL", db_url)
    monkeypatch.setenv("TLEDGER_USER", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def run(*args: str) -> CliResult:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run

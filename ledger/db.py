"""Connecting to a ledger: URLs, engines, schema checks and write transactions.

SQLite (a file) is the embedded default; PostgreSQL (psycopg 3) is the team engine.
Writers are serialised: on SQLite by ``BEGIN IMMEDIATE``, on PostgreSQL by a row lock on
the ledger's ``programme`` row (or the ``alembic_version`` row before a programme exists).
Submission ids therefore increase in commit order, which is what makes "as of" exact.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from ledger.errors import LedgerBusy, LedgerError, LedgerNotReady
from ledger.faults import pause_point

DEFAULT_SQLITE_FILE = "tledger.db"
#: How long a writer waits for another writer before "ledger is busy" (seconds).
BUSY_TIMEOUT_S = float(os.environ.get("TLEDGER_BUSY_TIMEOUT", "30"))
#: SQLite journal mode: ``wal`` (default) or a rollback journal (``delete``, ``truncate``,
#: ``persist``); TLEDGER_SQLITE_JOURNAL. Both keep a killed writer's transaction out.
SQLITE_JOURNAL = os.environ.get("TLEDGER_SQLITE_JOURNAL", "wal").strip().lower()
_JOURNAL_MODES = ("wal", "delete", "truncate", "persist")


def resolve_url(db: str | None = None) -> str:
    """The database URL: ``--db``, else ``TLEDGER_DATABASE_URL``, else ``./tledger.db``.

    A plain file path is taken as a SQLite file; ``postgresql://`` URLs use psycopg 3.
    """
    raw = db or os.environ.get("TLEDGER_DATABASE_URL") or DEFAULT_SQLITE_FILE
    if "://" not in raw:
        return f"sqlite:///{Path(raw)}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str, *, journal_mode: str | None = None) -> Engine:
    """An engine for ``url``, set up for the ledger's transaction discipline.

    ``journal_mode`` (SQLite only) defaults to ``TLEDGER_SQLITE_JOURNAL``, else ``wal``.
    """
    journal_mode = SQLITE_JOURNAL if journal_mode is None else journal_mode
    if journal_mode and journal_mode not in _JOURNAL_MODES:
        raise LedgerError(f"SQLite journal mode {journal_mode!r} (TLEDGER_SQLITE_JOURNAL): "
                          f"expected one of {', '.join(_JOURNAL_MODES)}")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerError(
            f"not a database URL: {url!r} (expected a file path, sqlite:///FILE "
            "or postgresql://USER@HOST/DB)"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, journal_mode=journal_mode)
    if backend == "postgresql":
        return create_engine(
            url,
            connect_args={"connect_timeout": 10},
            pool_pre_ping=False,
        )
    raise LedgerError(
        f"unsupported database {backend!r} in {describe_url(url)}: use SQLite or PostgreSQL"
    )


def _sqlite_engine(url: str, *, journal_mode: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        folder = Path(database).resolve().parent
        if not folder.is_dir():
            raise LedgerError(f"folder {folder} does not exist (for ledger file {database})")
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is possible.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if journal_mode:
            # A read-only file cannot switch modes: reads still work; writes fail clearly.
            with suppress(sqlite3.OperationalError):
                cur.execute(f"PRAGMA journal_mode = {journal_mode}")
        sync = "NORMAL" if journal_mode == "wal" else "FULL"
        cur.execute(f"PRAGMA synchronous = {sync}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("tledger_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_sqlite(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"


def translate_db_error(exc: Exception, url: str) -> LedgerError:
    """A one-line, actionable error for a database failure the user can fix."""
    msg = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)
    where = describe_url(url)
    low = msg.lower()
    if "database is locked" in low or "lock timeout" in low:
        return LedgerBusy(
            f"ledger is busy: another tledger process is writing to {where}; try again shortly"
        )
    if "readonly" in low or "read-only" in low:
        return LedgerError(f"cannot write to {where}: the file or its folder is read-only")
    if "unable to open database" in low:
        return LedgerError(f"cannot open {where}: check the path and its folder's permissions")
    if "connection" in low or "could not" in low or "does not exist" in low or "timeout" in low:
        return LedgerError(f"cannot connect to {where}: {msg}")
    return LedgerError(f"database error on {where}: {msg}")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read transaction: one consistent snapshot for everything read inside it."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction holding the ledger's write lock; commits on success.

    Everything written inside is one transaction: all of it lands, or none of it.

    Raises:
        LedgerBusy: another writer held the ledger longer than ``TLEDGER_BUSY_TIMEOUT``
            (for API callers too, not only the CLI: never a raw "database is locked").
    """
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(tledger_write=True)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    timeout_ms = int(BUSY_TIMEOUT_S * 1000)
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")
                    locked = conn.execute(
                        text("SELECT id FROM programme ORDER BY id LIMIT 1 FOR UPDATE")
                    ).first()
                    if locked is None:
                        conn.execute(text("LOCK TABLE programme IN EXCLUSIVE MODE"))
                from ledger import chain

                chain.start(conn)
                yield conn
                chain.seal(conn)  # hash what this transaction wrote, as part of it
                pause_point("before_commit")  # test-only (ledger.faults)
    except OperationalError as exc:
        busy = translate_db_error(exc, str(engine.url))
        if isinstance(busy, LedgerBusy):
            raise busy from exc
        raise


def schema_state(engine: Engine) -> tuple[str | None, str]:
    """(current revision or None, head revision) of the database behind ``engine``.

    Reads Alembic's ``alembic_version`` table with plain SQL (no Alembic import: every
    command opens a ledger).
    """
    from sqlalchemy import inspect

    from migrations import HEAD

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None, HEAD
        versions = [str(v) for v in conn.execute(
            text("SELECT version_num FROM alembic_version")).scalars()]
    if len(versions) > 1:  # pragma: no cover - this project's history has no branches
        raise LedgerError(f"the ledger has several schema heads ({', '.join(versions)})")
    return (versions[0] if versions else None), HEAD


def require_ready(engine: Engine) -> None:
    """Stop with a clear message unless the database is migrated to head.

    Raises:
        LedgerNotReady: no ledger here yet (run ``tledger init``) or an older schema
            (run ``tledger db upgrade``).
    """
    try:
        current, head = schema_state(engine)
    except (OperationalError, DBAPIError) as exc:
        raise translate_db_error(exc, str(engine.url)) from exc
    where = describe_url(engine.url.render_as_string(hide_password=True))
    if current is None:
        raise LedgerNotReady(f"no ledger at {where}: run `tledger init` first")
    if current != head:
        raise LedgerNotReady(
            f"the ledger at {where} is at schema {current}, this tledger needs {head}: "
            "run `tledger db upgrade`"
        )

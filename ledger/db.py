"""Connecting to a ledger: URLs, engines, schema checks and write transactions.

SQLite (a file) is the embedded default; PostgreSQL (psycopg 3) is the team engine.
Writers are serialised: on SQLite by ``BEGIN IMMEDIATE``, on PostgreSQL by a row lock on
the ledger's ``programme`` row (or the ``alembic_version`` row before a programme exists).
Submission ids therefore increase in commit order, which is what makes "as of" exact.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from ledger import settings
from ledger.errors import (
    LedgerBusy,
    LedgerDamaged,
    LedgerError,
    LedgerNotReady,
    LedgerTooNew,
    StorageFull,
)
from ledger.faults import pause_point

DEFAULT_SQLITE_FILE = "tledger.db"
# How long a writer waits for another writer before "ledger is busy" is
# settings.busy_timeout_s() (TLEDGER_BUSY_TIMEOUT). The SQLite journal mode is ``wal`` by
# default, or a rollback journal (``delete``, ``truncate``, ``persist``):
# settings.sqlite_journal() (TLEDGER_SQLITE_JOURNAL). Both keep a killed writer's
# transaction out. Both are read at use, so that a bad value is reported, not a traceback.
_JOURNAL_MODES = settings.JOURNAL_MODES

#: PostgreSQL session limits, so that a stuck client (stopped, suspended, cut off) cannot
#: hold the write lock for ever: (environment variable, default seconds; 0 = no limit).
#: The defaults sit far above what a 1.2 M-cell import needs (docs/reliability.md).
PG_STATEMENT_TIMEOUT = ("TLEDGER_PG_STATEMENT_TIMEOUT", 300.0)
PG_IDLE_IN_TRANSACTION_TIMEOUT = ("TLEDGER_PG_IDLE_IN_TRANSACTION_TIMEOUT", 60.0)
#: TCP keepalives (both ends): a peer that vanished is noticed after about
#: idle + interval x count seconds instead of the operating system's two hours.
PG_KEEPALIVE_IDLE_S, PG_KEEPALIVE_INTERVAL_S, PG_KEEPALIVE_COUNT = 30, 10, 3


#: PostgreSQL's limit for its timeouts (2^31 - 1 milliseconds), in whole seconds.
_MAX_S = 2_147_483


def env_seconds(name: str, default: float) -> float:
    """A duration in seconds from the environment variable ``name`` (``default`` if unset),
    in the forms of :func:`ledger.settings.parse_duration` (``30``, ``30s``, ``2m``...).

    Raises:
        LedgerError: not a duration, or one beyond PostgreSQL's limit (one line).
    """
    value = settings.duration_s(name, default)
    if value > _MAX_S:
        shown = os.environ[name][:30]
        raise settings.SettingError(f"environment variable {name}={shown!r}: expected at "
                                    f"most {_MAX_S:,} seconds (PostgreSQL's limit)")
    return value


def _ms(seconds: float) -> int:
    """Milliseconds for PostgreSQL, where 0 means "no limit": a positive limit stays one."""
    return min(_MAX_S * 1000, max(1, round(seconds * 1000))) if seconds > 0 else 0


def resolve_url(db: str | None = None) -> str:
    """The database URL: ``--db``, else ``TLEDGER_DATABASE_URL``, else ``./tledger.db``.

    A plain file path is taken as a SQLite file; ``postgresql://`` URLs use psycopg 3.
    """
    raw = db or settings.database_url() or DEFAULT_SQLITE_FILE
    if "://" not in raw:
        # Percent-encoded, so that a ``?``, ``#`` or ``%`` in a file name stays part of the
        # name instead of starting a URL query (SQLAlchemy decodes the database part).
        return "sqlite:///" + quote(str(Path(raw)), safe="/")
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


def describe_url(url: str) -> str:
    """The URL without its password, for messages; a SQLite file by its name as written
    (``sqlite:///budget?v2.db``, not the percent-encoded form the engine is given)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.get_backend_name() == "sqlite" and parsed.database and not parsed.query:
        return f"sqlite:///{parsed.database}"
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str, *, journal_mode: str | None = None) -> Engine:
    """An engine for ``url``, set up for the ledger's transaction discipline.

    ``journal_mode`` (SQLite only) defaults to ``TLEDGER_SQLITE_JOURNAL``, else ``wal``.
    """
    journal_mode = settings.sqlite_journal() if journal_mode is None else journal_mode
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
        return _postgresql_engine(url)
    raise LedgerError(
        f"unsupported database {backend!r} in {describe_url(url)}: use SQLite or PostgreSQL"
    )


def _casefold(value: object) -> str | None:
    return None if value is None else str(value).casefold()


def _sqlite_engine(url: str, *, journal_mode: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        folder = Path(database).resolve().parent
        if not folder.is_dir():
            raise LedgerError(f"folder {folder} does not exist (for ledger file {database})")
    busy_timeout_s = settings.busy_timeout_s()
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is possible.
        dbapi_connection.isolation_level = None
        # Case-insensitive search as Python folds case (SQLite's LOWER folds ASCII only).
        dbapi_connection.create_function("casefold", 1, _casefold, deterministic=True)
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
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


def _postgresql_engine(url: str) -> Engine:
    statement_s = env_seconds(*PG_STATEMENT_TIMEOUT)
    idle_s = env_seconds(*PG_IDLE_IN_TRANSACTION_TIMEOUT)
    # Startup options, not SET statements: no extra round trip, and they become the
    # session's defaults, which ``SET LOCAL ... TO DEFAULT`` in ``writing`` returns to.
    limits = {
        # A busy timeout of 0 means "do not wait" (as on SQLite), not PostgreSQL's "no limit".
        "lock_timeout": max(1, _ms(settings.busy_timeout_s())),
        "statement_timeout": _ms(statement_s),
        "idle_in_transaction_session_timeout": _ms(idle_s),
        # The server's side of the keepalives: a client whose laptop lid closed while it
        # was idle (not in a transaction) is dropped too, not kept as a ghost session.
        "tcp_keepalives_idle": PG_KEEPALIVE_IDLE_S,
        "tcp_keepalives_interval": PG_KEEPALIVE_INTERVAL_S,
        "tcp_keepalives_count": PG_KEEPALIVE_COUNT,
    }
    options = " ".join(f"-c {k}={v}" for k, v in limits.items())
    given = make_url(url).query.get("options")
    if given:  # the URL's own options come last, so they win
        options += " " + (given if isinstance(given, str) else " ".join(given))
    return create_engine(
        url,
        connect_args={
            "connect_timeout": 10,
            "options": options,
            "keepalives": 1,
            "keepalives_idle": PG_KEEPALIVE_IDLE_S,
            "keepalives_interval": PG_KEEPALIVE_INTERVAL_S,
            "keepalives_count": PG_KEEPALIVE_COUNT,
        },
        pool_pre_ping=False,
    )


def is_sqlite(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"


def _busy(where: str) -> LedgerBusy:
    return LedgerBusy(
        f"ledger is busy: another tledger process is writing to {where}; try again shortly")


#: How SQLite and PostgreSQL say the disk is full, and that a database file is corrupt.
_FULL = ("database or disk is full", "disk is full", "no space left on device",
         "could not extend file")
_DAMAGED = ("database disk image is malformed", "file is not a database",
            "malformed database schema", "database corruption")
_NEARLY_FULL = 1 << 20  # bytes: less than this free, a "disk I/O error" is a full disk


def _disk_full(url: str) -> bool:
    """Whether a SQLite ledger's folder has (next to) no space left: SQLite reports a full
    disk as a plain "disk I/O error" when it cannot even grow its shared-memory file."""
    try:
        database = make_url(url).database
        if make_url(url).get_backend_name() != "sqlite" or not database:
            return False
        return shutil.disk_usage(Path(database).resolve().parent).free < _NEARLY_FULL
    except (ArgumentError, OSError):
        return False


def translate_db_error(exc: Exception, url: str) -> LedgerError:
    """A one-line, actionable error for a database failure the user can fix."""
    msg = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)
    where = describe_url(url)
    low = msg.lower()
    if any(sign in low for sign in _FULL) or ("disk i/o error" in low and _disk_full(url)):
        return StorageFull(f"cannot write to {where}: the disk is full ({msg}); "
                           "nothing was written")
    if any(sign in low for sign in _DAMAGED):
        return LedgerDamaged(f"the ledger at {where} is damaged: {msg}; "
                             "restore it from a backup")
    if "idle-in-transaction timeout" in low:
        return LedgerError(
            f"{where} ended this session: it sat inside a transaction for longer than "
            f"{PG_IDLE_IN_TRANSACTION_TIMEOUT[0]} allows (stopped or suspended?); nothing it "
            "was writing was kept, try again")
    if "statement timeout" in low:
        return LedgerError(
            f"a statement on {where} ran longer than {PG_STATEMENT_TIMEOUT[0]} allows and "
            "was cancelled; nothing was written (raise the limit for a very large import)")
    if "database is locked" in low or "lock timeout" in low:
        return _busy(where)
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
                    _pg_write_lock(conn)
                from ledger import chain

                chain.start(conn)
                yield conn
                chain.seal(conn)  # hash what this transaction wrote, as part of it
                pause_point("before_commit")  # test-only (ledger.faults)
    except (DBAPIError, sqlite3.DatabaseError) as exc:
        # Bulk loads write through the driver's own cursor: its errors arrive unwrapped.
        problem = translate_db_error(exc, str(engine.url))
        if isinstance(problem, (LedgerBusy, StorageFull, LedgerDamaged)):
            raise problem from exc
        raise


def _pg_write_lock(conn: Connection) -> None:
    """Take the ledger's write lock within ``TLEDGER_BUSY_TIMEOUT`` in all.

    ``lock_timeout`` bounds each lock wait, not the statement: a queued ``FOR UPDATE``
    first waits for the row's tuple lock (held by the writer queued ahead of it), then for
    the holder's transaction, so a second waiter got two full timeouts (62 s for 30 s).
    A statement timeout of the busy timeout bounds the whole acquisition.
    """
    busy_ms = max(1, _ms(settings.busy_timeout_s()))
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {busy_ms}")
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {busy_ms}")
    try:
        locked = conn.execute(
            text("SELECT id FROM programme ORDER BY id LIMIT 1 FOR UPDATE")).first()
        if locked is None:
            conn.execute(text("LOCK TABLE programme IN EXCLUSIVE MODE"))
    except OperationalError as exc:
        # lock_not_available (lock_timeout) or query_canceled (the statement timeout)
        if getattr(exc.orig, "sqlstate", None) in ("55P03", "57014"):
            raise _busy(describe_url(str(conn.engine.url))) from exc
        raise
    conn.exec_driver_sql("SET LOCAL statement_timeout TO DEFAULT")


def storage_damage(engine: Engine, *, limit: int = 20) -> list[str]:
    """What SQLite's ``PRAGMA quick_check`` finds wrong in the ledger file (empty: whole).

    A few damaged pages can leave a ledger that still answers queries that do not touch
    them: only a check reading every page finds them. It reads the whole file, far too
    slow for every command on a large ledger (docs/reliability.md has the measurement), so
    ``tledger checks`` runs it.
    PostgreSQL keeps its own page checks: nothing to do here.
    """
    if engine.dialect.name != "sqlite":
        return []
    try:
        with engine.connect() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql(f"PRAGMA quick_check({limit})")]
    except (DBAPIError, sqlite3.DatabaseError) as exc:
        return [str(getattr(exc, "orig", exc)).strip().splitlines()[0]]
    return [] if rows == ["ok"] else rows


def schema_state(engine: Engine) -> tuple[str | None, str]:
    """(current revision or None, head revision) of the database behind ``engine``.

    Reads Alembic's ``alembic_version`` table with plain SQL (no Alembic import: every
    command opens a ledger).

    Raises:
        LedgerTooNew: the ledger is at a revision this tledger has no migration for.
    """
    from sqlalchemy import inspect

    from migrations import HEAD, known_revisions

    if _missing_sqlite_file(engine):
        # Connecting would create an empty file: a command that finds no ledger leaves none.
        return None, HEAD
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None, HEAD
        versions = [str(v) for v in conn.execute(
            text("SELECT version_num FROM alembic_version")).scalars()]
    known = known_revisions()
    unknown = sorted(set(versions) - known)
    if unknown:
        where = describe_url(str(engine.url))
        # Revisions are zero-padded numbers: a higher one comes from a newer tledger.
        if unknown[-1] > max(known):
            raise LedgerTooNew(f"the ledger at {where} was written by a newer tledger "
                               f"(schema revision {', '.join(unknown)}); upgrade tledger")
        raise LedgerNotReady(f"the ledger at {where} is at schema revision "
                             f"{', '.join(unknown)}, which no tledger release knows (this one "
                             f"knows {min(known)} to {max(known)}): restore it from a backup")
    if len(versions) > 1:  # pragma: no cover - this project's history has no branches
        raise LedgerError(f"the ledger has several schema heads ({', '.join(versions)})")
    return (versions[0] if versions else None), HEAD


def _missing_sqlite_file(engine: Engine) -> bool:
    """True for a SQLite ledger whose file does not exist (yet)."""
    if engine.dialect.name != "sqlite":
        return False
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).exists()


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

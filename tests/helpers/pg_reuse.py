"""Reusing a test's PostgreSQL database for the next test instead of dropping it.

Creating a database from the migrated template and dropping it afterwards cost about a
second per test under the suite's load (both wait for the disk), a third of the suite's
time. A migrated database a test has finished with is as good as a new copy of the
template when two things hold, and this module checks both before handing it on:

* its *shape* is the template's: the fingerprint of its catalogue (relations, columns,
  defaults, constraints, triggers, functions, schemas, grants, settings, sequences;
  ``pg_fingerprint.sql``) equals the template's, so a test that installed the history
  guard, granted a role, altered a table or set a database option leaves its database to
  be dropped as before;
* nobody else is connected (connections the test left open are ended first).

Then every table is emptied (``DELETE`` with triggers off, so foreign keys need no order;
a few milliseconds where ``TRUNCATE`` of every table and index takes a hundred), every
sequence starts again, and the template's few rows (schema version, ledger identity, web
settings) are written back. The fingerprint is taken again afterwards and must still be
the template's. Anything unexpected: the database is dropped, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

FINGERPRINT = (Path(__file__).with_name("pg_fingerprint.sql")).read_text()
#: Where every sequence stands (a fresh copy: none used yet).
SEQUENCES = ("SELECT string_agg(concat_ws(':', schemaname, sequencename, last_value::text), "
             "'|' ORDER BY schemaname, sequencename) FROM pg_sequences")


def fingerprint(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text(FINGERPRINT)).scalar_one())


class Template:
    """What a fresh copy of the template holds: its fingerprint, tables, sequences and
    rows."""

    def __init__(self, url: str) -> None:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                self.fingerprint = str(conn.execute(text(FINGERPRINT)).scalar_one())
                self.sequence_state = conn.execute(text(SEQUENCES)).scalar_one()
                self.tables = [str(r[0]) for r in conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "ORDER BY tablename"))]
                self.sequences = [str(r[0]) for r in conn.execute(text(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
                    "FROM pg_sequences ORDER BY 1"))]
                self.rows: dict[str, list[dict[str, Any]]] = {}
                for table in self.tables:
                    found = [dict(r._mapping) for r in conn.execute(
                        text(f'SELECT * FROM "{table}"'))]
                    if found:
                        self.rows[table] = found
        finally:
            engine.dispose()

    def reset(self, url: str) -> bool:
        """Make the database at ``url`` equal to a fresh copy of the template; False when
        it cannot be (then the caller drops it)."""
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            with engine.connect() as conn:
                conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
                others = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")).scalar_one()
                conn.commit()
                if others or str(conn.execute(text(FINGERPRINT)).scalar_one()) != \
                        self.fingerprint:
                    return False
                conn.rollback()
                with conn.begin():
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                    for table in self.tables:
                        conn.exec_driver_sql(f'DELETE FROM "{table}"')
                    if self.sequences:
                        conn.exec_driver_sql("SELECT " + ", ".join(
                            f"setval('{s}', 1, false)" for s in self.sequences))
                    for table, rows in self.rows.items():
                        names = ", ".join(f'"{c}"' for c in rows[0])
                        values = ", ".join(f":{c}" for c in rows[0])
                        conn.execute(text(
                            f'INSERT INTO "{table}" ({names}) VALUES ({values})'),
                            rows)
                return (str(conn.execute(text(FINGERPRINT)).scalar_one()) == self.fingerprint
                        and conn.execute(text(SEQUENCES)).scalar_one() == self.sequence_state)
        except Exception:  # any failure: the caller drops it instead, as before
            return False
        finally:
            engine.dispose()

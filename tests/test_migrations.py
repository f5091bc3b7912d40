"""The schema: migrations go up, down and up again; models and migrations agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import migrations
from ledger.api import Ledger
from ledger.db import resolve_url
from ledger.models import Base


def _tables(url: str) -> set[str]:
    engine = create_engine(resolve_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_empty_to_head_to_base_to_head(empty_db_url):
    led = Ledger.init(empty_db_url)
    assert _tables(empty_db_url) == set(Base.metadata.tables)
    with led.engine.begin() as conn:
        migrations.downgrade(conn, "base")
    assert _tables(empty_db_url) == set()
    with led.engine.begin() as conn:
        migrations.upgrade(conn, "head")
    assert _tables(empty_db_url) == set(Base.metadata.tables)
    led.dispose()


def test_models_and_migrations_agree(db_url):
    engine = create_engine(resolve_url(db_url))
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []


def test_head_constant_is_alembics_head(db_url):
    """migrations.HEAD (what every command checks a ledger against, without importing
    Alembic) is the head Alembic computes from the scripts; a migrated ledger is at it."""
    from ledger.db import schema_state

    assert migrations.head_revision() == migrations.HEAD
    led = Ledger.open(db_url)
    try:
        assert schema_state(led.engine) == (migrations.HEAD, migrations.HEAD)
        with led.engine.begin() as conn:
            migrations.downgrade(conn, "0001")
        assert schema_state(led.engine) == ("0001", migrations.HEAD)
    finally:
        led.dispose()


def test_upgrade_from_0003_seals_existing_history_as_the_writes_did(programme, tmp_path):
    """A ledger with data at 0003 (no hashes) gets its chain on upgrade: the same hashes
    the writes themselves computed, so it verifies clean, and later writes extend it."""
    from helpers.busy_ledger import build_busy_ledger
    from sqlalchemy import text

    from ledger import chain

    build_busy_ledger(programme, tmp_path)
    sql = "SELECT id, rows_hash, content_hash, chain_hash FROM submission ORDER BY id"
    with programme.reading() as conn:
        sealed = conn.execute(text(sql)).all()
    with programme.engine.begin() as conn:
        migrations.downgrade(conn, "0003")
    assert "rows_hash" not in {c["name"] for c in inspect(programme.engine).get_columns(
        "submission")}
    programme.upgrade()
    with programme.reading() as conn:
        assert conn.execute(text(sql)).all() == sealed
        assert chain.verify(conn).ok
    programme.add_lever("NEW", "After the upgrade", user="office")
    with programme.reading() as conn:
        result = chain.verify(conn)
    assert result.ok
    assert result.submissions == len(sealed) + 1

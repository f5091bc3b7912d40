"""Alembic migrations, shipped inside the distribution so an installed ``tledger`` finds them.

Use :func:`upgrade` / :func:`downgrade` rather than the ``alembic`` command: the
configuration is built here, from the package's own folder and the ledger's URL.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

HERE = Path(__file__).resolve().parent

#: The newest revision, as a constant so that opening a ledger (every command checks its
#: schema) does not import Alembic and parse every migration script. tests/test_migrations.py
#: checks it equals Alembic's own head: bump it with each new migration.
HEAD = "0012"


def known_revisions() -> frozenset[str]:
    """Every revision this tledger has a migration for, from the scripts' file names
    (``NNNN_what.py`` holds revision ``NNNN``), without importing Alembic.

    A ledger at any other revision was written by a newer tledger: neither the commands
    nor Alembic can use it.
    """
    return frozenset(p.name.partition("_")[0] for p in (HERE / "versions").glob("[0-9]*_*.py"))


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic configuration for this package's migrations and ``url``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision this tledger knows, as Alembic computes it from the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # noqa: S101  (narrows the type)
    return head


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database behind ``connection`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(connection=connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Migrate the database behind ``connection`` down to ``revision``."""
    from alembic import command

    command.downgrade(alembic_config(connection=connection), revision)

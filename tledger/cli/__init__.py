"""The ``tledger`` command line: a thin layer over :mod:`ledger.api`.

Every user mistake ends as one line on stderr and a non-zero exit code, never a traceback:
the top-level group turns :class:`~ledger.errors.LedgerError` and database errors into that
line, so the same holds under ``typer.testing.CliRunner``.

Importing this package stays light: pandas, SQLAlchemy and the rest of the ledger are
imported inside the commands that use them, so ``tledger --help`` and usage errors start
fast (tests/test_cli_startup.py holds this).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from ledger.errors import LedgerError
from tledger.cli.common import current_db, err_console, invoke_guarded


def _fail(message: str, code: int = 1) -> None:
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False,
                      soft_wrap=True)
    raise typer.Exit(code)


class _LedgerGroup(TyperGroup):
    """Turns a user's mistake into one line on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return invoke_guarded(super().invoke, ctx)
        except LedgerError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted: the transaction was rolled back, nothing was written", 130)
        except Exception as exc:
            # A database error can only come from a driver once a command has loaded it:
            # anything else (click's Exit, Abort, usage errors...) goes on unchanged.
            if not _is_database_error(exc):
                raise
            from ledger.db import resolve_url, translate_db_error

            problem = translate_db_error(exc, resolve_url(current_db.get()))
            _fail(str(problem), problem.exit_code)
        return None


def _is_database_error(exc: Exception) -> bool:
    """A database error, wrapped by SQLAlchemy or raw from a driver's own cursor (the bulk
    loads write through it)."""
    kinds: list[type[BaseException]] = []
    if "sqlalchemy.exc" in sys.modules:
        from sqlalchemy.exc import DBAPIError

        kinds.append(DBAPIError)
    if "sqlite3" in sys.modules:
        import sqlite3

        kinds.append(sqlite3.DatabaseError)
    if "psycopg" in sys.modules:
        import psycopg

        kinds.append(psycopg.Error)
    return isinstance(exc, tuple(kinds))


app = typer.Typer(
    name="tledger",
    cls=_LedgerGroup,
    help="Transformation target ledger: top-down targets beside bottom-up initiative "
    "phasing, reconciled month by month.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Command modules register themselves on ``app`` when imported.
from tledger.cli import baselines as _baselines  # noqa: E402,F401
from tledger.cli import finance as _finance  # noqa: E402,F401
from tledger.cli import gap as _gap  # noqa: E402,F401
from tledger.cli import imports as _imports  # noqa: E402,F401
from tledger.cli import initiatives as _initiatives  # noqa: E402,F401
from tledger.cli import phasing as _phasing  # noqa: E402,F401
from tledger.cli import pnl as _pnl  # noqa: E402,F401
from tledger.cli import report as _report  # noqa: E402,F401
from tledger.cli import setup as _setup  # noqa: E402,F401
from tledger.cli import targets as _targets  # noqa: E402,F401
from tledger.cli import templates as _templates  # noqa: E402,F401
from tledger.cli import verify as _verify  # noqa: E402,F401
from tledger.cli import web as _web  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tledger`` console script."""
    app(args=argv)

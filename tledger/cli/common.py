"""What every command shares: the --db option, output formats, the error boundary."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    # Loaded by the commands that need them, never by `tledger --help`.
    import pandas as pd

    from ledger.api import Ledger


def _width(stream: Any) -> int | None:
    """Rich's width: the terminal's; 120 when piped (Rich would assume 80), or COLUMNS."""
    if os.environ.get("COLUMNS"):
        return None
    try:
        return None if stream.isatty() else 120
    except (AttributeError, ValueError):
        return 120


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="TLEDGER_DATABASE_URL",
        help="Ledger database: a SQLite file path or a SQLAlchemy URL "
        "(postgresql://user@host/db). Default ./tledger.db.",
        show_envvar=True,
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option("--user", help="Who makes the change (default TLEDGER_USER, else the OS user)."),
]
NoteOption = Annotated[str, typer.Option("--note", help="Why: kept with the submission.")]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people, csv or json for scripts."),
]


#: The --db of the command being run, so a database error names the right database.
current_db: ContextVar[str | None] = ContextVar("current_db", default=None)


def open_ledger(db: str | None) -> Ledger:
    """Open the ledger, refusing an unmigrated or outdated database with a clear message."""
    from ledger.api import Ledger

    current_db.set(db)
    return Ledger.open(db)


def _plain(value: Any) -> Any:
    import pandas as pd

    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


_PLAIN_NUMBER = re.compile(r"^[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _csv_cell(value: Any) -> Any:
    """A CSV cell: ledger text a spreadsheet would evaluate (``=cmd|...``, ``+1+1``,
    ``@SUM(1)``) gets a leading apostrophe (``reports.safe.csv_text``); numbers, and text
    that is just a number such as ``-350.00``, stay as they are."""
    from reports.safe import csv_text

    plain = _plain(value)
    if plain is None:
        return ""
    if isinstance(value, str) and not _PLAIN_NUMBER.match(value.strip()):
        return csv_text(value)
    return plain


def emit(
    frame: pd.DataFrame,
    fmt: OutputFormat,
    *,
    title: str | None = None,
    right: Sequence[str] = (),
) -> None:
    """Print ``frame`` as a Rich table, CSV or JSON (amounts as strings, never floats)."""
    columns = [str(c) for c in frame.columns]
    if fmt == OutputFormat.json:
        records = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        sys.stdout.write(json.dumps([dict(zip(columns, r, strict=True)) for r in records],
                                    indent=2, ensure_ascii=False) + "\n")
        return
    if fmt == OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([_csv_cell(c) for c in columns])
        writer.writerows([[_csv_cell(v) for v in row]
                          for row in frame.itertuples(index=False, name=None)])
        return
    table = Table(title=title, show_lines=False)
    for c in columns:
        # A number squeezed by a narrow terminal folds onto the next line instead of being
        # cut short: "9000000…" would mislead.
        table.add_column(c, justify="right" if c in right else "left",
                         overflow="fold" if c in right else "ellipsis")
    amounts = [c in right for c in columns]
    for raw in frame.itertuples(index=False, name=None):
        table.add_row(*[table_cell(x, amount) for x, amount in zip(raw, amounts, strict=True)])
    console.print(table)


def table_cell(value: Any, amount: bool = False) -> str:
    """A value as a table cell for people: empty for None or NaN, an ``amount`` (Decimal)
    with thousands separators. CSV and JSON keep amounts plain."""
    if amount and isinstance(value, Decimal):
        return f"{value:,}"
    plain = _plain(value)
    return "" if plain is None else str(plain)


class TerminalSteps:
    """A :class:`ledger.progress.Progress` drawn as a transient Rich bar on stderr.

    Draws only when stderr is a terminal, so scripts and pipes see nothing of it.
    """

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        if not err_console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                             TimeElapsedColumn(), console=err_console, transient=True)
        self._bar.start()
        self._task = self._bar.add_task("working", total=total)

    def step(self, description: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=description)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

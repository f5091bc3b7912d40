"""What every command shares: the --db option, output formats, the error boundary.

Ledger text (names, owners, notes, users, codes, file names, problem messages) is never
Rich markup: both consoles have markup and emoji codes switched off, and table cells are
:class:`rich.text.Text` (:func:`plain_text`), so ``Okafor, Ben [/interim]`` or
``[link=...]`` prints as written. A command that needs a style builds a ``Text`` with it.

Once a command has written to the ledger (or a file), it says so with :func:`committed`
before printing; a failure while printing after that (a closed pipe, a Rich error, an
encoding the terminal lacks) cannot undo the write, so :func:`invoke_guarded` turns it into
one line on stderr saying the change was saved, and exit code 0.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

# plural is part of what commands share (the `as` re-exports it explicitly).
from ledger.wording import plural as plural

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


class _Console(Console):
    """A Rich console that lets a closed pipe reach the command's boundary
    (:func:`invoke_guarded`), which knows whether anything was written. Rich itself would
    exit 1 on the spot, saying nothing, even after a saved change."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more to this stream
        raise  # the BrokenPipeError being handled by Rich's caller


console = _Console(width=_width(sys.stdout), markup=False, emoji=False)
err_console = _Console(stderr=True, width=_width(sys.stderr), markup=False, emoji=False)


def plain_text(value: object, style: str = "") -> Text:
    """``value`` as Rich text shown exactly as written: no markup, no emoji codes."""
    return Text("" if value is None else str(value), style=style)

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
    table = Table(title=None if title is None else plain_text(title), show_lines=False)
    for c in columns:
        # A number squeezed by a narrow terminal folds onto the next line instead of being
        # cut short: "9000000…" would mislead.
        table.add_column(plain_text(c), justify="right" if c in right else "left",
                         overflow="fold" if c in right else "ellipsis")
    amounts = [c in right for c in columns]
    for raw in frame.itertuples(index=False, name=None):
        table.add_row(*[table_cell(x, amount) for x, amount in zip(raw, amounts, strict=True)])
    console.print(table)


def table_cell(value: Any, amount: bool = False) -> Text:
    """A value as a table cell for people: empty for None or NaN, an ``amount`` (Decimal)
    with thousands separators, text exactly as stored. CSV and JSON keep amounts plain."""
    if amount and isinstance(value, Decimal):
        return plain_text(f"{value:,}")
    return plain_text(_plain(value))


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

        # The description names the workbook being read: a file name, never markup.
        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False),
                             BarColumn(),
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


#: What the running command has written, in words ("the change WAS saved (submission 42)"),
#: once it is committed; None before that.
_committed: ContextVar[str | None] = ContextVar("committed", default=None)


def committed(what: str) -> None:
    """Say that the command's write is done, before anything about it is printed.

    ``what`` completes the line shown if printing then fails, e.g. ``"the change WAS
    saved (submission 42)"``: from here on the command exits 0 whatever printing does.
    """
    _committed.set(what)


def emit_object(obj: dict[str, Any]) -> None:
    """Print one JSON object (amounts and dates as strings, never floats)."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=_json_value) + "\n")


def _json_value(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        raise TypeError(f"not JSON: {type(value).__name__}")
    return plain


def submissions_text(ids: Sequence[int]) -> str:
    """``submission 4`` or ``submissions 4, 5``."""
    return ("submission " if len(ids) == 1 else "submissions ") + ", ".join(map(str, ids))


def invoke_guarded(invoke: Callable[[Any], Any], ctx: Any) -> Any:
    """Run a command; if it fails after :func:`committed`, report the write and exit 0.

    A command that has written must not end in a failure: a script would retry it, a person
    would think it lost. click's own exits (``typer.Exit``, usage errors) pass through.
    """
    import click

    token = _committed.set(None)
    try:
        result = invoke(ctx)
        # What is still buffered must fail here, not at the interpreter's exit.
        if sys.stdout is not None:  # None when started with stdout closed
            sys.stdout.flush()
        return result
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except (Exception, KeyboardInterrupt) as exc:
        what = _committed.get()
        if what is None:
            if isinstance(exc, UnicodeEncodeError):
                raise _unprintable(exc) from exc
            raise
        _report_lost_output(what, exc)
        return None
    finally:
        _committed.reset(token)


def _unprintable(exc: UnicodeEncodeError) -> Exception:
    """The one line for text the terminal's encoding cannot show (a Windows code page, a C
    locale, ``PYTHONIOENCODING=ascii``): replacing the character would change the data a
    script reads from CSV or JSON, so the command fails instead."""
    from ledger.errors import LedgerError

    char = exc.object[exc.start:exc.end] if isinstance(exc.object, str) else "?"
    return LedgerError(f"cannot print {char!a} in the encoding of this terminal or pipe "
                       f"({exc.encoding}): set PYTHONIOENCODING=utf-8 (or a UTF-8 locale) "
                       "and run again")


def _report_lost_output(what: str, exc: BaseException) -> None:
    reason = type(exc).__name__ + (f": {str(exc).splitlines()[0][:120]}" if str(exc) else "")
    line = f"tledger: {what}, but printing its summary failed ({reason})\n"
    _settle_stdout()
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except Exception:
        # stderr itself is broken or cannot encode the line: the raw descriptor may still
        # take plain ASCII; if not, the exit code 0 is all that can be said.
        with contextlib.suppress(OSError):
            os.write(2, line.encode("ascii", "backslashreplace"))


def _settle_stdout() -> None:
    """Flush stdout now; if it cannot take it (a closed pipe), point it at /dev/null, so
    that the interpreter's last flush does not fail (exit code 120) after the command
    succeeded."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
        return
    except (OSError, ValueError):
        pass
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass  # not a real file (CliRunner): nothing is flushed at exit

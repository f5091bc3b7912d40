"""Problems found in an input workbook, and the table a person fixes them from.

Every check appends a :class:`Problem` instead of raising, so one run reports every problem
in every file. An import with any *error* writes nothing; *warnings* (a rounded amount, an
ignored column) are reported and the import goes on.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ledger.errors import LedgerError

#: At most this many problems are kept per file; the rest are counted in one last problem.
MAX_PROBLEMS = 10_000
#: Longest ``found`` and ``expected`` a Problem keeps (callers quote values shorter still).
MAX_FOUND = 160
MAX_EXPECTED = 400


def shorten(value: object, limit: int = 60) -> str:
    """``value`` as text on one line (a line break shown as "⏎"), cut to its first
    ``limit`` characters with "…" and its length when longer: how a message quotes a value
    that may be huge.

    >>> shorten("x" * 100, 5)
    'xxxxx… (100 characters)'
    """
    text = "" if value is None else str(value)
    # A message is one line: a line break inside a value must not start another.
    text = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, sheet, cell such as ``M14``), what was found, what was
    expected, and whether it stops the import (``error``) or not (``warning``)."""

    file: str
    sheet: str
    cell: str
    found: str
    expected: str
    severity: str = ERROR

    def __post_init__(self) -> None:
        # A hostile file can hold a megabyte in one cell: no message may echo it whole.
        object.__setattr__(self, "found", shorten(self.found, MAX_FOUND))
        object.__setattr__(self, "expected", shorten(self.expected, MAX_EXPECTED))

    @property
    def where(self) -> str:
        """``file Sheet!M14`` (or as much of it as is known)."""
        place = f"{self.sheet}!{self.cell}" if self.sheet and self.cell else (
            self.sheet or self.cell)
        return f"{self.file} {place}".strip() if place else self.file

    def __str__(self) -> str:
        found = f"found {self.found}, " if self.found else ""
        return f"{self.where}: {found}expected {self.expected}"


class ImportProblems(LedgerError):
    """The input has errors: nothing was written. ``problems`` lists every one (warnings
    too), in file, sheet and row order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == ERROR]
        files = sorted({p.file for p in errors})
        first = errors[0] if errors else (problems[0] if problems else None)
        count = len(errors)
        head = f"{count} problem{'s' if count != 1 else ''} in {', '.join(files)}" if files else (
            "problems in the input")
        detail = f" (first: {first})" if first is not None else ""
        super().__init__(f"{head}{detail}; nothing was written")


@dataclass
class ProblemLog:
    """Collects the problems of one file, capped at :data:`MAX_PROBLEMS`."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    dropped: int = 0

    def add(self, sheet: str, cell: str, found: object, expected: str,
            severity: str = ERROR) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        self.problems.append(Problem(self.file, sheet, cell, show(found), expected, severity))

    def error(self, sheet: str, cell: str, found: str, expected: str) -> None:
        """An error whose ``found`` is a description (written as is)."""
        self.add(sheet, cell, _Described(found), expected, ERROR)

    def bad_value(self, sheet: str, cell: str, value: object, expected: str) -> None:
        """An error whose ``found`` is the cell's value (text quoted, so spaces show)."""
        self.add(sheet, cell, value, expected, ERROR)

    def warn(self, sheet: str, cell: str, found: str, expected: str) -> None:
        self.add(sheet, cell, _Described(found), expected, WARNING)

    @property
    def has_errors(self) -> bool:
        return any(p.severity == ERROR for p in self.problems)

    def finish(self) -> list[Problem]:
        """The problems, with one more saying how many were left out past the cap."""
        out = list(self.problems)
        if self.dropped:
            out.append(Problem(self.file, "", "", f"{self.dropped} more problems",
                               f"at most {MAX_PROBLEMS} listed per file; fix these and rerun"))
        return out


class _Described(str):
    """A description of what was found (not a cell value): shown without quotes."""


def show(value: object) -> str:
    """A cell value as a person reads it in a message: text quoted, at most 60 characters."""
    if value is None:
        return ""
    if isinstance(value, _Described):
        return str.__str__(value)
    if isinstance(value, str):
        return repr(value[:60] + ("..." if len(value) > 60 else ""))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)[:60]


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """The problems as a table: severity, file, sheet, cell, found, expected."""
    columns = ["severity", "file", "sheet", "cell", "found", "expected"]
    return pd.DataFrame([asdict(p) for p in problems], columns=columns)[columns]


def _defuse(text: str) -> str:
    """Keep a text from becoming a formula when the file is opened in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_problem_report(problems: list[Problem], path: Path) -> None:
    """Write the problems to ``path`` (.xlsx or .csv) as a table a person can fix from.

    Every value is written as text (never as a formula), so a cell that held
    ``=cmd|...`` in the input cannot run when the report is opened.
    """
    frame = problems_frame(problems)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(frame.columns)
            for row in frame.itertuples(index=False, name=None):
                writer.writerow([_defuse(str(v)) for v in row])
        return
    if suffix != ".xlsx":
        raise LedgerError(f"--report {path}: expected a .xlsx or .csv file name")
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                           "strings_to_urls": False,
                                           "strings_to_numbers": False})
    try:
        sheet = book.add_worksheet("Problems")
        bold = book.add_format({"bold": True})
        widths = [9, 30, 14, 8, 40, 70]
        for col, (name, width) in enumerate(zip(frame.columns, widths, strict=True)):
            sheet.write_string(0, col, name, bold)
            sheet.set_column(col, col, width)
        for r, row in enumerate(frame.itertuples(index=False, name=None), start=1):
            for col, value in enumerate(row):
                sheet.write_string(r, col, str(value))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
    finally:
        book.close()

"""The mapping file: how to read a workbook whose layout differs from the template.

A TOML file (documented with a full example in ``docs/importing.md``)::

    sheet = "Pipeline"            # default: "Initiatives" if present, else the first sheet
    header_row = "auto"           # or the header's row number, e.g. 6
    layout = "wide"               # "wide" (one column per month) or "long" (month + amount)
    scale = 1000                  # amounts are in thousands ("AUD 000")
    decimal = ","                 # amounts written as text use a decimal comma (1.234,56)

    [columns]                     # header text (case and spaces ignored) or {column = "B"}
    id = "Initiative ref"
    name = "Initiative"
    owner = "Accountable"
    business_unit = "BU"
    lever = "Value lever"
    stage = "Gate"
    metric = "Measure"
    scenario = "Case"
    description = "Details"
    note = "Comments"             # kept with the submission, never compared (the default
                                  # for a Comments/Notes/Remarks column)
    month = "Period"              # long layout only
    amount = "Value"              # long layout only

    [months]
    columns = "auto"              # or a column range such as "H:BO"

    [skip]
    id_matches = ["^Sub-?total", "^Check"]   # regular expressions on the id cell
    rows = [42]                   # sheet row numbers to ignore

    [defaults]                    # values for columns the workbook does not have
    metric = "benefit"
    scenario = "plan"

    ignore = ["RAG", "Comments"]  # (top level) headers of columns read as nothing at all

    [values.metric]               # a cell's label -> the ledger's code (importers.valuemaps)
    "Net benefit" = "benefit"
    [values.owner]
    "A. Ng" = "Anna Ng"
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from ledger.errors import LedgerError
from ledger.vocabulary import parse_scale

#: The roles a column can play in an initiatives sheet.
ROLES = ("id", "name", "owner", "business_unit", "lever", "stage", "description", "metric",
         "scenario", "month", "amount", "scope", "note")
#: The roles whose cells a ``[values.ROLE]`` table translates.
VALUE_ROLES = ("metric", "stage", "business_unit", "lever", "scenario", "owner")
_LETTERS = re.compile(r"^[A-Za-z]{1,3}$")
_RANGE = re.compile(r"^\s*([A-Za-z]{1,3})\s*:\s*([A-Za-z]{1,3})\s*$")


class ColumnRef(BaseModel):
    """A column named by its letter instead of its header."""

    model_config = ConfigDict(extra="forbid")
    column: str

    @field_validator("column")
    @classmethod
    def _letters(cls, value: str) -> str:
        if not _LETTERS.match(value.strip()):
            raise ValueError(f"{value!r} is not a column letter such as B or AA")
        return value.strip().upper()


class Months(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: str = "auto"
    """``auto`` (every header that reads as a month) or a letter range ``H:BO``."""
    fiscal_year: str | None = None
    """The fiscal year (``FY27``) of headers ``M1``..``M12`` or ``Jul``..``Jun`` when the
    sheet does not give it above them."""
    quarters: Literal["refuse", "spread"] = "refuse"
    """Quarterly-only phasing: refused, or each quarter spread evenly over its months."""

    @model_serializer(mode="wrap")
    def _settings(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # Defaults left out: a mapping written before these settings keeps its digest.
        data: dict[str, object] = handler(self)
        if self.fiscal_year is None:
            data.pop("fiscal_year", None)
        if self.quarters == "refuse":
            data.pop("quarters", None)
        return data

    @field_validator("fiscal_year")
    @classmethod
    def _fiscal_year(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^\s*FY\s*'?(\d{2}|\d{4})\s*$", value, re.I):
            raise ValueError(f"{value!r}: expected a fiscal year such as \"FY27\"")
        return value

    @field_validator("columns")
    @classmethod
    def _range(cls, value: str) -> str:
        if value.strip().lower() == "auto":
            return "auto"
        if not _RANGE.match(value):
            raise ValueError(f"{value!r}: expected \"auto\" or a column range such as \"H:BO\"")
        return value.strip().upper().replace(" ", "")


class Skip(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_matches: list[str] = Field(default_factory=list)
    """Regular expressions; a row whose id cell matches one is not an initiative."""
    rows: list[int] = Field(default_factory=list)
    """Sheet row numbers (1-based) to ignore."""

    @field_validator("id_matches")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        return value


class Mapping(BaseModel):
    """Where things are in a workbook. Every field is optional: what is not said is found
    by header detection, as for the template."""

    model_config = ConfigDict(extra="forbid")
    sheet: str | list[str] | None = None
    """A sheet name, or several names and patterns (``["PRO*", "MIN"]``, ``*`` and ``?`` as
    in file names) whose sheets share one layout and are imported together."""
    header_row: int | Literal["auto"] = "auto"
    layout: Literal["auto", "wide", "long"] = "auto"
    scale: Decimal | None = None
    decimal: Literal[".", ","] = "."
    """The decimal separator of amounts written as text; the other one (and a space)
    separates groups of three digits. Number cells do not depend on it."""
    columns: dict[str, str | ColumnRef] = Field(default_factory=dict)
    months: Months = Field(default_factory=Months)
    skip: Skip = Field(default_factory=Skip)
    defaults: dict[str, str] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list)
    """Headers of columns that are read as nothing (not a role, not a month)."""
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    """role -> {label as written in the workbook: the ledger's code (the owner's name for
    ``owner``)}; see :mod:`importers.valuemaps`."""
    _source: str | None = PrivateAttr(default=None)
    _lines: dict[tuple[str, str], int] = PrivateAttr(default_factory=dict)

    @model_serializer(mode="wrap")
    def _settings(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # Settings at their default are left out, so a mapping written before the setting
        # existed keeps its recorded digest (an import of the same file is still skipped).
        data: dict[str, object] = handler(self)
        if self.decimal == ".":
            data.pop("decimal", None)
        for key in ("ignore", "values"):
            if not data.get(key):
                data.pop(key, None)
        return data

    def where(self, table: str, key: str) -> str:
        """Where a key of the mapping file is, for a message: ``q3.toml line 12
        ([values.metric] "Net benefit")``."""
        line = self._lines.get((table, key))
        source = Path(self._source).name if self._source else "the mapping"
        place = f" line {line}" if line else ""
        return f"{source}{place} ([{table}] {key!r})"

    @field_validator("values")
    @classmethod
    def _value_roles(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for role, labels in value.items():
            if role not in VALUE_ROLES:
                raise ValueError(f"unknown role {role!r} for a value map (known: "
                                 f"{', '.join(VALUE_ROLES)})")
            for label, code in labels.items():
                if not label.strip() or not code.strip():
                    raise ValueError(f"[values.{role}] {label!r} = {code!r}: an empty label "
                                     "or value")
        return value

    @field_validator("columns", "defaults")
    @classmethod
    def _roles(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            if key not in ROLES:
                raise ValueError(f"unknown column role {key!r} (known: {', '.join(ROLES)})")
        return value

    @field_validator("header_row")
    @classmethod
    def _row(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("header_row is a sheet row number, 1 or more")
        return value

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, value: object) -> object:
        if value is None:
            return None
        try:
            return parse_scale(value, "")
        except LedgerError as exc:  # pydantic reports it with the field's name
            raise ValueError(str(exc).strip()) from exc


def read_mapping_toml(path: Path) -> dict[str, Any]:
    """The TOML of mapping file ``path``, as a dict (any kind of import's mapping).

    Raises:
        LedgerError: no such file, or not valid UTF-8 TOML (the message names the file).
    """
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LedgerError(f"mapping file {path}: no such file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LedgerError(f"mapping file {path}: not valid TOML ({exc})") from exc


def load_mapping(path: Path | None) -> Mapping:
    """Read and check a mapping file (None: the empty mapping, i.e. auto-detection).

    Raises:
        LedgerError: unreadable TOML or an unknown or ill-typed key (the message names it).
    """
    if path is None:
        return Mapping()
    raw = read_mapping_toml(path)
    try:
        mapping = Mapping.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LedgerError(f"mapping file {path}: {where}: {first['msg']}") from exc
    mapping._source = str(path)
    mapping._lines = _key_lines(Path(path).read_text(encoding="utf-8"))
    return mapping


_TABLE_LINE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY_LINE = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


def _key_lines(source: str) -> dict[tuple[str, str], int]:
    """(table, key) -> line number of each ``key = ...`` line under a ``[table]`` header
    (enough to point at a value map's entry; keys written inline are not found)."""
    lines: dict[tuple[str, str], int] = {}
    table = ""
    for number, line in enumerate(source.splitlines(), start=1):
        head = _TABLE_LINE.match(line)
        if head:
            table = head.group(1).replace(" ", "")
            continue
        key = _KEY_LINE.match(line)
        if key:
            try:
                name = next(iter(tomllib.loads(f"{key.group(1)} = 0")))
            except tomllib.TOMLDecodeError:
                continue
            lines.setdefault((table, name), number)
    return lines

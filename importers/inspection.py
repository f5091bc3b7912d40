"""``tledger import inspect``: how a workbook would be read, before anything is imported.

Built on the importer's own reading (:func:`importers.reading.read_file`, the same sheet
choice, header detection, column roles, row skipping and cell checks) and, when a ledger is
at hand, its own check (:func:`importers.prepare.prepare_initiatives`, in a read-only
transaction): what inspect says is what the import would do. It adds what an import does
not print: every column's role, the rows skipped and why, the labels of the code columns
that resolve to no code with the closest known one, and a starter mapping that spells all
of it out (:func:`starter_mapping`).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from importers.layout import TOTAL_HEADERS, SheetTable, norm_header
from importers.mapping import Mapping, load_mapping
from importers.prepare import Reference, prepare_initiatives
from importers.problems import ERROR, Problem, ProblemLog
from importers.reading import read_file
from importers.valuemaps import ROLE_WORDS, Resolver, fold
from importers.workbook import STAMP_SHEET, open_workbook
from ledger.api import Ledger, ProgrammeInfo

#: Problems listed by inspect (all are counted).
FIRST_PROBLEMS = 20
#: Distinct labels listed per code column.
MAX_LABELS = 200
#: The horizon months are read in without a ledger: any month at all.
_ANY_HORIZON = (date(1900, 1, 1), date(2199, 12, 1))
#: Roles whose cells are codes (or, for owner, names a map may translate).
CODE_ROLES = ("metric", "scenario", "stage", "business_unit", "lever")


@dataclass
class SheetInfo:
    name: str
    visible: bool
    chosen: bool
    reason: str = ""


@dataclass
class ColumnInfo:
    column: str
    """The letter, e.g. ``AG``."""
    header: str
    role: str
    """id, name, owner, ..., note, month, total, ignored or unknown."""
    month: str = ""
    """``YYYY-MM`` for a month column."""


@dataclass
class Label:
    """A distinct value of a code column."""

    role: str
    value: str
    rows: int
    first_cell: str
    code: str | None
    """What it resolves to (None: nothing; the import would refuse it)."""
    how: str
    """``code``, ``name``, ``map``, ``unresolved``, ``ambiguous`` or ``not checked``."""
    closest: str | None = None


@dataclass
class Inspection:
    """What :func:`inspect_workbook` found (data only: the CLI words it)."""

    file: str
    mapping: str | None
    sheets: list[SheetInfo] = field(default_factory=list)
    sheet: str | None = None
    header_row: int | None = None
    """1-based."""
    layout: str | None = None
    columns: list[ColumnInfo] = field(default_factory=list)
    scale_note: dict[str, Any] | None = None
    scale: str | None = None
    """The scale the mapping gives (None: none)."""
    skipped: dict[str, list[int]] = field(default_factory=dict)
    rows_read: int = 0
    initiatives: int = 0
    ledger: str | None = None
    """Which ledger codes were checked against; None: not checked."""
    labels: list[Label] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    found_elsewhere: str | None = None
    """Set when the import, without a mapping naming the sheet, reads a sheet with no table
    and another sheet has one: what is described is that sheet (the starter mapping names
    it), and ``problems`` starts with the import's own."""

    @property
    def unresolved(self) -> list[Label]:
        return [x for x in self.labels if x.code is None]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [asdict(p) for p in self.problems[:FIRST_PROBLEMS]]
        data["codes_checked"] = self.ledger is not None
        return data


def _programme(ledger: Ledger | None, fy_start: int) -> ProgrammeInfo:
    if ledger is not None:
        return ledger.programme()
    return ProgrammeInfo(id=0, name="", currency="", fy_start_month=fy_start,
                         first_month=_ANY_HORIZON[0], last_month=_ANY_HORIZON[1])


def inspect_workbook(path: Path, *, mapping: Path | None = None, ledger: Ledger | None = None,
                     ledger_name: str | None = None, fy_start: int = 7) -> Inspection:
    """Read ``path`` as ``tledger import initiatives`` would and say how.

    Without ``ledger`` the codes are not checked and months are read in any horizon
    (``FY27 M01`` with a fiscal year starting in month ``fy_start``).

    Raises:
        LedgerError: a bad mapping file (as the import would).
    """
    the_mapping = load_mapping(mapping)
    found = Inspection(file=Path(path).name, mapping=str(mapping) if mapping else None,
                       scale=str(the_mapping.scale) if the_mapping.scale is not None else None)
    programme = _programme(ledger, fy_start)
    parsed = read_file(Path(path), the_mapping, programme, default_sheet="Initiatives",
                       key_role="id", scale=the_mapping.scale)
    table = parsed.table
    tried = next((p.sheet for p in parsed.log.problems if p.sheet), None)
    found.sheets = _sheets(Path(path), the_mapping, table.sheet if table else tried)
    log = parsed.log
    first_problems: list[Problem] = []
    if table is None and not the_mapping.sheet and tried is not None:
        for other in found.sheets:
            if other.name == tried or not other.visible:
                continue
            alternative = the_mapping.model_copy(update={"sheet": other.name})
            second = read_file(Path(path), alternative, programme,
                               default_sheet="Initiatives", key_role="id",
                               scale=the_mapping.scale)
            if second.table is not None:
                first_problems = parsed.log.finish()
                parsed, table, log, the_mapping = second, second.table, second.log, alternative
                found.found_elsewhere = other.name
                for sheet in found.sheets:
                    sheet.chosen = sheet.name == other.name
                    sheet.reason = (f"the import reads {tried!r} (no table there); this sheet "
                                    "has an ID column and months" if sheet.chosen else "")
                break
    if table is not None:
        _describe_table(found, table)
        resolver: Resolver | None = None
        if ledger is not None and not log.has_errors:
            with ledger.reading() as conn:
                ref = Reference.load(ledger, conn)
                resolver = Resolver.build(ref.names, the_mapping, log)
                prepared = prepare_initiatives(table, the_mapping, ref, log,
                                               Decimal(the_mapping.scale or 1))
                found.initiatives = len(prepared.initiatives)
            found.ledger = ledger_name or "the ledger"
        elif ledger is not None:
            with ledger.reading() as conn:
                resolver = Resolver.build(Reference.load(ledger, conn).names, the_mapping)
            found.ledger = ledger_name or "the ledger"
        if not found.initiatives:
            found.initiatives = int(table.rows["id"].nunique()) if len(table.rows) else 0
        found.labels = _labels(table, the_mapping, resolver)
    problems = first_problems + log.finish()
    found.problems = problems
    if ledger is not None:
        found.ledger = ledger_name or "the ledger"
    found.error_count = sum(1 for p in problems if p.severity == ERROR)
    found.warning_count = len(problems) - found.error_count
    return found


def _sheets(path: Path, mapping: Mapping, chosen: str | None) -> list[SheetInfo]:
    """Every sheet, and why the chosen one was."""
    book = open_workbook(path, ProblemLog(path.name))
    if book is None:
        return []
    try:
        names = [s for s in book.sheets if s != STAMP_SHEET]
        visible = set(book.visible)
        if mapping.sheet:
            reason = f"named in the mapping (sheet = {mapping.sheet!r})"
        elif chosen is not None and book.find_sheet("Initiatives") == chosen:
            reason = "named Initiatives"
        elif chosen is not None and [s for s in names if s in visible][:1] == [chosen]:
            reason = "the first visible sheet (no sheet is named Initiatives)"
        else:
            reason = "found by the importer's sheet detection"
    finally:
        book.close()
    return [SheetInfo(name=s, visible=s in visible, chosen=s == chosen,
                      reason=reason if s == chosen else "") for s in names]


def _column_role(col: int, header: str, table: SheetTable, roles: dict[int, str]) -> tuple[
        str, str]:
    if col in roles:
        return roles[col], ""
    if col in table.month_columns:
        return "month", f"{table.month_columns[col]:%Y-%m}"
    if col in table.ignored:
        return "ignored", ""
    normed = norm_header(header)
    if normed in TOTAL_HEADERS or re.match(r"^(fy\s*\d{2,4}|q[1-4]|h[12]|ytd)\b.*total|"
                                           r"^total\b", normed):
        return "total", ""
    return "unknown", ""


def _describe_table(found: Inspection, table: SheetTable) -> None:
    found.sheet = table.sheet
    found.header_row = table.header_row + 1
    found.layout = table.layout
    roles = {col: role for role, col in table.columns.items()}
    cols = sorted(set(table.headers) | set(roles) | set(table.month_columns))
    for col in cols:
        header = table.headers.get(col, "")
        role, month = _column_role(col, header, table, roles)
        found.columns.append(ColumnInfo(get_column_letter(col + 1), header, role, month))
    if table.scale_note is not None:
        found.scale_note = {"cell": f"{table.sheet}!{table.scale_note[0]}",
                            "factor": table.scale_note[1]}
    found.skipped = {k: v for k, v in table.skipped.items() if v}
    found.rows_read = len(table.rows)


def _labels(table: SheetTable, mapping: Mapping, resolver: Resolver | None) -> list[Label]:
    """Each distinct value of each code column (and owner, when mapped), resolved."""
    out: list[Label] = []
    rows = table.rows
    for role in (*CODE_ROLES, "owner"):
        if role not in rows or (role == "owner" and not mapping.values.get("owner")):
            continue
        col = table.columns[role]
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for value, row in zip(rows[role].tolist(), rows["row"].tolist(), strict=True):
            if isinstance(value, str):
                counts[value] = counts.get(value, 0) + 1
                first.setdefault(value, int(row))
        for value in list(counts)[:MAX_LABELS]:
            cell = f"{table.sheet}!{get_column_letter(col + 1)}{first[value] + 1}"
            out.append(_label(role, value, counts[value], cell, mapping, resolver))
    return out + _owner_aliases(table, mapping)


def _owner_aliases(table: SheetTable, mapping: Mapping) -> list[Label]:
    """Owners written another way on an initiative's later rows ("A. Ng" beside "Anna
    Ng"), after the mapping's owner map: each is a candidate for ``[values.owner]``."""
    rows = table.rows
    if "owner" not in rows or "id" not in rows:
        return []
    aliases = {fold(k): v for k, v in mapping.values.get("owner", {}).items()}
    first: dict[str, str] = {}
    seen: dict[str, Label] = {}
    col = get_column_letter(table.columns["owner"] + 1)
    for ext, owner, row in zip(rows["id"].tolist(), rows["owner"].tolist(),
                               rows["row"].tolist(), strict=True):
        if not isinstance(owner, str):
            continue
        owner = aliases.get(fold(owner), owner)
        if ext not in first:
            first[ext] = owner
        elif fold(owner) != fold(first[ext]):
            if owner in seen:
                seen[owner].rows += 1
            else:
                seen[owner] = Label("owner", owner, 1, f"{table.sheet}!{col}{int(row) + 1}",
                                    None, "differs", first[ext])
    return list(seen.values())


def _label(role: str, value: str, rows: int, cell: str, mapping: Mapping,
           resolver: Resolver | None) -> Label:
    if resolver is None:
        mapped = {fold(k): v for k, v in mapping.values.get(role, {}).items()}.get(fold(value))
        if mapped is None and role == "owner":
            return Label(role, value, rows, cell, value, "as written")
        return Label(role, value, rows, cell, mapped, "map" if mapped else "not checked")
    code, ambiguous = resolver.resolve(role, value)
    names = resolver.names.get(role, {})
    if code is not None:
        if fold(value) in resolver.maps.get(role, {}):
            how = "map"
        elif code.casefold() == value.strip().casefold():
            how = "code"
        else:
            how = "name"
        return Label(role, value, rows, cell, code, how)
    if ambiguous:
        return Label(role, value, rows, cell, None, "ambiguous", " or ".join(ambiguous))
    if role == "owner":
        return Label(role, value, rows, cell, value, "as written")
    return Label(role, value, rows, cell, None, "unresolved", closest_code(value, names))


def closest_code(value: str, names: dict[str, str]) -> str | None:
    """The known code most like ``value``: by a gate number (``Gate 3 - Approved`` -> L3),
    else the closest code or name."""
    digits = re.findall(r"\d+", value)
    if len(digits) == 1:
        for code in names:
            if re.fullmatch(r"[A-Za-z]+0*" + digits[0], code):
                return code
    pool: dict[str, str] = {}
    for code, name in names.items():
        pool.setdefault(fold(code), code)
        if name:
            pool.setdefault(fold(name), code)
    hits = difflib.get_close_matches(fold(value), list(pool), n=1, cutoff=0.4)
    return pool[hits[0]] if hits else None


# ------------------------------------------------------------------ the starter mapping

def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def starter_mapping(found: Inspection) -> str:
    """A mapping file spelling out every choice inspect found, with a commented line for
    each label that resolves to no code: the user edits this one file and runs again."""
    lines = [f"# Mapping for {found.file}, written by `tledger import inspect` on "
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
             "# Every choice the importer made is spelled out below: correct what is wrong,",
             "# fill in the commented value lines, then run",
             f"#   tledger import inspect {found.file} --mapping THIS_FILE.toml",
             f"#   tledger import initiatives {found.file} --mapping THIS_FILE.toml --dry-run",
             ""]
    if found.sheet is None:
        lines += ["# The table was not found: name the sheet and the header row.",
                  f"# sheet = {_q(next((s.name for s in found.sheets if s.visible), ''))}",
                  "# header_row = 1", ""]
        return "\n".join(lines) + "\n"
    chosen = next((s for s in found.sheets if s.chosen), None)
    lines.append(f"sheet = {_q(found.sheet)}"
                 + (f"    # {chosen.reason}" if chosen and chosen.reason else ""))
    lines.append(f"header_row = {found.header_row}")
    lines.append(f"layout = {_q(found.layout or 'auto')}")
    if found.scale is not None:
        lines.append(f"scale = {found.scale}")
    elif found.scale_note is not None:
        lines.append(f"scale = {found.scale_note['factor']}    # the unit note in "
                     f"{found.scale_note['cell']}; 1 to take the amounts as written")
    unknown = [c.header for c in found.columns if c.role in ("unknown", "ignored") and c.header]
    totals = [c.header for c in found.columns if c.role == "total"]
    if unknown:
        lines.append(f"ignore = [{', '.join(_q(h) for h in unknown)}]    # read as nothing")
    if totals:
        lines.append(f"# total columns, not read: {', '.join(totals)}")
    lines += ["", "[columns]"]
    for c in found.columns:
        if c.role in ROLE_ORDER and not c.month:
            if c.header:
                lines.append(f"{c.role} = {_q(c.header)}")
            else:
                lines.append(f"{c.role} = {{ column = {_q(c.column)} }}")
    months = [c for c in found.columns if c.role == "month" and c.month]
    if months:
        lines += ["", "[months]", f"columns = {_q(_month_span(months))}    # "
                  f"{months[0].month} to {months[-1].month}, {len(months)} columns"]
    skipped = ", ".join(f"{len(v)} {k}" for k, v in found.skipped.items() if k != "title")
    if skipped:
        lines.append(f"# rows skipped: {skipped}")
    lines += _value_lines(found)
    return "\n".join(lines) + "\n"


#: Column roles written to ``[columns]``, in this order.
ROLE_ORDER = ("id", "name", "owner", "business_unit", "lever", "stage", "description",
              "metric", "scenario", "note", "month", "amount")


def _month_span(months: list[ColumnInfo]) -> str:
    """``J:AG`` when the month columns are contiguous, else ``auto``."""
    from openpyxl.utils import column_index_from_string

    idx = [column_index_from_string(c.column) for c in months]
    if idx == list(range(idx[0], idx[0] + len(idx))):
        return f"{months[0].column}:{months[-1].column}"
    return "auto"


def _value_lines(found: Inspection) -> list[str]:
    out: list[str] = []
    for role in (*CODE_ROLES, "owner"):
        labels = [x for x in found.labels if x.role == role and x.how != "code"]
        if not labels:
            continue
        out += ["", f"[values.{role}]"]
        for x in labels:
            where = f"{x.rows} row{'s' if x.rows != 1 else ''}, first {x.first_cell}"
            if x.how in ("map", "name"):
                out.append(f"{_q(x.value)} = {_q(x.code or '')}    # {where}"
                           + (" (its name)" if x.how == "name" else ""))
            elif x.how == "differs":
                out.append(f"# {_q(x.value)} = {_q(x.closest or '')}    # {where}: beside "
                           f"{x.closest!r} on the same initiative's rows: the same person?")
            elif x.how == "ambiguous":
                out.append(f"# {_q(x.value)} = \"\"    # {where}: the name of {x.closest}")
            elif x.how == "not checked":
                out.append(f"# {_q(x.value)} = \"\"    # {where}: not checked (no ledger); "
                           f"delete if it is a {ROLE_WORDS[role]} code")
            elif x.how != "as written":
                guess = x.closest or ""
                note = "closest known code" if guess else "no close code"
                out.append(f"# {_q(x.value)} = {_q(guess)}    # {where}; {note}")
    return out

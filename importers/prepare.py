"""Checking a located table against the ledger's reference data, and turning it into the
frames the ledger writes: initiatives (attributes resolved to ids) and phasing facts.

Every check appends problems to the file's :class:`~importers.problems.ProblemLog`; a
file with errors is never written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from importers.amounts import convert
from importers.codes import ids_for_codes, value_at
from importers.layout import SheetTable, cell_ref
from importers.mapping import Mapping
from importers.problems import ProblemLog, show
from importers.valuemaps import Resolver, apply_value_maps
from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.initiatives import current_initiatives
from ledger.models import SCENARIOS
from ledger.vocabulary import did_you_mean

#: Column widths of the ledger's tables (PostgreSQL enforces them).
MAX_LEN = {"id": 100, "name": 300, "owner": 200}

#: Rounding warnings listed cell by cell before they are summarised.
MAX_ROUNDING_WARNINGS = 200


@dataclass
class Reference:
    """What a workbook is checked against, read inside the import's transaction."""

    programme: ProgrammeInfo
    metrics: dict[str, MetricInfo]
    units: dict[str, int]
    levers: dict[str, int]
    stages: dict[str, int]
    current: pd.DataFrame
    """Current initiatives (``ledger.initiatives.current_initiatives``) by external_id."""
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    """role (``metric``, ``business_unit``, ``lever``, ``stage``) -> {code: name}: what a
    label in a workbook may be besides its code (:mod:`importers.valuemaps`)."""

    @classmethod
    def load(cls, ledger: Ledger, conn: Connection) -> Reference:
        programme = ledger.programme(conn)
        metrics = {m.code: m for m in ledger.metrics(conn)}
        units_f = ledger.business_units(conn)
        units = {str(c): int(i) for c, i in zip(units_f["code"], units_f["id"], strict=True)}
        levers_f = ledger.levers(conn)
        levers = {str(c): int(i) for c, i in zip(levers_f["code"], levers_f["id"], strict=True)}
        stages_f = ledger.stage_gates(conn)
        stages = {str(c): int(i) for c, i in zip(stages_f["code"], stages_f["id"], strict=True)}
        current = current_initiatives(conn).set_index("external_id", drop=False)
        names = {"metric": {m.code: m.name for m in metrics.values()}}
        for role, frame in (("business_unit", units_f), ("lever", levers_f),
                            ("stage", stages_f)):
            names[role] = {str(c): str(n or "") for c, n in
                           zip(frame["code"], frame["name"], strict=True)}
        return cls(programme, metrics, units, levers, stages, current, names)


@dataclass
class Prepared:
    """One file's initiatives and phasing, checked and resolved to ledger ids."""

    file: str
    sheet: str
    rows_read: int
    initiatives: pd.DataFrame
    """One per external id: ``external_id`` and ``ledger.initiatives.ATTRIBUTES`` (no
    status)."""
    facts: pd.DataFrame
    """``pos`` (the data row it came from), ``external_id, metric_id, scenario, month,
    amount_minor``."""
    row_scopes: pd.DataFrame
    """``external_id, metric_id, scenario`` of every data row (a row emptied of all its
    amounts still replaces that initiative's phasing for its metric and scenario)."""
    units_in_file: set[int | None] = field(default_factory=set)
    """Business unit ids of the file's initiatives (None: no unit): a snapshot's scope."""
    row_external_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    """The external id of each data row (``facts.pos`` indexes it)."""
    notes: dict[str, str] = field(default_factory=dict)
    """external id -> the text of its rows' note (comments) cells, kept with the
    submission and never compared as an attribute."""


def _known_list(known: dict[str, int]) -> str:
    codes = sorted(known)
    return ", ".join(codes[:12]) + (", ..." if len(codes) > 12 else "")


def prepare_initiatives(table: SheetTable, mapping: Mapping, ref: Reference, log: ProblemLog,
                        scale: Decimal) -> Prepared:
    """Check ``table``'s rows against ``ref`` and build the frames to write.

    Problems go to ``log``; the returned frames are only meaningful if it has no errors.
    """
    rows = table.rows.copy()
    apply_value_maps(rows, table, Resolver.build(ref.names, mapping, log), log)
    cells = _Cells(table, rows, log)
    metric_code, metric_ids, scenario = _check_metric_and_scenario(cells, mapping, ref)
    rows["metric_id"] = metric_ids
    rows["scenario"] = scenario
    _check_lengths(cells)
    if table.layout == "wide":
        # (A long layout has one row per month: its duplicates are checked per month.)
        _check_duplicate_rows(cells, metric_code, scenario)
    _check_attributes_agree(cells)
    initiatives = _initiatives_frame(cells, mapping, ref)
    facts = _phasing_facts(cells, ref, scale, mapping.decimal)
    scopes = pd.DataFrame({"external_id": rows["id"], "metric_id": rows["metric_id"],
                           "scenario": rows["scenario"]}).drop_duplicates()
    units = {None if pd.isna(u) else int(u) for u in initiatives["business_unit_id"]}
    return Prepared(file=log.file, sheet=table.sheet, rows_read=len(rows),
                    initiatives=initiatives, facts=facts, row_scopes=scopes,
                    units_in_file=units, row_external_ids=rows["id"].to_numpy(dtype=object),
                    notes=row_notes(rows))


def _shown_or_empty(value: object) -> str:
    return "an empty cell" if value is None or value != value else show(value)


def row_notes(rows: pd.DataFrame) -> dict[str, str]:
    """external id -> its rows' distinct note texts, joined by " | " (in row order)."""
    if "note" not in rows:
        return {}
    notes: dict[str, list[str]] = {}
    some = rows[rows["note"].notna()]
    for ext, note in zip(some["id"].tolist(), some["note"].tolist(), strict=True):
        if isinstance(note, str) and note and note not in notes.setdefault(ext, []):
            notes[ext].append(note)
    return {ext: " | ".join(texts) for ext, texts in notes.items() if texts}


@dataclass
class _Cells:
    """The table being prepared, its data rows, and the log its problems go to."""

    table: SheetTable
    rows: pd.DataFrame
    log: ProblemLog

    @property
    def sheet(self) -> str:
        return self.table.sheet

    def at(self, role: str, pos: int) -> str:
        """The cell of data row ``pos`` in ``role``'s column (column A without one)."""
        row0 = int(value_at(self.rows["row"], int(pos)))
        columns = self.table.columns
        return cell_ref(row0, columns[role]) if role in columns else f"A{row0 + 1}"

    def column_of(self, role: str) -> str:
        """``Description, column "Comments"``: a role and the header of its column."""
        col = self.table.columns.get(role)
        header = self.table.headers.get(col) if col is not None else None
        label = role.replace("_", " ").capitalize()
        return f'{label}, column "{header}"' if header else label

    def header_row(self) -> str:
        """The header row as a whole-row reference such as ``4:4``."""
        return f"{self.table.header_row + 1}:{self.table.header_row + 1}"


def _column_or_default(rows: pd.DataFrame, mapping: Mapping, role: str,
                       fallback: str | None) -> pd.Series:
    default = mapping.defaults.get(role, fallback)
    if role in rows:
        return rows[role].where(rows[role].notna(), default)
    return pd.Series([default] * len(rows), index=rows.index, dtype=object)


def _check_metric_and_scenario(cells: _Cells, mapping: Mapping, ref: Reference
                               ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Each row's metric code, metric id and scenario (the mapping's default where the
    cell is empty); an unknown one is logged with a suggestion."""
    rows, log, sheet = cells.rows, cells.log, cells.sheet
    first_metric = next(iter(ref.metrics)) if ref.metrics else None
    metric_code = _column_or_default(rows, mapping, "metric", first_metric)
    known_metrics = {c: m.id for c, m in ref.metrics.items()}
    metric_ids, bad = ids_for_codes(metric_code, known_metrics)
    for pos in np.flatnonzero(bad.to_numpy()).tolist():
        found = value_at(metric_code, pos)
        log.bad_value(sheet, cells.at("metric", pos), found,
                      f"a metric code: {_known_list(known_metrics)}"
                      + did_you_mean(str(found), list(ref.metrics)))
    scenario = _column_or_default(rows, mapping, "scenario", "plan").map(
        lambda s: s.strip().lower() if isinstance(s, str) else s)
    for pos in np.flatnonzero((~scenario.isin(SCENARIOS)).to_numpy()).tolist():
        found = value_at(scenario, pos)
        log.bad_value(sheet, cells.at("scenario", pos), found,
                      f"a scenario: {', '.join(SCENARIOS)}"
                      + did_you_mean(str(found), list(SCENARIOS)))
    return metric_code, metric_ids, scenario


def _check_lengths(cells: _Cells) -> None:
    """Text longer than the ledger's column holds."""
    rows = cells.rows
    for role, limit in MAX_LEN.items():
        if role in rows:
            too_long = rows[role].map(lambda v, lim=limit: isinstance(v, str) and len(v) > lim)
            for pos in np.flatnonzero(too_long.to_numpy()).tolist():
                cells.log.error(cells.sheet, cells.at(role, pos),
                                f"{len(str(value_at(rows[role], pos)))} characters",
                                f"at most {limit} characters")


def _check_duplicate_rows(cells: _Cells, metric_code: pd.Series, scenario: pd.Series) -> None:
    """One row per initiative x metric x scenario: each repeat names the first row."""
    ext = cells.rows["id"]
    key = pd.DataFrame({"id": ext, "m": metric_code, "s": scenario})
    dup = key.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    first_pos: dict[tuple[Any, ...], int] = {}
    for pos in np.flatnonzero(dup).tolist():
        dkey = (value_at(ext, pos), value_at(metric_code, pos), value_at(scenario, pos))
        if dkey not in first_pos:
            first_pos[dkey] = int(pos)
            continue
        first_row = int(value_at(cells.rows["row"], first_pos[dkey])) + 1
        cells.log.error(cells.sheet, cells.at("id", pos),
                        f"{value_at(ext, pos)!r} again for {dkey[1]}/{dkey[2]} "
                        f"(first in row {first_row})",
                        "each initiative once per metric and scenario")


def _check_attributes_agree(cells: _Cells) -> None:
    """Attributes repeated on an initiative's rows must agree with its first row."""
    rows = cells.rows
    ext = rows["id"]
    attr_roles = [r for r in ("name", "owner", "business_unit", "lever", "stage",
                              "description") if r in rows]
    if not attr_roles or not ext.duplicated().any():
        return
    for role in attr_roles:
        firsts = rows.groupby("id", sort=False)[role].first()
        expect = ext.map(firsts)
        values = rows[role]
        disagree = ~((values == expect) | (values.isna() & expect.isna()))
        for pos in np.flatnonzero(disagree.to_numpy()).tolist():
            found = value_at(values, pos)
            cells.log.error(cells.sheet, cells.at(role, pos),
                            f"{_shown_or_empty(found)} "
                            f"({cells.column_of(role)})",
                            f"{_shown_or_empty(value_at(expect, pos))}, as on "
                            f"{value_at(ext, pos)}'s "
                            "first row (an initiative's attributes must agree on all its "
                            "rows; a column of comments is read as a note, never compared: "
                            "name it in the mapping as columns.note, or in ignore)")


@dataclass
class _Initiatives:
    """One row per initiative (its first data row), beside the ledger's current record."""

    one: pd.DataFrame
    """The file's first row of each initiative."""
    one_pos: np.ndarray
    """Each one's position among the data rows (for its cells)."""
    known: np.ndarray
    """Whether the ledger already has it."""
    current: pd.DataFrame
    """The ledger's current record, aligned with ``one``."""
    mapping: Mapping

    def attribute(self, role: str) -> pd.Series:
        """The file's value; the ledger's where the file has no such column."""
        one = self.one
        if role in one:
            return one[role]
        if role in self.mapping.defaults:
            return pd.Series([self.mapping.defaults[role]] * len(one), dtype=object)
        values: list[Any] = [v if ok else None for v, ok in
                             zip(self.current[role].tolist(), self.known.tolist(),
                                 strict=True)]
        return pd.Series(values, dtype=object)


def _initiatives_frame(cells: _Cells, mapping: Mapping, ref: Reference) -> pd.DataFrame:
    """One row per initiative: name and owner checked, codes resolved to ids."""
    rows = cells.rows
    firsts_pos = (~rows["id"].duplicated()).to_numpy()
    one = rows[firsts_pos].reset_index(drop=True)
    known = one["id"].isin(ref.current.index).to_numpy()
    initiatives = _Initiatives(one, np.flatnonzero(firsts_pos), known,
                               ref.current.reindex(one["id"]), mapping)
    out = pd.DataFrame({"external_id": one["id"]})
    _required_text(cells, initiatives, out)
    if "owner" in one:
        _keep_ledger_owner(cells, initiatives, out)
    _resolve_codes(cells, initiatives, ref, out)
    desc = initiatives.attribute("description")
    out["description"] = desc.where(desc.notna(), "").astype(object)
    # Plain int64 and Python objects: the drivers bind numpy extension scalars badly.
    out["stage_gate_id"] = out["stage_gate_id"].fillna(-1).astype("int64")
    for col in ("external_id", "name", "owner"):
        out[col] = out[col].astype(object)
    return out


def _required_text(cells: _Cells, initiatives: _Initiatives, out: pd.DataFrame) -> None:
    """Name and owner: an empty cell, or no column for a new initiative, is an error."""
    one, one_pos = initiatives.one, initiatives.one_pos
    for role in ("name", "owner"):
        values = initiatives.attribute(role)
        for nth in np.flatnonzero(values.isna().to_numpy()).tolist():
            if role in one:
                cells.log.error(cells.sheet, cells.at(role, one_pos[nth]), "an empty cell",
                                f"the initiative's {role} (required)")
            else:
                cells.log.error(cells.sheet, cells.header_row(), f"no {role.title()} column "
                                f"for new initiative {value_at(one['id'], nth)!r}",
                                f"a {role.title()} column (or [defaults] {role} in the "
                                "mapping)")
        out[role] = values


def _keep_ledger_owner(cells: _Cells, initiatives: _Initiatives, out: pd.DataFrame) -> None:
    """The owner of a known initiative is the ledger's; a workbook does not reassign it."""
    one, known = initiatives.one, initiatives.known
    ledger_owner = initiatives.current["owner"].to_numpy(dtype=object)
    file_owner = one["owner"].to_numpy(dtype=object)
    for nth in np.flatnonzero(known).tolist():
        theirs, ours = file_owner[nth], ledger_owner[nth]
        if theirs is not None and ours is not None and \
                " ".join(str(theirs).split()).casefold() != " ".join(
                    str(ours).split()).casefold():
            cells.log.bad_value(cells.sheet, cells.at("owner", initiatives.one_pos[nth]), theirs,
                                f"{ours!r}, the owner the ledger has for "
                                f"{value_at(one['id'], nth)} "
                                "(a workbook does not reassign initiatives)")
    out["owner"] = np.where(known & out["owner"].notna().to_numpy(), ledger_owner,
                            out["owner"].to_numpy(dtype=object))


def _resolve_codes(cells: _Cells, initiatives: _Initiatives, ref: Reference,
                   out: pd.DataFrame) -> None:
    """Business unit, lever and stage codes to ids; a stage is required."""
    one, one_pos = initiatives.one, initiatives.one_pos
    for role, known_codes, what in (
        ("business_unit", ref.units, "a business unit code"),
        ("lever", ref.levers, "a lever code"),
        ("stage", ref.stages, "a stage gate code"),
    ):
        codes = initiatives.attribute(role)
        ids, bad = ids_for_codes(codes, known_codes)
        for nth in np.flatnonzero(bad.to_numpy()).tolist():
            cell = cells.at(role, one_pos[nth]) if role in one else "defaults"
            cells.log.bad_value(cells.sheet, cell, value_at(codes, nth),
                                f"{what}: {_known_list(known_codes)}"
                                + did_you_mean(str(value_at(codes, nth)), list(known_codes)))
        out[f"{role}_id" if role != "stage" else "stage_gate_id"] = ids
        if role == "stage":
            for nth in np.flatnonzero(codes.isna().to_numpy()).tolist():
                if role in one:
                    cells.log.error(cells.sheet, cells.at("stage", one_pos[nth]),
                                    "an empty cell", "a stage gate code such as L2 (required)")
                else:
                    cells.log.error(cells.sheet, cells.header_row(), "no Stage column for "
                                    f"new initiative {value_at(one['id'], nth)!r}",
                                    "a Stage column (or [defaults] stage in the mapping)")


def _phasing_facts(cells: _Cells, ref: Reference, scale: Decimal, decimal_mark: str
                   ) -> pd.DataFrame:
    """The amounts converted to minor units in their metric's precision, one per cell;
    bad amounts are errors and rounded ones warnings, each naming its cell."""
    rows, log, sheet = cells.rows, cells.log, cells.sheet
    facts = cells.table.facts
    decimals_by_metric = {m.id: m.decimals for m in ref.metrics.values()}
    metric_of_row = rows["metric_id"].fillna(-1).to_numpy(dtype=np.int64)
    fact_metric = metric_of_row[facts["pos"].to_numpy(dtype=np.int64)]
    valid_metric = fact_metric >= 0
    decimals_of_metric = np.zeros(max(decimals_by_metric, default=0) + 1, dtype=np.int64)
    for metric_id, decimals_kept in decimals_by_metric.items():
        decimals_of_metric[metric_id] = decimals_kept
    decimals = np.where(valid_metric, decimals_of_metric[np.clip(fact_metric, 0, None)], 0)
    converted = convert(facts["value"].to_numpy(dtype=object), decimals, scale, decimal_mark)
    fact_row = facts["row"].to_numpy()
    fact_col = facts["col"].to_numpy()
    for fact_index, found, expected in converted.errors:
        log.bad_value(sheet, cell_ref(int(fact_row[fact_index]), int(fact_col[fact_index])),
                      found, expected)
    for listed, (fact_index, read, kept) in enumerate(converted.rounded):
        if listed == MAX_ROUNDING_WARNINGS:
            log.warn(sheet, "", f"{len(converted.rounded) - listed} more amounts with extra "
                     "decimals", "rounded half away from zero like the ones above")
            break
        log.warn(sheet, cell_ref(int(fact_row[fact_index]), int(fact_col[fact_index])),
                 str(read), f"at most {int(decimals[fact_index])} decimals: rounded to {kept}")
    keep = converted.present & valid_metric
    pos = facts["pos"].to_numpy()[keep]
    fact_frame = pd.DataFrame({
        "pos": pos,
        # dtype=object: pandas 3 would otherwise re-validate a million strings per column.
        "external_id": pd.Series(rows["id"].to_numpy(dtype=object)[pos], dtype=object),
        "metric_id": metric_of_row[pos],
        "scenario": pd.Series(rows["scenario"].to_numpy(dtype=object)[pos], dtype=object),
        "month": pd.Series(facts["month"].to_numpy(dtype=object)[keep], dtype=object),
        "amount_minor": converted.minor[keep],
    })
    if cells.table.layout == "long" and len(fact_frame):
        dup = fact_frame.duplicated(["external_id", "metric_id", "scenario", "month"],
                                    keep="first").to_numpy()
        for fact_pos in np.flatnonzero(dup).tolist():
            cell_pos = int(np.flatnonzero(keep)[fact_pos])
            log.error(sheet, cell_ref(int(fact_row[cell_pos]), int(fact_col[cell_pos])),
                      f"a second amount for {value_at(fact_frame['external_id'], fact_pos)} in "
                      f"{str(value_at(fact_frame['month'], fact_pos))[:7]}",
                      "one row per initiative, metric, scenario and month")
    return fact_frame

"""Checking a located table against the ledger's reference data, and turning it into the
frames the ledger writes: initiatives (attributes resolved to ids) and phasing facts.

Every check appends problems to the file's :class:`~importers.problems.ProblemLog`; a
file with errors is never written.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from importers.amounts import convert
from importers.layout import SheetTable, cell_ref
from importers.mapping import Mapping
from importers.problems import ProblemLog
from ledger.api import Ledger, MetricInfo, ProgrammeInfo
from ledger.initiatives import current_initiatives
from ledger.models import SCENARIOS


def _v(series: pd.Series, pos: int) -> Any:
    """One value of ``series`` by position (typed loosely: cells hold anything)."""
    return series.iat[pos]

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

    @classmethod
    def load(cls, ledger: Ledger, conn: Connection) -> Reference:
        programme = ledger.programme(conn)
        metrics = {m.code: m for m in ledger.metrics(conn)}
        units = {str(c): int(i) for c, i in zip(ledger.business_units(conn)["code"],
                                                ledger.business_units(conn)["id"], strict=True)}
        levers_f = ledger.levers(conn)
        levers = {str(c): int(i) for c, i in zip(levers_f["code"], levers_f["id"], strict=True)}
        stages_f = ledger.stage_gates(conn)
        stages = {str(c): int(i) for c, i in zip(stages_f["code"], stages_f["id"], strict=True)}
        current = current_initiatives(conn).set_index("external_id", drop=False)
        return cls(programme, metrics, units, levers, stages, current)


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


def _suggest(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
    if not close:
        close = difflib.get_close_matches(value.upper(), [k.upper() for k in known], n=1,
                                          cutoff=0.5)
        close = [k for k in known if k.upper() == close[0]] if close else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _resolve(values: pd.Series, known: dict[str, int]) -> tuple[pd.Series, pd.Series]:
    """Codes to ids: exact, else case-insensitive. Returns (ids as Int64, unknown mask)."""
    folded: dict[str, int | None] = {}
    for code, ident in known.items():
        key = code.casefold()
        folded[key] = None if key in folded and folded[key] != ident else ident
    uniques = values.dropna().unique()
    lookup: dict[Any, int | None] = {}
    for u in uniques:
        lookup[u] = known.get(u, folded.get(str(u).casefold()))
    ids = values.map(lookup).astype("Int64")
    unknown = values.notna() & ids.isna()
    return ids, unknown


def _known_list(known: dict[str, int]) -> str:
    codes = sorted(known)
    return ", ".join(codes[:12]) + (", ..." if len(codes) > 12 else "")


def prepare_initiatives(table: SheetTable, mapping: Mapping, ref: Reference, log: ProblemLog,
                        scale: Decimal) -> Prepared:
    """Check ``table``'s rows against ``ref`` and build the frames to write.

    Problems go to ``log``; the returned frames are only meaningful if it has no errors.
    """
    sheet = table.sheet
    rows = table.rows.copy()
    header = table.header_row
    cols = table.columns

    def at(role: str, pos: Any) -> str:
        return cell_ref(int(_v(rows["row"], int(pos))), cols[role]) if role in cols else (
            f"A{int(_v(rows['row'], int(pos))) + 1}")

    def column_or_default(role: str, fallback: str | None) -> pd.Series:
        default = mapping.defaults.get(role, fallback)
        if role in rows:
            return rows[role].where(rows[role].notna(), default)
        return pd.Series([default] * len(rows), index=rows.index, dtype=object)

    # Metric and scenario per row.
    first_metric = next(iter(ref.metrics)) if ref.metrics else None
    metric_code = column_or_default("metric", first_metric)
    metric_ids, bad = _resolve(metric_code, {c: m.id for c, m in ref.metrics.items()})
    for pos in np.flatnonzero(bad.to_numpy()).tolist():
        found = _v(metric_code, pos)
        log.bad_value(sheet, at("metric", pos), found, "a metric code: "
                  f"{_known_list({c: m.id for c, m in ref.metrics.items()})}"
                  + _suggest(str(found), list(ref.metrics)))
    scenario = column_or_default("scenario", "plan").map(
        lambda s: s.strip().lower() if isinstance(s, str) else s)
    for pos in np.flatnonzero((~scenario.isin(SCENARIOS)).to_numpy()).tolist():
        found = _v(scenario, pos)
        log.bad_value(sheet, at("scenario", pos), found, f"a scenario: {', '.join(SCENARIOS)}"
                  + _suggest(str(found), list(SCENARIOS)))
    rows["metric_id"] = metric_ids
    rows["scenario"] = scenario

    ext = rows["id"]
    for role, limit in MAX_LEN.items():
        if role in rows:
            too_long = rows[role].map(lambda v, lim=limit: isinstance(v, str) and len(v) > lim)
            for pos in np.flatnonzero(too_long.to_numpy()).tolist():
                log.error(sheet, at(role, pos), f"{len(str(_v(rows[role], pos)))} characters",
                          f"at most {limit} characters")

    # Duplicate rows: one row per initiative x metric x scenario.
    key = pd.DataFrame({"id": ext, "m": metric_code, "s": scenario})
    # (A long layout has one row per month: its duplicates are checked per month below.)
    dup = key.duplicated(keep=False).to_numpy() & (table.layout == "wide")
    if dup.any():
        first_pos: dict[tuple[Any, ...], int] = {}
        for pos in np.flatnonzero(dup).tolist():
            dkey = (_v(ext, pos), _v(metric_code, pos), _v(scenario, pos))
            if dkey not in first_pos:
                first_pos[dkey] = int(pos)
                continue
            log.error(sheet, at("id", pos), f"{_v(ext, pos)!r} again for {dkey[1]}/{dkey[2]} "
                      f"(first in row {int(_v(rows['row'], first_pos[dkey])) + 1})",
                      "each initiative once per metric and scenario")

    # Attributes repeated on an initiative's rows must agree.
    attr_roles = [r for r in ("name", "owner", "business_unit", "lever", "stage",
                              "description") if r in rows]
    if attr_roles and ext.duplicated().any():
        for role in attr_roles:
            firsts = rows.groupby("id", sort=False)[role].first()
            expect = ext.map(firsts)
            vals = rows[role]
            disagree = ~((vals == expect) | (vals.isna() & expect.isna()))
            for pos in np.flatnonzero(disagree.to_numpy()).tolist():
                log.bad_value(sheet, at(role, pos), _v(vals, pos),
                          f"{_v(expect, pos)!r}, as on {_v(ext, pos)}'s first row "
                          "(an initiative's attributes must agree on all its rows)")

    # One row per initiative: attributes resolved to ids.
    firsts_pos = (~ext.duplicated()).to_numpy()
    one = rows[firsts_pos].reset_index(drop=True)
    one_pos = np.flatnonzero(firsts_pos)
    known = one["id"].isin(ref.current.index).to_numpy()
    cur = ref.current.reindex(one["id"])

    def attribute(role: str, ledger_col: str) -> pd.Series:
        """The file's value; the ledger's where the file has no such column."""
        if role in one:
            return one[role]
        if role in mapping.defaults:
            return pd.Series([mapping.defaults[role]] * len(one), dtype=object)
        values: list[Any] = [v if ok else None for v, ok in
                             zip(cur[ledger_col].tolist(), known.tolist(), strict=True)]
        return pd.Series(values, dtype=object)  # type: ignore[call-overload]

    out = pd.DataFrame({"external_id": one["id"]})
    for role, ledger_col in (("name", "name"), ("owner", "owner")):
        vals = attribute(role, ledger_col)
        for k in np.flatnonzero(vals.isna().to_numpy()).tolist():
            if role in one:
                log.error(sheet, at(role, one_pos[k]), "an empty cell",
                          f"the initiative's {role} (required)")
            else:
                log.error(sheet, f"{header + 1}:{header + 1}", f"no {role.title()} column "
                          f"for new initiative {_v(one['id'], k)!r}",
                          f"a {role.title()} column (or [defaults] {role} in the mapping)")
        out[role] = vals
    # The owner of a known initiative is the ledger's; a workbook does not reassign it.
    if "owner" in one:
        ledger_owner = cur["owner"].to_numpy(dtype=object)
        file_owner = one["owner"].to_numpy(dtype=object)
        for k in np.flatnonzero(known).tolist():
            theirs, ours = file_owner[k], ledger_owner[k]
            if theirs is not None and ours is not None and \
                    " ".join(str(theirs).split()).casefold() != " ".join(
                        str(ours).split()).casefold():
                log.bad_value(sheet, at("owner", one_pos[k]), theirs,
                          f"{ours!r}, the owner the ledger has for {_v(one['id'], k)} "
                          "(a workbook does not reassign initiatives)")
        out["owner"] = np.where(known & out["owner"].notna().to_numpy(), ledger_owner,
                                out["owner"].to_numpy(dtype=object))

    for role, ledger_col, known_codes, what in (
        ("business_unit", "business_unit", ref.units, "a business unit code"),
        ("lever", "lever", ref.levers, "a lever code"),
        ("stage", "stage", ref.stages, "a stage gate code"),
    ):
        codes = attribute(role, ledger_col)
        ids, bad = _resolve(codes, known_codes)
        for k in np.flatnonzero(bad.to_numpy()).tolist():
            cell = at(role, one_pos[k]) if role in one else "defaults"
            log.bad_value(sheet, cell, _v(codes, k), f"{what}: {_known_list(known_codes)}"
                      + _suggest(str(_v(codes, k)), list(known_codes)))
        out[f"{role}_id" if role != "stage" else "stage_gate_id"] = ids
        if role == "stage":
            for k in np.flatnonzero(codes.isna().to_numpy()).tolist():
                if role in one:
                    log.error(sheet, at("stage", one_pos[k]), "an empty cell",
                              "a stage gate code such as L2 (required)")
                else:
                    log.error(sheet, f"{header + 1}:{header + 1}", "no Stage column for new "
                              f"initiative {_v(one['id'], k)!r}",
                              "a Stage column (or [defaults] stage in the mapping)")
    desc = attribute("description", "description")
    out["description"] = desc.where(desc.notna(), "").astype(object)
    # Plain int64 and Python objects: the drivers bind numpy extension scalars badly.
    out["stage_gate_id"] = out["stage_gate_id"].fillna(-1).astype("int64")
    for col in ("external_id", "name", "owner"):
        out[col] = out[col].astype(object)

    # Phasing facts.
    facts = table.facts
    decimals_by_metric = {m.id: m.decimals for m in ref.metrics.values()}
    mid_rows = rows["metric_id"].fillna(-1).to_numpy(dtype=np.int64)
    fact_mid = mid_rows[facts["pos"].to_numpy(dtype=np.int64)]
    valid_metric = fact_mid >= 0
    lut = np.zeros(max(decimals_by_metric, default=0) + 1, dtype=np.int64)
    for mid, d in decimals_by_metric.items():
        lut[mid] = d
    decimals = np.where(valid_metric, lut[np.clip(fact_mid, 0, None)], 0)
    conv = convert(facts["value"].to_numpy(dtype=object), decimals, scale, mapping.decimal)
    frow = facts["row"].to_numpy()
    fcol = facts["col"].to_numpy()
    for i, found, expected in conv.errors:
        log.bad_value(sheet, cell_ref(int(frow[i]), int(fcol[i])), found, expected)
    for n, (i, read, kept) in enumerate(conv.rounded):
        if n == MAX_ROUNDING_WARNINGS:
            log.warn(sheet, "", f"{len(conv.rounded) - n} more amounts with extra decimals",
                     "rounded half away from zero like the ones above")
            break
        log.warn(sheet, cell_ref(int(frow[i]), int(fcol[i])), str(read),
                 f"at most {int(decimals[i])} decimals: rounded to {kept}")
    keep = conv.present & valid_metric
    pos = facts["pos"].to_numpy()[keep]
    fact_frame = pd.DataFrame({
        "pos": pos,
        # dtype=object: pandas 3 would otherwise re-validate a million strings per column.
        "external_id": pd.Series(rows["id"].to_numpy(dtype=object)[pos], dtype=object),
        "metric_id": mid_rows[pos],
        "scenario": pd.Series(rows["scenario"].to_numpy(dtype=object)[pos], dtype=object),
        "month": pd.Series(facts["month"].to_numpy(dtype=object)[keep], dtype=object),
        "amount_minor": conv.minor[keep],
    })
    if table.layout == "long" and len(fact_frame):
        dup = fact_frame.duplicated(["external_id", "metric_id", "scenario", "month"],
                                    keep="first").to_numpy()
        for k in np.flatnonzero(dup).tolist():
            p = int(np.flatnonzero(keep)[k])
            log.error(sheet, cell_ref(int(frow[p]), int(fcol[p])),
                      f"a second amount for {_v(fact_frame['external_id'], k)} in "
                      f"{str(_v(fact_frame['month'], k))[:7]}",
                      "one row per initiative, metric, scenario and month")
    scopes = pd.DataFrame({"external_id": rows["id"], "metric_id": rows["metric_id"],
                           "scenario": rows["scenario"]}).drop_duplicates()
    units = {None if pd.isna(u) else int(u) for u in out["business_unit_id"]}
    return Prepared(file=log.file, sheet=sheet, rows_read=len(rows), initiatives=out,
                    facts=fact_frame, row_scopes=scopes, units_in_file=units,
                    row_external_ids=rows["id"].to_numpy(dtype=object))


"""The gap report's test data and its proofs, shared by the report tests: a seeded ledger
with awkward text and the checks that every figure of a recalculated workbook ties to the
engine to the cent (LibreOffice itself: :mod:`helpers.libreoffice`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from helpers.libreoffice import cents
from ledger.api import Ledger
from ledger.engine import gap
from ledger.initiatives import write_initiatives
from ledger.store import new_submission, write_phasing, write_targets

EVIL_NAME = '=HYPERLINK("http://evil.example","click")'

# --------------------------------------------------------------------------- data


def seed(ledger: Ledger) -> dict[str, Any]:
    """Initiatives with awkward text, an unallocated one, a withdrawn one, negatives, cents,
    a lever code with wildcard characters, two metrics; targets for programme, a unit and a
    lever (one month with a zero target). A second submission changes one initiative, so
    the first one is a distinct as-of point."""
    ledger.add_lever("X*?~", "Wildcards in a code")
    bu = dict(zip(ledger.business_units()["code"], ledger.business_units()["id"], strict=True))
    lv = dict(zip(ledger.levers()["code"], ledger.levers()["id"], strict=True))
    sg = dict(zip(ledger.stage_gates()["code"], ledger.stage_gates()["id"], strict=True))
    benefit, cost = ledger.metric("benefit"), ledger.metric("cost")
    volume = ledger.metric("volume")
    months = ledger.programme().months
    rng = np.random.default_rng(7)
    specs = [
        ("GR-0001", EVIL_NAME, "+Ann", "PRO", "PROC", "L3"),
        ("GR-0002", "-Fuel switch", "@Bob", "MIN", "X*?~", "L1"),
        ("GR-0003", "No unit or lever", "Cy", None, None, "L5"),
        ("GR-0004", "Haul roads", "Dee", "MIN", "MAINT", "L4"),
        ("GR-0005", "Withdrawn later", "Eve", "PRO", "ENERGY", "L2"),
        ("gr-0006", "Lower-case id", "Fay", "pro" if False else "PRO", "LAB", "L0"),
    ]
    with ledger.writing() as conn:
        sub = new_submission(conn, kind="import", user="tester", note="seed")
        frame = pd.DataFrame([{
            "external_id": e, "name": n, "owner": o, "business_unit_id": bu.get(u) if u else None,
            "lever_id": lv.get(lc) if lc else None, "stage_gate_id": sg[s], "description": "",
        } for e, n, o, u, lc, s in specs])
        ids = write_initiatives(conn, frame, sub.id).ids
        rows = []
        for ext, *_ in specs:
            for i, m in enumerate(months):
                if rng.random() < 0.8:
                    rows.append((ids[ext], benefit.id, "plan", m.isoformat(),
                                 int(rng.integers(-50_000, 2_500_000))))
                if ext in ("GR-0001", "GR-0004") and i < 6:
                    rows.append((ids[ext], cost.id, "plan", m.isoformat(), 1_234_567))
                if ext == "GR-0004" and i % 2:
                    rows.append((ids[ext], volume.id, "plan", m.isoformat(), 1_500_250 + i))
        write_phasing(conn, pd.DataFrame(rows, columns=["initiative_id", "metric_id",
                                                        "scenario", "month", "amount_minor"]),
                      sub.id)
        targets = []
        for i, m in enumerate(months):
            targets.append((benefit.id, "programme", "", m.isoformat(), 0 if i == 4 else
                            9_000_000 + 10_000 * i))
            targets.append((benefit.id, "business_unit", "PRO", m.isoformat(), 4_000_000))
            targets.append((benefit.id, "lever", "PROC", m.isoformat(), 1_500_001))
        write_targets(conn, pd.DataFrame(targets, columns=["metric_id", "scope_kind",
                                                           "scope_code", "month",
                                                           "amount_minor"]), sub.id)
    first_instant = ledger.submissions().iloc[0]["created_at"]
    with ledger.writing() as conn:
        sub2 = new_submission(conn, kind="edit", user="tester", note="withdraw GR-0005")
        w = frame[frame["external_id"] == "GR-0005"].assign(status="withdrawn")
        write_initiatives(conn, w, sub2.id)
        write_phasing(conn, pd.DataFrame([(ids["GR-0004"], benefit.id, "plan",
                                           months[3].isoformat(), 777)],
                                         columns=["initiative_id", "metric_id", "scenario",
                                                  "month", "amount_minor"]),
                      sub2.id, replace_scope=None)
    return {"first_instant": first_instant}


# --------------------------------------------------------------------------- reading back


def _columns(ws: Any, first_col: int) -> dict[int, str]:
    """Header row 4: month columns -> 'YYYY-MM', subtotal columns -> 'FY27' / 'Horizon'."""
    out = {}
    for col in range(first_col, ws.max_column + 1):
        v = ws.cell(4, col).value
        if isinstance(v, datetime):
            out[col] = f"{v:%Y-%m}"
        elif isinstance(v, str):
            out[col] = v
    return out


def engine_lookup(report: Any) -> dict[tuple[str, str, str], Any]:
    """(part, column key, field) -> engine value, cumulative subtotals at their last month."""
    look: dict[tuple[str, str, str], Any] = {}
    last_month: dict[tuple[str, str], str] = {}
    for rec in report.monthly.to_dict("records"):
        key = f"{rec['month']:%Y-%m}"
        for f in ("target", "bottom_up", "gap", "cumulative_target", "cumulative_bottom_up",
                  "cumulative_gap", "coverage"):
            look[(rec["part"], key, f)] = rec[f]
        last_month[(rec["part"], rec["fiscal_year"])] = key
        last_month[(rec["part"], "Horizon")] = key
    for rec in report.fiscal.to_dict("records"):
        for f in ("target", "bottom_up", "gap", "coverage"):
            look[(rec["part"], rec["period"], f)] = rec[f]
        last = last_month[(rec["part"], rec["period"])]
        for f in ("cumulative_target", "cumulative_bottom_up", "cumulative_gap"):
            look[(rec["part"], rec["period"], f)] = look[(rec["part"], last, f)]
    return look


def _check_value(found: Any, expected: Any, field: str, decimals: int, where: str) -> None:
    if field == "coverage":
        if expected is None:
            assert found in (None, ""), f"{where}: expected blank coverage, found {found!r}"
        else:
            got = Decimal(str(found)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            assert got == expected, f"{where}: coverage {got} != engine {expected}"
        return
    assert cents(found, decimals) == expected, f"{where}: {found!r} != engine {expected}"


LINE_FIELDS = {"Target": "target", "Bottom-up": "bottom_up", "Gap": "gap",
          "Cumulative target": "cumulative_target",
          "Cumulative bottom-up": "cumulative_bottom_up", "Cumulative gap": "cumulative_gap",
          "Coverage": "coverage"}


def assert_ties_to_engine(path: Path, ledger: Ledger, **kwargs: Any) -> int:
    """Every Summary and breakdown figure in the (recalculated) workbook equals the engine's
    to the cent. Returns the number of figures compared."""
    wb = openpyxl.load_workbook(path, data_only=True)
    compared = 0
    summary = gap(ledger, **kwargs)
    decimals = summary.metric.decimals
    look = engine_lookup(summary)
    ws = wb["Summary"]
    cols = _columns(ws, 2)
    lines_seen = set()
    for row in range(5, 12):
        line = ws.cell(row, 1).value
        lines_seen.add(line)
        for col, key in cols.items():
            _check_value(ws.cell(row, col).value, look[("Programme", key, LINE_FIELDS[line])],
                         LINE_FIELDS[line], decimals, f"Summary {line} {key}")
            compared += 1
    assert lines_seen == set(LINE_FIELDS)
    for by, sheet in (("business_unit", "By unit"), ("lever", "By lever"),
                      ("owner", "By owner")):
        rep = gap(ledger, by=by, **kwargs)
        look = engine_lookup(rep)
        ws = wb[sheet]
        cols = _columns(ws, 4)
        parts_seen = set()
        for row in range(5, ws.max_row + 1):
            part, line = ws.cell(row, 1).value, ws.cell(row, 3).value
            if part in (None, "Total", "Summary", "Difference") or line not in LINE_FIELDS:
                continue
            parts_seen.add(part)
            for col, key in cols.items():
                _check_value(ws.cell(row, col).value, look[(part, key, LINE_FIELDS[line])],
                             LINE_FIELDS[line], decimals, f"{sheet} {part} {line} {key}")
                compared += 1
        assert parts_seen == set(rep.parts)
        # Totals equal the Summary's; the difference rows are zero.
        for row in range(5, ws.max_row + 1):
            label, line = ws.cell(row, 1).value, ws.cell(row, 3).value
            if label in ("Total", "Summary") and line in ("Target", "Bottom-up", "Gap"):
                for col, key in cols.items():
                    expected = engine_lookup(summary)[("Programme", key, LINE_FIELDS[line])]
                    _check_value(ws.cell(row, col).value, expected, LINE_FIELDS[line], decimals,
                                 f"{sheet} {label} {line} {key}")
                    compared += 1
            if label == "Difference":
                for col in cols:
                    assert cents(ws.cell(row, col).value, decimals) == 0
    compared += assert_funnel_ties(wb, ledger, **dict(kwargs))
    compared += assert_top_ties(wb, ledger, **kwargs)
    return compared


def assert_top_ties(wb: Any, ledger: Ledger, **kwargs: Any) -> int:
    """Top initiatives: the value ranking (links to the Initiatives row totals) equals the
    loaded rankings to the cent, largest first."""
    from reports.gap_report import load_report

    top = load_report(ledger, **{k: v for k, v in kwargs.items()
                                 if k in ("metric", "as_of", "weighted", "scenario")}).top
    assert top is not None
    decimals = ledger.metric(kwargs.get("metric")).decimals
    ws = wb["Top initiatives"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=5)]
    start = next(i for i, r in enumerate(rows) if r[0] == "Largest by value") + 2
    compared = 0
    for offset, rec in enumerate(top.by_value.to_dict("records")):
        row = rows[start + offset]
        assert row[1] == rec["external_id"]
        assert cents(row[5], decimals) == rec["amount"], (row, rec)
        compared += 1
    assert compared == min(10, len(top.by_value))
    return compared


def assert_funnel_ties(wb: Any, ledger: Ledger, **kwargs: Any) -> int:
    """The Funnel: each gate's unweighted and risk-weighted horizon value equal the
    engine's by-stage figures, the totals their sums, the live column's difference to the
    Summary 0."""
    weighted = kwargs.pop("weighted", False)
    ws = wb["Funnel"]
    header = [c.value for c in ws[4]]
    assert header[0] == "Stage gate"
    assert header[3].startswith("Unweighted")
    assert header[5].startswith("Risk-weighted")
    compared = 0
    totals = {}
    for col, w in ((4, False), (6, True)):
        rep = gap(ledger, by="stage", weighted=w, **kwargs)
        decimals = rep.metric.decimals
        horizon = rep.fiscal[rep.fiscal["period"] == "Horizon"]
        engine = dict(zip(horizon["part"], horizon["bottom_up"], strict=True))
        total = Decimal(0)
        for row in range(5, ws.max_row + 1):
            code = ws.cell(row, 1).value
            if code == "Total":
                assert cents(ws.cell(row, col).value, decimals) == total
                totals[w] = total
                break
            expected = engine.get(code, Decimal(0))
            assert cents(ws.cell(row, col).value, decimals) == expected, (code, w)
            total += expected
            compared += 1
    summary = gap(ledger, weighted=weighted, **kwargs).fiscal
    assert totals[weighted] == summary[summary["period"] == "Horizon"].iloc[0]["bottom_up"]
    diff = [r for r in range(5, ws.max_row + 1) if ws.cell(r, 1).value == "Difference"]
    assert diff
    assert cents(ws.cell(diff[0], 6 if weighted else 4).value, 2) == 0
    return compared


def assert_bridge_ties(path: Path, ledger: Ledger, start: datetime) -> None:
    """The Bridge sheet: start, steps, end (a formula over the steps) equal the bridge's
    figures, and the difference to the ledger's end total is 0."""
    from ledger.bridge import bridge

    result = bridge(ledger, start=start, end=datetime.now(UTC), metric="benefit")
    ws = openpyxl.load_workbook(path, data_only=True)["Bridge"]
    rows: dict[Any, Any] = {}
    in_steps = True
    for r in range(5, ws.max_row + 1):
        label = ws.cell(r, 1).value
        if label == "Initiatives behind each step":
            in_steps = False
        if label and (in_steps or label.startswith(("Difference", "Bottom-up at end per"))):
            rows[label] = ws.cell(r, 2).value
    start_label = next(k for k in rows if str(k).startswith("Bottom-up at start"))
    end_label = next(k for k in rows if str(k).startswith("Bottom-up at end ("))
    assert cents(rows[start_label], 2) == result.start_total
    assert cents(rows[end_label], 2) == result.end_total
    for rec in result.steps.to_dict("records"):
        assert cents(rows[rec["step"]], 2) == rec["amount"]
    assert cents(rows["Difference (0 when the bridge ties)"], 2) == 0
    assert result.start_total != result.end_total, "the bridge has something to explain"

"""Benchmark of owner workbooks and the bridge against naive paths, in the same run.

The ledger: ``--initiatives`` initiatives (default 5,000) over the standard 24-month horizon,
every month phased (120,000 current facts of benefit/plan), 50 owners, built in bulk. Then,
between two instants, 20 % of initiatives are re-phased or re-valued, 2 % withdrawn, 2 %
added, 5 % moved a stage gate.

Measured (wall clock, one run each):

* owner round trip for one owner with ``--owner-initiatives`` initiatives (default 100):
  export, import of the workbook with every month changed (scope checks, conflict check
  and write in one transaction); naive: the same changes as one ``set_phasing`` per cell
  (one transaction each: what a script over the single-edit API would do);
* bridge: :func:`ledger.bridge.bridge` (two set-based reads, vectorised split) vs a naive
  per-initiative loop (two queries per initiative, Decimal arithmetic); both totals are
  compared to the cent before any figure is printed.

Usage::

    .venv/bin/python benchmarks/bench_owner.py                      # SQLite
    createdb -h 127.0.0.1 -U postgres bench_owner      # an empty database
    .venv/bin/python benchmarks/bench_owner.py --db postgresql://postgres@127.0.0.1/bench_owner

Example: .venv/bin/python benchmarks/bench_owner.py --initiatives 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import load_workbook
from sqlalchemy import text

from importers.owner import import_owner_workbook
from ledger.api import Ledger
from ledger.bridge import bridge
from ledger.initiatives import ATTRIBUTES, current_initiatives, write_initiatives
from ledger.money import from_minor
from ledger.months import month_range
from ledger.phasing import set_phasing
from ledger.store import current_phasing, new_submission, submission_as_of, write_phasing
from reports.owner_workbook import collect_owner_export, write_owner_workbook
from tledger.cli.imports import describe_owner_import

FIRST, LAST = date(2026, 7, 1), date(2028, 6, 1)


def _timed(label: str, fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"  {label:<58} {dt:8.3f} s")
    return out, dt


def build(led: Ledger, n: int, owner_n: int, rng: np.random.Generator) -> None:
    led.create_programme(name="Bench", currency="AUD", fy_start_month=7, first_month=FIRST,
                         last_month=LAST, user="bench")
    led.add_business_unit("PRO", "Processing", user="bench")
    months = [m.isoformat() for m in month_range(FIRST, LAST)]
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="bench", note="build")
        gates = led.stage_gates(conn)["id"].tolist()
        unit = int(led.business_units(conn)["id"].iloc[0])
        owners = ["Owner 00"] * owner_n + [f"Owner {1 + i % 49:02d}" for i in range(n - owner_n)]
        frame = pd.DataFrame({
            "external_id": [f"B-{i:06d}" for i in range(n)],
            "name": [f"Initiative {i}" for i in range(n)],
            "owner": owners,
            "business_unit_id": unit,
            "lever_id": None,
            "stage_gate_id": [int(gates[i % 6]) for i in range(n)],
            "description": "",
        })
        ids = write_initiatives(conn, frame, sub.id).ids
        metric = led.metric("benefit", conn)
        iid = np.repeat(np.array([ids[e] for e in frame["external_id"]]), len(months))
        facts = pd.DataFrame({
            "initiative_id": iid, "metric_id": metric.id, "scenario": "plan",
            "month": np.tile(np.array(months, dtype=object), n),
            "amount_minor": rng.integers(-5_000_00, 50_000_00, size=len(iid)),
        })
        write_phasing(conn, facts, sub.id)


def churn(led: Ledger, n: int, rng: np.random.Generator) -> None:
    """Re-phase/re-value 20 %, withdraw 2 %, add 2 %, move 5 % a stage gate."""
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="bench", note="churn")
        metric = led.metric("benefit", conn)
        cur = current_initiatives(conn)
        pick = cur.sample(frac=0.2, random_state=1)["initiative_id"]
        facts = current_phasing(conn, metric_ids=[metric.id], scenarios=["plan"],
                                initiative_ids=pick)
        facts = facts[["initiative_id", "metric_id", "scenario", "month", "amount_minor"]]
        facts["amount_minor"] = np.roll(facts["amount_minor"].to_numpy(), 3) + rng.integers(
            -100_00, 100_00, size=len(facts))
        write_phasing(conn, facts, sub.id)
        attrs = cur[["external_id", *ATTRIBUTES]].copy()
        gates = led.stage_gates(conn)["id"].tolist()
        moved = attrs.sample(frac=0.05, random_state=2).index
        attrs.loc[moved, "stage_gate_id"] = int(gates[5])
        gone = attrs.sample(frac=0.02, random_state=3).index
        attrs.loc[gone, "status"] = "withdrawn"
        new = attrs.head(n // 50).copy()
        new["external_id"] = [f"N-{i:06d}" for i in range(len(new))]
        new["status"] = "active"
        changes = write_initiatives(conn, pd.concat([attrs, new], ignore_index=True), sub.id)
        months = [m.isoformat() for m in month_range(FIRST, LAST)]
        new_ids = [changes.ids[e] for e in new["external_id"]]
        write_phasing(conn, pd.DataFrame({
            "initiative_id": np.repeat(new_ids, len(months)), "metric_id": metric.id,
            "scenario": "plan", "month": np.tile(np.array(months, dtype=object), len(new_ids)),
            "amount_minor": rng.integers(0, 10_000_00, size=len(new_ids) * len(months)),
        }), sub.id)


def naive_bridge_total_change(led: Ledger, t0: datetime, t1: datetime, ids: list[int]
                               ) -> Decimal:
    """Per initiative: two queries (phasing and status at each instant), Decimal sums."""
    total = Decimal(0)
    with led.reading() as conn:
        s0, s1 = submission_as_of(conn, t0), submission_as_of(conn, t1)
        for iid in ids:
            for s, sign in ((s0, -1), (s1, 1)):
                status = conn.execute(text(
                    "SELECT status FROM initiative_version WHERE initiative_id = :i AND "
                    "valid_from <= :s AND valid_to > :s"), {"i": iid, "s": s}).scalar()
                if status != "active":
                    continue
                rows = conn.execute(text(
                    "SELECT amount_minor FROM phasing WHERE initiative_id = :i AND "
                    "scenario = 'plan' AND metric_id = 1 AND valid_from <= :s AND "
                    "valid_to > :s"), {"i": iid, "s": s}).all()
                total += sign * sum((from_minor(int(r[0]), 2) for r in rows), Decimal(0))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="Ledger URL (default: a fresh SQLite file under /tmp)")
    parser.add_argument("--initiatives", type=int, default=5000)
    parser.add_argument("--owner-initiatives", type=int, default=100)
    parser.add_argument("--naive-sample", type=int, default=300,
                        help="cells / initiatives the naive paths are timed on (they are "
                        "linear in it; the figure is extrapolated)")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    tmp = Path(tempfile.mkdtemp(prefix="bench-owner-"))
    db = args.db or str(tmp / "ledger.db")
    led = Ledger.init(db)
    print(f"ledger: {db}; {args.initiatives:,} initiatives x 24 months; owner with "
          f"{args.owner_initiatives} initiatives")
    _timed("build (bulk)", lambda: build(led, args.initiatives, args.owner_initiatives, rng))

    print("owner round trip")
    export, _ = _timed("export: collect", lambda: collect_owner_export(led, "Owner 00"))
    path, _ = _timed("export: write workbook",
                     lambda: write_owner_workbook(export, tmp / "owner.xlsx"))
    wb = load_workbook(path)
    ws = wb["Initiatives"]
    edits = []
    for r in range(5, 5 + len(export.rows)):
        for c in range(10, 34):
            value = (ws.cell(r, c).value or 0) + 1
            ws.cell(r, c).value = value
            edits.append((ws.cell(r, 1).value, export.months[c - 10], Decimal(str(value))))
    wb.save(path)
    result, t_fast = _timed(f"import: {len(edits):,} changed months, one transaction",
                            lambda: import_owner_workbook(led, path, user="bench"))
    assert result.changed == len(edits), describe_owner_import(result)
    # Naive: the same kind of change, one single-edit submission per cell, timed on a
    # sample and extrapolated (each call is independent of the others).
    sample = [(e, m, v - 1) for e, m, v in edits[:args.naive_sample]]

    def naive() -> None:
        for e, m, v in sample:
            set_phasing(led, e, m, v, user="bench")

    _, t_sample = _timed(f"naive: {len(sample):,} x set_phasing (one transaction each)", naive)
    t_naive = t_sample / len(sample) * len(edits)
    print(f"  naive extrapolated to {len(edits):,} cells: {t_naive:,.1f} s "
          f"({t_sample / len(sample) * 1000:.1f} ms per cell)")
    print(f"  -> owner import {t_naive / t_fast:,.1f}x faster than per-cell edits")

    print("bridge")
    t0 = datetime.now(UTC)
    time.sleep(0.01)
    _timed("churn (bulk)", lambda: churn(led, args.initiatives, rng))
    time.sleep(0.01)
    t1 = datetime.now(UTC)
    fast, t_b = _timed("bridge(): set-based reads, vectorised split",
                       lambda: bridge(led, start=t0, end=t1))
    with led.reading() as conn:
        every = current_initiatives(conn)
    # The sample: the initiatives behind the bridge's steps first (so the check bites).
    behind = set(fast.detail["external_id"])
    ordered = every.assign(b=every["external_id"].isin(behind)).sort_values(
        "b", ascending=False)
    sample_ids = ordered["initiative_id"].head(args.naive_sample).astype(int).tolist()
    sample_ext = set(ordered["external_id"].head(args.naive_sample))
    slow, t_s = _timed(f"naive: per-initiative queries, Decimal sums ({len(sample_ids)} "
                       "initiatives)", lambda: naive_bridge_total_change(led, t0, t1, sample_ids))
    t_n = t_s / len(sample_ids) * len(every)
    expected = sum(fast.detail.loc[fast.detail["external_id"].isin(sample_ext), "amount"],
                   Decimal(0))
    assert expected == slow, (expected, slow)
    movement = fast.end_total - fast.start_total
    assert sum(fast.steps["amount"], Decimal(0)) == movement
    print(f"  naive extrapolated to {len(every):,} initiatives: {t_n:,.1f} s")
    print(f"  movement {movement:,}; the sample's movement agrees to the cent with the "
          "naive path; steps sum exactly")
    print(f"  -> bridge {t_n / t_b:,.1f}x faster than the naive loop, and it explains the "
          "movement in steps")
    print(fast.steps.to_string(index=False))


if __name__ == "__main__":
    main()

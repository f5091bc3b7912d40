"""Benchmark: the Excel gap report against ``DataFrame.to_excel`` of the same detail table.

A SQLite ledger with 10,000 initiatives x 60 months x 2 metrics (1.2 M phasing facts) is
built once. Then, each in a fresh subprocess (so peak memory is that step's own):

* ``report``: ``load_report`` (engine + detail read) and ``write_gap_report`` (all sheets:
  Summary, three breakdowns, 20,000-row Initiatives sheet, Checks, About), timed apart;
* ``to_excel``: the same detail table (20,000 rows: attributes + 60 month columns) written
  with ``DataFrame.to_excel`` and pandas' default engine (openpyxl), the naive baseline.

Goals (issue 5): the report's write at most half the baseline's time; peak RSS < 500 MB.

Run: ``.venv/bin/python benchmarks/bench_report.py [--initiatives 10000] [--months 60]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd


def build_ledger(db: Path, initiatives: int, months: int) -> float:
    """Create the benchmark ledger; return the seconds it took."""
    from ledger.api import Ledger
    from ledger.initiatives import write_initiatives
    from ledger.months import add_months
    from ledger.store import new_submission, write_phasing, write_targets

    t0 = time.perf_counter()
    first = date(2026, 7, 1)
    led = Ledger.init(f"sqlite:///{db}")
    led.create_programme(name="Bench", currency="AUD", fy_start_month=7, first_month=first,
                         last_month=add_months(first, months - 1), user="bench")
    for code in ("PRO", "MIN", "CORP"):
        led.add_business_unit(code, code, user="bench")
    for code in ("PROC", "LAB", "MAINT", "ENERGY"):
        led.add_lever(code, code, user="bench")
    bu = led.business_units()["id"].tolist()
    lv = led.levers()["id"].tolist()
    sg = led.stage_gates()["id"].tolist()
    metric_ids = [m.id for m in led.metrics()][:2]
    rng = np.random.default_rng(42)
    n = initiatives
    frame = pd.DataFrame({
        "external_id": [f"GR-{i:05d}" for i in range(n)],
        "name": [f"Initiative {i}" for i in range(n)],
        "owner": [f"Owner {i % 300}" for i in range(n)],
        "business_unit_id": rng.choice(bu, n),
        "lever_id": rng.choice(lv, n),
        "stage_gate_id": rng.choice(sg, n),
        "description": "",
    })
    month_list = [add_months(first, k).isoformat() for k in range(months)]
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="bench")
        ids = write_initiatives(conn, frame, sub.id).ids
        iid = np.array([ids[e] for e in frame["external_id"]], dtype=np.int64)
        facts = pd.DataFrame({
            "initiative_id": np.repeat(np.repeat(iid, len(metric_ids)), months),
            "metric_id": np.tile(np.repeat(np.array(metric_ids), months), n),
            "scenario": "plan",
            "month": np.tile(np.array(month_list, dtype=object), n * len(metric_ids)),
            "amount_minor": rng.integers(0, 5_000_000, n * len(metric_ids) * months),
        })
        write_phasing(conn, facts, sub.id)
        targets = pd.DataFrame({"metric_id": metric_ids[0], "scope_kind": "programme",
                                "scope_code": "", "month": month_list,
                                "amount_minor": 2_600_000_000})
        write_targets(conn, targets, sub.id)
    led.dispose()
    return time.perf_counter() - t0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_report(db: Path, out: Path) -> dict[str, float]:
    from ledger.api import Ledger
    from reports.excel import write_gap_report
    from reports.gap_report import load_report

    led = Ledger.open(f"sqlite:///{db}")
    t0 = time.perf_counter()
    data = load_report(led)
    t1 = time.perf_counter()
    write_gap_report(data, out)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "write_s": t2 - t1, "rows": len(data.detail),
            "peak_mb": _peak_mb(), "bytes": out.stat().st_size}


def measure_to_excel(db: Path, out: Path) -> dict[str, float]:
    from ledger.api import Ledger
    from reports.gap_report import load_report

    led = Ledger.open(f"sqlite:///{db}")
    data = load_report(led)
    detail = data.detail
    # The same table the Initiatives sheet holds: attributes and amounts as numbers.
    table = detail.attributes.copy()
    divisor = np.power(10.0, detail.decimals.astype(np.float64))[:, None]
    values = np.where(detail.present, detail.amounts / divisor, np.nan)
    months = pd.DataFrame(values, columns=[m.isoformat() for m in detail.months])
    table = pd.concat([table, months], axis=1)
    del data
    t0 = time.perf_counter()
    table.to_excel(out, sheet_name="Initiatives", index=False)
    t1 = time.perf_counter()
    return {"write_s": t1 - t0, "rows": len(table), "peak_mb": _peak_mb(),
            "bytes": out.stat().st_size}


def _child(kind: str, db: Path, out: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--db", str(db),
                           "--out", str(out)], check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--child", choices=["report", "to_excel"])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep-db", type=Path, help="Build the ledger here (or reuse it).")
    args = parser.parse_args()
    if args.child:
        fn = measure_report if args.child == "report" else measure_to_excel
        print(json.dumps(fn(args.db, args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.keep_db or Path(tmp) / "bench.db"
        if db.exists():
            print(f"ledger: reusing {db}")
        else:
            built = build_ledger(db, args.initiatives, args.months)
            print(f"ledger: {args.initiatives:,} initiatives x {args.months} months x 2 "
                  f"metrics = {args.initiatives * args.months * 2:,} facts (built in "
                  f"{built:.1f} s)")
        rep = _child("report", db, Path(tmp) / "report.xlsx")
        base = _child("to_excel", db, Path(tmp) / "to_excel.xlsx")
    cells = rep["rows"] * (args.months + 9)
    print(f"gap report:        load {rep['load_s']:.1f} s (engine + detail), write "
          f"{rep['write_s']:.1f} s ({rep['rows']:,} detail rows, ~{cells:,} cells, "
          f"{rep['bytes'] / 1e6:.1f} MB), peak RSS {rep['peak_mb']:.0f} MB")
    print(f"DataFrame.to_excel: write {base['write_s']:.1f} s ({base['rows']:,} rows, "
          f"{base['bytes'] / 1e6:.1f} MB), peak RSS {base['peak_mb']:.0f} MB")
    ratio = rep["write_s"] / base["write_s"]
    total_ratio = (rep["load_s"] + rep["write_s"]) / base["write_s"]
    print(f"report write / to_excel: {ratio:.2f} (goal <= 0.50: "
          f"{'met' if ratio <= 0.5 else 'NOT met'}); load + write / to_excel: "
          f"{total_ratio:.2f}; peak < 500 MB: {'met' if rep['peak_mb'] < 500 else 'NOT met'}")


if __name__ == "__main__":
    main()

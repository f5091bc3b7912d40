"""Benchmark of the reconciliation engine (`tledger gap`) against the naive path.

The ledger: 10,000 initiatives x 60 months x 2 metrics x 3 scenarios, each phasing fact
with 5 earlier revisions (21.6 million phasing versions; 3.6 million current), 8 business
units with cascaded targets, 1 % of initiatives withdrawn. It is built with set-based SQL
(``INSERT ... SELECT`` over generated rows, indexes dropped and re-created with their
migration DDL), not through the importer, and cached under ``/tmp`` (SQLite) or as a
PostgreSQL database, keyed by :data:`BUILD_VERSION`; ``--rebuild`` forces a new build.

Revision ``r`` (0..5) of every fact is written by its own submission, dated the first of
month ``2025-02 + r``; revision 5 is current. "As of 2025-06-15" (last month's close) skips
one revision; "as of 2025-03-15" skips four.

Measured in the same run, warm (median of ``--repeat`` runs after one warm-up):

* engine: :func:`ledger.engine.gap` (SQL aggregation, Decimal frames), and the CLI
  ``tledger gap --format csv`` in-process;
* naive: ``pandas.read_sql`` of every current fact of the metric and scenario plus the
  initiatives, merge, drop withdrawn, ``groupby``; its totals are checked against the
  engine's to the cent before any figure is printed.

Usage::

    .venv/bin/python benchmarks/bench_gap.py                       # SQLite and PostgreSQL
    .venv/bin/python benchmarks/bench_gap.py --backend sqlite --repeat 3
    TLEDGER_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1/postgres \\
        .venv/bin/python benchmarks/bench_gap.py --backend postgresql

Example: .venv/bin/python benchmarks/bench_gap.py --backend sqlite
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger import chain, rolling
from ledger.api import Ledger
from ledger.db import resolve_url
from ledger.engine import as_of_instant, gap
from ledger.initiatives import write_initiatives
from ledger.models import OPEN
from ledger.store import new_submission, submission_as_of, write_targets

#: Bump when the generated ledger changes, so cached builds are not reused.
BUILD_VERSION = "gap-v2"
FIRST_MONTH = date(2026, 7, 1)
UNITS = ["U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8"]
LEVERS = ["PROC", "LAB", "MAINT", "ENERGY", "FOOT", "PRICE"]
SCENARIOS = ["plan", "forecast", "actual"]
AS_OF_RECENT = "2025-06-15"
AS_OF_EARLY = "2025-03-15"


# --------------------------------------------------------------------------- building


def _setup(url: str, initiatives: int, months: int) -> Ledger:
    """Programme, reference data, initiatives and targets through the API (small)."""
    led = Ledger.init(url)
    last = date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + months - 1) // 12,
                (FIRST_MONTH.month - 1 + months - 1) % 12 + 1, 1)
    led.create_programme(name="Bench", currency="AUD", fy_start_month=7,
                         first_month=FIRST_MONTH, last_month=last, user="bench")
    for u in UNITS:
        led.add_business_unit(u, f"Unit {u}", user="bench")
    for lv in LEVERS:
        led.add_lever(lv, f"Lever {lv}", user="bench")
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="bench", note="initiatives")
        units = led.business_units(conn).set_index("code")["id"]
        levers = led.levers(conn).set_index("code")["id"]
        gates = led.stage_gates(conn)["id"].tolist()
        n = range(1, initiatives + 1)
        frame = pd.DataFrame({
            "external_id": [f"IN-{i:05d}" for i in n],
            "name": [f"Initiative {i}" for i in n],
            "owner": [f"Owner {i % 200:03d}" for i in n],
            # 2 % have no business unit: they land in "(unallocated)".
            "business_unit_id": [None if i % 50 == 0 else int(units[UNITS[i % len(UNITS)]])
                                 for i in n],
            "lever_id": [int(levers[LEVERS[i % len(LEVERS)]]) for i in n],
            "stage_gate_id": [int(gates[i % len(gates)]) for i in n],
            "description": "",
            "status": ["withdrawn" if i % 100 == 7 else "active" for i in n],
        })
        write_initiatives(conn, frame, sub.id)
        sub = new_submission(conn, kind="target", user="bench", note="targets")
        rows = []
        for metric in led.metrics(conn):
            for k in range(months):
                month = date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + k) // 12,
                             (FIRST_MONTH.month - 1 + k) % 12 + 1, 1).isoformat()
                total = initiatives * 50_000 + k * 1_000_003
                rows.append((metric.id, "programme", "", month, total))
                for u in UNITS:  # the units get 95 %; 5 % stays unallocated
                    rows.append((metric.id, "business_unit", u, month,
                                 total * 95 // 100 // len(UNITS)))
        write_targets(conn, pd.DataFrame(rows, columns=["metric_id", "scope_kind", "scope_code",
                                                        "month", "amount_minor"]), sub.id)
    return led


def _amount_sql(i: str, k: str, r: str, m: str, s: str) -> str:
    # Deterministic pseudo-random amounts, some negative, different in every revision.
    return f"((({i}) * 7919 + ({k}) * 104729 + ({r}) * 1299709 + ({m}) * 31 + ({s}) * 17) " \
           "% 100000 - 5000)"


def _revision_subs(conn: Any, revisions: int) -> list[int]:
    ids = []
    for r in range(revisions + 1):
        sub = new_submission(conn, kind="import", user="bench", note=f"revision {r}")
        ids.append(sub.id)
    return ids


def _backdate(conn: Any, rev_ids: list[int]) -> None:
    """Spread the submissions over 2025 so as-of dates fall between revisions."""
    conn.execute(text("UPDATE submission SET created_at = :t WHERE id < :first"),
                 {"t": datetime(2025, 1, 1), "first": rev_ids[0]})
    for r, sid in enumerate(rev_ids):
        conn.execute(text("UPDATE submission SET created_at = :t WHERE id = :i"),
                     {"t": datetime(2025, 2 + r, 1), "i": sid})


def _reseal(url: str) -> None:
    """Seal the whole history again: the build back-dated submissions and loaded phasing
    beneath the hash chain, so that `tledger verify` finds the ledger intact."""
    led = Ledger.open(url)
    with led.engine.begin() as conn:
        conn.execute(text("UPDATE submission SET rows_hash = NULL, content_hash = NULL, "
                          "chain_hash = NULL"))
        chain.seal_all(conn)
    led.dispose()


def build_sqlite(path: Path, initiatives: int, months: int, revisions: int) -> str:
    url = f"sqlite:///{path}"
    if path.exists():
        path.unlink()
    led = _setup(url, initiatives, months)
    with led.writing() as conn:
        rev_ids = _revision_subs(conn, revisions)
        _backdate(conn, rev_ids)
    led.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode = OFF")
    raw.execute("PRAGMA synchronous = OFF")
    raw.execute("PRAGMA cache_size = -1000000")
    ddl = [r[0] for r in raw.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'phasing' "
        "AND sql IS NOT NULL")]
    names = [r[0] for r in raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'phasing' "
        "AND sql IS NOT NULL")]
    raw.execute("BEGIN")
    for name in names:
        raw.execute(f'DROP INDEX "{name}"')
    first_rev = rev_ids[0]
    amount = _amount_sql("i.id", "mo.k", "rv.r", "m.id", "sc.n")
    raw.execute(f"""
        INSERT INTO phasing (initiative_id, metric_id, scenario, month, amount_minor,
                             valid_from, valid_to)
        WITH RECURSIVE mo(k, month) AS (
            SELECT 0, '{FIRST_MONTH.isoformat()}'
            UNION ALL SELECT k + 1, date('{FIRST_MONTH.isoformat()}', '+' || (k + 1) || ' months')
            FROM mo WHERE k + 1 < {months}),
        rv(r) AS (SELECT 0 UNION ALL SELECT r + 1 FROM rv WHERE r + 1 <= {revisions}),
        sc(n, name) AS (VALUES (0, 'plan'), (1, 'forecast'), (2, 'actual'))
        SELECT i.id, m.id, sc.name, mo.month, {amount},
               {first_rev} + rv.r,
               CASE WHEN rv.r = {revisions} THEN {OPEN} ELSE {first_rev} + rv.r + 1 END
        FROM metric m CROSS JOIN sc CROSS JOIN rv CROSS JOIN initiative i CROSS JOIN mo
        WHERE m.code IN ('benefit', 'cost')
    """)
    for statement in ddl:
        raw.execute(statement)
    raw.execute("COMMIT")
    raw.close()
    _reseal(url)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("ANALYZE")
    raw.execute("CREATE TABLE IF NOT EXISTS bench_build (version TEXT)")
    raw.execute("INSERT INTO bench_build VALUES (?)", (_key(initiatives, months, revisions),))
    raw.close()
    return url


def build_postgres(admin_url: str, name: str, initiatives: int, months: int,
                   revisions: int) -> str:
    admin = create_engine(resolve_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(resolve_url(admin_url)).set(database=name).render_as_string(
        hide_password=False)
    led = _setup(url, initiatives, months)
    with led.writing() as conn:
        rev_ids = _revision_subs(conn, revisions)
        _backdate(conn, rev_ids)
        ddl = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'phasing' "
            "AND indexname NOT LIKE 'pk_%'")).all()
        for idx_name, _ in ddl:
            conn.execute(text(f'DROP INDEX "{idx_name}"'))
        # Bulk load: skip the per-row foreign-key triggers (the generated ids are valid).
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        first_rev = rev_ids[0]
        amount = _amount_sql("i.id", "k", "r", "m.id", "sc.n")
        conn.execute(text(f"""
            INSERT INTO phasing (initiative_id, metric_id, scenario, month, amount_minor,
                                 valid_from, valid_to)
            SELECT i.id, m.id, sc.name, (DATE '{FIRST_MONTH.isoformat()}'
                                         + k * INTERVAL '1 month')::date,
                   {amount}, {first_rev} + r,
                   CASE WHEN r = {revisions} THEN {OPEN} ELSE {first_rev} + r + 1 END
            FROM metric m
            CROSS JOIN (VALUES (0, 'plan'), (1, 'forecast'), (2, 'actual')) AS sc(n, name)
            CROSS JOIN generate_series(0, {revisions}) AS r
            CROSS JOIN initiative i
            CROSS JOIN generate_series(0, {months - 1}) AS k
            WHERE m.code IN ('benefit', 'cost')
        """))
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        for _, definition in ddl:
            conn.execute(text(definition))
        conn.execute(text("CREATE TABLE bench_build (version TEXT)"))
        conn.execute(text("INSERT INTO bench_build VALUES (:v)"),
                     {"v": _key(initiatives, months, revisions)})
    led.dispose()
    _reseal(url)
    # Index-only scans need the visibility map: what autovacuum would do on a live ledger.
    eng = create_engine(resolve_url(url), isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    eng.dispose()
    return url


def _key(initiatives: int, months: int, revisions: int) -> str:
    return f"{BUILD_VERSION}-{initiatives}x{months}x{revisions}"


def _cached(url: str, key: str) -> bool:
    try:
        eng = create_engine(resolve_url(url))
        with eng.connect() as conn:
            found = conn.execute(text("SELECT version FROM bench_build")).scalar()
        eng.dispose()
        return found == key
    except Exception:
        return False


# --------------------------------------------------------------------------- measuring


def _naive(led: Ledger, metric_id: int, scenario: str, by: str | None,
           as_of: str | None) -> pd.Series:
    """pandas.read_sql of every fact valid at the instant, merge, groupby."""
    with led.reading() as conn:
        if as_of is None:
            where, params = f"valid_to = {OPEN}", {}
        else:
            sub = submission_as_of(conn, as_of_instant(as_of))  # type: ignore[arg-type]
            where, params = "valid_to > :s AND valid_from <= :s", {"s": sub}
        facts = pd.read_sql(
            text("SELECT initiative_id, month, amount_minor FROM phasing "
                 f"WHERE metric_id = {metric_id} AND scenario = '{scenario}' AND {where}"),
            conn, params=params,
        )
        inits = pd.read_sql(
            text("SELECT initiative_id, status, business_unit_id FROM initiative_version "
                 f"WHERE {where}"), conn, params=params,
        )
    merged = facts.merge(inits, on="initiative_id", how="left")
    merged = merged[merged["status"] != "withdrawn"]
    merged["month"] = merged["month"].astype(str)
    keys = ["month"] if by is None else ["month", "business_unit_id"]
    return merged.groupby(keys, dropna=False)["amount_minor"].sum()


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # warm-up (and the value to check)
    times = []
    for _ in range(repeat):
        # Every run reads the facts: the sums a process keeps between reports
        # (ledger.rolling) would otherwise answer the repeats of a current report.
        rolling.forget()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _cli(url: str, *args: str) -> None:
    from typer.testing import CliRunner

    from tledger.cli import app

    result = CliRunner().invoke(app, ["gap", "--db", url, "--format", "csv", *args])
    if result.exit_code != 0:
        raise RuntimeError(result.output)


def measure(backend: str, url: str, repeat: int) -> list[dict[str, Any]]:
    led = Ledger.open(url)
    metric = led.metric("benefit")
    decimals = metric.decimals
    rows = []
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        ("current, one metric and scenario", {}, []),
        ("--by business_unit", {"by": "business_unit"}, ["--by", "business_unit"]),
        (f"--as-of {AS_OF_RECENT} (1 newer revision)", {"as_of": AS_OF_RECENT},
         ["--as-of", AS_OF_RECENT]),
        (f"--as-of {AS_OF_EARLY} (4 newer revisions)", {"as_of": AS_OF_EARLY},
         ["--as-of", AS_OF_EARLY]),
        ("--weighted", {"weighted": True}, ["--weighted"]),
    ]
    for label, kwargs, args in cases:
        engine_s, rep = _time(lambda kw=kwargs: gap(led, metric="benefit", scenario="plan",
                                                     **kw), repeat)
        cli_s, _ = _time(lambda a=args: _cli(url, *a), repeat)
        by = kwargs.get("by")
        naive_s, naive = _time(lambda b=by, kw=kwargs: _naive(led, metric.id, "plan", b,
                                                                kw.get("as_of")), repeat)
        # The naive path must agree with the engine to the cent before we compare speed.
        if not kwargs.get("weighted"):
            frame = rep.programme_monthly
            engine_total = sum(frame["bottom_up"])
            naive_total = sum(int(v) for v in naive.tolist())
            if engine_total.scaleb(decimals) != naive_total:
                raise AssertionError(f"{backend} {label}: engine {engine_total} != naive "
                                     f"{naive_total} minor units")
        rows.append({"backend": backend, "case": label, "engine_s": engine_s, "cli_s": cli_s,
                     "naive_s": naive_s})
        print(f"{backend:10} {label:42} engine {engine_s:6.3f}s  cli {cli_s:6.3f}s  "
              f"naive {naive_s:6.3f}s  ratio {engine_s / naive_s:5.2f}", flush=True)
    led.dispose()
    return rows


def _subprocess_seconds(url: str) -> float:
    exe = Path(sys.executable).with_name("tledger")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "gap", "--db", url, "--format", "csv"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--initiatives", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--cache-dir", default="/tmp/tledger-bench")
    parser.add_argument("--pg-url", default=os.environ.get("TLEDGER_BENCH_POSTGRES_URL")
                        or os.environ.get("TLEDGER_TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1/postgres")
    ns = parser.parse_args()
    key = _key(ns.initiatives, ns.months, ns.revisions)
    results = []
    backends = ["sqlite", "postgresql"] if ns.backend == "both" else [ns.backend]
    for backend in backends:
        t0 = time.perf_counter()
        if backend == "sqlite":
            Path(ns.cache_dir).mkdir(parents=True, exist_ok=True)
            path = Path(ns.cache_dir) / f"{key}.db"
            url = f"sqlite:///{path}"
            if ns.rebuild or not _cached(url, key):
                print(f"building {path} ...", flush=True)
                build_sqlite(path, ns.initiatives, ns.months, ns.revisions)
        else:
            name = "tledger_bench_" + key.replace("-", "_").replace(".", "_")
            url = make_url(resolve_url(ns.pg_url)).set(database=name).render_as_string(
                hide_password=False)
            if ns.rebuild or not _cached(url, key):
                print(f"building PostgreSQL database {name} ...", flush=True)
                build_postgres(ns.pg_url, name, ns.initiatives, ns.months, ns.revisions)
        print(f"{backend}: ledger ready in {time.perf_counter() - t0:.1f}s", flush=True)
        if ns.build_only:
            continue
        results += measure(backend, url, ns.repeat)
        with redirect_stdout(io.StringIO()):
            sub_s = _subprocess_seconds(url)
        print(f"{backend:10} `tledger gap --format csv` as a new process: {sub_s:.2f}s "
              "(includes Python start-up and imports)", flush=True)
    print("\n| backend | case | engine `gap()` s | CLI in-process s | naive s | engine/naive |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['backend']} | {r['case']} | {r['engine_s']:.3f} | {r['cli_s']:.3f} | "
              f"{r['naive_s']:.3f} | {r['engine_s'] / r['naive_s']:.2f} |")
    print(f"\nmeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, median of {ns.repeat} warm runs")


if __name__ == "__main__":
    main()

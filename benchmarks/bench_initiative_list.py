"""The office's initiative list (``/initiatives``) on a large ledger: one page, timed.

Builds (once, cached like ``bench_gap.py``) a ledger of ``--initiatives`` initiatives x
``--months`` months x 2 metrics x 3 scenarios with ``--revisions`` earlier revisions of
every fact (bench_gap's set-based build), adds an office login and times, warm (median of
``--repeat`` after one warm-up), the whole page through the app (session, SQL, template)
(and this process's CPU time: on SQLite the whole work, whatever else loads the machine)
for a few typical requests: the first page, a filtered and searched one, a sort by an
amount (the database sums every matching initiative's phasing first), the last page.

    .venv/bin/python benchmarks/bench_initiative_list.py --backend sqlite
    TLEDGER_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1/postgres \\
        .venv/bin/python benchmarks/bench_initiative_list.py --backend postgresql

Example: .venv/bin/python benchmarks/bench_initiative_list.py --initiatives 2000
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gap import _cached, _key, build_postgres, build_sqlite

from ledger.accounts import add_account, set_password
from ledger.api import Ledger
from tledger.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

EMAIL, PASSWORD = "office@bench.example", "bench-password-1"
REQUESTS = {
    "first page (50)": "/initiatives",
    "unit + stage + search": "/initiatives?unit=U3&stage=L2&q=initiative+1",
    "sorted by total, desc": "/initiatives?sort=total:desc",
    "all statuses, last page of 100": "/initiatives?status=all&per=100&page=999",
}
COUNT = re.compile(r'id="count">([^<]*)<')


def _client(led: Ledger) -> TestClient:
    with led.reading() as conn:
        known = conn.execute(text("SELECT 1 FROM account WHERE email = :e"),
                             {"e": EMAIL}).first()
    if known is None:
        add_account(led, EMAIL, "office", None, now=datetime.now(UTC))
        set_password(led, EMAIL, PASSWORD)
    with led.writing() as conn:
        conn.execute(text("DELETE FROM login_attempt"))
    client = TestClient(create_app(led), follow_redirects=False)
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    done = client.post("/login", data={"csrf": csrf.group(1), "email": EMAIL,
                                       "password": PASSWORD})
    assert done.status_code == 303, done.text
    return client


def measure(url: str, repeat: int) -> None:
    led = Ledger.open(url)
    client = _client(led)
    for label, path in REQUESTS.items():
        client.get(path)  # warm-up
        times, cpu = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            assert response.status_code == 200, response.text[-300:]
        shown = COUNT.search(response.text)
        print(f"  {label:<32} {statistics.median(times):7.1f} ms "
              f"(this process's CPU {statistics.median(cpu):6.1f} ms)  "
              f"({shown.group(1) if shown else '?'})", flush=True)
    led.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--initiatives", type=int, default=2000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--cache-dir", default="/tmp/tledger-bench")
    parser.add_argument("--pg-url", default=os.environ.get("TLEDGER_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    key = _key(args.initiatives, args.months, args.revisions)
    if args.backend in ("sqlite", "both"):
        path = Path(args.cache_dir) / f"list-{key}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
        if args.rebuild or not _cached(url, key):
            build_sqlite(path, args.initiatives, args.months, args.revisions)
        print(f"SQLite, {args.initiatives:,} initiatives x {args.months} months:")
        measure(url, args.repeat)
    if args.backend in ("postgresql", "both"):
        if not args.pg_url:
            parser.error("PostgreSQL needs --pg-url or TLEDGER_BENCH_POSTGRES_URL")
        name = f"tledger_list_{args.initiatives}"
        url = build_postgres(args.pg_url, name, args.initiatives, args.months,
                             args.revisions) if args.rebuild else None
        if url is None:
            from sqlalchemy.engine import make_url

            from ledger.db import resolve_url

            url = make_url(resolve_url(args.pg_url)).set(database=name).render_as_string(
                hide_password=False)
            if not _cached(url, key):
                url = build_postgres(args.pg_url, name, args.initiatives, args.months,
                                     args.revisions)
        print(f"PostgreSQL, {args.initiatives:,} initiatives x {args.months} months:")
        measure(url, args.repeat)


if __name__ == "__main__":
    main()

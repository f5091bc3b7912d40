"""Benchmark of the office's imports page against ``tledger import initiatives``.

The workbook is bench_import.py's: 10,000 initiatives x 2 metrics x 60 months, 1.2 million
amount cells (built once and cached under ``/tmp/tledger-bench-import``). For each backend,
in the same run, each on a fresh ledger with the same programme:

* **CLI**: ``tledger import initiatives FILE --dry-run``, then ``tledger import initiatives
  FILE``, each run as a process; their wall times (interpreter start and imports
  included: what the office waits for at a terminal).
* **page**: ``tledger serve`` on 127.0.0.1 (started and logged in before timing); timed
  from the first byte of the upload to the page after the confirmation: the multipart
  upload (httpx, streamed from the file), the dry run and its page, the confirmation (the
  CLI's import, same function) and the page it redirects to.

Prints the times, the page's split (upload + dry run, confirm), the ratio page / CLI import
(goal <= 1.3) and page / (CLI dry run + CLI import), the same steps at a terminal; then
checks both ledgers hold the same phasing total.

Usage::

    .venv/bin/python benchmarks/bench_web_import.py                    # both backends
    .venv/bin/python benchmarks/bench_web_import.py --backend sqlite

Example: .venv/bin/python benchmarks/bench_web_import.py --backend postgresql
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import PG_DEFAULT, _drop, _fresh_ledger, build_workbooks

ROOT = Path(__file__).resolve().parent.parent
TLEDGER = [sys.executable, "-c", "from tledger.cli import main; main()"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
EMAIL = "office@example.com"
PASSWORD = "benchmark-password"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OPEN = 9223372036854775807


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _phasing_total(url: str) -> int:
    from ledger.db import resolve_url

    engine = create_engine(resolve_url(url))
    with engine.connect() as conn:
        total = int(conn.execute(text(
            f"SELECT SUM(amount_minor) FROM phasing WHERE valid_to = {OPEN}")).scalar_one())
    engine.dispose()
    return total


def time_cli(url: str, workbook: Path, *options: str) -> float:
    start = time.perf_counter()
    subprocess.run([*TLEDGER, "import", "initiatives", str(workbook), "--db", url,
                    "--user", "bench", *options], check=True, env=ENV,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    from ledger.accounts import add_account, set_password
    from ledger.api import Ledger

    ledger = Ledger.open(url)
    add_account(ledger, EMAIL, "office", None, now=datetime.now(UTC))
    set_password(ledger, EMAIL, PASSWORD)
    ledger.dispose()
    proc = subprocess.Popen([*TLEDGER, "serve", "--db", url, "--port", str(port)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("tledger serve did not start") from None
            time.sleep(0.2)


def time_page(url: str, workbook: Path) -> tuple[float, float, float]:
    """(total, upload + dry run, confirm) seconds through a running server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = _serve(url, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=900,
                          follow_redirects=True) as client:
            login = client.get("/login")
            client.post("/login", data={"csrf": _csrf(login.text), "email": EMAIL,
                                        "password": PASSWORD})
            csrf = _csrf(client.get("/imports").text)
            start = time.perf_counter()
            with workbook.open("rb") as handle:
                dry = client.post("/imports", data={"csrf": csrf, "kind": "initiatives"},
                                  files={"workbook": (workbook.name, handle, XLSX)})
            assert dry.status_code == 200, dry.text[:2000]
            assert 'id="confirm"' in dry.text, dry.text[:2000]
            token = re.search(r'action="(/imports/[^/"]+/confirm)"', dry.text)
            assert token
            middle = time.perf_counter()
            done = client.post(token.group(1), data={"csrf": csrf})
            end = time.perf_counter()
            assert "Imported" in done.text, done.text[:2000]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return end - start, middle - start, end - middle


def bench(backend: str, workbook: Path, pg_admin: str | None) -> None:
    print(f"\n=== {backend}: {workbook.name} ({workbook.stat().st_size / 1e6:.1f} MB, "
          "1.2 M amount cells) ===")
    cli_url = _fresh_ledger(backend, pg_admin)
    page_url = _fresh_ledger(backend, pg_admin)
    try:
        cli_dry = time_cli(cli_url, workbook, "--dry-run")
        print(f"CLI dry run (process wall time)    {cli_dry:8.2f} s", flush=True)
        cli = time_cli(cli_url, workbook)
        print(f"CLI import (process wall time)     {cli:8.2f} s", flush=True)
        total, dry, confirm = time_page(page_url, workbook)
        same = _phasing_total(cli_url) == _phasing_total(page_url)
    finally:
        _drop(cli_url, pg_admin)
        _drop(page_url, pg_admin)
    print(f"page: upload + dry run + confirm   {total:8.2f} s")
    print(f"  upload + dry run page            {dry:8.2f} s")
    print(f"  confirm + result page            {confirm:8.2f} s")
    print(f"page / CLI import                  {total / cli:8.2f}   (goal <= 1.30)")
    print(f"page / (CLI dry run + import)      {total / (cli + cli_dry):8.2f}   (the same "
          "steps at a terminal)")
    print(f"same phasing total in both ledgers: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    workbook = build_workbooks(rebuild=False)[0]
    pg_admin = os.environ.get("TLEDGER_BENCH_POSTGRES_URL", PG_DEFAULT)
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at start")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bench(backend, workbook, pg_admin if backend == "postgresql" else None)


if __name__ == "__main__":
    main()

"""Web app under load: simulated owners against `tledger serve` on a large PostgreSQL ledger.

Builds (once; ``--rebuild`` to redo) a PostgreSQL ledger of 10,000 initiatives x 60 months x
2 metrics x 3 scenarios with ``bench_gap.build_postgres`` (200 owners of 50 initiatives
each), adds one web account per simulated owner, starts ``tledger serve --workers N`` and
runs ``--owners`` simulated owners (a bounded asyncio loop with httpx) for ``--seconds``:
each opens "My initiatives", opens one of its initiatives and saves a forecast change, over
and over; a save answered with a redirect is followed (timed as "page after save"). With
``--dashboard``, each round also opens the dashboard (``/dashboard``, the programme's gap
by month and fiscal year; every other round by business unit). Prints
p50/p95 per request kind, the 1-minute load average before and after, errors, and lost
updates: every accepted save is looked up afterwards (its submission, its author and the
saved value valid from it).

The ledger's schema must be this tledger's: after a migration, run ``tledger db upgrade``
on the cached database (or ``--rebuild``).

    .venv/bin/python benchmarks/bench_web.py --owners 20 --seconds 60 --workers 2
    .venv/bin/python benchmarks/bench_web.py --owners 20 --seconds 60 --workers 2 --dashboard
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gap import _cached, _key, build_postgres

from ledger.accounts import add_account, set_password
from ledger.api import Ledger
from ledger.db import resolve_url

PASSWORD = "bench-password-1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="((?:as_of|v\|)[^"]*)" value="([^"]*)"')
MESSAGE = re.compile(r'id="message">([^<]*)<')
SAVED = re.compile(r"as submission (\d+)\.")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accounts(url: str, owners: int) -> list[tuple[str, str]]:
    """(email, first initiative) per simulated owner; one Argon2 hash shared by all."""
    led = Ledger.open(url)
    out = []
    with led.reading() as conn:
        known = {r[0] for r in conn.execute(text("SELECT email FROM account")).all()}
    # Owner k owns IN-<i> for i % 200 == k (bench_gap); those with i % 100 == 7 are
    # withdrawn, so owners 7 and 107 have no active initiative and are left out.
    for k in [o for o in range(200) if o % 100 != 7][:owners]:
        email = f"owner{k:03d}@bench.example"
        if email not in known:
            add_account(led, email, "owner", f"Owner {k:03d}", now=_now())
        ext = f"IN-{k or 200:05d}"
        out.append((email, ext))
    set_password(led, out[0][0], PASSWORD)
    with led.writing() as conn:
        conn.execute(text("UPDATE account SET password_hash = (SELECT password_hash FROM "
                          "account WHERE email = :e)"), {"e": out[0][0]})
        conn.execute(text("DELETE FROM login_attempt"))
    led.dispose()
    return out


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def _owner(base: str, email: str, ext: str, seconds: float, k: int,
                 timings: dict[str, list[float]], saves: list[tuple[int, str, str, str, int]],
                 errors: list[str], think: float = 0.0, dashboard: bool = False) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) as client:
        page = await client.get("/login")
        done = await client.post("/login", data={
            "csrf": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
            "email": email, "password": PASSWORD})
        if done.status_code != 303:
            errors.append(f"{email} login {done.status_code}")
            return
        end = time.monotonic() + seconds
        i = 0
        run = int(time.time()) % 10**6
        pause = random.Random(k)

        async def read() -> None:
            # A person reads what came back before the next click: 0.5 to 1.5 x --think.
            if think:
                await asyncio.sleep(think * (0.5 + pause.random()))

        while time.monotonic() < end:
            i += 1
            listing = await _timed(client, "GET", "/initiatives", "my initiatives", timings)
            await read()
            page = await _timed(client, "GET", f"/initiatives/{ext}", "initiative page",
                                timings)
            await read()
            shown = [("my initiatives", listing), ("initiative page", page)]
            if dashboard:
                url = "/dashboard" + ("?by=business_unit" if i % 2 else "")
                shown.append(("dashboard", await _timed(client, "GET", url, "dashboard",
                                                        timings)))
                await read()
            for kind, response in shown:
                if response.status_code != 200:
                    errors.append(f"{kind} {response.status_code}: {response.text[-200:]!r}")
            token = CSRF.search(page.text)
            if token is None:
                continue
            month = f"2027-{(i % 12) + 1:02d}-01"
            # Distinct from every earlier run's values, so no save is "Nothing changed".
            value = k * 10**10 + run * 10**4 + i
            form = {"csrf": token.group(1), **dict(HIDDEN.findall(page.text)),
                    f"c|benefit|forecast|{month}": str(value)}
            saved = await _timed(client, "POST", f"/initiatives/{ext}", "save", timings,
                                 data=form)
            if saved.status_code == 303:
                # The save answers with a redirect to the page (read after the write lock is
                # released), which says what was saved: timed as a request of its own.
                saved = await _timed(client, "GET", saved.headers["location"],
                                     "page after save", timings)
            found = SAVED.search(saved.text)
            if saved.status_code != 200 or found is None:
                said = MESSAGE.search(saved.text)
                errors.append(f"save {saved.status_code}: "
                              f"{said.group(1) if said else saved.text[-200:]!r}")
                continue
            saves.append((int(found.group(1)), email, ext, month, value * 100))
            await read()


async def _timed(client: httpx.AsyncClient, method: str, url: str, kind: str,
                 timings: dict[str, list[float]], **kwargs: Any) -> httpx.Response:
    """The response, timed under ``kind``; a dropped connection is answered as a 599 (an
    error the summary counts) rather than ending the run."""
    t0 = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        response = httpx.Response(599, text=f"connection error: {exc!r}")
    timings[kind].append(time.perf_counter() - t0)
    return response


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--initiatives", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds an owner reads each answer before the next request "
                        "(0.5 to 1.5 times this, at random; default 0: a closed loop)")
    parser.add_argument("--dashboard", action="store_true",
                        help="each round also opens the dashboard (every other round by "
                        "business unit)")
    parser.add_argument("--pg-url", default=os.environ.get("TLEDGER_BENCH_POSTGRES_URL")
                        or os.environ.get("TLEDGER_TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1/postgres")
    ns = parser.parse_args()
    key = _key(ns.initiatives, ns.months, 0)
    name = "tledger_bench_web_" + key.replace("-", "_").replace(".", "_")
    url = make_url(resolve_url(ns.pg_url)).set(database=name).render_as_string(
        hide_password=False)
    if ns.rebuild or not _cached(url, key):
        print(f"building {name} ...", flush=True)
        build_postgres(ns.pg_url, name, ns.initiatives, ns.months, 0)
    owners = _accounts(url, ns.owners)
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from tledger.cli import main; main()", "serve", "--db", url,
         "--port", str(port), "--workers", str(ns.workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        timings: dict[str, list[float]] = defaultdict(list)
        saves: list[tuple[int, str, str, str, int]] = []
        errors: list[str] = []

        async def run() -> None:
            await asyncio.gather(*(_owner(base, email, ext, ns.seconds, k, timings, saves,
                                          errors, ns.think, ns.dashboard)
                                   for k, (email, ext) in enumerate(owners)))

        load = os.getloadavg()
        asyncio.run(run())
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
    lost = 0
    engine = create_engine(resolve_url(url))
    with engine.connect() as conn:
        for sub, email, ext, month, minor in saves:
            row = conn.execute(text(
                'SELECT s."user", p.amount_minor FROM submission s JOIN phasing p ON '
                "p.valid_from = s.id JOIN initiative i ON i.id = p.initiative_id "
                "WHERE s.id = :s AND i.external_id = :e AND p.scenario = 'forecast' "
                "AND p.month = :m"), {"s": sub, "e": ext, "m": month}).first()
            if row is None or row[0] != email or int(row[1]) != minor:
                lost += 1
    engine.dispose()
    print(f"{ns.owners} owners, {ns.seconds:.0f} s, {ns.workers} workers, think {ns.think:g} s, "
          f"{ns.initiatives:,} initiatives x {ns.months} months; load average (1 min) "
          f"{load[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"{'request':16} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for kind in ("my initiatives", "initiative page", "dashboard", "save", "page after save"):
        values = timings[kind]
        if values:
            print(f"{kind:16} {len(values):6} {_pct(values, 0.5):8.0f} {_pct(values, 0.95):8.0f} "
                  f"{statistics.mean(values) * 1000:8.0f}")
    print(f"errors: {len(errors)} {sorted(set(errors))[:5]}; saves checked: {len(saves)}; "
          f"lost updates: {lost}")


if __name__ == "__main__":
    main()

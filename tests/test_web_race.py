"""Saves racing through `tledger serve --workers 2` on PostgreSQL lose nothing: every save
is either accepted (and in history under its author) or refused as stale, and the current
state equals a replay of the accepted saves."""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from decimal import Decimal
from itertools import pairwise

import httpx
import pytest
from helpers.web import PASSWORD, csrf_of, hidden_of, make_site
from helpers.web_serve import serving
from sqlalchemy import text

from ledger.models import OPEN

SECONDS = 6
MONTHS = ["2026-07-01", "2026-08-01", "2026-09-01"]
#: (login, initiative): ana and the office race on GR-0001; ben works alone on GR-0003.
RACERS = [("ana@example.com", "GR-0001"), ("off@example.com", "GR-0001"),
          ("ana@example.com", "GR-0001"), ("ben@example.com", "GR-0003")]


def _race(base: str, worker: int, email: str, ext: str, log: list[tuple], errors: list[str]
          ) -> None:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
        login = client.get("/login")
        client.post("/login", data={"csrf": csrf_of(login.text), "email": email,
                                    "password": PASSWORD})
        end = time.monotonic() + SECONDS
        i = 0
        while time.monotonic() < end:
            i += 1
            page = client.get(f"/initiatives/{ext}")
            month = MONTHS[(worker + i) % len(MONTHS)]
            value = f"{worker * 100000 + i}"
            form = {"csrf": csrf_of(page.text), **hidden_of(page.text),
                    f"c|benefit|forecast|{month}": value}
            saved = client.post(f"/initiatives/{ext}", data=form)
            if saved.status_code == 303:
                saved = client.get(saved.headers["location"])
                if saved.status_code != 200:
                    errors.append(f"page after the save: {saved.status_code}")
                    continue
                sub = re.search(r"as submission (\d+)\.", saved.text)
                if sub is None:
                    errors.append(f"200 without a submission: {saved.text[-300:]}")
                    continue
                log.append((int(sub.group(1)), email, ext, month, Decimal(value)))
            elif saved.status_code == 409:
                log.append((0, email, ext, month, None))
            else:
                errors.append(f"{saved.status_code}: {saved.text[-300:]}")


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_racing_saves_through_two_workers_lose_nothing(programme, db_url):
    site = make_site(programme)
    log: list[tuple] = []
    errors: list[str] = []
    with serving(db_url, "--workers", "2") as base:
        threads = [threading.Thread(target=_race, args=(base, w, email, ext, log, errors))
                   for w, (email, ext) in enumerate(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    refused = [r for r in log if r[0] == 0]
    log = [r for r in log if r[0] != 0]
    print(f"{len(log)} saves accepted, {len(refused)} refused as stale")
    assert len(log) >= len(RACERS)
    with site.ledger.reading() as conn:
        edits = conn.execute(text(
            "SELECT id, \"user\" FROM submission WHERE kind = 'edit' ORDER BY id")).all()
        facts = conn.execute(text(
            "SELECT i.external_id, CAST(p.month AS VARCHAR(10)), p.amount_minor, "
            "p.valid_from, p.valid_to FROM phasing p JOIN initiative i ON i.id = "
            "p.initiative_id WHERE p.scenario = 'forecast'")).all()
    # Exactly the saves reported as accepted are in the ledger, each under its author.
    assert [(sid, user) for sid, user in edits] == sorted((s, e) for s, e, *_ in log)
    # Each cell's versions form one unbroken chain, and its current value is the last
    # accepted save's: the current state equals a replay of the accepted saves.
    chains: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for ext, month, minor, start, stop in facts:
        chains[(ext, month)].append((int(start), int(stop), int(minor)))
    last: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for sid, _email, ext, month, value in sorted(log):
        last[(ext, month)] = (sid, value)
    for cell, versions in chains.items():
        versions.sort()
        for (_, stop, _), (start, _, _) in pairwise(versions):
            assert stop == start, f"{cell}: a gap or overlap in its history"
        assert versions[-1][1] == OPEN
        assert Decimal(versions[-1][2]).scaleb(-2) == last[cell][1]
        assert versions[-1][0] == last[cell][0]
    assert set(chains) == set(last)

"""The worker of the concurrency test: imports and re-phasings of overlapping initiatives
until a deadline, logging every attempt and what became of it (one JSON line each)."""

from __future__ import annotations

import json
import random
import time
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

from reliability.support import MONTHS, _redirect, pipeline_workbook

#: The initiatives every worker fights over.
POOL = [f"RC-{i:03d}" for i in range(10)]


def initial_rows() -> list[dict[str, Any]]:
    return [{"id": ext, "name": f"{ext} start", "amounts": [100] * len(MONTHS)}
            for ext in POOL]


def race_worker(args: list[str], env: dict[str, str], err_path: str, out_path: str) -> None:
    """Child: ``args`` = url, worker number, start file, log file, folder.

    The worker opens the ledger, says it is ready (``<start file>.ready-N``), then waits for
    the start file, which holds the deadline (epoch seconds) shared by all workers.
    """
    import os

    _redirect(err_path, out_path, env)
    url, worker, start_file, log_path, folder = args
    n = int(worker)
    from importers import import_initiatives
    from ledger.api import Ledger
    from ledger.errors import LedgerError
    from ledger.phasing import set_phasing

    rng = random.Random(1000 + n)
    led = Ledger.open(url)
    start = Path(start_file)
    Path(f"{start_file}.ready-{n}").touch()
    waited = time.monotonic()
    while not start.exists() or not start.read_text().strip():
        if time.monotonic() - waited > 300:
            os._exit(3)
        time.sleep(0.01)
    deadline = start.read_text().strip()
    with Path(log_path).open("a", encoding="utf-8") as log:
        i = 0
        while time.time() < float(deadline):
            i += 1
            roll = rng.random()
            entry: dict[str, Any] = {"worker": n, "attempt": i}
            try:
                if roll < 0.45 or roll >= 0.9:
                    chosen = rng.sample(POOL, 4)
                    rows = [{"id": ext, "name": f"{ext} by w{n} #{i}",
                             "amounts": [rng.randint(-500, 10**6) if rng.random() > 0.2 else None
                                         for _ in MONTHS]} for ext in chosen]
                    bad = roll >= 0.9
                    if bad:  # a user's mistake: must be refused, with the cell named
                        rows[0]["amounts"][3] = "twelve"
                    entry.update(op="import", bad=bad, rows=rows)
                    path = pipeline_workbook(Path(folder) / f"w{n}-{i}.xlsx", rows)
                    result = import_initiatives(led, [path], user=f"w{n}", note=f"w{n} #{i}")
                    entry.update(subs=result.submission_ids)
                else:
                    ext = rng.choice(POOL)
                    month = rng.choice(MONTHS)
                    cents = None if rng.random() < 0.2 else rng.randint(0, 10**7)
                    entry.update(op="set", ext=ext, month=month.isoformat(), amount_minor=cents)
                    edit = set_phasing(led, ext, month,
                                       None if cents is None else Decimal(cents).scaleb(-2),
                                       user=f"w{n}", note=f"w{n} #{i}")
                    entry.update(subs=[edit.submission_id] if edit.submission_id else [])
                entry["outcome"] = "accepted"
            except LedgerError as exc:  # refused, and the caller is told why
                entry.update(outcome="refused", kind=type(exc).__name__, message=str(exc))
            except Exception as exc:  # a traceback a user would see: the test fails on it
                entry.update(outcome="crashed", kind=type(exc).__name__,
                             message="".join(traceback.format_exception(exc)))
            log.write(json.dumps(entry, default=str) + "\n")
            log.flush()
    led.dispose()
    os._exit(0)


def replay(entries: list[dict[str, Any]]) -> list[tuple[int, dict[tuple[str, str], int],
                                                       dict[str, str]]]:
    """The ledger's states after each accepted submission, replayed in commit (id) order:
    [(submission id, {(external id, month): cents}, {external id: name})]."""
    facts: dict[tuple[str, str], int] = {}
    names: dict[str, str] = {}
    for row in initial_rows():
        names[row["id"]] = row["name"]
        for m, v in zip(MONTHS, row["amounts"], strict=True):
            facts[(row["id"], m.isoformat())] = v * 100
    steps = sorted(((e["subs"][0], e) for e in entries
                    if e["outcome"] == "accepted" and e["subs"]), key=lambda t: t[0])
    states = []
    for sub, e in steps:
        if e["op"] == "import":
            for row in e["rows"]:
                names[row["id"]] = row["name"]
                for m, v in zip(MONTHS, row["amounts"], strict=True):
                    key = (row["id"], m.isoformat())
                    facts.pop(key, None)
                    if v is not None:
                        facts[key] = int(v) * 100
        else:
            key = (e["ext"], e["month"])
            if e["amount_minor"] is None:
                facts.pop(key, None)
            else:
                facts[key] = int(e["amount_minor"])
        states.append((sub, dict(facts), dict(names)))
    return states

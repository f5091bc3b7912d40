"""What the reliability tests share: table checksums, fast workbooks, child processes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import inspect, text

from ledger.db import make_engine, resolve_url
from ledger.models import OPEN
from ledger.months import month_range

#: The ``tledger`` console script of the running interpreter's environment.
TLEDGER = str(Path(sys.executable).with_name("tledger"))
MONTHS = month_range(date(2026, 7, 1), date(2028, 6, 1))
HEADER = ["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Description", "Metric",
          "Scenario"]
TESTS_DIR = Path(__file__).resolve().parent.parent

#: (external id, metric, scenario, 'YYYY-MM-01') -> amount in minor units.
Facts = dict[tuple[str, str, str, str], int]


def snapshot(url: str, *, journal_mode: str = "") -> dict[str, tuple[int, str]]:
    """Every table of the database: (row count, SHA-256 of all its rows in key order).

    Two equal snapshots mean two byte-for-byte equal ledgers as far as SQL can see (ids,
    validity intervals, timestamps, the schema revision included).
    """
    engine = make_engine(resolve_url(url), journal_mode=journal_mode)
    try:
        out: dict[str, tuple[int, str]] = {}
        with engine.connect() as conn:
            for table in sorted(inspect(conn).get_table_names()):
                cols = [c["name"] for c in inspect(conn).get_columns(table)]
                order = ", ".join(str(i + 1) for i in range(len(cols)))
                rows = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')).all()
                digest = hashlib.sha256()
                for row in rows:
                    digest.update(repr(tuple(_norm(v) for v in row)).encode())
                out[table] = (len(rows), digest.hexdigest())
        return out
    finally:
        engine.dispose()


def _norm(value: Any) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def sqlite_integrity(url: str) -> str:
    """``PRAGMA integrity_check`` of a SQLite ledger (``ok`` when whole)."""
    engine = make_engine(resolve_url(url), journal_mode="")
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
    finally:
        engine.dispose()


def current_facts(url: str) -> Facts:
    """The current phasing of the ledger at ``url``."""
    engine = make_engine(resolve_url(url), journal_mode="")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT i.external_id, m.code, p.scenario, CAST(p.month AS VARCHAR(10)), "
                "p.amount_minor FROM phasing p JOIN initiative i ON i.id = p.initiative_id "
                f"JOIN metric m ON m.id = p.metric_id WHERE p.valid_to = {OPEN}")).all()
    finally:
        engine.dispose()
    return {(r[0], r[1], r[2], str(r[3])[:10]): int(r[4]) for r in rows}


def current_names(url: str) -> dict[str, str]:
    """external id -> current name."""
    engine = make_engine(resolve_url(url), journal_mode="")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT i.external_id, v.name FROM initiative i JOIN initiative_version v "
                f"ON v.initiative_id = i.id AND v.valid_to = {OPEN}")).all()
    finally:
        engine.dispose()
    return {r[0]: r[1] for r in rows}


def pipeline_workbook(path: Path, rows: Sequence[Mapping[str, Any]], *,
                      months: Sequence[date] = MONTHS) -> Path:
    """The canonical initiatives workbook, written fast (openpyxl write-only).

    Each row: ``id``, ``name`` and ``amounts`` (one cell per month; None = blank), and
    optionally ``owner``, ``unit``, ``lever``, ``stage``, ``description``, ``metric``,
    ``scenario``.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Initiatives")
    ws.append(["Initiatives: Cost 2028"])
    ws.append(["Amounts in AUD"])
    ws.append([])
    ws.append([*HEADER, *[datetime(m.year, m.month, 1) for m in months]])
    for row in rows:
        ws.append([row["id"], row["name"], row.get("owner", "Ana Lima"), row.get("unit", "PRO"),
                   row.get("lever", "PROC"), row.get("stage", "L2"),
                   row.get("description", ""), row.get("metric", "benefit"),
                   row.get("scenario", "plan"), *row["amounts"]])
    wb.save(path)
    return path


def facts_of(rows: Sequence[Mapping[str, Any]], *, months: Sequence[date] = MONTHS,
             decimals: int = 2) -> Facts:
    """The facts a workbook of whole-cent ``rows`` (ints or cent-exact numbers) holds."""
    out: Facts = {}
    for row in rows:
        for m, value in zip(months, row["amounts"], strict=True):
            if value is None:
                continue
            out[(row["id"], row.get("metric", "benefit"), row.get("scenario", "plan"),
                 m.isoformat())] = round(value * 10**decimals)
    return out


def child_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a child ``tledger``: the test's ledger, no terminal tricks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TLEDGER_")}
    env.update(TLEDGER_DATABASE_URL=url, TLEDGER_USER="child", COLUMNS="200",
               PYTHONPATH=str(TESTS_DIR) + os.pathsep + env.get("PYTHONPATH", ""))
    env.update(extra)
    return env


class Child:
    """A child process whose stderr goes to a file that can be polled for markers."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._err = log.open("wb")
        self._out = log.with_suffix(".out").open("wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(list(args), env=dict(env), stdout=self._out,
                                     stderr=self._err, start_new_session=True)

    def wait_for(self, marker: str, timeout: float = 120.0) -> float:
        """Seconds from start until ``marker`` appears on stderr (fails if the child ends
        or the timeout passes first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.stderr():
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                raise AssertionError(f"child ended ({self.proc.returncode}) before {marker!r}: "
                                     f"{self.stderr()[-2000:]}")
            time.sleep(0.01)
        raise AssertionError(f"no {marker!r} within {timeout}s: {self.stderr()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no handler, no rollback, no atexit: what a crash or OOM-kill does."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close()

    def finish(self, timeout: float = 180.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._close()
        return code

    def _close(self) -> None:
        self._err.close()
        self._out.close()

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stdout(self) -> str:
        return self.log.with_suffix(".out").read_text(errors="replace")


def setup_programme(url: str) -> None:
    """The standard test programme (as the ``programme`` fixture) on the ledger at ``url``."""
    from ledger.api import Ledger

    led = Ledger.open(url)
    try:
        led.create_programme(name="Cost 2028", currency="AUD", fy_start_month=7,
                             first_month=MONTHS[0], last_month=MONTHS[-1], user="setup")
        led.add_business_unit("PRO", "Processing", user="setup")
        led.add_business_unit("MIN", "Mining", user="setup")
        for code, name in [("PROC", "Procurement"), ("LAB", "Labour"),
                           ("MAINT", "Maintenance"), ("ENERGY", "Energy")]:
            led.add_lever(code, name, user="setup")
    finally:
        led.dispose()


def record(figure: str, count: int, **details: Any) -> None:
    """Add ``count`` to a figure of docs/reliability.md (faults injected, inputs tried...).

    Only when ``TLEDGER_RELIABILITY_FIGURES`` names a file: each call appends one JSON line,
    which ``python -m reliability.figures FILE`` sums up.
    """
    target = os.environ.get("TLEDGER_RELIABILITY_FIGURES")
    if not target:
        return
    import json

    line = json.dumps({"figure": figure, "count": int(count), **details}, default=str)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


# ------------------------------------------------------------------ fast child processes

_PRELOAD = ["pandas", "sqlalchemy", "openpyxl", "importers.api", "tledger.cli",
            "ledger.phasing", "reliability.support"]


def _context() -> Any:
    """A multiprocessing context whose children fork from a warm, single-threaded server.

    Starting ``tledger`` afresh costs seconds of imports (pandas, SQLAlchemy) per child;
    a forkserver pays that once, and its children are still real, separate processes that
    SIGKILL ends without any cleanup.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def _redirect(err_path: str, out_path: str, env: Mapping[str, str]) -> None:
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(err, 2)
    os.dup2(out, 1)
    os.environ.clear()
    os.environ.update(env)  # ledger.settings reads them at use: this child's settings apply


def _cli_main(args: list[str], env: dict[str, str], err_path: str, out_path: str) -> None:
    """Child: run ``tledger ARGS`` exactly as the console script does, exit with its code."""
    _redirect(err_path, out_path, env)
    from tledger.cli import main

    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Forked(Child):
    """Like :class:`Child` (``args`` without the program name), but forked warm."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log: Path,
                 target: Any = None) -> None:
        self.log = log
        self.started = time.monotonic()
        log.write_bytes(b"")
        log.with_suffix(".out").write_bytes(b"")
        ctx = _context()
        self.process = ctx.Process(target=target or _cli_main,
                                   args=(list(args), dict(env), str(log),
                                         str(log.with_suffix(".out"))))
        self.process.start()
        self.proc = _ProcessView(self.process)

    def _close(self) -> None:
        pass


class _ProcessView:
    """The bit of ``subprocess.Popen`` that :class:`Child` uses, over a mp Process."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode  # type: ignore[no-any-return]

    def poll(self) -> int | None:
        return self.process.exitcode  # type: ignore[no-any-return]

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("forked child", timeout or 0)
        return int(self.process.exitcode)

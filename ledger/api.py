"""The Python API: a :class:`Ledger` is one database holding one programme.

The CLI is a thin layer over these methods; notebooks and the report writers use them too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ledger.codes import refuse_collision, refuse_numeric
from ledger.db import (
    make_engine,
    reading,
    require_ready,
    resolve_url,
    schema_state,
    translate_db_error,
    writing,
)
from ledger.errors import LedgerError, NotFound
from ledger.models import OPEN
from ledger.months import first_of_month, month_range
from ledger.store import current_user, new_submission, read_frame

# check_scenario is part of the API the faces call (the `as` re-exports it explicitly).
from ledger.vocabulary import check_scenario as check_scenario
from ledger.vocabulary import stored_utc

#: Stage gates every programme starts with: code, name, default risk weight.
DEFAULT_STAGE_GATES: list[tuple[str, str, Decimal]] = [
    ("L0", "Idea", Decimal("0.10")),
    ("L1", "Validated", Decimal("0.25")),
    ("L2", "Planned (business case)", Decimal("0.50")),
    ("L3", "Approved for execution", Decimal("0.75")),
    ("L4", "Implemented", Decimal("0.90")),
    ("L5", "Realised in the P&L", Decimal("1.00")),
]

#: PostgreSQL advisory lock held while migrating, so concurrent inits take turns ("tledger").
MIGRATION_LOCK_KEY = int.from_bytes(b"tledger", "big")


@dataclass(frozen=True)
class ProgrammeInfo:
    id: int
    name: str
    currency: str
    fy_start_month: int
    first_month: date
    last_month: date

    @property
    def months(self) -> list[date]:
        return month_range(self.first_month, self.last_month)


@dataclass(frozen=True)
class MetricInfo:
    id: int
    code: str
    name: str
    unit: str
    kind: str
    decimals: int


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class Ledger:
    """A ledger database. Open with :meth:`open`; create with :meth:`init`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, db: str | None = None, *, check: bool = True) -> Ledger:
        """Open the ledger at ``db`` (see :func:`ledger.db.resolve_url`).

        Raises:
            LedgerNotReady: the database is not migrated to this version's schema.
        """
        url = resolve_url(db)
        ledger = cls(make_engine(url))
        if check:
            require_ready(ledger.engine)
        return ledger

    @classmethod
    def init(cls, db: str | None = None) -> Ledger:
        """Create (or upgrade) the ledger at ``db`` and migrate it to head."""
        url = resolve_url(db)
        ledger = cls(make_engine(url))
        ledger.upgrade()
        return ledger

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the ledger to ``revision`` (default: the newest this tledger knows).

        Concurrent inits and upgrades of one database take turns: the first migrates, the
        others then find the work done (PostgreSQL: a transaction-level advisory lock;
        SQLite: ``BEGIN IMMEDIATE``, which waits up to ``TLEDGER_BUSY_TIMEOUT``).

        Raises:
            LedgerTooNew: the ledger was written by a newer tledger; Alembic is not run.
        """
        try:
            schema_state(self.engine)
            with self.engine.connect() as conn:
                conn = conn.execution_options(tledger_write=True)
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": MIGRATION_LOCK_KEY})
                    import migrations

                    migrations.upgrade(conn, revision)
        except (OperationalError, DBAPIError) as exc:
            raise translate_db_error(exc, str(self.engine.url)) from exc

    def dispose(self) -> None:
        self.engine.dispose()

    def reading(self) -> AbstractContextManager[Connection]:
        return reading(self.engine)

    @contextmanager
    def snapshot(self, conn: Connection | None = None) -> Iterator[Connection]:
        """``conn`` when the caller already reads inside a transaction (so several reads
        see one snapshot), else a new read transaction."""
        if conn is not None:
            yield conn
            return
        with self.reading() as new:
            yield new

    def writing(self) -> AbstractContextManager[Connection]:
        return writing(self.engine)

    def identity(self, conn: Connection | None = None) -> tuple[str, bytes]:
        """(ledger id, stamp key) of this ledger (see :class:`ledger.models.LedgerIdentity`).

        Raises:
            LedgerError: the identity row is missing (the ledger was tampered with).
        """
        if conn is None:
            with self.reading() as c:
                return self.identity(c)
        row = conn.execute(text("SELECT ledger_id, stamp_key FROM ledger_identity")).first()
        if row is None:
            raise LedgerError("this ledger has no identity row (ledger_identity is empty): "
                              "it was altered outside tledger")
        return str(row[0]), bytes.fromhex(str(row[1]))

    # ------------------------------------------------------------------ programme
    def programme(self, conn: Connection | None = None) -> ProgrammeInfo:
        """The programme this ledger tracks.

        Raises:
            LedgerError: none created yet (run ``tledger programme create``).
        """
        if conn is None:
            with self.reading() as c:
                return self.programme(c)
        row = conn.execute(
            text("SELECT id, name, currency, fy_start_month, first_month, last_month "
                 "FROM programme ORDER BY id LIMIT 1")
        ).first()
        if row is None:
            raise LedgerError("this ledger has no programme yet: run `tledger programme create`")
        return ProgrammeInfo(int(row[0]), row[1], row[2], int(row[3]), _as_date(row[4]),
                             _as_date(row[5]))

    def create_programme(
        self,
        *,
        name: str,
        currency: str,
        fy_start_month: int,
        first_month: date,
        last_month: date,
        user: str | None = None,
        note: str = "",
        default_metrics: bool = True,
    ) -> ProgrammeInfo:
        """Create the programme, its stage gates L0-L5 and (by default) two metrics:
        ``benefit`` (recurring net benefit) and ``cost`` (one-off cost), in the currency."""
        currency = currency.strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise LedgerError(f"currency {currency!r}: expected a 3-letter ISO code such as AUD")
        if not 1 <= fy_start_month <= 12:
            raise LedgerError(f"fiscal-year start month {fy_start_month}: expected 1 to 12")
        first_month, last_month = first_of_month(first_month), first_of_month(last_month)
        if last_month < first_month:
            raise LedgerError(f"horizon ends ({last_month:%Y-%m}) before it starts "
                              f"({first_month:%Y-%m})")
        if not name.strip():
            raise LedgerError("the programme needs a name")
        with self.writing() as conn:
            if conn.execute(text("SELECT COUNT(*) FROM programme")).scalar_one():
                existing = self.programme(conn)
                raise LedgerError(
                    f"this ledger already tracks programme {existing.name!r}: one programme "
                    "per ledger; use another --db for another programme"
                )
            sub = new_submission(conn, kind="setup", user=current_user(user),
                                 note=note or f"create programme {name}")
            conn.execute(
                text("INSERT INTO programme (name, currency, fy_start_month, first_month, "
                     "last_month, created_submission_id) VALUES (:n, :c, :f, :a, :b, :s)"),
                {"n": name.strip(), "c": currency, "f": fy_start_month, "a": first_month,
                 "b": last_month, "s": sub.id},
            )
            if not conn.execute(text("SELECT COUNT(*) FROM stage_gate")).scalar_one():
                for ordinal, (code, sg_name, _w) in enumerate(DEFAULT_STAGE_GATES):
                    conn.execute(
                        text("INSERT INTO stage_gate (code, name, ordinal) VALUES (:c, :n, :o)"),
                        {"c": code, "n": sg_name, "o": ordinal},
                    )
            for code, _n, weight in DEFAULT_STAGE_GATES:
                conn.execute(
                    text("INSERT INTO stage_weight (stage_gate_id, weight_bp, valid_from, valid_to)"
                         " SELECT id, :w, :s, :open FROM stage_gate WHERE code = :c"),
                    {"w": int(weight * 10000), "s": sub.id, "open": OPEN, "c": code},
                )
            if default_metrics:
                for code, m_name, kind in [
                    ("benefit", "Recurring net benefit", "benefit"),
                    ("cost", "One-off cost to achieve", "cost"),
                ]:
                    self._insert_metric(conn, sub.id, code, m_name, currency, kind, 2)
            return self.programme(conn)

    # ------------------------------------------------------------------ reference data
    def _insert_metric(self, conn: Connection, sub_id: int, code: str, name: str, unit: str,
                       kind: str, decimals: int) -> None:
        conn.execute(
            text("INSERT INTO metric (code, name, unit, kind, decimals, created_submission_id) "
                 "VALUES (:c, :n, :u, :k, :d, :s)"),
            {"c": code, "n": name, "u": unit, "k": kind, "d": decimals, "s": sub_id},
        )

    def add_metric(self, *, code: str, name: str, unit: str, kind: str, decimals: int,
                   user: str | None = None, note: str = "") -> MetricInfo:
        """Add a metric. ``kind`` is benefit or cost; ``decimals`` 0 to 6, fixed once set."""
        code = _check_code(code, "metric")
        refuse_numeric(code, "metric")
        if kind not in ("benefit", "cost"):
            raise LedgerError(f"metric kind {kind!r}: expected benefit or cost")
        if not 0 <= decimals <= 6:
            raise LedgerError(f"decimals {decimals}: expected 0 to 6")
        with self.writing() as conn:
            self.programme(conn)
            refuse_collision(code, self._codes(conn, "metric"), "metric")
            sub = new_submission(conn, kind="reference", user=current_user(user),
                                 note=note or f"add metric {code}")
            self._insert_metric(conn, sub.id, code, name or code, unit, kind, decimals)
        return self.metric(code)

    def metrics(self, conn: Connection | None = None) -> list[MetricInfo]:
        if conn is None:
            with self.reading() as c:
                return self.metrics(c)
        rows = conn.execute(
            text("SELECT id, code, name, unit, kind, decimals FROM metric ORDER BY id")
        ).all()
        return [MetricInfo(int(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in rows]

    def metric(self, code: str | None = None, conn: Connection | None = None) -> MetricInfo:
        """The metric ``code`` (None: the first one, ``benefit`` by default)."""
        metrics = self.metrics(conn)
        if not metrics:
            raise LedgerError("this ledger has no metrics: run `tledger metric add`")
        if code is None:
            return metrics[0]
        for m in metrics:
            if m.code == code:
                return m
        known = ", ".join(m.code for m in metrics)
        raise NotFound(f"no metric {code!r} (known: {known})")

    def _codes(self, conn: Connection, table: str) -> list[str]:
        """Every code of ``table`` (a short reference table)."""
        return [str(c) for c in conn.execute(text(f"SELECT code FROM {table}")).scalars()]  # noqa: S608  (table: a constant table name)

    def _add_coded(self, table: str, what: str, code: str, name: str, user: str | None,
                   note: str) -> None:
        code = _check_code(code, what)
        refuse_numeric(code, what)
        with self.writing() as conn:
            self.programme(conn)
            refuse_collision(code, self._codes(conn, table), what)
            sub = new_submission(conn, kind="reference", user=current_user(user),
                                 note=note or f"add {what} {code}")
            try:
                conn.execute(
                    text(f"INSERT INTO {table} (code, name, created_submission_id) "  # noqa: S608  (table: a constant table name)
                         "VALUES (:c, :n, :s)"),
                    {"c": code, "n": name or code, "s": sub.id},
                )
            except IntegrityError as exc:  # a concurrent writer added it first
                raise LedgerError(f"{what} {code!r} already exists") from exc

    def add_business_unit(self, code: str, name: str, *, user: str | None = None,
                          note: str = "") -> None:
        self._add_coded("business_unit", "business unit", code, name, user, note)

    def add_lever(self, code: str, name: str, *, user: str | None = None, note: str = "") -> None:
        self._add_coded("lever", "lever", code, name, user, note)

    def business_units(self, conn: Connection | None = None) -> pd.DataFrame:
        """Columns ``id, code, name``."""
        return self._coded("business_unit", conn)

    def levers(self, conn: Connection | None = None) -> pd.DataFrame:
        """Columns ``id, code, name``."""
        return self._coded("lever", conn)

    def _coded(self, table: str, conn: Connection | None) -> pd.DataFrame:
        if conn is None:
            with self.reading() as c:
                return self._coded(table, c)
        return read_frame(conn, f"SELECT id, code, name FROM {table} ORDER BY code")  # noqa: S608  (table: a constant table name)

    def stage_gates(self, conn: Connection | None = None, as_of: int | None = None
                    ) -> pd.DataFrame:
        """Columns ``id, code, name, ordinal, weight`` (weight a Decimal, 0 to 1)."""
        if conn is None:
            with self.reading() as c:
                return self.stage_gates(c, as_of)
        from ledger.store import version_filter

        where, params = version_filter(as_of, "w")
        frame = read_frame(
            conn,
            "SELECT sg.id, sg.code, sg.name, sg.ordinal, w.weight_bp FROM stage_gate sg "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
            f"LEFT JOIN stage_weight w ON w.stage_gate_id = sg.id AND {where} "
            "ORDER BY sg.ordinal",
            params,
        )
        weights = [None if pd.isna(w) else Decimal(int(w)).scaleb(-4)
                   for w in frame.pop("weight_bp")]
        frame["weight"] = pd.Series(weights, index=frame.index, dtype=object)
        return frame

    def set_coverage_thresholds(self, *, red: Decimal | None = None,
                                amber: Decimal | None = None, user: str | None = None,
                                note: str = "") -> tuple[Decimal, Decimal]:
        """Record the coverage below which reports show red, and below which amber (ratios:
        0.9 is 90 %), as a submission; a threshold not given keeps its current value.
        Returns the (red, amber) now in force.

        Raises:
            LedgerError: a threshold outside 0 to 10, or red above amber.
        """
        with self.writing() as conn:
            self.programme(conn)
            old_red, old_amber = self.coverage_thresholds(conn)
            new_red = old_red if red is None else Decimal(red)
            new_amber = old_amber if amber is None else Decimal(amber)
            for name, value in (("red", new_red), ("amber", new_amber)):
                if not value.is_finite() or not Decimal(0) <= value <= Decimal(10):
                    raise LedgerError(f"coverage {name} threshold {value}: expected a ratio "
                                      "from 0 to 10 (0.9 is 90 %)")
            if new_red > new_amber:
                raise LedgerError(f"coverage red threshold {new_red} is above the amber "
                                  f"threshold {new_amber}: red must be the lower")
            new_submission(conn, kind="reference", user=current_user(user),
                           note=note or f"coverage thresholds: red below {new_red}, amber "
                           f"below {new_amber}",
                           details={_THRESHOLDS: {"red": str(new_red),
                                                  "amber": str(new_amber)}})
        return new_red, new_amber

    def coverage_thresholds(self, conn: Connection | None = None, as_of: int | None = None
                            ) -> tuple[Decimal, Decimal]:
        """The (red, amber) coverage thresholds in force at submission ``as_of`` (default
        now): the latest set by :meth:`set_coverage_thresholds`, else 0.9 and 1.0."""
        if conn is None:
            with self.reading() as c:
                return self.coverage_thresholds(c, as_of)
        row = conn.execute(text(
            "SELECT details FROM submission WHERE kind = 'reference' AND details LIKE :key "
            "AND id <= :sub ORDER BY id DESC LIMIT 1"),
            {"key": f'%"{_THRESHOLDS}"%',
             "sub": as_of if as_of is not None else 2**62}).scalar_one_or_none()
        if row is None:
            return COVERAGE_RED, COVERAGE_AMBER
        values = json.loads(row)[_THRESHOLDS]
        return Decimal(values["red"]), Decimal(values["amber"])

    def set_stage_weight(self, code: str, weight: Decimal, *, user: str | None = None,
                         note: str = "") -> None:
        """Record a new risk weight (0 to 1, at most 4 decimals) for stage gate ``code``."""
        if not Decimal(0) <= weight <= Decimal(1):
            raise LedgerError(f"weight {weight}: expected a number from 0 to 1 (e.g. 0.5)")
        bp = weight * 10000
        if bp != bp.to_integral_value():
            raise LedgerError(f"weight {weight}: at most 4 decimals (e.g. 0.3333)")
        with self.writing() as conn:
            self.programme(conn)
            sg = conn.execute(text("SELECT id FROM stage_gate WHERE code = :c"),
                              {"c": code}).first()
            if sg is None:
                known = ", ".join(self.stage_gates(conn)["code"])
                raise NotFound(f"no stage gate {code!r} (known: {known})")
            sub = new_submission(conn, kind="reference", user=current_user(user),
                                 note=note or f"set {code} weight to {weight}")
            conn.execute(
                text(f"UPDATE stage_weight SET valid_to = :s WHERE stage_gate_id = :g "  # noqa: S608  (OPEN: an int constant)
                     f"AND valid_to = {OPEN}"),
                {"s": sub.id, "g": sg[0]},
            )
            conn.execute(
                text("INSERT INTO stage_weight (stage_gate_id, weight_bp, valid_from, valid_to) "
                     "VALUES (:g, :w, :s, :open)"),
                {"g": sg[0], "w": int(bp), "s": sub.id, "open": OPEN},
            )

    def submissions(self, conn: Connection | None = None, limit: int | None = None
                    ) -> pd.DataFrame:
        """Columns ``id, kind, user, created_at, source_name, source_sha256, note``, newest
        first."""
        if conn is None:
            with self.reading() as c:
                return self.submissions(c, limit)
        sql = ('SELECT id, kind, "user", created_at, source_name, source_sha256, note '
               "FROM submission ORDER BY id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        frame = read_frame(conn, sql)
        frame["created_at"] = pd.Series(
            [stored_utc(v) for v in frame["created_at"]], index=frame.index, dtype=object
        )
        return frame


#: The submission details key that records coverage thresholds.
_THRESHOLDS = "coverage_thresholds"
#: Coverage below which a report shows red, and below which amber, until set otherwise.
COVERAGE_RED = Decimal("0.9")
COVERAGE_AMBER = Decimal("1.0")


def _check_code(code: str, what: str) -> str:
    code = code.strip()
    if not code or len(code) > 40 or any(c.isspace() for c in code):
        raise LedgerError(f"{what} code {code!r}: expected 1 to 40 characters without spaces")
    return code

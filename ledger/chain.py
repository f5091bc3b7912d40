"""The history's hash chain: every submission seals what it wrote, and its predecessor.

Each submission carries three SHA-256 hashes (``submission.rows_hash``, ``content_hash``
and ``chain_hash``):

* its *rows hash*, over a canonical, backend-independent serialisation of every history
  row it wrote (``valid_from`` or ``created_submission_id`` is the submission; the stage
  gates belong to the programme's set-up) and the ids of the older versions it closed
  (``valid_to`` is the submission). A row's own ``valid_to`` is not part of the submission
  that wrote it: a later submission sets it, and that one's hash covers it.
* its *content hash*, over the submission row (id, kind, user, created_at, source, note,
  details, content keys) and the rows hash;
* its *chain hash*: ``sha256(previous chain hash ":" content hash)``; the first
  submission links to :data:`GENESIS`.

:func:`seal` fills them in inside the write transaction, just before commit, for the
submissions that transaction created (``ledger.db.writing``); :func:`verify` recomputes the
whole chain and names the first broken link. Plain SQL that updates, deletes, inserts or
reorders history therefore shows up, unless whoever did it also rewrote every later hash:
keep the head hash that ``tledger verify`` prints somewhere the ledger's users cannot
write, and pass it back with ``--head`` to rule that out.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from ledger.models import OPEN, SCENARIOS

#: The "previous chain hash" of the first submission.
GENESIS = "0" * 64
#: Bumped if the serialisation ever changes (then a migration re-seals the chain).
FORMAT = b"tledger-chain-1"

_SUBMISSION_COLUMNS = ('id, kind, "user", created_at, source_name, source_sha256, '
                       "content_parts, content_sha256, note, details")


@dataclass(frozen=True)
class _Table:
    name: str
    columns: str
    """Content columns, ``id`` first, dates cast to ISO text (same text on every backend)."""
    owner: str
    """The column naming the submission that wrote the row."""
    versioned: bool
    """Has ``valid_to``: closing one of its rows is part of the closing submission."""
    added_later: bool = False
    """Created by a migration after 0004 (which seals existing ledgers): skipped while a
    ledger is being migrated through revisions that do not have it yet."""


#: Every history table except phasing (hashed from numpy arrays, see :func:`_phasing`),
#: in the order their parts enter a submission's content hash.
_TABLES = (
    _Table("programme", "id, name, currency, fy_start_month, CAST(first_month AS VARCHAR(10)), "
           "CAST(last_month AS VARCHAR(10))", "created_submission_id", False),
    _Table("metric", "id, code, name, unit, kind, decimals", "created_submission_id", False),
    _Table("business_unit", "id, code, name", "created_submission_id", False),
    _Table("lever", "id, code, name", "created_submission_id", False),
    _Table("initiative", "id, external_id", "created_submission_id", False),
    _Table("stage_weight", "id, stage_gate_id, weight_bp", "valid_from", True),
    _Table("initiative_version", "id, initiative_id, name, owner, business_unit_id, lever_id, "
           "stage_gate_id, description, status", "valid_from", True),
    _Table("target", "id, metric_id, scope_kind, scope_code, CAST(month AS VARCHAR(10)), "
           "amount_minor", "valid_from", True),
    _Table("month_close", "id, CAST(month AS VARCHAR(10))", "created_submission_id", False,
           added_later=True),
    _Table("metric_ratio", "id, metric_id, numerator_metric_id, denominator_metric_id",
           "created_submission_id", False, added_later=True),
    _Table("baseline", "id, metric_id, series, scope_kind, scope_code, "
           "CAST(month AS VARCHAR(10)), amount_minor, driver_metric_id, rate_micro",
           "valid_from", True, added_later=True),
    _Table("gl_actual", "id, CAST(month AS VARCHAR(10)), business_unit_id, metric_id, pnl_kind, "
           "amount_minor, cost_centre, account", "created_submission_id", False,
           added_later=True),
    _Table("reviewed_pair", "id, first_initiative_id, second_initiative_id, note",
           "created_submission_id", False, added_later=True),
)
#: Written with the programme (the set-up submission); the table has no submission column.
_STAGE_GATE_COLUMNS = "id, code, name, ordinal"


class _Content:
    """Collects the digests of submissions' rows, part by part, and combines them."""

    def __init__(self) -> None:
        # submission id -> part name -> SHA-256 digests of its pieces, in order
        self.parts: dict[int, dict[str, list[bytes]]] = defaultdict(lambda: defaultdict(list))

    def add(self, sub: int, part: str, data: bytes) -> None:
        self.parts[sub][part].append(hashlib.sha256(data).digest())

    def rows_hash(self, sub: int) -> str:
        h = hashlib.sha256(FORMAT + b"\0rows")
        for part in sorted(self.parts.get(sub, {})):
            pieces = self.parts[sub][part]
            h.update(b"\0" + part.encode() + b"\0" + str(len(pieces)).encode())
            for piece in pieces:
                h.update(piece)
        return h.hexdigest()


def content_of(header: bytes, rows_hash: str) -> str:
    """The content hash of a submission: its row (canonical ``header``) and its rows' hash."""
    return hashlib.sha256(FORMAT + b"\0" + header + b"\0" + rows_hash.encode()).hexdigest()


def link(previous: str | None, content: str) -> str:
    """The chain hash of a submission whose content hash is ``content``."""
    return hashlib.sha256(f"{previous or GENESIS}:{content}".encode()).hexdigest()


def _canon(value: Any) -> Any:
    """A column value as JSON-ready canonical data (ints stay ints, text stays text)."""
    if value is None or isinstance(value, int | str):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value)


def _row_bytes(row: Sequence[Any]) -> bytes:
    return json.dumps([_canon(v) for v in row], ensure_ascii=False,
                      separators=(",", ":")).encode()


def _header(row: Sequence[Any]) -> bytes:
    values = list(row)
    created = values[3]
    if created is not None and not isinstance(created, datetime):
        created = datetime.fromisoformat(str(created))
    values[3] = created
    return _row_bytes(values)


def _in_list(ids: Iterable[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


# --------------------------------------------------------------------------- reading


class _Reads:
    """Queries (no parameters: ids are ``int()``-formatted) and what to do with each one's
    rows, in order. Sealing a few submissions sends them to PostgreSQL in one round trip:
    the seal runs inside the write lock, where every round trip is a wait every other
    writer shares."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[Sequence[Sequence[Any]]], None]]] = []

    def add(self, sql: str, then: Callable[[Sequence[Sequence[Any]]], None]) -> None:
        self.steps.append((sql, then))

    def run(self, conn: Connection, *, batch: bool) -> None:
        if batch and conn.dialect.name == "postgresql" and len(self.steps) > 1:
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur:
                # Without parameters psycopg sends the statements as one simple query.
                cur.execute("; ".join(sql for sql, _ in self.steps))
                for k, (_, then) in enumerate(self.steps):
                    if k and not cur.nextset():  # pragma: no cover  (one set per statement)
                        raise RuntimeError("seal read: a result set is missing")
                    then(cur.fetchall())
            return
        for sql, then in self.steps:
            then(conn.execute(text(sql)).all())


def _collect(conn: Connection, subs: Sequence[int] | None, content: _Content,
             strays: list[str]) -> None:
    """Add to ``content`` every part of the submissions ``subs`` (None: of all).

    With ``subs`` None (full verification), rows naming a submission that does not exist
    are reported in ``strays``.
    """
    known: set[int] | None = None
    if subs is None:
        known = {int(i) for i in conn.execute(text("SELECT id FROM submission")).scalars()}
    only = "" if subs is None else _in_list(subs)
    reads = _Reads()
    for table in _TABLES:
        if table.added_later and not conn.dialect.has_table(conn, table.name):
            continue
        _read_table(reads, table, None if subs is None else only, content, known, strays)
    setup: list[int] = []
    reads.add("SELECT created_submission_id FROM programme ORDER BY id LIMIT 1",
              lambda rows: setup.extend(int(r[0]) for r in rows))

    def add_gates(rows: Sequence[Sequence[Any]]) -> None:
        if setup and (subs is None or setup[0] in subs):
            for row in rows:
                content.add(setup[0], "stage_gate", _row_bytes(row))

    reads.add(f"SELECT {_STAGE_GATE_COLUMNS} FROM stage_gate ORDER BY id", add_gates)  # noqa: S608  (a constant column list)
    few: list[Sequence[Any]] = []
    if subs is not None:
        _read_few_phasing(reads, subs, few)
    reads.run(conn, batch=subs is not None)
    if subs is not None and len(few[2]) <= _FEW_FACTS and len(few[1]) <= _FEW_CLOSED:
        _phasing_few(content, [int(r[0]) for r in few[0]], few[1], few[2])
        return
    _phasing(conn, subs, content, known, strays)


def _read_table(reads: _Reads, table: _Table, only: str | None, content: _Content,
                known: set[int] | None, strays: list[str]) -> None:
    """Queue the reads of ``table``'s part of the submissions ``only`` (None: of all)."""
    where = "" if only is None else f" WHERE {table.owner} IN ({only})"
    written: list[Sequence[Any]] = []

    def add_rows(rows: Sequence[Sequence[Any]]) -> None:
        written.extend(rows)
        for row in rows:
            content.add(int(row[0]), table.name, _row_bytes(row[1:]))
        if known is not None and not table.versioned:
            _strays(strays, table.name, "written by", [int(r[0]) for r in rows], known)

    reads.add(f"SELECT {table.owner}, {table.columns} FROM {table.name}{where} ORDER BY id",  # noqa: S608  (schema names; ids int()-formatted)
              add_rows)
    if not table.versioned:
        return

    def add_closed(closed: Sequence[Sequence[Any]]) -> None:
        by_sub: dict[int, list[int]] = defaultdict(list)
        for vt, rid in closed:
            by_sub[int(vt)].append(int(rid))
        for sub, ids in by_sub.items():
            content.add(sub, f"{table.name}.closed", np.array(ids, "<i8").tobytes())
        if known is not None:
            _strays(strays, table.name, "written by", [int(r[0]) for r in written], known)
            _strays(strays, table.name, "closed by", list(by_sub), known)

    closed_where = f" WHERE valid_to <> {OPEN}" if only is None else f" WHERE valid_to IN ({only})"
    reads.add(f"SELECT valid_to, id FROM {table.name}{closed_where} ORDER BY id",  # noqa: S608  (schema names; ids int()-formatted)
              add_closed)


def _strays(strays: list[str], table: str, how: str, subs: list[int], known: set[int]) -> None:
    missing = sorted(set(subs) - known)
    if missing:
        strays.append(f"{table} rows {how} submission {missing[0]}, which does not exist")


def _phasing(conn: Connection, subs: Sequence[int] | None, content: _Content,
             known: set[int] | None, strays: list[str]) -> None:
    """Phasing's parts, from int64 arrays: no Python object per fact, one (metric, scenario)
    at a time so a ledger of tens of millions of versions fits in memory.

    A written fact is (id, initiative, month no., amount) as little-endian int64s, a closed
    one its id; both per (metric, scenario) part, in id order.
    """
    metric_ids = [int(i) for i in conn.execute(text("SELECT id FROM metric")).scalars()]
    extra = [str(s) for s in conn.execute(text(
        "SELECT DISTINCT scenario FROM phasing WHERE scenario NOT IN ("  # noqa: S608  (the constant SCENARIOS)
        + ", ".join(f"'{s}'" for s in SCENARIOS) + ")")).scalars()] if subs is None else []
    known_arr = None if known is None else np.array(sorted(known), dtype=np.int64)
    for metric in metric_ids:
        for scenario in (*SCENARIOS, *extra):
            quoted = scenario.replace("'", "''")
            pair = f"metric_id = {metric} AND scenario = '{quoted}'"
            # A row written by one of ``subs`` is still open or was closed by a later one of
            # them (every later submission is in ``subs``): both index columns seek.
            only = ("" if subs is None else f" AND valid_to IN ({OPEN}, {_in_list(subs)}) "
                    f"AND valid_from IN ({_in_list(subs)})")
            vf, vt, ids, iid, month_no, amount = _phasing_facts(conn, f"WHERE {pair}{only}")
            part = f"phasing/{metric}/{scenario}"
            order = np.lexsort((ids, vf))
            _add_grouped(content, part, vf[order],
                         np.stack([ids, iid, month_no, amount], axis=1)[order])
            if subs is None:
                closed_mask = vt != OPEN
                closed_by, closed_ids = vt[closed_mask], ids[closed_mask]
            else:
                # The scan index leads with (metric, scenario, valid_to): a seek, no scan.
                rows = conn.execute(text(
                    f"SELECT valid_to, id FROM phasing WHERE {pair} "  # noqa: S608  (pair: int id, quoted scenario; ids int())
                    f"AND valid_to IN ({_in_list(subs)})")).all()
                closed_by = np.array([r[0] for r in rows], dtype=np.int64)
                closed_ids = np.array([r[1] for r in rows], dtype=np.int64)
            order = np.lexsort((closed_ids, closed_by))
            _add_grouped(content, f"{part}.closed", closed_by[order], closed_ids[order])
            if known_arr is not None:
                for how, owners in (("written by", vf), ("closed by", closed_by)):
                    bad = owners[~np.isin(owners, known_arr)]
                    if len(bad):
                        strays.append(f"phasing rows {how} submission {int(bad.min())}, "
                                      "which does not exist")
    if subs is None:
        orphans = conn.execute(text(
            f"SELECT MIN(valid_from) FROM phasing WHERE metric_id NOT IN "  # noqa: S608  (ids int()-formatted)
            f"({_in_list(metric_ids)})")).scalar()
        if orphans is not None:
            strays.append(f"phasing rows of a metric that does not exist, written by "
                          f"submission {orphans}")


#: Phasing versions written by the submissions being sealed up to which their parts are read
#: in two queries (every metric and scenario at once) rather than two per pair: a single
#: edit's seal, inside the write lock, is dominated by round trips.
_FEW_FACTS = 5_000
#: ... and versions they closed (emptied cells close a version with no successor).
_FEW_CLOSED = 4 * _FEW_FACTS


def _read_few_phasing(reads: _Reads, subs: Sequence[int], out: list[Sequence[Any]]) -> None:
    """Queue the reads :func:`_phasing_few` works from: the metric ids, the versions closed
    by ``subs`` and those they wrote (at most one beyond :data:`_FEW_CLOSED` and
    :data:`_FEW_FACTS`), each appended to ``out`` in that order. More: the per-pair path."""
    only = _in_list(subs)
    scenarios = ", ".join(f"'{s}'" for s in SCENARIOS)
    reads.add("SELECT id FROM metric ORDER BY id", out.append)
    # Closed versions seek the scan index (metric, scenario, valid_to).
    reads.add("SELECT metric_id, scenario, valid_to, id FROM phasing "  # noqa: S608  (ids int()-formatted; the constant SCENARIOS)
              f"WHERE metric_id IN (SELECT id FROM metric) AND scenario IN ({scenarios}) "
              f"AND valid_to IN ({only}) LIMIT {_FEW_CLOSED + 1}", out.append)
    reads.add("SELECT metric_id, scenario, valid_from, id, initiative_id, "  # noqa: S608  (ids int()-formatted)
              f"CAST(month AS VARCHAR(10)), amount_minor FROM phasing WHERE valid_from IN "
              f"({only}) AND valid_to IN ({OPEN}, {only}) LIMIT {_FEW_FACTS + 1}", out.append)


def _phasing_few(content: _Content, metric_ids: list[int], closed: Sequence[Sequence[Any]],
                 written: Sequence[Sequence[Any]]) -> None:
    """:func:`_phasing`'s parts for a few written facts, from :func:`_read_few_phasing`'s
    rows: the same bytes."""
    for metric in sorted(metric_ids):
        for scenario in SCENARIOS:
            part = f"phasing/{metric}/{scenario}"
            mine = [r for r in written if int(r[0]) == metric and r[1] == scenario]
            vf, ids, iid, amount = (np.array([int(r[k]) for r in mine], dtype=np.int64)
                                    for k in (2, 3, 4, 6))
            month_no = np.array([int(str(r[5])[:4]) * 12 + int(str(r[5])[5:7]) - 1
                                 for r in mine], dtype=np.int64)
            order = np.lexsort((ids, vf))
            _add_grouped(content, part, vf[order],
                         np.stack([ids, iid, month_no, amount], axis=1)[order])
            ended = [r for r in closed if int(r[0]) == metric and r[1] == scenario]
            closed_by = np.array([int(r[2]) for r in ended], dtype=np.int64)
            closed_ids = np.array([int(r[3]) for r in ended], dtype=np.int64)
            order = np.lexsort((closed_ids, closed_by))
            _add_grouped(content, f"{part}.closed", closed_by[order], closed_ids[order])


def _add_grouped(content: _Content, part: str, owners: np.ndarray, data: np.ndarray) -> None:
    """Add ``data``'s rows (sorted by owner) to each owner's ``part``, as raw bytes."""
    if not len(owners):
        return
    data = np.ascontiguousarray(data, dtype="<i8")
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    ends = np.r_[starts[1:], len(owners)]
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        content.add(int(owners[s]), part, data[s:e].tobytes())


_Facts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _phasing_facts(conn: Connection, where: str) -> _Facts:
    """(valid_from, valid_to, id, initiative, month no., amount) of the phasing rows
    ``where`` selects, read as one text list per group of the scan index."""
    raw: Any = conn.connection.driver_connection
    group = "GROUP BY valid_to, valid_from, month"
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            cur.execute(
                "SELECT CAST(month AS VARCHAR(10)), valid_from, valid_to, COUNT(*), "  # noqa: S608  (where: built from ints and a quoted scenario)
                "string_agg(concat_ws(',', id, initiative_id, amount_minor), ',') "
                f"FROM phasing {where} {group}")
            groups = cur.fetchall()
        triples = _ints([g[4] for g in groups]).reshape(-1, 3)
        ids, iid, amount = (triples[:, k].copy() for k in range(3))
    else:
        # The three lists come from aggregates SQLite steps together, so they line up.
        groups = raw.execute(
            "SELECT month, valid_from, valid_to, COUNT(*), group_concat(id, ','), "  # noqa: S608  (where: built from ints and a quoted scenario)
            "group_concat(initiative_id, ','), group_concat(amount_minor, ',') "
            f"FROM phasing {where} {group}").fetchall()
        ids, iid, amount = (_ints([g[k] for g in groups]) for k in (4, 5, 6))
    counts = np.array([int(g[3]) for g in groups], dtype=np.int64)
    if not (len(ids) == len(iid) == len(amount) == int(counts.sum())):
        raise RuntimeError("phasing read: group lists of unequal length")  # pragma: no cover

    def spread(values: list[int]) -> np.ndarray:
        return np.repeat(np.array(values, dtype=np.int64), counts)

    months = [str(g[0]) for g in groups]
    return (spread([int(g[1]) for g in groups]), spread([int(g[2]) for g in groups]), ids, iid,
            spread([int(m[:4]) * 12 + int(m[5:7]) - 1 for m in months]), amount)


def _ints(texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros(0, dtype=np.int64)
    # numpy's C text parser: a tenth of the time of split and int.
    return np.fromstring(",".join(texts), dtype=np.int64, sep=",")


def rows_hashes(conn: Connection, subs: Sequence[int] | None = None
                ) -> tuple[dict[int, str], list[str]]:
    """Rows hash of each submission in ``subs`` (None: every one), recomputed from the
    database, and (for every one) the rows that name a submission that does not exist."""
    content = _Content()
    strays: list[str] = []
    _collect(conn, subs, content, strays)
    ids = ([int(i) for i in conn.execute(text("SELECT id FROM submission")).scalars()]
           if subs is None else list(subs))
    return {sub: content.rows_hash(sub) for sub in ids}, strays


def _headers(conn: Connection, subs: Sequence[int] | None) -> list[tuple[int, bytes]]:
    where = "" if subs is None else f" WHERE id IN ({_in_list(subs)})"
    rows = conn.execute(text(
        f"SELECT {_SUBMISSION_COLUMNS} FROM submission{where} ORDER BY id")).all()  # noqa: S608  (constant columns; ids int()-formatted)
    return [(int(r[0]), _header(r)) for r in rows]


# --------------------------------------------------------------------------- writing


_NEW = "tledger_new_submissions"


def start(conn: Connection) -> None:
    """Begin a write transaction: nothing of it is sealed yet."""
    conn.info[_NEW] = []


def created(conn: Connection, submission_id: int) -> None:
    """Note a submission this write transaction created (``ledger.store.new_submission``)."""
    conn.info.setdefault(_NEW, []).append(int(submission_id))


def seal(conn: Connection) -> int:
    """Hash the submissions this write transaction created, in id order, each linked to the
    newest sealed one before it. Returns how many it sealed.

    Only this transaction's: a submission row inserted by plain SQL stays unsealed (and
    ``verify`` names it) rather than being vouched for by the next write.
    """
    return _seal(conn, sorted(conn.info.pop(_NEW, [])))


def seal_all(conn: Connection) -> int:
    """Seal every unsealed submission (migration 0004 backfills existing ledgers)."""
    return _seal(conn, [int(i) for i in conn.execute(text(
        "SELECT id FROM submission WHERE chain_hash IS NULL ORDER BY id")).scalars()])


_FEW = 50


def _seal(conn: Connection, pending: list[int]) -> int:
    if not pending:
        return 0
    previous = conn.execute(text(
        "SELECT chain_hash FROM submission WHERE id < :first AND chain_hash IS NOT NULL "
        "ORDER BY id DESC LIMIT 1"), {"first": pending[0]}).scalar()
    # Many (a migration sealing a whole ledger): one pass over every table beats per-
    # submission seeks.
    rows, _ = rows_hashes(conn, None if len(pending) > _FEW else pending)
    headers = dict(_headers(conn, pending))
    for sub in pending:
        content = content_of(headers[sub], rows[sub])
        chained = link(previous, content)
        conn.execute(text("UPDATE submission SET rows_hash = :r, content_hash = :c, "
                          "chain_hash = :h WHERE id = :id AND chain_hash IS NULL"),
                     {"r": rows[sub], "c": content, "h": chained, "id": sub})
        previous = chained
    return len(pending)


# --------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found."""

    submissions: int
    """How many submissions it checked."""
    head_id: int | None
    """The newest submission's id (None: no submissions)."""
    head_hash: str | None
    """The newest submission's chain hash: keep it to detect a rewritten chain later."""
    problem: str | None
    """The first broken link, in one line (None: the chain is intact)."""
    broken_id: int | None = None
    """The submission at the first broken link."""
    rows_checked: bool = True
    """Whether every history row was re-hashed (else only the submission table)."""

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(conn: Connection, *, rows: bool = True, head: str | None = None) -> Verification:
    """Recompute the chain in id order and report the first broken link.

    Each submission's content hash is recomputed from its row and its rows hash, and its
    chain hash from the previous one's. With ``rows`` (a full verification) each rows hash
    is itself recomputed from every history row; without, the stored rows hashes are
    trusted (cheap: the submission table only, for ``tledger checks`` on a large ledger).

    ``head`` (``ID:HASH``, as :func:`verify` reported earlier) must still be the chain hash
    of submission ID: a chain rewritten since, hashes and all, fails there.

    Raises:
        LedgerError: ``head`` is not ``ID:HASH``.
    """
    if head is not None:
        sid_text, _, expected = head.partition(":")
        if not sid_text.strip().isdigit() or len(expected.strip()) != 64:
            from ledger.errors import LedgerError

            raise LedgerError(f"--head {head[:20]!r}: expected ID:HASH as `tledger verify` "
                              "printed it")
    stored = conn.execute(text(
        "SELECT id, rows_hash, content_hash, chain_hash, kind, source_name, note "
        "FROM submission ORDER BY id")).all()
    recomputed: dict[int, str] = {}
    strays: list[str] = []
    if rows:
        recomputed, strays = rows_hashes(conn, None)
    headers = dict(_headers(conn, None))
    previous: str | None = None
    previous_id: int | None = None
    problem: str | None = None
    broken: int | None = None
    for sid, rows_hash, content_hash, chain_hash, kind, source, note in stored:
        sid = int(sid)
        what = f"submission {sid} ({_describe(kind, source, note)})"
        if rows_hash is None or content_hash is None or chain_hash is None:
            problem = f"{what} has no hash: it was written outside tledger"
        elif rows and recomputed[sid] != rows_hash:
            problem = (f"{what}: its content differs from what was written (a history row "
                       "it wrote or closed was changed, added or deleted outside tledger)")
        elif content_of(headers[sid], rows_hash) != content_hash:
            problem = (f"{what}: its content differs from what was written (the submission "
                       "row itself was changed outside tledger)")
        elif link(previous, content_hash) != chain_hash:
            after = ("the start of the history" if previous_id is None
                     else f"submission {previous_id}")
            problem = (f"{what}: the link to {after} is broken (a submission before it was "
                       "deleted, inserted, reordered or re-hashed outside tledger)")
        if problem is not None:
            broken = sid
            break
        previous, previous_id = chain_hash, sid
    if problem is None and strays:
        problem = strays[0]
    if problem is None and head is not None:
        problem = _check_head(head, {int(r[0]): r[3] for r in stored})
    last = stored[-1] if stored else None
    return Verification(len(stored), int(last[0]) if last else None,
                        str(last[3]) if last and last[3] else None, problem, broken, rows)


#: Up to this many phasing versions, ``tledger checks`` re-hashes every history row (a full
#: verification of 1.3 M took 2.7 s on PostgreSQL and 4 s on SQLite on a loaded 2-core
#: machine: this keeps it near a second); above, it checks the submission table's chain
#: and reports the last full verification (``tledger verify``) instead.
CHECKS_FULL_LIMIT = 300_000


def record(conn: Connection, result: Verification) -> None:
    """Record a full verification (inside a write transaction)."""
    from ledger.store import utcnow

    conn.execute(text(
        "INSERT INTO chain_verification (verified_at, through_submission_id, head_hash, "
        "problem) VALUES (:t, :s, :h, :p)"),
        {"t": utcnow().replace(tzinfo=None), "s": result.head_id, "h": result.head_hash,
         "p": result.problem})


def for_checks(conn: Connection) -> tuple[Verification, str | None]:
    """The chain check ``tledger checks`` runs, and a note when it could not re-hash
    every row (a large ledger): when the last full verification ran, if ever."""
    versions = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM phasing")).scalar_one())
    if versions <= CHECKS_FULL_LIMIT:
        return verify(conn), None
    result = verify(conn, rows=False)
    last = conn.execute(text(
        "SELECT verified_at, through_submission_id, problem FROM chain_verification "
        "ORDER BY id DESC LIMIT 1")).first()
    size = f"{versions:,} phasing versions are too many to re-hash on every run"
    if last is None:
        return result, f"{size}, and `tledger verify` has never run on this ledger: run it"
    when = last[0] if isinstance(last[0], datetime) else datetime.fromisoformat(str(last[0]))
    outcome = "found a broken link" if last[2] else "found the chain intact"
    return result, (f"{size}: `tledger verify` last ran {when:%Y-%m-%d %H:%M} UTC and "
                    f"{outcome} through submission {last[1]}; run it for the rows since")


def _check_head(head: str, chain: dict[int, str | None]) -> str | None:
    sid_text, _, expected = head.partition(":")
    sid = int(sid_text)
    if sid not in chain:
        return (f"submission {sid}, the head recorded earlier, is missing: the history was "
                "cut back outside tledger")
    if chain[sid] != expected.strip().lower():
        return (f"submission {sid}'s chain hash is not the head recorded earlier: the chain "
                "was rewritten outside tledger")
    return None


def _describe(kind: Any, source: Any, note: Any) -> str:
    label = str(kind)
    if source:
        label += f" {str(source)[:60]!r}"
    elif note:
        label += f" {str(note)[:60]!r}"
    return label


# --------------------------------------------------------------------------- PostgreSQL roles

#: Tables written once, never updated or deleted (the trigger refuses it, for every role).
_FIXED = ("programme", "metric", "business_unit", "lever", "stage_gate", "initiative",
          "ledger_identity", "chain_verification", "month_close", "metric_ratio", "gl_actual",
          "reviewed_pair")
#: Tables of the web app's accounts and sessions (migration 0005): state, not history, so
#: the application role may change and delete their rows.
_MUTABLE = ("account", "web_session", "login_attempt", "web_setting")
#: Versioned tables: the one legitimate update is setting ``valid_to`` once, from open.
_VERSIONED = ("stage_weight", "initiative_version", "phasing", "target", "baseline")
_GUARD = f"""
CREATE OR REPLACE FUNCTION tledger_guard_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Nested: PL/pgSQL does not promise to stop at the first false AND, and OLD has no
  -- valid_to on other tables.
  IF TG_OP = 'UPDATE' THEN
    IF TG_ARGV[0] = 'versioned' THEN
      IF OLD.valid_to = {OPEN} AND NEW.valid_to <> {OPEN}
         AND to_jsonb(NEW) - 'valid_to' = to_jsonb(OLD) - 'valid_to' THEN
        RETURN NEW;
      END IF;
    ELSIF TG_ARGV[0] = 'submission' THEN
      IF OLD.chain_hash IS NULL
         AND to_jsonb(NEW) - 'rows_hash' - 'content_hash' - 'chain_hash'
             = to_jsonb(OLD) - 'rows_hash' - 'content_hash' - 'chain_hash' THEN
        RETURN NEW;
      END IF;
    END IF;
  END IF;
  RAISE EXCEPTION 'tledger: % on % refused: the ledger''s history is append-only',
    TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$
"""


def guard_statements() -> list[str]:
    """The trigger that refuses UPDATE, DELETE and TRUNCATE of history on PostgreSQL, for
    every role, except setting an open ``valid_to`` once and sealing a new submission."""
    out = [_GUARD.strip()]
    kinds = [("submission", "submission"), *((t, "versioned") for t in _VERSIONED),
             *((t, "fixed") for t in _FIXED)]
    for table, kind in kinds:
        out += [
            f"DROP TRIGGER IF EXISTS tledger_guard ON {table}",
            f"CREATE TRIGGER tledger_guard BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION tledger_guard_history('{kind}')",
            f"DROP TRIGGER IF EXISTS tledger_guard_truncate ON {table}",
            f"CREATE TRIGGER tledger_guard_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION tledger_guard_history('{kind}')",
        ]
    return out


def grant_statements(role: str) -> list[str]:
    """What an application role needs, and no more: read everything, insert history, set
    ``valid_to`` and the new submission's hashes; no DELETE, TRUNCATE or other UPDATE."""
    r = '"' + role.replace('"', '""') + '"'
    tables = ("submission", *_VERSIONED, *_FIXED)
    out = ["GRANT USAGE ON SCHEMA public TO " + r,
           "GRANT SELECT ON alembic_version TO " + r,
           f"GRANT SELECT, INSERT ON {', '.join(tables)} TO {r}",
           f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {r}",
           f"GRANT UPDATE (rows_hash, content_hash, chain_hash) ON submission TO {r}"]
    out += [f"GRANT UPDATE (valid_to) ON {t} TO {r}" for t in _VERSIONED]
    # Sequences: the importer moves initiative ids' sequence past ids it assigned (setval).
    # The writers' lock is SELECT ... FOR UPDATE on the programme row, which needs UPDATE
    # on some column; the trigger still refuses any actual update of it.
    out.append(f"GRANT UPDATE (name) ON programme TO {r}")
    # Accounts and web sessions are not history: a password changes, a session ends.
    out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(_MUTABLE)} TO {r}")
    return out


def grant(conn: Connection, role: str) -> list[str]:
    """Install the history guard and grant ``role`` least privilege (PostgreSQL; run it
    as the ledger's owner). Idempotent. Returns the statements it ran."""
    from ledger.errors import LedgerError

    if conn.dialect.name != "postgresql":
        raise LedgerError("`tledger db grant` is for PostgreSQL: a SQLite ledger's access is "
                          "its file's permissions")
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if exists is None:
        raise LedgerError(f"role {role[:60]!r} does not exist: create it first "
                          f"(CREATE ROLE ... LOGIN PASSWORD ...)")
    done = [*guard_statements(), *grant_statements(role)]
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur:
        for statement in done:
            cur.execute(statement)  # no parameters: the guard's RAISE has literal % signs
    return done

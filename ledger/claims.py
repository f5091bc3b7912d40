"""Checks on what initiatives claim, for ``tledger checks`` (:func:`ledger.engine.checks`).

* ``actual_before_start`` (warning): an initiative with a nonzero *actual* in a month before
  it started. Initiatives carry no start date, so an initiative **starts in its first month
  with a nonzero plan or forecast amount, of any metric** (its one-off cost counts: work
  that spends has started). An initiative with actuals but no plan or forecast at all has
  no start, and each of its actual months is reported too. One finding per initiative,
  metric and month (the table for people shows a run of months as one line).
* ``actual_not_closed`` (warning): actuals in a month after the programme's last closed
  month (``tledger programme close``), or in any month while none is closed. Outturn takes
  a month's actuals only once it is closed, so these claims are not in it yet. **One
  finding per metric and month**, naming how many initiatives and the first of them: an
  office with 300 initiatives whose finance loads the month's actuals before the close
  reads one line per month, not 300.
* ``possible_double_count`` (warning): a pair of active initiatives of the same business
  unit and lever (both without one counts as the same) with similar names, whose phasing
  of the same metric is nonzero in at least one common month (any scenario). Names are
  similar when the Jaccard index of their word stems is at least :data:`SIMILARITY`
  (:func:`name_stems`). Initiatives carry no account or cost-line attribute, so names are
  the only evidence. A pair the office reviewed (:func:`review_pair`, ``tledger checks
  review-pair``) is not reported again. Candidate pairs are only formed inside a unit and
  lever group and only between names sharing a stem, so 2,000 initiatives are not
  compared two by two.

Rules are pure functions over plain frames (:func:`actual_before_start`,
:func:`actual_not_closed`, :func:`double_counts`); :func:`claim_findings` reads what they
need inside the caller's snapshot.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from ledger.closing import closed_through
from ledger.errors import LedgerError
from ledger.initiatives import current_initiatives
from ledger.models import SCENARIOS
from ledger.money import from_minor
from ledger.months import month_iso, month_number
from ledger.store import current_user, int_rows, month_number_sql, new_submission, read_frame
from ledger.vocabulary import stored_utc
from ledger.wording import plural

if TYPE_CHECKING:
    from ledger.api import Ledger, MetricInfo

__all__ = [
    "FACT_COLUMNS",
    "SIMILARITY",
    "ReviewResult",
    "actual_before_start",
    "actual_not_closed",
    "claim_findings",
    "double_counts",
    "finding",
    "name_similarity",
    "name_stems",
    "review_pair",
    "reviewed_pairs",
    "similar_pairs",
]

#: Names are similar from this Jaccard index of their word stems (shared / all) upwards,
#: e.g. "Diesel contract renegotiation" and "Renegotiate the diesel supply contracts" (3
#: of 4 stems), not "Diesel supply contract reset (Haul fleet)" and "... (Drill & blast)"
#: (4 of 8).
SIMILARITY = Fraction(3, 5)
#: A word's stem is its first five letters: "reduce", "reduced" and "reduction" are one.
STEM_LENGTH = 5
#: Words that say nothing about what an initiative does.
STOPWORDS = frozenset({
    "a", "an", "and", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the",
    "to", "with", "via", "phase", "initiative", "project", "programme", "program",
})
#: The scenarios' numbers in a facts frame.
PLAN, FORECAST, ACTUAL = (SCENARIOS.index(s) for s in ("plan", "forecast", "actual"))
#: A facts frame: nonzero phasing of active initiatives; ``scenario`` is the index in
#: :data:`ledger.models.SCENARIOS`, ``month`` a month number (:func:`ledger.months.
#: month_number`).
FACT_COLUMNS = ["initiative_id", "metric_id", "scenario", "month", "amount_minor"]
#: Subjects a grouped finding names before "(+n)".
_NAMED = 3


def finding(check: str, severity: str, metric: str | None, scope: str, month: date | None,
            subject: str, detail: str, amount: Decimal | None) -> dict[str, Any]:
    """One row of :func:`ledger.engine.checks`."""
    return {"check": check, "severity": severity, "metric": metric, "scope": scope,
            "month": month, "subject": subject, "detail": detail, "amount": amount}


def _month(number: int) -> date:
    return date.fromisoformat(month_iso(number))


def _ym(number: int) -> str:
    return month_iso(number)[:7]


# --------------------------------------------------------------------------- actuals


def actual_before_start(facts: pd.DataFrame, external_ids: dict[int, str],
                        metrics: dict[int, MetricInfo]) -> list[dict[str, Any]]:
    """``actual_before_start`` findings from a facts frame (:data:`FACT_COLUMNS`)."""
    planned = facts[facts["scenario"].isin([PLAN, FORECAST])]
    starts = planned.groupby("initiative_id")["month"].min()
    actuals = facts[facts["scenario"] == ACTUAL]
    # Columns are added before filtering: a Series assigned to an empty frame becomes its
    # index.
    actuals = actuals.assign(start=actuals["initiative_id"].map(starts),
                             external_id=actuals["initiative_id"].map(external_ids))
    early = actuals[actuals["start"].isna() | (actuals["month"] < actuals["start"])]
    early = early.sort_values(["external_id", "metric_id", "month"])
    found = []
    for ext, mid, month, amount_minor, start in zip(
            early["external_id"].astype(str).tolist(), early["metric_id"].tolist(),
            early["month"].tolist(), early["amount_minor"].tolist(),
            early["start"].tolist(), strict=True):
        met = metrics[int(mid)]
        amount = from_minor(int(amount_minor), met.decimals)
        started = (f"before the initiative started in {_ym(int(start))} (its first month "
                   "with a plan or forecast)" if not pd.isna(start)
                   else "and the initiative has no plan or forecast saying when it started")
        found.append(finding("actual_before_start", "warning", met.code, "actual",
                             _month(int(month)), ext,
                             f"actual {met.code} of {amount:,} in {_ym(int(month))}, "
                             f"{started}", amount))
    return found


def _named(ids: list[str]) -> str:
    shown = ", ".join(ids[:_NAMED])
    return shown + (f" … (+{len(ids) - _NAMED})" if len(ids) > _NAMED else "")


def actual_not_closed(facts: pd.DataFrame, closed: date | None, external_ids: dict[int, str],
                      metrics: dict[int, MetricInfo]) -> list[dict[str, Any]]:
    """``actual_not_closed`` findings: one per metric and month after ``closed`` (the last
    closed month; None: every month) with actuals."""
    after = -1 if closed is None else month_number(closed.isoformat())
    open_actuals = facts.assign(external_id=facts["initiative_id"].map(external_ids))
    open_actuals = open_actuals[(facts["scenario"] == ACTUAL) & (facts["month"] > after)]
    last = ("no month is closed yet" if closed is None
            else f"the last closed month is {closed:%Y-%m}")
    claims: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for ext, mid, month, amount_minor in zip(
            open_actuals["external_id"].astype(str).tolist(),
            open_actuals["metric_id"].tolist(), open_actuals["month"].tolist(),
            open_actuals["amount_minor"].tolist(), strict=True):
        claims[(int(mid), int(month))].append((ext, int(amount_minor)))
    found = []
    for (mid, month), group in sorted(claims.items()):
        met = metrics[mid]
        ids = sorted(ext for ext, _amount in group)
        total = from_minor(sum(amount for _ext, amount in group), met.decimals)
        found.append(finding(
            "actual_not_closed", "warning", met.code, "actual", _month(month), _named(ids),
            f"{plural(len(ids), 'initiative')} {'claims' if len(ids) == 1 else 'claim'} "
            f"actual {met.code} of {total:,} in "
            f"{_ym(month)}, a month not closed ({last}): outturn leaves them out until "
            "`tledger programme close`", total))
    return found


# --------------------------------------------------------------------------- double counts


def name_stems(name: str) -> frozenset[str]:
    """The stems of a name's words: lower-cased runs of letters and digits, without
    :data:`STOPWORDS` and one-letter words (numbers stay: "Mill 1" is not "Mill 2"), cut
    to :data:`STEM_LENGTH` characters."""
    words = re.findall(r"[^\W_]+", name.casefold())
    return frozenset(w[:STEM_LENGTH] for w in words
                     if (len(w) > 1 or w.isdigit()) and w not in STOPWORDS)


def name_similarity(a: str, b: str) -> Fraction:
    """The Jaccard index of two names' stems (0 when either has none)."""
    sa, sb = name_stems(a), name_stems(b)
    union = len(sa | sb)
    return Fraction(len(sa & sb), union) if union and sa and sb else Fraction(0)


def similar_pairs(initiatives: pd.DataFrame, threshold: Fraction = SIMILARITY
                  ) -> list[tuple[int, int, Fraction]]:
    """``(first id, second id, similarity)`` for every pair of ``initiatives``
    (``initiative_id, name, business_unit, lever``) in the same unit and lever whose names'
    similarity is at least ``threshold``; lower id first, sorted.

    Only names that share a stem are compared: an inverted index per unit and lever group
    counts each candidate pair's shared stems in one pass.
    """
    groups: dict[tuple[object, object], list[tuple[int, frozenset[str]]]] = defaultdict(list)
    for iid, name, unit, lever in zip(initiatives["initiative_id"], initiatives["name"],
                                      initiatives["business_unit"], initiatives["lever"],
                                      strict=True):
        key = (None if pd.isna(unit) else str(unit), None if pd.isna(lever) else str(lever))
        groups[key].append((int(iid), name_stems(str(name))))
    out: list[tuple[int, int, Fraction]] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        holders: dict[str, list[int]] = defaultdict(list)
        for pos, (_iid, stems) in enumerate(members):
            for stem in stems:
                holders[stem].append(pos)
        shared: Counter[tuple[int, int]] = Counter()
        for positions in holders.values():
            for i, first in enumerate(positions):
                for second in positions[i + 1:]:
                    shared[(first, second)] += 1
        num, den = threshold.numerator, threshold.denominator
        for (i, j), common in shared.items():
            (a, sa), (b, sb) = members[i], members[j]
            union = len(sa) + len(sb) - common
            if common * den >= num * union:  # common / union >= threshold, in integers
                out.append((min(a, b), max(a, b), Fraction(common, union)))
    return sorted(out)


def _month_masks(facts: pd.DataFrame) -> tuple[dict[tuple[int, int], int], int]:
    """((initiative, metric) -> the months with a nonzero amount in any scenario as a bit
    mask, the month number of bit 0)."""
    masks: dict[tuple[int, int], int] = {}
    keys = facts[["initiative_id", "metric_id", "month"]].drop_duplicates()
    base = int(keys["month"].min()) if len(keys) else 0
    for iid, mid, month in zip(keys["initiative_id"].tolist(), keys["metric_id"].tolist(),
                               (keys["month"] - base).tolist(), strict=True):
        masks[(iid, mid)] = masks.get((iid, mid), 0) | (1 << month)
    return masks, base


def _code(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else str(value)


def double_counts(facts: pd.DataFrame, initiatives: pd.DataFrame,
                  metrics: dict[int, MetricInfo], reviewed: set[tuple[int, int]]
                  ) -> list[dict[str, Any]]:
    """``possible_double_count`` findings: :func:`similar_pairs` of the active
    ``initiatives`` (``initiative_id, external_id, name, business_unit, lever``) whose
    phasing of one of ``metrics`` overlaps in a month, less the ``reviewed`` pairs (lower
    id first). One finding per pair: the first metric (in ``metrics``' order) and month
    they overlap in."""
    pairs = [(a, b, sim) for a, b, sim in similar_pairs(initiatives) if (a, b) not in reviewed]
    # Only the initiatives in a pair need their months.
    involved = {i for a, b, _sim in pairs for i in (a, b)}
    masks, base = _month_masks(facts[facts["initiative_id"].isin(list(involved))])
    info = initiatives.set_index("initiative_id")
    found = []
    for a, b, similarity in pairs:
        for mid, met in metrics.items():
            common = masks.get((a, mid), 0) & masks.get((b, mid), 0)
            if not common:
                continue
            first = (common & -common).bit_length() - 1 + base
            ra, rb = info.loc[a], info.loc[b]
            ids = sorted([str(ra["external_id"]), str(rb["external_id"])])
            names = [str(r["name"]) for r in sorted((ra, rb), key=lambda r: r["external_id"])]
            unit = _code(ra["business_unit"])
            lever = _code(ra["lever"])
            found.append(finding(
                "possible_double_count", "warning", met.code, f"{unit} / {lever}",
                _month(first), " / ".join(ids),
                f"same unit and lever, names {names[0]!r} and {names[1]!r} alike "
                f"({float(similarity):.0%} of words), both phase {met.code} in "
                f"{plural(common.bit_count(), 'month')} from {_ym(first)}; if they do not "
                f"count the same saving: tledger checks review-pair {ids[0]} {ids[1]} "
                "--note ...", None))
            break
    return sorted(found, key=lambda f: f["subject"])


# --------------------------------------------------------------------------- reading


def read_facts(conn: Connection, as_of: int | None, metric_ids: list[int],
               initiative_ids: set[int]) -> pd.DataFrame:
    """Nonzero phasing (every scenario) of ``metric_ids`` valid at ``as_of`` (None: now),
    of ``initiative_ids`` only (:data:`FACT_COLUMNS`)."""
    from ledger.store import version_filter

    where, params = version_filter(as_of, "p")
    ids = ", ".join(str(int(m)) for m in metric_ids) or "NULL"
    scenario = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SCENARIOS))
    # SQLite answers from the covering index (month, initiative and amount are in it).
    hint = " INDEXED BY ix_phasing_scan" if conn.dialect.name == "sqlite" else ""
    rows = int_rows(
        conn,
        f"SELECT p.initiative_id, p.metric_id, CASE p.scenario {scenario} END, "  # noqa: S608  (int ids, constant scenario names; values bound)
        f"{month_number_sql(conn, 'p.month')}, p.amount_minor FROM phasing p{hint} "
        f"WHERE p.metric_id IN ({ids}) AND {where} AND p.amount_minor <> 0",
        params, len(FACT_COLUMNS))
    frame = pd.DataFrame(rows, columns=FACT_COLUMNS)
    return frame[frame["initiative_id"].isin(np.fromiter(initiative_ids, dtype="int64"))]


def _reviewed(conn: Connection, as_of: int | None) -> set[tuple[int, int]]:
    where = "" if as_of is None else " WHERE created_submission_id <= :s"
    return {(int(a), int(b)) for a, b in conn.execute(text(
        f"SELECT first_initiative_id, second_initiative_id FROM reviewed_pair{where}"),  # noqa: S608  (fixed SQL; values bound)
        {} if as_of is None else {"s": int(as_of)})}


def claim_findings(conn: Connection, as_of: int | None, metrics: list[MetricInfo]
                   ) -> list[dict[str, Any]]:
    """The three checks' findings at submission ``as_of`` (None: now), for ``metrics``
    (additive ones: a ratio metric has no phasing), active initiatives only."""
    initiatives = current_initiatives(conn, as_of)
    initiatives = initiatives[initiatives["status"] == "active"]
    external_ids = {int(i): str(e) for i, e in zip(initiatives["initiative_id"],
                                                   initiatives["external_id"], strict=True)}
    by_id = {m.id: m for m in metrics}
    facts = read_facts(conn, as_of, list(by_id), set(external_ids))
    return [*actual_before_start(facts, external_ids, by_id),
            *actual_not_closed(facts, closed_through(conn, as_of), external_ids, by_id),
            *double_counts(facts, initiatives, by_id, _reviewed(conn, as_of))]


# --------------------------------------------------------------------------- reviews


@dataclass(frozen=True)
class ReviewResult:
    first: str
    second: str
    submission_id: int


def review_pair(ledger: Ledger, first: str, second: str, *, note: str,
                user: str | None = None) -> ReviewResult:
    """Record that the office reviewed initiatives ``first`` and ``second`` (external ids)
    and they do not count the same saving: a submission and a ``reviewed_pair`` row;
    ``possible_double_count`` no longer reports the pair.

    Raises:
        LedgerError: an unknown initiative, the same one twice, no note, or a pair
            already reviewed.
    """
    if not note.strip():
        raise LedgerError("--note is required: say why the pair is not a double count")
    with ledger.writing() as conn:
        ledger.programme(conn)
        ids: dict[str, int] = {}
        for external_id in (first, second):
            row = conn.execute(text("SELECT id, external_id FROM initiative "
                                    "WHERE external_id = :e"), {"e": external_id}).first()
            if row is None:
                raise LedgerError(f"initiative {external_id!r} not found")
            ids[str(row[1])] = int(row[0])
        if len(ids) < 2:
            raise LedgerError(f"{first} and {second} are one initiative: a pair needs two")
        low, high = sorted(ids.values())
        done = conn.execute(text(
            "SELECT created_submission_id FROM reviewed_pair "
            "WHERE first_initiative_id = :a AND second_initiative_id = :b"),
            {"a": low, "b": high}).first()
        if done is not None:
            raise LedgerError(f"{first} and {second} were already reviewed "
                              f"(submission {int(done[0])})")
        names = sorted(ids)
        sub = new_submission(conn, kind="edit", user=current_user(user), note=note,
                             details={"reviewed_pair": names})
        conn.execute(text(
            "INSERT INTO reviewed_pair (first_initiative_id, second_initiative_id, note, "
            "created_submission_id) VALUES (:a, :b, :n, :s)"),
            {"a": low, "b": high, "n": note, "s": sub.id})
    return ReviewResult(names[0], names[1], sub.id)


def reviewed_pairs(ledger: Ledger) -> pd.DataFrame:
    """Every reviewed pair, oldest first: ``first, second, submission, when, who, note``
    (the pair's external ids in text order)."""
    with ledger.reading() as conn:
        frame = read_frame(
            conn,
            'SELECT a.external_id AS a, b.external_id AS b, s.id AS submission, '
            's.created_at AS "when", s."user" AS who, r.note '
            "FROM reviewed_pair r JOIN initiative a ON a.id = r.first_initiative_id "
            "JOIN initiative b ON b.id = r.second_initiative_id "
            "JOIN submission s ON s.id = r.created_submission_id ORDER BY r.id")
    pairs = [sorted((str(a), str(b))) for a, b in zip(frame["a"], frame["b"], strict=True)]
    return pd.DataFrame({
        "first": [p[0] for p in pairs],
        "second": [p[1] for p in pairs],
        "submission": [int(s) for s in frame["submission"]],
        "when": [stored_utc(w) for w in frame["when"]],
        "who": frame["who"].astype(str).tolist(),
        "note": frame["note"].astype(str).tolist(),
    })

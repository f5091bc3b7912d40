"""The bulk read of current phasing (ledger.store.current_phasing_arrays: grouped
group_concat on SQLite, binary COPY on PostgreSQL), through importers.factdiff.read_current,
against a plain SQL read of the same facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures_workbooks import canonical_workbook, initiative_row
from sqlalchemy import text

from importers import import_initiatives
from importers.factdiff import decode_keys, read_current
from ledger import store
from ledger.api import Ledger
from ledger.models import OPEN


def _months(values: dict[int, float | None]) -> list[float | None]:
    return [values.get(m) for m in range(24)]


@pytest.fixture
def populated(programme: Ledger, tmp_path: Path) -> Ledger:
    """Three imports: versions closed and replaced, facts removed, two scenarios, two
    metrics, negative and large amounts, so the read spans several submissions' groups."""
    rows = [initiative_row(f"GR-{i}", _months({m: 1000 * i + m + 0.25 for m in range(24)}))
            for i in range(1, 6)]
    rows.append(initiative_row("GR-1", _months({0: -350.5, 23: 9_999_999_999.99}),
                               metric="cost"))
    rows.append(initiative_row("GR-2", _months({3: 1}), scenario="forecast"))
    canonical_workbook(tmp_path / "v1.xlsx", rows)
    import_initiatives(programme, [tmp_path / "v1.xlsx"])
    rows[0] = initiative_row("GR-1", _months({m: 7 for m in range(12)}))  # 12 emptied
    rows[3][9 + 5] = 123.45
    canonical_workbook(tmp_path / "v2.xlsx", rows)
    import_initiatives(programme, [tmp_path / "v2.xlsx"])
    rows[4][9 + 0] = -1
    canonical_workbook(tmp_path / "v3.xlsx", rows)
    import_initiatives(programme, [tmp_path / "v3.xlsx"])
    return programme


def _plain(ledger: Ledger, metric_ids: list[int], scenarios: list[str],
           initiative_ids: list[int] | None) -> set[tuple[int, int, str, str, int, int]]:
    with ledger.reading() as conn:
        rows = conn.execute(text(
            "SELECT initiative_id, metric_id, scenario, CAST(month AS VARCHAR(10)), "
            f"amount_minor, id FROM phasing WHERE valid_to = {OPEN}")).all()
    return {(int(i), int(m), str(s), str(mo)[:10], int(a), int(x)) for i, m, s, mo, a, x in rows
            if m in metric_ids and s in scenarios
            and (initiative_ids is None or i in initiative_ids)}


def _bulk(ledger: Ledger, metric_ids: list[int], scenarios: list[str],
          initiative_ids: list[int] | None) -> set[tuple[int, int, str, str, int, int]]:
    with ledger.reading() as conn:
        got = read_current(conn, metric_ids=metric_ids, scenarios=scenarios,
                           initiative_ids=initiative_ids)
    keys = decode_keys(got["key"])
    assert got["id"].dtype == np.int64
    assert got["amount_minor"].dtype == np.int64
    return set(zip(keys["initiative_id"].tolist(), keys["metric_id"].tolist(),
                   keys["scenario"].tolist(), keys["month"].tolist(),
                   got["amount_minor"].tolist(), got["id"].tolist(), strict=True))


@pytest.mark.parametrize("in_list", [True, False], ids=["in-list", "whole-then-filter"])
def test_bulk_read_equals_a_plain_read(populated: Ledger, in_list: bool,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if not in_list:
        monkeypatch.setattr(store, "IN_LIST_LIMIT", 0)
    with populated.reading() as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM initiative")).all())
        metrics = dict(conn.execute(text("SELECT code, id FROM metric")).all())
    everyone = sorted(ids.values())
    both = [metrics["benefit"], metrics["cost"]]
    for metric_ids, scenarios, initiatives in (
            (both, ["plan", "forecast"], everyone),
            ([metrics["benefit"]], ["plan"], [ids["GR-1"], ids["GR-4"]]),
            ([metrics["cost"]], ["plan"], everyone),
            (both, ["forecast"], [ids["GR-2"]]),
            (both, ["actual"], everyone)):
        expected = _plain(populated, metric_ids, scenarios, initiatives)
        assert _bulk(populated, metric_ids, scenarios, initiatives) == expected
    full = _plain(populated, both, ["plan", "forecast"], None)
    assert _bulk(populated, both, ["plan", "forecast"], None) == full
    # What the fixture wrote: 5 x 24 benefit plan facts less GR-1's 12 emptied months,
    # 2 cost facts, 1 forecast fact; amounts to the cent, negatives and 10^12 included.
    assert len(full) == 5 * 24 - 12 + 2 + 1
    amounts = {(i, mo): a for i, m, s, mo, a, _ in full if m == metrics["cost"]}
    assert amounts == {(ids["GR-1"], "2026-07-01"): -35050,
                       (ids["GR-1"], "2028-06-01"): 999_999_999_999}
    assert _bulk(populated, both, ["plan"], []) == set()

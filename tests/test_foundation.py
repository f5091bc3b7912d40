"""The ledger's foundation: programme, reference data, append-only history, as-of."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import text

from ledger.api import Ledger
from ledger.errors import LedgerError, LedgerNotReady
from ledger.initiatives import current_initiatives, write_initiatives
from ledger.models import OPEN
from ledger.store import (
    current_phasing,
    new_submission,
    submission_as_of,
    write_phasing,
)


def test_open_refuses_a_database_without_a_ledger(empty_db_url):
    with pytest.raises(LedgerNotReady, match="tledger init"):
        Ledger.open(empty_db_url)


def test_open_refuses_an_outdated_schema(db_url):
    led = Ledger.open(db_url)
    with led.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(LedgerNotReady, match="tledger db upgrade"):
        Ledger.open(db_url)
    # A revision no release has (older than the first) is not "outdated": upgrading fails.
    with led.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(LedgerNotReady, match="which no tledger release knows"):
        Ledger.open(db_url)
    led.dispose()


def test_programme_is_created_with_stage_gates_and_default_metrics(programme):
    info = programme.programme()
    assert info.name == "Cost 2028"
    assert info.fy_start_month == 7
    assert len(info.months) == 24
    gates = programme.stage_gates()
    assert list(gates["code"]) == ["L0", "L1", "L2", "L3", "L4", "L5"]
    assert gates["weight"].iloc[-1] == Decimal("1")
    assert [m.code for m in programme.metrics()] == ["benefit", "cost", "volume"]
    assert programme.metric("volume").decimals == 3


def test_one_programme_per_ledger(programme):
    with pytest.raises(LedgerError, match="already tracks"):
        programme.create_programme(name="Other", currency="AUD", fy_start_month=1,
                                   first_month=date(2026, 1, 1), last_month=date(2026, 12, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"currency": "dollars"}, "3-letter"),
        ({"fy_start_month": 13}, "1 to 12"),
        ({"last_month": date(2025, 1, 1)}, "before it starts"),
        ({"name": "  "}, "needs a name"),
    ],
)
def test_bad_programme_settings_are_refused_and_nothing_is_written(ledger, kwargs, message):
    args = {"name": "P", "currency": "AUD", "fy_start_month": 7,
            "first_month": date(2026, 7, 1), "last_month": date(2027, 6, 1)}
    args.update(kwargs)
    with pytest.raises(LedgerError, match=message):
        ledger.create_programme(**args)
    assert ledger.submissions().empty


def test_duplicate_codes_are_refused_without_writing(programme):
    before = len(programme.submissions())
    with pytest.raises(LedgerError, match="already exists"):
        programme.add_business_unit("PRO", "again")
    with pytest.raises(LedgerError, match="already exists"):
        programme.add_lever("PROC", "again")
    with pytest.raises(LedgerError, match="already exists"):
        programme.add_metric(code="benefit", name="x", unit="AUD", kind="benefit", decimals=2)
    assert len(programme.submissions()) == before


def test_stage_weight_changes_keep_history(programme):
    with programme.reading() as conn:
        before = conn.execute(text("SELECT MAX(id) FROM submission")).scalar_one()
    programme.set_stage_weight("L2", Decimal("0.6"), user="pmo", note="steerco")
    gates = programme.stage_gates().set_index("code")
    assert gates.loc["L2", "weight"] == Decimal("0.6")
    with programme.reading() as conn:
        old = programme.stage_gates(conn, as_of=before).set_index("code")
    assert old.loc["L2", "weight"] == Decimal("0.5")
    with pytest.raises(LedgerError, match="0 to 1"):
        programme.set_stage_weight("L2", Decimal("1.5"))
    with pytest.raises(LedgerError, match="no stage gate"):
        programme.set_stage_weight("L9", Decimal("0.5"))


def _seed_initiatives(led: Ledger) -> dict[str, int]:
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="office", note="seed")
        units = led.business_units(conn).set_index("code")["id"]
        gates = led.stage_gates(conn).set_index("code")["id"]
        frame = pd.DataFrame({
            "external_id": ["GR-0001", "GR-0002"],
            "name": ["Spares pooling", "Shift roster"],
            "owner": ["Ana", "Ben"],
            "business_unit_id": [int(units["PRO"]), int(units["MIN"])],
            "lever_id": [None, None],
            "stage_gate_id": [int(gates["L2"]), int(gates["L3"])],
            "description": ["", "night shift"],
        })
        changes = write_initiatives(conn, frame, sub.id)
    return changes.ids


def test_initiatives_are_versioned_not_overwritten(programme):
    ids = _seed_initiatives(programme)
    assert set(ids) == {"GR-0001", "GR-0002"}
    with programme.writing() as conn:
        sub = new_submission(conn, kind="stage", user="pmo")
        cur = current_initiatives(conn)
        gates = programme.stage_gates(conn).set_index("code")["id"]
        frame = cur[["external_id", "name", "owner", "business_unit_id", "lever_id",
                     "stage_gate_id", "description"]].copy()
        frame.loc[frame["external_id"] == "GR-0001", "stage_gate_id"] = int(gates["L3"])
        changes = write_initiatives(conn, frame, sub.id)
    assert changes.changed == ["GR-0001"]
    assert changes.added == []
    with programme.reading() as conn:
        now = current_initiatives(conn).set_index("external_id")
        then = current_initiatives(conn, as_of=sub.id - 1).set_index("external_id")
        versions = conn.execute(text("SELECT COUNT(*) FROM initiative_version")).scalar_one()
    assert now.loc["GR-0001", "stage"] == "L3"
    assert then.loc["GR-0001", "stage"] == "L2"
    assert versions == 3


def test_attribute_comparison_treats_missing_and_number_types_alike():
    """Ids read back from the ledger (numpy ints, nullable Int64 with NA, floats where a
    column had gaps) equal the same ids from a workbook; a real change is found."""
    import numpy as np

    from ledger.initiatives import ATTRIBUTES, attributes_differ

    before = pd.DataFrame({
        "name": ["A", "B", "C", "D"], "owner": ["Ana", None, "Cy", "Di"],
        "business_unit_id": pd.array([1, None, 3, 4], dtype="Int64"),
        "lever_id": [np.nan, np.nan, 2.0, 5.0],
        "stage_gate_id": np.array([7, 7, 8, 9], dtype=np.int64),
        "description": ["", "x", "y", "z"], "status": ["active"] * 4,
    })[ATTRIBUTES]
    after = pd.DataFrame({
        "name": ["A", "B", "C", "D"], "owner": ["Ana", np.nan, "Cy", "Di"],
        "business_unit_id": [1, None, 3, 4], "lever_id": [None, None, 2, 6],
        "stage_gate_id": [7, 7, 8, 9], "description": ["", "x", "y", "z"],
        "status": ["active", "active", "active", "active"],
    }, dtype=object)[ATTRIBUTES]
    assert attributes_differ(before, after).tolist() == [False, False, False, True]
    after.loc[0, "name"] = "A "
    after.loc[1, "business_unit_id"] = 2
    assert attributes_differ(before, after).tolist() == [True, True, False, True]


def _phasing(ids: dict[str, int], metric_id: int, amounts: dict[tuple[str, str], int]
             ) -> pd.DataFrame:
    return pd.DataFrame(
        [(ids[ext], metric_id, "plan", month, amount)
         for (ext, month), amount in amounts.items()],
        columns=["initiative_id", "metric_id", "scenario", "month", "amount_minor"],
    )


def test_phasing_history_is_append_only_and_as_of_reproduces_the_past(programme):
    ids = _seed_initiatives(programme)
    metric = programme.metric("benefit")
    with programme.writing() as conn:
        s1 = new_submission(conn, kind="import", user="office")
        write_phasing(conn, _phasing(ids, metric.id, {
            ("GR-0001", "2026-07-01"): 100_00, ("GR-0001", "2026-08-01"): 200_00,
            ("GR-0002", "2026-07-01"): 50_00,
        }), s1.id)
    with programme.writing() as conn:
        s2 = new_submission(conn, kind="import", user="office")
        changes = write_phasing(conn, _phasing(ids, metric.id, {
            ("GR-0001", "2026-07-01"): 100_00,      # unchanged
            ("GR-0001", "2026-09-01"): 250_00,      # August re-phased into September
        }), s2.id)
    assert len(changes.added) == 1
    assert len(changes.removed) == 1
    assert changes.unchanged == 1
    with programme.reading() as conn:
        now = current_phasing(conn, metric_ids=[metric.id])
        then = current_phasing(conn, metric_ids=[metric.id], as_of=s1.id)
        rows = conn.execute(text("SELECT COUNT(*) FROM phasing")).scalar_one()
        open_rows = conn.execute(
            text(f"SELECT COUNT(*) FROM phasing WHERE valid_to = {OPEN}")).scalar_one()
    assert sorted(now["amount_minor"]) == [50_00, 100_00, 250_00]  # GR-0002 untouched
    assert sorted(then["amount_minor"]) == [50_00, 100_00, 200_00]
    assert rows == 4
    assert open_rows == 3


def test_submission_as_of_finds_the_last_write_at_an_instant(programme):
    with programme.reading() as conn:
        last = conn.execute(text("SELECT MAX(id), MAX(created_at) FROM submission")).one()
        assert submission_as_of(conn, datetime.now(UTC) + timedelta(days=1)) == last[0]
        assert submission_as_of(conn, datetime(2000, 1, 1, tzinfo=UTC)) == 0


def test_submission_times_never_go_backwards(programme):
    subs = programme.submissions().sort_values("id")
    assert subs["created_at"].is_monotonic_increasing


def test_large_amounts_sum_exactly_on_both_backends(programme):
    ids = _seed_initiatives(programme)
    metric = programme.metric("benefit")
    # 24 months of 9,999,999,999.99 each: beyond float's exact range when summed in cents.
    amounts = {("GR-0001", f"{m:%Y-%m-%d}"): 999_999_999_999
               for m in programme.programme().months}
    amounts[("GR-0002", "2026-07-01")] = 1
    with programme.writing() as conn:
        sub = new_submission(conn, kind="import", user="office")
        write_phasing(conn, _phasing(ids, metric.id, amounts), sub.id)
    with programme.reading() as conn:
        total = conn.execute(
            text(f"SELECT SUM(amount_minor) FROM phasing WHERE valid_to = {OPEN}")
        ).scalar_one()
    assert int(total) == 24 * 999_999_999_999 + 1


def test_submission_times_read_back_as_aware_utc_on_both_backends(programme):
    created = programme.submissions()["created_at"]
    assert all(isinstance(v, datetime) and v.tzinfo is not None for v in created)

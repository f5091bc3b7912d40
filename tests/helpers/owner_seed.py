"""Seed data shared by the owner-workbook, phasing-edit, history and bridge tests."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from ledger.api import Ledger
from ledger.initiatives import write_initiatives
from ledger.store import new_submission, write_phasing

#: external_id -> (name, owner, business unit, lever, stage)
INITIATIVES = {
    "GR-0001": ("Spares pooling", "Ana Lima", "PRO", "PROC", "L2"),
    "GR-0002": ("Shift roster", "Ana Lima", "MIN", "LAB", "L3"),
    "GR-0003": ("Energy audit", "Ben Okafor", "PRO", "ENERGY", "L1"),
}

#: (external_id, month) -> benefit plan amount (AUD)
PLAN = {
    ("GR-0001", "2026-07-01"): Decimal("1000.00"),
    ("GR-0001", "2026-08-01"): Decimal("2000.50"),
    ("GR-0001", "2027-03-01"): Decimal("3000.00"),
    ("GR-0002", "2026-09-01"): Decimal("500.25"),
    ("GR-0003", "2026-07-01"): Decimal("700.00"),
}


def seed(led: Ledger, *, user: str = "office", note: str = "seed",
         initiatives: dict | None = None, plan: dict | None = None) -> dict[str, int]:
    """Write initiatives and their benefit plan phasing in one import-like submission."""
    initiatives = INITIATIVES if initiatives is None else initiatives
    plan = PLAN if plan is None else plan
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user=user, note=note,
                             source_name="seed.xlsx", source_sha256="0" * 64)
        units = led.business_units(conn).set_index("code")["id"]
        levers = led.levers(conn).set_index("code")["id"]
        gates = led.stage_gates(conn).set_index("code")["id"]
        frame = pd.DataFrame([
            {"external_id": ext, "name": n, "owner": o, "business_unit_id": int(units[u]),
             "lever_id": int(levers[lv]), "stage_gate_id": int(gates[s]), "description": ""}
            for ext, (n, o, u, lv, s) in initiatives.items()
        ])
        ids = write_initiatives(conn, frame, sub.id).ids
        metric = led.metric("benefit", conn)
        if plan:
            facts = pd.DataFrame(
                [(ids[e], metric.id, "plan", m, int(a * 100)) for (e, m), a in plan.items()],
                columns=["initiative_id", "metric_id", "scenario", "month", "amount_minor"],
            )
            write_phasing(conn, facts, sub.id)
    return ids


def plan_of(led: Ledger, external_id: str, scenario: str = "plan") -> dict[str, Decimal]:
    """The current phasing of one initiative: month (YYYY-MM) -> amount."""
    from ledger.money import from_minor
    from ledger.phasing import find_initiative
    from ledger.store import current_phasing

    with led.reading() as conn:
        ini = find_initiative(conn, external_id)
        m = led.metric("benefit", conn)
        frame = current_phasing(conn, metric_ids=[m.id], scenarios=[scenario],
                                initiative_ids=[ini.id])
    return {str(mon)[:7]: from_minor(int(a), 2)
            for mon, a in zip(frame["month"], frame["amount_minor"], strict=True)}

"""The P&L reconciliation's worked example (docs/reconciliation.md), shared by the
reconciliation, import and report tests.

Units MIN (a flexed cost base: 1,000,000.00 AUD a month + 10 AUD/t x volume; volume
baseline 50,000 t, July's actual 40,000 t) and PRO (300,000.00 a month); savings are the
``benefit`` metric, and the GL lines are costs (``[actuals.pnl_kind] benefit = "cost"``).
Claims (the initiatives' ``actual`` scenario): MIN 80,000.00 in July and 120,000.00 in
August; PRO 20,000.00 in July and 5,000.00 in September (a month without an extract).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from importers.actuals import import_actuals
from ledger.api import Ledger
from ledger.baselines import set_baseline
from ledger.initiatives import write_initiatives
from ledger.store import new_submission, write_phasing

GL_CSV = """Period,Cost centre,Account,Amount
2026-07,CC-MIN-01,6100 Maintenance,812345.67
2026-07,CC-MIN-02,6200 Labour,"500,000.00"
2026-07,CC-PRO-01,6100 Maintenance,290000
Aug-26,CC-MIN-01,6100 Maintenance,"1,300,000.00"
2026-08-31,CC-PRO-01,6100 Maintenance,305000.00
2026-08-31,CC-PRO-01,6900 Recoveries,"(5,000.00)"
"""

MAPPING = """[actuals.cost_centres]
"CC-MIN-*" = "MIN"
"CC-PRO-01" = "PRO"

[actuals.accounts]
"6*" = "benefit"

[actuals.pnl_kind]
benefit = "cost"
"""


def claims(led: Ledger, facts: list[tuple[str, str, str, int]]) -> None:
    """Initiatives (one per unit) with ``actual`` benefit phasing: (external id, unit,
    month, minor units)."""
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="office", note="claims",
                             source_name="claims.xlsx", source_sha256="1" * 64)
        units = led.business_units(conn).set_index("code")["id"]
        gates = led.stage_gates(conn).set_index("code")["id"]
        ext = sorted({f[0]: f[1] for f in facts}.items())
        ids = write_initiatives(conn, pd.DataFrame([{
            "external_id": e, "name": f"Savings {u}", "owner": "Ana Lima",
            "business_unit_id": int(units[u]), "lever_id": None,
            "stage_gate_id": int(gates["L4"]), "description": ""} for e, u in ext]),
            sub.id).ids
        metric = led.metric("benefit", conn).id
        write_phasing(conn, pd.DataFrame(
            [(ids[e], metric, "actual", month, amount) for e, _u, month, amount in facts],
            columns=["initiative_id", "metric_id", "scenario", "month", "amount_minor"]),
            sub.id)


def seed(led: Ledger) -> None:
    """Baselines and claims of the worked example (no GL actuals yet)."""
    set_baseline(led, metric="volume", scope="unit:MIN", per_month="50000",
                 fiscal_year="FY27", note="volume")
    set_baseline(led, metric="volume", scope="unit:MIN", series="actual", per_month="40000",
                 first="2026-07", last="2026-07", note="July volume")
    set_baseline(led, metric="benefit", scope="unit:MIN", per_month="1000000",
                 fiscal_year="FY27", driver="volume", rate="10", note="MIN cost base")
    set_baseline(led, metric="benefit", scope="unit:PRO", per_month="300000",
                 fiscal_year="FY27", note="PRO cost base")
    claims(led, [("GR-0001", "MIN", "2026-07-01", 8_000_000),
                 ("GR-0001", "MIN", "2026-08-01", 12_000_000),
                 ("GR-0002", "PRO", "2026-07-01", 2_000_000),
                 ("GR-0002", "PRO", "2026-09-01", 500_000)])


def import_example(led: Ledger, folder: Path, csv_text: str = GL_CSV,
                   name: str = "gl.csv") -> int | None:
    """Write the extract and mapping to ``folder`` and import them; the submission id."""
    (folder / "gl.toml").write_text(MAPPING, encoding="utf-8")
    (folder / name).write_text(csv_text, encoding="utf-8")
    return import_actuals(led, folder / name, mapping=folder / "gl.toml",
                          user="finance").submission_id

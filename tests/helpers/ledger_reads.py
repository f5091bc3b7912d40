"""What a ledger holds, read back with plain SQL: row counts and current phasing."""

from __future__ import annotations

from sqlalchemy import text

from ledger.api import Ledger
from ledger.models import OPEN

TABLES = ("submission", "initiative", "initiative_version", "phasing", "target")


def counts(ledger: Ledger) -> dict[str, int]:
    with ledger.reading() as conn:
        return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
                for t in TABLES}


def phasing(ledger: Ledger, metric: str = "benefit", scenario: str = "plan",
            ) -> dict[tuple[str, str], int]:
    """Current phasing as {(external id, 'YYYY-MM'): amount in minor units}."""
    with ledger.reading() as conn:
        rows = conn.execute(text(
            "SELECT i.external_id, CAST(p.month AS VARCHAR(10)), p.amount_minor FROM phasing p "
            "JOIN initiative i ON i.id = p.initiative_id JOIN metric m ON m.id = p.metric_id "
            f"WHERE p.valid_to = {OPEN} AND m.code = :m AND p.scenario = :s"),
            {"m": metric, "s": scenario}).all()
    return {(r[0], str(r[1])[:7]): int(r[2]) for r in rows}

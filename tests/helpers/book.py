"""A test ledger written through the domain API, one submission per call, as the
office's imports would."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from ledger.api import Ledger
from ledger.initiatives import write_initiatives
from ledger.money import to_minor
from ledger.months import add_months
from ledger.store import SubmissionInfo, new_submission, write_phasing, write_targets

D = Decimal
FIRST = date(2026, 7, 1)


def mon(i: int) -> str:
    """The horizon's i-th month (0 = Jul-26) as an ISO string."""
    return add_months(FIRST, i).isoformat()


class Book:
    """Writes a test ledger through the domain API, one submission per call."""

    def __init__(self, led: Ledger) -> None:
        self.led = led
        self.ids: dict[str, int] = {}

    def initiatives(self, rows: list[dict[str, Any]]) -> SubmissionInfo:
        """rows: ext, and optionally bu, lever, stage (default L2), owner, status."""
        with self.led.writing() as conn:
            sub = new_submission(conn, kind="import", user="office")
            units = self.led.business_units(conn).set_index("code")["id"]
            levers = self.led.levers(conn).set_index("code")["id"]
            gates = self.led.stage_gates(conn).set_index("code")["id"]
            frame = pd.DataFrame([{
                "external_id": r["ext"],
                "name": r.get("name", r["ext"]),
                "owner": r.get("owner", "Owner"),
                "business_unit_id": int(units[r["bu"]]) if r.get("bu") else None,
                "lever_id": int(levers[r["lever"]]) if r.get("lever") else None,
                "stage_gate_id": int(gates[r.get("stage", "L2")]),
                "description": "",
                "status": r.get("status", "active"),
            } for r in rows])
            changes = write_initiatives(conn, frame, sub.id)
        self.ids.update(changes.ids)
        return sub

    def phasing(self, amounts: Mapping[str, Mapping[str, str]], *, metric: str = "benefit",
                scenario: str = "plan") -> SubmissionInfo:
        """amounts: {external id: {ISO month: "decimal amount"}}; replaces those scopes."""
        met = self.led.metric(metric)
        rows = [(self.ids[ext], met.id, scenario, month, to_minor(D(a), met.decimals))
                for ext, months in amounts.items() for month, a in months.items()]
        with self.led.writing() as conn:
            sub = new_submission(conn, kind="import", user="office")
            write_phasing(conn, pd.DataFrame(rows, columns=[
                "initiative_id", "metric_id", "scenario", "month", "amount_minor"]), sub.id)
        return sub

    def targets(self, amounts: Mapping[tuple[str, str], Mapping[str, str]], *,
                metric: str = "benefit") -> SubmissionInfo:
        """amounts: {(scope_kind, scope_code): {ISO month: "decimal amount"}}."""
        met = self.led.metric(metric)
        rows = [(met.id, kind, code, month, to_minor(D(a), met.decimals))
                for (kind, code), months in amounts.items() for month, a in months.items()]
        with self.led.writing() as conn:
            sub = new_submission(conn, kind="target", user="office")
            write_targets(conn, pd.DataFrame(rows, columns=[
                "metric_id", "scope_kind", "scope_code", "month", "amount_minor"]), sub.id)
        return sub

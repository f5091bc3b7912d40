"""The seed case of ``tledger demo``: volume, unit cost, baselines, claims and the GL.

After a fall in the ore price, leadership set three top-down goals beside the cost-out
target: lift ore volume, bring the unit cost (AUD per tonne) down, and take cost out. The
bottom-up is every initiative's monthly phasing: most take cost out (``benefit``), some add
tonnes (``volume``). This module adds to the demo programme:

* the metric ``volume`` (t) and the ratio metric ``unit_cost = benefit/volume`` (AUD/t);
* baselines per business unit and for the programme: the ore volume, and the cost base
  (the ``benefit`` baseline: a fixed part plus a rate per tonne, flexed by the tonnes
  actually produced in the closed months);
* a volume target and a unit-cost target (levels ramping from the baseline level);
* a dozen throughput initiatives that add tonnes, and the claimed (``actual``) savings of
  the approved initiatives for the closed months July to October 2026;
* finance's general-ledger extract for those months (``gl-extract.csv``) and its mapping
  (``gl-mapping.toml``), in which Mining's claims clearly exceed what its accounts show
  against its flexed cost base, while Processing's are covered.

Everything is deterministic (fixed seeds) and whole: tonnes are whole, rates have two
decimals, so every flexed baseline is exact and the programme's equals the sum of the
units' to the cent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ledger.months import add_months, month_range

if TYPE_CHECKING:
    from ledger.api import Ledger
    from tledger.demo import Initiative

__all__ = ["ACTUAL_TONNES", "CLOSED", "COST_BASE", "GlCase", "claim_factor", "gl_case",
           "set_up_case", "write_gl_files"]

FIRST, LAST = date(2026, 7, 1), date(2028, 6, 1)
#: The closed months (finance closed July to October 2026 by mid-November).
CLOSED = month_range(date(2026, 7, 1), date(2026, 10, 1))
#: Ore tonnes a month without the programme (both units handle the same ore).
VOLUME_PER_MONTH = 1_500_000
#: The tonnes actually produced in the closed months (below plan: the flex lowers the cost
#: base with them, so the lower cost is not mistaken for a saving).
ACTUAL_TONNES = dict(zip(CLOSED, (1_462_000, 1_431_500, 1_488_250, 1_405_000), strict=True))
#: Each unit's cost base: (fixed AUD a month, variable AUD per tonne).
COST_BASE = {"MIN": (Decimal("14000000"), Decimal("9.50")),
             "PRO": (Decimal("11000000"), Decimal("7.20"))}
#: Top-down: +1.8 Mt of ore over the horizon (phased like the cost-out target), and the
#: unit cost down to 25.00 AUD/t by June 2028 (a ramp from the baseline level).
VOLUME_TARGET = Decimal("1800000")
UNIT_COST_TARGET = "25.00"
#: Claimed actual savings over the plan: Mining's owners claim a little more than planned,
#: Processing's a little less ((low, high) of a uniform factor, per initiative and month).
CLAIM_FACTOR = {"MIN": (1.00, 1.12), "PRO": (0.85, 1.00)}
#: The share of the claims that each unit's accounts show as a movement against the
#: flexed cost base: Processing's claims are covered, Mining's only about half.
GL_SHOWS = {"PRO": Decimal("1.04"), "MIN": Decimal("0.55")}
GL_EXTRACT = "gl-extract.csv"
GL_MAPPING = "gl-mapping.toml"
CLAIMS = "claimed-actuals.xlsx"
THROUGHPUT = "initiatives-throughput.xlsx"
#: Cost centres per unit, and the accounts, with the share of a unit-month each carries.
COST_CENTRES = {"MIN": [("CC-MINE-01", Decimal("0.58")), ("CC-MINE-02", Decimal("0.42"))],
                "PRO": [("CC-PROC-01", Decimal("0.64")), ("CC-PROC-02", Decimal("0.36"))]}
ACCOUNTS = [("6100 Maintenance", Decimal("0.27")), ("6200 Labour", Decimal("0.31")),
            ("6300 Energy and fuel", Decimal("0.24")),
            ("6400 Contractors and services", Decimal("0.18"))]

_THROUGHPUT_NAMES = {
    "PRO": ["Mill throughput debottleneck", "Crusher availability improvement",
            "Flotation circuit upgrade", "Thickener capacity upgrade"],
    "MIN": ["Haul cycle time reduction", "Truck payload management",
            "Drill and blast fragmentation", "Dispatch system optimisation"],
}


def generate_throughput(counters: dict[str, int], seed: int, owners: dict[str, list[str]],
                        sites: dict[str, list[str]], make: Callable[..., Initiative],
                        count: int = 12) -> list[Initiative]:
    """``count`` initiatives that add tonnes (``volume`` plan, whole tonnes), half in each
    unit, numbered after ``counters``' last ids; some with a one-off cost. Deterministic."""
    rng = np.random.default_rng(seed + 2)
    months = month_range(FIRST, LAST)
    out = []
    for i in range(count):
        unit = "PRO" if i % 2 == 0 else "MIN"
        counters[unit] += 1
        stage = ["L2", "L3", "L4"][int(rng.integers(0, 3))]
        base = _THROUGHPUT_NAMES[unit][int(rng.integers(0, 4))]
        site = sites[unit][int(rng.integers(0, len(sites[unit])))]
        owner = owners[unit][int(rng.integers(0, len(owners[unit])))]
        run_rate = float(np.exp(rng.normal(np.log(9_000), 0.4)))
        start, ramp = int(rng.integers(3, 12)), int(rng.integers(3, 7))
        volume = {m: round(run_rate * min(1.0, (k - start + 1) / ramp) / 100.0) * 100
                  for k, m in enumerate(months) if k >= start}
        cost = ({add_months(FIRST, start - 1): round(run_rate * 40 / 1000.0) * 1000}
                if rng.random() < 0.6 else {})
        out.append(make(f"{unit}-{counters[unit]:03d}", f"{base} ({site})", owner, unit,
                        "MAINT", stage, f"{base} at {site}: adds about {run_rate:,.0f} t "
                        f"of ore a month after a {ramp}-month ramp-up.", {}, cost, volume))
    return out


def claim_factor(unit: str, rng: np.random.Generator) -> float:
    low, high = CLAIM_FACTOR[unit]
    return float(rng.uniform(low, high))


def add_claims(initiatives: list[Initiative], seed: int) -> None:
    """Give the approved initiatives (L3-L5) with plan benefit in a closed month their
    claimed actual savings for those months (whole hundreds of AUD)."""
    rng = np.random.default_rng(seed + 3)
    for ini in initiatives:
        if ini.stage not in ("L3", "L4", "L5"):
            continue
        for m in CLOSED:
            if ini.benefit.get(m):
                ini.actual[m] = round(ini.benefit[m] * claim_factor(ini.business_unit, rng)
                                      / 100.0) * 100


# --------------------------------------------------------------------------- ledger


def set_up_case(ledger: Ledger, *, user: str, profile: str) -> None:
    """Metrics, baselines (volume and the flexed cost base, per unit and for the
    programme), the closed months' tonnes, and the volume and unit-cost targets."""
    from ledger.baselines import set_baseline
    from ledger.ratio import add_ratio_metric
    from ledger.targets import set_target

    ledger.add_metric(code="volume", name="Ore volume", unit="t", kind="benefit", decimals=0,
                      user=user)
    add_ratio_metric(ledger, code="unit_cost", ratio="benefit/volume", unit="AUD/t",
                     decimals=2, name="Unit cost", user=user, note="demo: unit cost")
    fixed_all = sum(f for f, _ in COST_BASE.values())
    rate_all = sum(r for _, r in COST_BASE.values())
    for scope, (fixed, rate) in [*((f"unit:{u}", v) for u, v in COST_BASE.items()),
                                 ("programme", (fixed_all, rate_all))]:
        set_baseline(ledger, metric="volume", per_month=VOLUME_PER_MONTH, scope=scope,
                     first=FIRST, last=LAST, user=user, note="demo: FY26 mine plan, ore tonnes")
        set_baseline(ledger, metric="benefit", per_month=fixed, scope=scope, driver="volume",
                     rate=str(rate), first=FIRST, last=LAST, user=user,
                     note=f"demo: FY26 cost base, fixed + {rate} AUD/t")
        # One revision: the weights are the tonnes themselves, so each month gets its own.
        set_baseline(ledger, metric="volume", series="actual",
                     amount=sum(ACTUAL_TONNES.values()),
                     profile="weights:" + ",".join(map(str, ACTUAL_TONNES.values())),
                     scope=scope, first=CLOSED[0], last=CLOSED[-1], user=user,
                     note="demo: tonnes produced July-October 2026, finance close")
    set_target(ledger, metric="volume", amount=VOLUME_TARGET, first=FIRST, last=LAST,
               scope="programme", profile=profile, user=user, note="demo: steerco volume")
    set_target(ledger, metric="unit_cost", amount=UNIT_COST_TARGET, first=FIRST, last=LAST,
               scope="programme", profile="ramp", user=user, note="demo: steerco unit cost")


def close_months(ledger: Ledger, *, user: str) -> None:
    """Finance's close of October 2026 (and so every month before it), as of mid-November."""
    from ledger.closing import close_month

    now = max(datetime.now(UTC), datetime(2026, 11, 14, tzinfo=UTC))
    close_month(ledger, CLOSED[-1], user=user, note="demo: October 2026 close", now=now)


# --------------------------------------------------------------------------- the GL


@dataclass(frozen=True)
class GlCase:
    """Per unit, over the closed months, in cents: the flexed cost base, the GL actual,
    the movement (baseline - actual) and the claimed savings."""

    baseline: dict[str, int]
    actual: dict[str, int]
    movement: dict[str, int]
    claimed: dict[str, int]
    lines: list[tuple[str, str, str, int]]
    """(period ``YYYY-MM``, cost centre, account, amount in cents), the extract's rows."""


def flexed_cents(unit: str, month: date) -> int:
    """The unit's flexed cost base in ``month`` in cents: fixed + rate x actual tonnes
    (exact: whole tonnes times a rate in cents)."""
    fixed, rate = COST_BASE[unit]
    return int((fixed + rate * ACTUAL_TONNES[month]) * 100)


def _split(total: int, shares: list[Decimal]) -> list[int]:
    """``total`` cents split by ``shares``, the last part taking the remainder."""
    parts = [int((Decimal(total) * s).to_integral_value()) for s in shares[:-1]]
    return [*parts, total - sum(parts)]


def gl_case(initiatives: list[Initiative]) -> GlCase:
    """The GL extract of the closed months: per unit and month, the actual is the flexed
    cost base less ``GL_SHOWS`` x the unit's claims, split over cost centres and accounts."""
    base: dict[str, int] = {}
    actual: dict[str, int] = {}
    claimed: dict[str, int] = {}
    lines: list[tuple[str, str, str, int]] = []
    for month in CLOSED:
        for unit in ("MIN", "PRO"):
            claims = sum(i.actual.get(month, 0) for i in initiatives
                         if i.business_unit == unit) * 100
            shown = int((GL_SHOWS[unit] * claims).to_integral_value())
            month_actual = flexed_cents(unit, month) - shown
            base[unit] = base.get(unit, 0) + flexed_cents(unit, month)
            actual[unit] = actual.get(unit, 0) + month_actual
            claimed[unit] = claimed.get(unit, 0) + claims
            centres = COST_CENTRES[unit]
            for (cc, _), cc_total in zip(centres, _split(month_actual, [s for _, s in centres]),
                                         strict=True):
                for (account, _), amount in zip(ACCOUNTS, _split(cc_total,
                                                                 [s for _, s in ACCOUNTS]),
                                                strict=True):
                    lines.append((f"{month:%Y-%m}", cc, account, amount))
    movement = {u: base[u] - actual[u] for u in base}
    return GlCase(base, actual, movement, claimed, lines)


GL_MAPPING_TEXT = """\
# How to read finance's general-ledger extract (tledger import actuals).
[actuals.cost_centres]
"CC-MINE-*" = "MIN"
"CC-PROC-*" = "PRO"

[actuals.accounts]               # every cost account is the cost base (metric benefit)
"6*" = "benefit"

[actuals.pnl_kind]               # GL costs are positive debits: movement = baseline - actual
benefit = "cost"
"""


def write_gl_files(directory: Path, case: GlCase) -> tuple[Path, Path]:
    """Write ``gl-extract.csv`` and ``gl-mapping.toml`` in ``directory``."""
    extract, mapping = directory / GL_EXTRACT, directory / GL_MAPPING
    rows = ["Period,Cost centre,Account,Amount"]
    rows += [f"{p},{cc},{account},{Decimal(cents) / 100:.2f}"
             for p, cc, account, cents in case.lines]
    extract.write_text("\n".join(rows) + "\n", encoding="utf-8")
    mapping.write_text(GL_MAPPING_TEXT, encoding="utf-8")
    return extract, mapping


def import_and_reconcile(ledger: Ledger, extract: Path, mapping: Path, *, user: str,
                         say: Callable[[str], None]) -> Any:
    """Import the GL extract and print the reconciliation of the closed months per unit
    (what ``tledger import actuals`` and ``tledger reconcile`` do)."""
    from importers.actuals import import_actuals
    from ledger.pnl import reconcile

    import_actuals(ledger, extract, mapping=mapping, user=user,
                   note="demo: GL extract July-October 2026")
    rec = reconcile(ledger, metric="benefit", by="business_unit")
    frame = rec.frame[rec.frame["reported"].astype(bool)]
    for part in dict.fromkeys(frame["part"]):
        rows = frame[frame["part"] == part]
        total = {c: sum(v for v in rows[c] if v is not None)
                 for c in ("movement", "claimed", "unexplained")}
        say(f"  {part}: P&L movement {total['movement']:,.2f}, claimed "
            f"{total['claimed']:,.2f}, unexplained {total['unexplained']:,.2f}")
    return rec

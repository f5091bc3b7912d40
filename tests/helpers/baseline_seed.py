"""The cost base of docs/baselines.md's worked example, shared by the baseline and unit-cost
tests: FY27 volume 10,000 t a month (July's actual 8,000 t) and a cost base (the
``benefit`` baseline) of 100,000.00 AUD a month + 20 AUD/t x volume."""

from __future__ import annotations

from ledger.api import Ledger
from ledger.baselines import set_baseline


def flexed_cost_base(led: Ledger) -> None:
    set_baseline(led, metric="volume", per_month="10000", fiscal_year="FY27", note="volume")
    set_baseline(led, metric="volume", series="actual", per_month="8000", first="2026-07",
                 last="2026-07", note="July actual")
    set_baseline(led, metric="benefit", per_month="100000", fiscal_year="FY27",
                 driver="volume", rate="20", note="cost base")

"""Adopting the bottom-up as the target: hand-computed, to the cent, with the top-down kept."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from helpers.owner_seed import seed

from ledger.adopt import adopt_target
from ledger.engine import HORIZON, PROGRAMME_PART, gap
from ledger.errors import LedgerError
from ledger.phasing import set_phasing, set_stage
from ledger.targets import set_target, target_by_month, target_revisions

D = Decimal

#: The seed's plan by month, summed by hand (helpers.owner_seed.PLAN).
PROGRAMME_PLAN = {"2026-07": D("1700.00"), "2026-08": D("2000.50"), "2026-09": D("500.25"),
                  "2027-03": D("3000.00")}
PRO_PLAN = {"2026-07": D("1700.00"), "2026-08": D("2000.50"), "2027-03": D("3000.00")}


def _targets(led, scope="programme") -> dict[str, Decimal]:
    frame = target_by_month(led, metric="benefit", scope=scope)
    return {f"{m:%Y-%m}" if isinstance(m, date) else str(m)[:7]: D(a)
            for m, a in zip(frame["month"], frame["amount"], strict=True) if a != 0}


def _horizon_row(rep, part=PROGRAMME_PART):
    fiscal = rep.programme_fiscal if part == PROGRAMME_PART else rep.fiscal
    return fiscal[(fiscal["part"] == part) & (fiscal["period"] == HORIZON)].iloc[0]


def test_programme_adoption_equals_the_bottom_up_month_by_month(programme):
    seed(programme)
    top = set_target(programme, metric="benefit", amount="120000", fiscal_year="FY27",
                     note="board", user="cfo")
    result = adopt_target(programme, metric="benefit", note="plans complete", user="pmo")
    assert result.revision.submission_id == top.submission_id + 1
    assert _targets(programme) == PROGRAMME_PLAN
    assert result.revision.total_minor == 720075
    rep = gap(programme, metric="benefit")
    assert (rep.programme_monthly["gap"] == 0).all()
    assert _horizon_row(rep)["target"] == D("7200.75")
    # The top-down stays on record and can still be reported against.
    revisions = target_revisions(programme, metric="benefit")
    assert set(revisions["submission"]) >= {top.submission_id, result.revision.submission_id}
    before = gap(programme, metric="benefit", target_as_of=top.submission_id)
    assert before.target_as_of_submission == top.submission_id
    assert _horizon_row(before)["target"] == D("120000.00")
    assert _horizon_row(before)["bottom_up"] == D("7200.75")


def test_unit_adoption_leaves_other_scopes_alone(programme):
    seed(programme)
    set_target(programme, metric="benefit", amount="5000", fiscal_year="FY27", scope="unit:MIN",
               note="board")
    adopt_target(programme, metric="benefit", scope="unit:PRO", note="PRO plans complete")
    assert _targets(programme, "unit:PRO") == PRO_PLAN
    assert sum(_targets(programme, "unit:MIN").values()) == D("5000.00")
    rep = gap(programme, metric="benefit", by="business_unit")
    pro = rep.monthly[rep.monthly["part"] == "PRO"]
    assert (pro["gap"] == 0).all()


def test_adoption_reads_the_bottom_up_as_of_and_weighted(programme):
    seed(programme)
    rep0 = gap(programme, metric="benefit")
    set_phasing(programme, "GR-0001", date(2027, 3, 1), D("9999.99"), user="ana")
    old = adopt_target(programme, metric="benefit", note="as planned then",
                       as_of=rep0.as_of_submission)
    assert old.bottom_up_submission == rep0.as_of_submission
    assert _targets(programme) == PROGRAMME_PLAN
    set_stage(programme, "GR-0002", "L4", user="pmo")
    weighted = adopt_target(programme, metric="benefit", note="weighted", weighted=True)
    rep = gap(programme, metric="benefit", weighted=True)
    assert (rep.programme_monthly["gap"] == 0).all()
    assert weighted.revision.total_minor == sum(
        int(v * 100) for v in rep.programme_monthly["bottom_up"])


def test_adoption_refusals_write_nothing(programme):
    seed(programme)
    with pytest.raises(LedgerError, match="needs a --note"):
        adopt_target(programme, metric="benefit", note=" ")
    with pytest.raises(LedgerError, match="zero in every month"):
        adopt_target(programme, metric="volume", note="no tonnes yet")
    with pytest.raises(LedgerError, match="scenario"):
        adopt_target(programme, metric="benefit", note="x", scenario="wishful")
    with pytest.raises(LedgerError, match="use one or the other"):
        gap(programme, metric="benefit", compare="forecast", target_as_of=1)
    assert _targets(programme) == {}


def test_cli_adopt_then_gap_against_the_earlier_top_down(programme, cli):
    seed(programme)
    assert cli("target", "set", "-m", "benefit", "--amount", "10000", "--fy", "FY27",
               "--note", "board").exit_code == 0
    r = cli("target", "adopt", "-m", "benefit", "--note", "plans complete", "--format", "json")
    assert r.exit_code == 0, r.output
    months = {row["month"]: D(row["amount"]) for row in json.loads(r.stdout)}
    assert {m: a for m, a in months.items() if a} == PROGRAMME_PLAN
    assert len(months) == 24
    adopted = int(r.stderr.split("recorded as revision ")[1].split()[0])
    again = cli("target", "adopt", "-m", "benefit", "--note", "again")
    assert again.exit_code == 0
    assert "nothing written" in again.output
    r = cli("gap", "--target-as-of", str(adopted - 1), "--view", "fiscal", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert f"target as of submission {adopted - 1}" in r.stderr
    assert "Programme,Horizon,10000.00,7200.75,2799.25" in r.stdout
    r = cli("gap", "--view", "fiscal", "--format", "csv")
    assert "Programme,Horizon,7200.75,7200.75,0.00" in r.stdout

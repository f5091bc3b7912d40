"""The dashboard and reports pages: every figure is `tledger gap`'s for the same arguments
(on the demo ledger, built once per backend), bad switches are one line, an owner's
drill-down lists only their own initiatives, the downloads are the CLI's."""

from __future__ import annotations

import csv
import io
import re
import threading
import warnings
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from conftest import BACKENDS
from helpers.dashboard import assert_matches_cli, build_demo, cli_gap, dashboard_figures
from helpers.web import log_in, make_site, save_form
from sqlalchemy import text

from ledger.api import Ledger
from ledger.engine import gap
from ledger.errors import LedgerError
from ledger.reconcile import coverage_rag
from reports.summary_csv import summary_table
from tledger.demo import DEMO_ACCOUNTS
from tledger.web.app import create_app
from tledger.web.dashboard import RecentDashboards
from tledger.web.switches import Switches

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORDS = {email: password for email, _role, _owner, password in DEMO_ACCOUNTS}
OWNERS = {email: owner for email, role, owner, _p in DEMO_ACCOUNTS if role == "owner"}


class Demo:
    def __init__(self, url: str, ledger: Ledger) -> None:
        self.url = url
        self.ledger = ledger
        self.app = create_app(ledger)
        self.clients: dict[str, TestClient] = {}

    def login(self, email: str) -> TestClient:
        if email not in self.clients:
            client = TestClient(self.app, follow_redirects=False)
            assert log_in(client, email, PASSWORDS[email]).status_code == 303
            self.clients[email] = client
        return self.clients[email]


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request: pytest.FixtureRequest, databases: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`tledger demo`'s ledger, built once per module and backend, with its web app."""
    directory = tmp_path_factory.mktemp("demo")
    url = (databases.sqlite(directory / "dashboard.db") if request.param == "sqlite"
           else databases.postgres())
    build_demo(directory / "demo", url)
    ledger = Ledger.open(url)
    yield Demo(url, ledger)
    ledger.dispose()
    databases.drop(url)


def first_import(led: Ledger) -> int:
    """The submission of the demo's first workbook import (an as-of with fewer
    initiatives)."""
    with led.reading() as conn:
        return int(conn.execute(text("SELECT MIN(id) FROM submission WHERE kind = 'import'"))
                   .scalar_one())


# The demo is built once per module and backend, and each pytest-xdist worker that runs one
# of this module's tests builds its own: so the argument sets are looped over inside a few
# tests rather than parametrised into many.
ARGUMENT_SETS = [
    {},
    {"weighted": "1", "by": "business_unit"},
    {"scenario": "plan", "by": "stage", "fy": "FY28", "as_of": "first import"},
    {"metric": "cost", "by": "lever"},
]


def test_every_dashboard_figure_is_the_cli_gaps(demo: Demo) -> None:
    for args in ARGUMENT_SETS:
        assert_dashboard_is_the_cli_gap(demo, args)


def assert_dashboard_is_the_cli_gap(demo: Demo, args: dict[str, str]) -> None:
    params = dict(args)
    if params.get("as_of") == "first import":
        params["as_of"] = str(first_import(demo.ledger))
    page = demo.login("finance@demo.example").get("/dashboard", params=params)
    assert page.status_code == 200, page.text
    figures = dashboard_figures(page.text)
    cli_args = [*(["--metric", params["metric"]] if "metric" in params else []),
                *(["--scenario", params["scenario"]] if "scenario" in params else []),
                *(["--weighted"] if params.get("weighted") else []),
                *(["--as-of", params["as_of"]] if "as_of" in params else []),
                *(["--fiscal-year", params["fy"]] if "fy" in params else [])]
    compared = assert_matches_cli(figures, "monthly", cli_gap(demo.url, *cli_args), "month")
    compared += assert_matches_cli(figures, "fiscal",
                                   cli_gap(demo.url, *cli_args, "--view", "fiscal"), "period")
    if "by" in params:
        compared += assert_matches_cli(
            figures, "breakdown",
            cli_gap(demo.url, *cli_args, "--by", params["by"], "--view", "fiscal"), "period")
        assert any(k[0] == "breakdown" for k in figures)
    months = 12 if "fy" in params else 24
    assert compared >= months * 7 + 3 * 6, args
    # The RAG class is the Excel report's rule over the programme's thresholds.
    rep = gap(demo.ledger, metric=params.get("metric"), weighted=bool(params.get("weighted")),
              as_of=params.get("as_of"), fiscal_year=params.get("fy"))
    red, amber = demo.ledger.coverage_thresholds()
    for rec in rep.programme_fiscal.to_dict("records"):
        colour = coverage_rag(rec["coverage"], rep.metric.kind, red, amber)
        cell = re.search(rf'<tr data-period="{rec["period"]}"[^>]*><th>[^<]*</th>.*?'
                         r'<td class="([^"]*)" data-col="coverage"', page.text)
        assert cell is not None
        assert cell.group(1) == (f"num rag-{colour.lower()}" if colour else "num")


BAD_SWITCHES = [
    ("metric=nope", "metric 'nope': expected one of benefit, cost"),
    ("scenario=hope", "scenario 'hope': expected one of plan, forecast, actual"),
    ("weighted=maybe", "weighted 'maybe': expected 1 or 0"),
    ("by=colour", "breakdown 'colour': expected one of business_unit, lever, stage, owner"),
    ("view=pie", "view 'pie': expected one of monthly, fiscal"),
    ("as_of=yesterday", "as-of 'yesterday': expected a submission id"),
    ("fy=FY99", "fiscal year FY99 is outside the horizon"),
    ("fy=next", "fiscal year 'next':"),
]


def test_a_bad_switch_is_a_400_with_one_line(demo: Demo) -> None:
    office = demo.login("office@demo.example")
    for query, message in BAD_SWITCHES:
        page = office.get(f"/dashboard?{query}")
        assert page.status_code == 400, query
        shown = re.findall(r'<p class="error">([^<]*)</p>', page.text)
        assert len(shown) == 1, query
        assert "\n" not in shown[0]
        assert shown[0].replace("&#39;", "'").startswith(message), query


def test_an_owners_drill_down_lists_only_their_own_initiatives(demo: Demo) -> None:
    with demo.ledger.reading() as conn:
        owner_of = dict(conn.execute(text(
            "SELECT i.external_id, v.owner FROM initiative i JOIN initiative_version v "
            "ON v.initiative_id = i.id AND v.valid_to = 9223372036854775807")).all())
    office = demo.login("office@demo.example")
    for email, owner in OWNERS.items():
        client = demo.login(email)
        dashboard = client.get("/dashboard?by=business_unit")
        assert dashboard.status_code == 200
        links = re.findall(r'href="(/dashboard/initiatives\?[^"]+)"', dashboard.text)
        assert links
        listed_everywhere = set()
        for link in links:
            link = link.replace("&amp;", "&")
            mine = client.get(link)
            assert mine.status_code == 200
            listed = set(re.findall(r'href="/initiatives/([^"]+)"', mine.text))
            assert all(owner_of[ext] == owner for ext in listed), (email, link)
            listed_everywhere |= listed
            # The office sees the whole part: the owner's list is a part of it.
            assert listed <= set(re.findall(r'href="/initiatives/([^"]+)"',
                                            office.get(link).text))
        assert listed_everywhere == {ext for ext, o in owner_of.items() if o == owner} - \
            withdrawn(demo.ledger)
        # No breakdown by owner for owners, on the dashboard or its drill-down.
        assert client.get("/dashboard?by=owner").status_code == 403
        other = next(o for o in OWNERS.values() if o != owner)
        assert client.get("/dashboard/initiatives", params={"by": "owner", "part": other}
                          ).status_code == 403


def withdrawn(led: Ledger) -> set[str]:
    with led.reading() as conn:
        return {r[0] for r in conn.execute(text(
            "SELECT i.external_id FROM initiative i JOIN initiative_version v ON "
            "v.initiative_id = i.id AND v.valid_to = 9223372036854775807 "
            "WHERE v.status <> 'active'")).all()}


def test_office_and_finance_start_at_the_dashboard_owners_at_their_initiatives(
        demo: Demo) -> None:
    for email, role, _owner, _p in DEMO_ACCOUNTS:
        home = demo.login(email).get("/").headers["location"]
        assert home == ("/initiatives" if role == "owner" else "/dashboard")


def test_the_summary_csv_is_the_cli_reports_and_the_bridge_adds_up(demo: Demo) -> None:
    fin = demo.login("finance@demo.example")
    as_of = first_import(demo.ledger) + 1
    response = fin.get(f"/reports/summary.csv?scenario=plan&weighted=1&as_of={as_of}")
    assert response.status_code == 200
    assert f"gap-benefit-plan-weighted-as-of-{as_of}.csv" in \
        response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    expected = summary_table(gap(demo.ledger, weighted=True, as_of=as_of))
    assert rows[0] == [str(c) for c in expected.columns]
    assert rows[1:] == [["" if v is None else str(v) for v in rec]
                        for rec in expected.itertuples(index=False, name=None)]

    start = demo.ledger.submissions()
    first = start[start["id"] == first_import(demo.ledger)].iloc[0]["created_at"]
    page = fin.get("/reports/bridge", params={"from": first.isoformat()})
    assert page.status_code == 200, page.text
    values = re.findall(r'<td class="num" data-value="([^"]+)">', page.text)
    amounts = [Decimal(v) for v in values]
    assert amounts[0] + sum(amounts[1:-1]) == amounts[-1]
    assert amounts[-1] != amounts[0]  # the second workbook's initiatives are new
    assert 'class="list step-detail" data-step="new initiatives"' in page.text
    assert fin.get("/reports/bridge?from=2030-01-01&to=2029-01-01").status_code == 400
    assert fin.get("/reports/bridge").status_code == 400


class _Built:
    def __init__(self, newest: int) -> None:
        self.newest = newest


def test_recent_dashboards_build_once_for_concurrent_requests_and_again_after_a_write(
        ) -> None:
    recent = RecentDashboards(size=2)
    calls: list[int] = []
    release = threading.Event()

    def build(newest: int) -> Any:
        calls.append(newest)
        release.wait(5)
        return _Built(newest)

    sw = Switches(metric="benefit")
    threads = [threading.Thread(target=recent.get, args=(sw, 7, lambda: build(7)))
               for _ in range(8)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert calls == [7]
    assert recent.get(sw, 8, lambda: build(8)).newest == 8  # a write: built again
    assert calls == [7, 8]

    def fail() -> Any:
        raise LedgerError("boom")

    with pytest.raises(LedgerError):
        recent.get(Switches(metric="cost"), 8, fail)
    assert recent.get(Switches(metric="cost"), 8, lambda: build(8)).newest == 8


def test_a_save_shows_on_the_dashboard_at_once(programme: Ledger) -> None:
    site = make_site(programme)
    office = site.login("off@example.com")
    before = dashboard_figures(office.get("/dashboard").text)
    key = ("monthly", "Programme", "2026-10", "bottom_up")
    ana = site.login("ana@example.com")
    saved = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|plan|2026-10-01": "1000"}, note="more"))
    assert saved.status_code == 303, saved.text
    after = dashboard_figures(office.get("/dashboard").text)
    assert after[key] != before[key]
    assert after[key][0] == str(gap(programme).programme_monthly.set_index("month")
                                .loc[date(2026, 10, 1), "bottom_up"])

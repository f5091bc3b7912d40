"""The office's pages, with the ASGI test client on both backends: the initiative list's
filters, search, sort and pages (an owner never sees another owner's initiative through
any of them), the office's edits of an initiative's attributes (stale edits refused with
nothing written, withdraw and reinstate, finance refused), and the checks page."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from helpers.owner_seed import seed
from helpers.web import csrf_of, hidden_of, make_site, submissions
from sqlalchemy import text

from ledger.initiative_admin import set_attributes, show_initiative
from ledger.initiative_search import MAX_PER
from ledger.phasing import set_phasing
from ledger.targets import set_target

#: Twelve more initiatives beside make_site's three: id -> (name, owner, unit, lever, stage)
MORE = {f"GR-{10 + k:04d}": (f"Item {chr(65 + k)}", ("Ana Lima", "Ben Okafor", "Cy Ng")[k % 3],
                             ("PRO", "MIN")[k % 2], ("PROC", "LAB", "MAINT")[k % 3],
                             ("L0", "L1", "L2", "L3")[k % 4])
        for k in range(12)}
MORE["GR-0015"] = ("Énergie recovery", "Cy Ng", "MIN", "ENERGY", "L1")
#: A plan amount per new initiative (distinct, so a sort by total has one order).
MORE_PLAN = {(ext, "2026-08-01"): Decimal(100 * (k + 1)) + Decimal("0.25")
             for k, ext in enumerate(MORE)}
ROW = re.compile(r'<tr class="(?:active|withdrawn)"><td><a href="/initiatives/[^"]+">([^<]+)</a>')


@pytest.fixture
def site(programme):
    made = make_site(programme)
    seed(programme, initiatives=MORE, plan=MORE_PLAN, note="more")
    return made


def ids(html: str) -> list[str]:
    return ROW.findall(html)


def count(html: str) -> str:
    found = re.search(r'id="count">([^<]*)<', html)
    assert found, "no count on the page"
    return found.group(1)


def _last_submission(led):
    with led.reading() as conn:
        return conn.execute(text('SELECT "user", kind, note FROM submission '
                                 "ORDER BY id DESC LIMIT 1")).one()


def test_the_office_filters_searches_and_sorts_the_list(site):
    off = site.login("off@example.com")
    every = ids(off.get("/initiatives?per=100").text)
    assert every == sorted(every)
    assert len(every) == 15
    assert set(ids(off.get("/initiatives?unit=min&per=100").text)) == {
        "GR-0002", *[e for e, v in MORE.items() if v[2] == "MIN"]}
    assert set(ids(off.get("/initiatives?lever=ENERGY").text)) == {"GR-0003", "GR-0015"}
    assert set(ids(off.get("/initiatives?stage=L3").text)) == {
        "GR-0002", *[e for e, v in MORE.items() if v[4] == "L3"]}
    # Owners match trimmed and case ignored; filters combine.
    assert set(ids(off.get("/initiatives?owner=+ana+lima+&unit=PRO").text)) == {
        "GR-0001", *[e for e, v in MORE.items() if v[1] == "Ana Lima" and v[2] == "PRO"]}
    # Search: id, name, description; case folded beyond ASCII on both backends.
    set_attributes(site.ledger, "GR-0011", description="Pooled SPARES for the mills",
                   user="office")
    assert ids(off.get("/initiatives?q=%C3%A9NERGIE").text) == ["GR-0015"]
    assert ids(off.get("/initiatives?q=spares").text) == ["GR-0001", "GR-0011"]
    assert ids(off.get("/initiatives?q=gr-001").text) == [f"GR-{10 + k:04d}" for k in range(10)]
    assert ids(off.get("/initiatives?q=100%25").text) == []  # % is text, not a wildcard
    by_total = ids(off.get("/initiatives?sort=total:desc&unit=MIN&per=100").text)
    assert by_total == ["GR-0021", "GR-0019", "GR-0017", "GR-0015", "GR-0002", "GR-0013",
                        "GR-0011"]
    html = off.get("/initiatives?sort=total&unit=MIN&per=100").text
    assert ids(html) == list(reversed(by_total))
    # Stage gates sort by their order; ties by id, in the same direction.
    stages = ids(off.get("/initiatives?sort=stage:desc&per=3").text)
    assert stages == ["GR-0021", "GR-0017", "GR-0013"]
    assert ids(off.get("/initiatives?sort=stage&per=3").text) == ["GR-0010", "GR-0014",
                                                                  "GR-0018"]
    # The totals row sums every match, not only the page.
    assert 'id="list-total">1,200.25<' in off.get("/initiatives?q=GR-0021").text


def test_pages_count_and_clamp_at_their_boundaries_and_bad_filters_say_why(site):
    off = site.login("off@example.com")
    first = off.get("/initiatives?per=4").text
    assert count(first) == "1–4 of 15"
    assert 'id="page-prev"' not in first
    assert 'id="page-next"' in first
    last = off.get("/initiatives?per=4&page=4").text
    assert count(last) == "13–15 of 15"
    assert ids(last) == ["GR-0019", "GR-0020", "GR-0021"]
    assert 'id="page-next"' not in last
    assert count(off.get("/initiatives?per=4&page=99").text) == "13–15 of 15"
    assert count(off.get("/initiatives?per=4&page=0").text) == "1–4 of 15"
    assert count(off.get("/initiatives?per=4&page=x").text) == "1–4 of 15"
    assert count(off.get(f"/initiatives?per={MAX_PER * 10}").text) == "1–15 of 15"
    assert count(off.get("/initiatives?per=0").text) == "1–1 of 15"
    # Links keep the filters and the sort.
    second = off.get("/initiatives?unit=PRO&sort=name:desc&per=2").text
    assert 'href="/initiatives?unit=PRO&amp;sort=name%3Adesc&amp;page=2&amp;per=2"' in second
    assert count(off.get("/initiatives?q=nothing-like-this").text) == "0 of 0"
    _a_bad_filter_is_one_line_and_lists_nothing(off)


def _a_bad_filter_is_one_line_and_lists_nothing(off):
    for query, said in (("unit=PROO", "did you mean 'PRO'"), ("status=gone", "status 'gone'"),
                        ("sort=colour", "sort 'colour'"), ("sort=id:up", "direction 'up'"),
                        ("owner=Nobody", "nobody of that name")):
        response = off.get(f"/initiatives?{query}")
        assert response.status_code == 400, query
        assert said in html.unescape(response.text), query
        assert ids(response.text) == []


def test_an_owner_never_sees_another_owners_initiative_through_any_filter(site):
    ana = site.login("ana@example.com")
    theirs = {e for e, v in MORE.items() if v[1] != "Ana Lima"} | {"GR-0003"}
    mine = {"GR-0001", "GR-0002", *[e for e, v in MORE.items() if v[1] == "Ana Lima"]}
    seen: set[str] = set()
    for query in ("", "per=500", "status=all", "owner=Ben+Okafor", "owner=Cy+Ng", "q=GR-0003",
                  "q=energy", "q=%C3%A9nergie", "unit=PRO", "lever=ENERGY", "stage=L1",
                  "sort=owner:desc", "sort=total:desc&per=1&page=2", "owner=ana+lima"):
        response = ana.get(f"/initiatives?{query}")
        assert response.status_code == 200, query
        got = set(ids(response.text))
        assert not got & theirs, query
        assert "Ben Okafor" not in response.text, query
        assert "Cy Ng" not in response.text, query
        seen |= got
    assert seen == mine
    # Her totals are her own active initiatives' (FY27 plan: 1000 + 2000.50 + 3000 + 500.25
    # from the seed, and her share of MORE, all in Aug-26).
    more = sum((a for (e, _), a in MORE_PLAN.items() if MORE[e][1] == "Ana Lima"), Decimal(0))
    html = ana.get("/initiatives").text
    assert f'id="list-plan">{Decimal("6500.75") + more:,}<' in html


def _office_form(client, ext):
    html = client.get(f"/initiatives/{ext}").text
    values = dict(re.findall(r'<input name="(name|owner)" value="([^"]*)"', html))
    for field in ("unit", "lever", "stage"):
        select = html.split(f'<select name="{field}">', 1)[1].split("</select>", 1)[0]
        chosen = re.search(r'<option value="([^"]*)" selected>', select)
        values[field] = chosen.group(1) if chosen else ""
    return {"csrf": csrf_of(html), **hidden_of(html), **values, "note": ""}


def test_the_office_edits_every_attribute_and_the_page_says_so(site):
    off = site.login("off@example.com")
    before = submissions(site.ledger)
    form = _office_form(off, "GR-0001")
    assert form["unit"] == "PRO"
    assert form["stage"] == "L2"
    form.update(name="Spares pooling (both mills)", owner="ben okafor", unit="MIN",
                lever="MAINT", stage="L3", note="steerco 12")
    saved = off.post("/initiatives/GR-0001/attributes", data=form)
    assert saved.status_code == 303
    page = off.get(saved.headers["location"]).text
    assert re.search(r'id="message">Name, owner, unit, lever saved as submission \d+; '
                     r"stage L2 → L3 saved as submission \d+\.<", page)
    attrs = show_initiative(site.ledger, "GR-0001").attributes
    assert (attrs["name"], attrs["owner"], attrs["unit"], attrs["lever"], attrs["stage"]) == (
        "Spares pooling (both mills)", "Ben Okafor", "MIN", "MAINT", "L3")
    assert submissions(site.ledger) == before + 2
    assert _last_submission(site.ledger) == ("off@example.com", "stage", "steerco 12")
    # Clearing the lever; nothing else changed: one submission.
    form = _office_form(off, "GR-0001")
    form["lever"] = ""
    assert off.post("/initiatives/GR-0001/attributes", data=form).status_code == 303
    assert show_initiative(site.ledger, "GR-0001").attributes["lever"] is None
    assert submissions(site.ledger) == before + 3
    # The same form again: nothing written.
    again = off.post("/initiatives/GR-0001/attributes", data=_office_form(off, "GR-0001"))
    assert 'id="message">Nothing changed.<' in off.get(again.headers["location"]).text
    assert submissions(site.ledger) == before + 3
    # Ben owns it now; Ana no longer reaches it.
    assert site.login("ana@example.com").get("/initiatives/GR-0001").status_code == 404
    assert "GR-0001" in site.login("ben@example.com").get("/initiatives").text


def test_a_stale_office_edit_is_refused_and_writes_nothing(site):
    off = site.login("off@example.com")
    stale = _office_form(off, "GR-0002")
    status_stale = dict(stale)
    set_phasing(site.ledger, "GR-0002", date(2026, 9, 1), Decimal(1), user="x",  # phasing
                note="re-plan")  # only (its plan is committed at L3, hence the note): the
    # attributes' version is unchanged, so the edit goes through
    assert off.post("/initiatives/GR-0002/attributes",
                    data={**stale, "name": "Roster v2"}).status_code == 303
    before = submissions(site.ledger)
    for field, value in (("name", "Roster v3"), ("stage", "L4"), ("owner", "Cy Ng")):
        refused = off.post("/initiatives/GR-0002/attributes", data={**stale, field: value})
        assert refused.status_code == 409, field
        assert "changed after you read them" in refused.text
    refused = off.post("/initiatives/GR-0002/status", data={**status_stale,
                                                            "action": "withdraw"})
    assert refused.status_code == 409
    assert submissions(site.ledger) == before
    attrs = show_initiative(site.ledger, "GR-0002").attributes
    assert (attrs["name"], attrs["stage"], attrs["status"]) == ("Roster v2", "L3", "active")


def test_the_office_withdraws_and_reinstates_and_finance_may_not(site):
    _finance_reads_the_page_but_every_office_post_is_refused(site)
    off = site.login("off@example.com")
    form = _office_form(off, "GR-0003")
    done = off.post("/initiatives/GR-0003/status", data={
        "csrf": form["csrf"], "attributes_version": form["attributes_version"],
        "action": "withdraw", "note": "merged into GR-0001"})
    page = off.get(done.headers["location"]).text
    assert re.search(r'id="message">Withdrawn as submission \d+\.<', page)
    assert 'value="reinstate"' in page
    assert 'id="office-fields"' not in page
    assert _last_submission(site.ledger) == ("off@example.com", "edit", "merged into GR-0001")
    assert "GR-0003" not in ids(off.get("/initiatives").text)
    assert ids(off.get("/initiatives?status=withdrawn").text) == ["GR-0003"]
    version = hidden_of(page)["attributes_version"]
    back = off.post("/initiatives/GR-0003/status", data={
        "csrf": form["csrf"], "attributes_version": version, "action": "reinstate"})
    assert re.search(r'id="message">Reinstated as submission \d+\.<',
                     off.get(back.headers["location"]).text)
    assert show_initiative(site.ledger, "GR-0003").attributes["status"] == "active"


def _finance_reads_the_page_but_every_office_post_is_refused(site):
    fin = site.login("fin@example.com")
    page = fin.get("/initiatives/GR-0001").text
    assert 'id="office"' not in page
    form = _office_form(site.login("off@example.com"), "GR-0001")
    form["csrf"] = csrf_of(page)
    before = submissions(site.ledger)
    for path, extra in (("attributes", {"name": "Finance was here", "stage": "L4"}),
                        ("status", {"action": "withdraw"}), ("status", {"action": "reinstate"})):
        refused = fin.post(f"/initiatives/GR-0001/{path}", data={**form, **extra})
        assert refused.status_code == 403, path
    assert submissions(site.ledger) == before
    # Owners do not get the office form on their own initiative either.
    assert 'id="office"' not in site.login("ana@example.com").get("/initiatives/GR-0001").text


def test_the_checks_page_groups_findings_and_links_each_to_its_subject(site, cli):
    led = site.ledger
    seed(led, initiatives={"GR-0099": ("No phasing yet", "Cy Ng", "PRO", "LAB", "L1")},
         plan={}, note="bare")
    set_phasing(led, "GR-0001", date(2026, 10, 1), Decimal("-5"), user="x")
    set_target(led, metric="benefit", amount=1200, fiscal_year="FY27", note="board")
    set_target(led, metric="benefit", amount=1500, fiscal_year="FY27", scope="unit:PRO",
               note="cascade")
    fin = site.login("fin@example.com")
    html = fin.get("/checks").text
    assert re.search(r'<h2>cascade_gap <span class="count">\(12\)</span></h2>', html)
    assert re.search(r'<h2>no_phasing <span class="count">\(1\)</span></h2>', html)
    no_phasing = html.split('id="check-no_phasing"')[1].split("</section>")[0]
    assert '<a href="/initiatives/GR-0099">GR-0099</a>' in no_phasing
    negative = html.split('id="check-negative_benefit"')[1].split("</section>")[0]
    assert '<a href="/initiatives/GR-0001">GR-0001</a>' in negative
    cascade = html.split('id="check-cascade_gap"')[1].split("</section>")[0]
    assert 'href="/dashboard?metric=benefit&amp;by=business_unit"' in cascade
    assert html.index("check-cascade_gap") < html.index("check-no_phasing")  # errors first
    # The JSON is what `tledger checks --format json` prints.
    download = fin.get("/checks.json")
    assert download.headers["content-type"].startswith("application/json")
    result = cli("checks", "--format", "json")
    assert json.loads(download.text) == json.loads(result.stdout)

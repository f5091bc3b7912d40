"""The targets pages: current targets by scope, a scope's months and revisions, and the
office's form that sets a revision as ``tledger target set`` does (finance reads only)."""

from __future__ import annotations

from helpers.web import csrf_of, submissions
from helpers.web_sessions import quick_site, session_client

from ledger.targets import set_target, target_by_month


def test_the_office_sets_a_revision_with_a_profile_and_sees_it_with_its_history(programme):
    site = quick_site(programme)
    set_target(programme, metric="benefit", amount="1200", fiscal_year="FY27",
               user="cli@example.com", note="board 2026-10")
    office = session_client(site, "off@example.com")
    page = office.get("/targets")
    assert page.status_code == 200
    assert 'href="/targets/scope?metric=benefit&amp;scope=programme"' in page.text
    assert '<td class="num">1,200.00</td>' in page.text
    before = submissions(programme)
    form = {"csrf": csrf_of(page.text), "metric": "benefit", "scope": "unit:PRO",
            "amount": "100", "first": "2026-07", "last": "2026-09", "profile": "ramp",
            "note": "unit split"}
    done = office.post("/targets", data=form)
    assert done.status_code == 303
    assert done.headers["location"] == "/targets/scope?metric=benefit&scope=unit%3APRO"
    assert submissions(programme) == before + 1
    # ramp over 3 months: weights 1, 2, 3 of 100.00, the leftover cent to the last month
    got = target_by_month(programme, metric="benefit", scope="unit:PRO")
    assert [str(a) for a in got["amount"]] == ["16.66", "33.33", "50.01"]
    shown = office.get(done.headers["location"]).text
    assert "recorded as revision" in shown
    assert '<th class="num" id="scope-total">100.00</th>' in shown
    # The CLI's author and this page's account, each on its own revision.
    programme_page = office.get("/targets/scope?metric=benefit&scope=programme").text
    assert "cli@example.com" in programme_page
    assert "board 2026-10" in programme_page
    assert "off@example.com" in shown
    # A second revision of the same scope: history lists both, newest last.
    form.update(amount="90", profile="weights", weights="1,1,1", note="cut")
    office.post("/targets", data=form)
    history = office.get(done.headers["location"]).text
    assert history.index("unit split") < history.index("cut")
    assert '<th class="num" id="scope-total">90.00</th>' in history


def test_a_refused_revision_says_why_keeps_the_form_and_writes_nothing(programme):
    site = quick_site(programme)
    office = session_client(site, "off@example.com")
    page = office.get("/targets").text
    before = submissions(programme)
    r = office.post("/targets", data={"csrf": csrf_of(page), "metric": "benefit",
                                      "scope": "programme", "amount": "12.345",
                                      "fiscal_year": "FY27", "profile": "even", "note": "x"})
    assert r.status_code == 400
    assert "Nothing was saved" in r.text
    assert 'value="12.345"' in r.text
    assert submissions(programme) == before


def test_finance_reads_but_cannot_set_and_owners_see_nothing(programme):
    site = quick_site(programme)
    set_target(programme, metric="benefit", amount="1200", fiscal_year="FY27", note="board")
    finance = session_client(site, "fin@example.com")
    page = finance.get("/targets")
    assert page.status_code == 200
    assert 'id="set-target"' not in page.text
    assert finance.get("/targets/scope?metric=benefit&scope=programme").status_code == 200
    assert finance.get("/targets/scope?metric=nope&scope=programme").status_code == 404
    before = submissions(programme)
    form = {"csrf": csrf_of(page.text), "metric": "benefit", "amount": "5",
            "fiscal_year": "FY27", "note": "finance"}
    assert finance.post("/targets", data=form).status_code == 403
    owner = session_client(site, "ana@example.com")
    assert owner.get("/targets").status_code == 403
    assert owner.get("/targets/scope?metric=benefit&scope=programme").status_code == 403
    assert owner.post("/targets", data=form).status_code == 403
    assert submissions(programme) == before

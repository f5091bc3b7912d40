"""The web app with the ASGI test client, on both backends: sessions, CSRF, throttling,
headers, and an owner's phasing edits (parsed as the importer parses, saved atomically as
the logged-in account, refused when stale)."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import pytest
from helpers.owner_seed import plan_of
from helpers.web import PASSWORD, csrf_of, followed, log_in, make_site, save_form, submissions
from sqlalchemy import text

from ledger.accounts import MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS
from ledger.phasing import set_phasing


@pytest.fixture
def site(programme):
    return make_site(programme)


def _last_submission(led):
    with led.reading() as conn:
        return conn.execute(text('SELECT "user", kind, note, details FROM submission '
                                 "ORDER BY id DESC LIMIT 1")).one()


# ------------------------------------------------------------------ sessions
def test_logging_out_ends_the_session_on_the_server_not_only_in_the_browser(site):
    ana = site.login("ana@example.com")
    stolen = dict(ana.cookies)
    out = ana.post("/logout", data={"csrf": csrf_of(ana.get("/initiatives").text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    replay = site.client()
    replay.cookies.update(stolen)
    assert replay.get("/initiatives").status_code == 303


def test_a_session_ends_after_the_idle_timeout(site):
    ana = site.login("ana@example.com")
    site.clock.advance(minutes=29)
    assert ana.get("/initiatives").status_code == 200
    site.clock.advance(minutes=31)
    assert ana.get("/initiatives").headers["location"] == "/login"


def test_a_busy_session_still_ends_at_its_absolute_lifetime(site):
    ana = site.login("ana@example.com")
    for _ in range(35):  # active every 20 minutes: never idle, 11h40 in all
        site.clock.advance(minutes=20)
        assert ana.get("/programme").status_code == 200
    site.clock.advance(minutes=21)
    assert ana.get("/programme").status_code == 303


def test_the_session_cookie_is_signed_httponly_lax_and_secure_only_over_https(site):
    plain = log_in(site.client(), "ana@example.com")
    cookie = plain.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie
    secure = log_in(site.client(https=True), "ana@example.com")
    assert "; secure" in secure.headers["set-cookie"].lower()


def test_a_forged_session_cookie_is_treated_as_no_session(site):
    client = site.client()
    client.cookies.set("tledger_session", "made-up-token")
    assert client.get("/initiatives").headers["location"] == "/login"


def test_a_wrong_password_gets_one_clear_message_and_no_session(site):
    response = log_in(site.client(), "ana@example.com", "not the password")
    assert response.status_code == 401
    assert "wrong email or password" in response.text
    assert "tledger_session" not in response.headers.get("set-cookie", "")


def test_a_disabled_account_cannot_log_in(site):
    response = log_in(site.client(), "gone@example.com")
    assert response.status_code == 401


# ------------------------------------------------------------------ throttling
def test_logins_to_one_account_are_throttled_after_repeated_failures(site):
    client = site.client()
    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        assert log_in(client, "ana@example.com", "guess").status_code == 401
    blocked = log_in(client, "ana@example.com", PASSWORD)  # even the right password
    assert blocked.status_code == 429
    assert "too many failed logins for ana@example.com: try again in 15 minutes" in blocked.text
    site.clock.advance(minutes=16)
    assert log_in(client, "ana@example.com", PASSWORD).status_code == 303


def test_logins_from_one_address_are_throttled_across_accounts(site):
    client = site.client()
    for i in range(MAX_FAILURES_PER_ADDRESS):
        assert log_in(client, f"guess{i}@example.com", "guess").status_code == 401
    blocked = log_in(client, "fin@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert "too many failed logins from this address" in blocked.text


# ------------------------------------------------------------------ CSRF and headers
@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_save_without_the_sessions_csrf_token_is_refused_and_writes_nothing(site, token):
    ana = site.login("ana@example.com")
    form = save_form(ana, "GR-0001", {"benefit|forecast|2026-10-01": "1"})
    if token is None:
        del form["csrf"]
    else:
        form["csrf"] = token
    before = submissions(site.ledger)
    response = ana.post("/initiatives/GR-0001", data=form)
    assert response.status_code == 403
    assert "security token" in response.text
    assert submissions(site.ledger) == before


def test_logout_and_login_need_their_csrf_token(site):
    ana = site.login("ana@example.com")
    assert ana.post("/logout", data={}).status_code == 403
    assert ana.get("/initiatives").status_code == 200
    fresh = site.client()
    fresh.get("/login")
    refused = fresh.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
    assert refused.status_code == 403


@pytest.mark.parametrize("path", ["/login", "/initiatives", "/static/app.css", "/nowhere"])
def test_every_response_carries_the_security_headers(site, path):
    response = site.login("ana@example.com").get(path)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_pages_carry_no_inline_script_and_no_external_resource(site):
    html = site.login("ana@example.com").get("/initiatives/GR-0001").text
    assert "<script>" not in html
    assert "http://" not in html
    assert "https://" not in html


# ------------------------------------------------------------------ owner's edits
def test_an_owner_saves_amounts_typed_as_finance_writes_them_as_one_submission(site):
    ana = site.login("ana@example.com")
    before = submissions(site.ledger)
    form = save_form(ana, "GR-0001", {"benefit|plan|2026-07-01": "1,200",
                                      "benefit|plan|2026-08-01": "(350)",
                                      "benefit|plan|2027-03-01": "-"},
                     note="supplier signed late")
    form["user"] = "someone-else"  # a form field never names the author
    response = followed(ana, ana.post("/initiatives/GR-0001", data=form))
    assert response.status_code == 200, response.text
    assert "Saved 3 month(s)" in response.text
    assert submissions(site.ledger) == before + 1
    assert plan_of(site.ledger, "GR-0001") == {"2026-07": Decimal("1200.00"),
                                               "2026-08": Decimal("-350.00")}
    user, kind, note, details = _last_submission(site.ledger)
    assert (user, kind, note) == ("ana@example.com", "edit", "supplier signed late")
    assert json.loads(details)["initiative"] == "GR-0001"
    assert "ana@example.com" in response.text.split('id="history"')[1]


def test_a_save_redirects_to_its_page_and_only_that_page_shows_what_was_saved(site):
    ana = site.login("ana@example.com")
    saved = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|forecast|2026-07-01": "5"}))
    assert saved.status_code == 303
    assert saved.headers["location"] == "/initiatives/GR-0001"
    assert "Saved 1 month(s)" not in ana.get("/initiatives/GR-0002").text
    assert "Saved 1 month(s)" in ana.get("/initiatives/GR-0001").text
    # A message the app did not sign is not shown.
    ana.cookies.set("tledger_flash", '{"ext": "GR-0001", "message": "Saved 9 month(s)"}')
    assert "Saved 9 month(s)" not in ana.get("/initiatives/GR-0001").text


def test_a_plan_change_without_a_note_is_refused_and_writes_nothing(site):
    ana = site.login("ana@example.com")
    before = submissions(site.ledger)
    response = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|plan|2026-07-01": "5"}))
    assert response.status_code == 400
    assert "a note is required when a plan changes" in response.text
    assert submissions(site.ledger) == before


def test_a_forecast_change_needs_no_note(site):
    ana = site.login("ana@example.com")
    response = followed(ana, ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|forecast|2026-07-01": "5"})))
    assert response.status_code == 200
    assert "Saved 1 month(s)" in response.text
    # The message is shown once: a reload shows the page without it.
    assert "Saved 1 month(s)" not in ana.get("/initiatives/GR-0001").text


def test_a_bad_cell_gets_a_message_on_that_cell_and_nothing_is_saved(site):
    ana = site.login("ana@example.com")
    before = submissions(site.ledger)
    response = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|forecast|2026-07-01": "5", "benefit|forecast|2026-08-01": "abc"},
        note="x"))
    assert response.status_code == 422
    assert "Nothing was saved: correct the marked cells." in response.text
    bad = response.text.split('name="c|benefit|forecast|2026-08-01"')[1].split("</td>")[0]
    assert "found &#39;abc&#39;, expected a number such as 1200, 1,200.50, -350 or (350)" in bad
    assert 'value="abc"' in bad  # what the owner typed stays, to be corrected
    assert submissions(site.ledger) == before


def test_an_amount_with_too_many_decimals_is_rounded_with_a_warning(site):
    ana = site.login("ana@example.com")
    response = followed(ana, ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"volume|forecast|2026-07-01": "1.2345",
                         "benefit|forecast|2026-07-01": "2.345"})))
    assert response.status_code == 200
    assert "2.345 rounded to 2.35 (2 decimals)" in response.text
    assert "1.2345 rounded to 1.235 (3 decimals)" in response.text
    assert plan_of(site.ledger, "GR-0001", "forecast") == {"2026-07": Decimal("2.35")}


def test_an_owner_moves_only_the_forecast_once_the_plan_is_committed(site):
    ana = site.login("ana@example.com")
    page = ana.get("/initiatives/GR-0002").text  # GR-0002 is at L3
    assert 'name="c|benefit|plan|' not in page
    assert 'name="c|benefit|forecast|' in page
    before = submissions(site.ledger)
    crafted = ana.post("/initiatives/GR-0002", data=save_form(
        ana, "GR-0002", {"benefit|plan|2026-09-01": "1"}, note="try", page_html=page))
    assert crafted.status_code == 400
    assert "its plan is committed" in crafted.text
    assert submissions(site.ledger) == before
    office = site.login("off@example.com")
    done = office.post("/initiatives/GR-0002", data=save_form(
        office, "GR-0002", {"benefit|plan|2026-09-01": "1"}, note="re-plan agreed"))
    assert done.status_code == 303
    assert _last_submission(site.ledger)[0] == "off@example.com"


def test_a_save_after_a_newer_change_is_refused_with_read_now_and_yours(site):
    ana = site.login("ana@example.com")
    first_tab = ana.get("/initiatives/GR-0001").text
    second_tab = ana.get("/initiatives/GR-0001").text
    ok = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|plan|2026-07-01": "1500"}, note="a", page_html=first_tab))
    assert ok.status_code == 303
    before = submissions(site.ledger)
    stale = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|plan|2026-07-01": "1000.00",
                         "benefit|plan|2026-08-01": "9"}, note="b", page_html=second_tab))
    assert stale.status_code == 409
    assert "GR-0001 changed after you opened it; nothing was saved" in stale.text
    conflict = stale.text.split('id="conflict"')[1].split("</table>")[0]
    assert ("benefit plan 2026-07</td><td class=\"num\">1,000.00</td>"
            "<td class=\"num\">1,500.00</td><td class=\"num\">1,000.00</td>") in conflict
    assert submissions(site.ledger) == before
    assert plan_of(site.ledger, "GR-0001")["2026-08"] == Decimal("2000.50")


def test_a_change_made_outside_the_browser_also_makes_an_open_page_stale(site):
    ana = site.login("ana@example.com")
    page = ana.get("/initiatives/GR-0001").text
    set_phasing(site.ledger, "GR-0001", date(2026, 8, 1), Decimal("7"), user="office",
                note="finance call")
    stale = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|plan|2026-08-01": "2000.50", "benefit|plan|2026-07-01": "1"},
        note="mine", page_html=page))
    assert stale.status_code == 409
    assert plan_of(site.ledger, "GR-0001")["2026-07"] == Decimal("1000.00")


def test_after_a_save_the_page_shows_the_new_totals(site):
    ana = site.login("ana@example.com")
    page = ana.get("/initiatives/GR-0001").text
    assert 'id="owner-forecast">0.00<' in page
    saved = followed(ana, ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|forecast|2026-07-01": "100", "benefit|forecast|2026-08-01":
                         "200", "benefit|forecast|2027-07-01": "400"}, page_html=page)))
    # FY27 (Jul-26 to Jun-27) holds two of the three months.
    assert 'id="owner-forecast">300.00<' in saved.text
    listing = ana.get("/initiatives").text
    assert 'id="list-forecast">300.00<' in listing


def test_an_owner_edits_the_description_and_history_shows_the_old_and_new(site):
    ana = site.login("ana@example.com")
    form = save_form(ana, "GR-0001", {})
    form["description"] = "Pool spares across both mills"
    response = followed(ana, ana.post("/initiatives/GR-0001/description", data=form))
    assert response.status_code == 200
    assert "Description saved as submission" in response.text
    history = response.text.split('id="history"')[1]
    assert "description" in history
    assert "Pool spares across both mills" in history
    assert _last_submission(site.ledger)[0] == "ana@example.com"


def test_a_description_saved_from_a_stale_page_is_refused(site):
    ana = site.login("ana@example.com")
    first = save_form(ana, "GR-0001", {})
    second = dict(first)
    ana.post("/initiatives/GR-0001/description", data={**first, "description": "one"})
    before = submissions(site.ledger)
    stale = ana.post("/initiatives/GR-0001/description", data={**second, "description": "two"})
    assert stale.status_code == 409
    assert "the attributes of GR-0001 changed after you opened it" in stale.text
    assert submissions(site.ledger) == before


def test_my_initiatives_lists_only_the_owners_own(site):
    html = site.login("ana@example.com").get("/initiatives").text
    assert "GR-0001" in html
    assert "GR-0002" in html
    assert "GR-0003" not in html


def test_the_programme_page_shows_the_gap_from_the_engine(site):
    html = site.login("fin@example.com").get("/programme").text
    # Seeded plan: FY27 sums 1000 + 2000.50 + 3000 + 500.25 + 700, no target yet.
    assert "7,200.75" in html


def test_finance_downloads_the_excel_gap_report_as_of_now(site, tmp_path):
    import openpyxl

    response = site.login("fin@example.com").get("/reports/gap.xlsx?scenario=forecast")
    assert response.status_code == 200
    assert 'filename="gap-benefit-forecast-as-of-' in response.headers["content-disposition"]
    path = tmp_path / "gap.xlsx"
    path.write_bytes(response.content)
    assert "Summary" in openpyxl.load_workbook(path, read_only=True).sheetnames


def test_the_login_page_starts_no_session_and_names_the_form_fields(site):
    response = site.client().get("/login")
    assert response.status_code == 200
    assert 'name="email"' in response.text
    assert 'name="password"' in response.text
    assert "tledger_session" not in response.headers.get("set-cookie", "")


def test_the_history_shows_the_newest_changes_and_links_to_older_ones(site, monkeypatch):
    import tledger.web.app as web

    monkeypatch.setattr(web, "HISTORY_ROWS", 3)
    ana = site.login("ana@example.com")
    for value in ("1", "2", "3"):
        followed(ana, ana.post("/initiatives/GR-0001", data=save_form(
            ana, "GR-0001", {"benefit|forecast|2026-07-01": value})))
    page = ana.get("/initiatives/GR-0001").text
    history = page.split('id="history"')[1].split("</table>")[0]
    assert history.count("<tr><td>") == 3  # the three saves, newest first
    newest, before = ('<td class="num">2.00</td><td class="num">3.00</td>',
                      '<td class="num">1.00</td><td class="num">2.00</td>')
    assert history.index(newest) < history.index(before)
    assert "seed" not in history
    older = re.search(r'href="(/initiatives/GR-0001\?before=\d+)#history" id="older"', page)
    assert older, "no link to older changes"
    rest = ana.get(older.group(1)).text.split('id="history"')[1].split("</table>")[0]
    assert ">3.00<" not in rest
    assert "seed" in rest  # the seed import's created and phasing rows, whole


def test_the_initiative_page_shows_the_units_fiscal_year_target_beside_the_totals(site):
    from ledger.targets import set_target

    ana = site.login("ana@example.com")
    assert "PRO target not set" in ana.get("/initiatives/GR-0001").text
    # FY27 (Jul-26 to Jun-27) gets 1,200.00 over 12 months; FY28 another 99 (not shown).
    set_target(site.ledger, metric="benefit", amount="1200", fiscal_year="FY27",
               scope="unit:PRO", user="office", note="board")
    set_target(site.ledger, metric="benefit", amount="99", fiscal_year="FY28",
               scope="unit:PRO", user="office", note="board")
    assert "PRO target <strong>1,200.00</strong>" in ana.get("/initiatives/GR-0001").text


def test_the_actual_row_is_editable_only_when_the_programme_lets_owners_edit_it(site):
    ana = site.login("ana@example.com")
    assert 'name="c|benefit|actual|' not in ana.get("/initiatives/GR-0001").text
    with site.ledger.writing() as conn:
        conn.execute(text("INSERT INTO web_setting (name, value) "
                          "VALUES ('owners_edit_actual', 'yes')"))
    assert 'name="c|benefit|actual|2026-07-01"' in ana.get("/initiatives/GR-0001").text
    saved = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|actual|2026-07-01": "42"}))
    assert "Saved 1 month(s)" in followed(ana, saved).text
    assert plan_of(site.ledger, "GR-0001", "actual") == {"2026-07": Decimal("42.00")}

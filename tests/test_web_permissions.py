"""Who may reach what in the web app: every route x every role, anonymous and a disabled
account, on both backends. Denied requests write nothing."""

from __future__ import annotations

import pytest
from helpers.web import csrf_of, make_site, save_form, submissions

from ledger.accounts import disable_account
from ledger.approvals import request_stage
from ledger.initiatives import ATTRIBUTES, current_initiatives, write_initiatives
from ledger.store import new_submission

# A forecast change needs no note, so a permitted save is a plain 200.
CHANGE = {"benefit|forecast|2026-10-01": "42"}

#: An upload token of the right shape that no upload has (the imports' own tests cover
#: a real one: 403 for every role but the office's).
NO_UPLOAD = "A" * 43

#: route -> expected status for each viewer: anonymous, ana and ben (owners), finance,
#: office, a disabled account. 303 sends to the login page; 404 answers an owner reaching
#: another owner's initiative exactly as for one that does not exist.
EXPECTED = {
    "GET /":                       (303, 303, 303, 303, 303, 303),
    "GET /login":                  (200, 200, 200, 200, 200, 200),
    # Single sign-on is off in this matrix (no TLEDGER_OIDC_ISSUER): tests/test_web_oidc.py
    "GET /login/sso":              (404, 404, 404, 404, 404, 404),
    "GET /login/sso/callback":     (404, 404, 404, 404, 404, 404),
    "GET /initiatives":            (303, 200, 200, 200, 200, 303),
    "GET /initiatives?unit=PRO&owner=Ben+Okafor&sort=total:desc&page=2&per=1":
                                   (303, 200, 200, 200, 200, 303),
    "GET /initiatives?unit=NOPE":  (303, 400, 400, 400, 400, 303),
    "GET /initiatives/GR-0001":    (303, 200, 404, 200, 200, 303),
    "GET /initiatives/GR-0003":    (303, 404, 200, 200, 200, 303),
    "GET /initiatives/GR-9999":    (303, 404, 404, 404, 404, 303),
    "GET /initiatives/1":          (303, 404, 404, 404, 404, 303),
    "GET /programme":              (303, 200, 200, 200, 200, 303),
    "GET /reports/gap.xlsx":       (303, 403, 403, 200, 200, 303),
    "GET /dashboard":              (303, 200, 200, 200, 200, 303),
    "GET /dashboard?by=lever&weighted=1": (303, 200, 200, 200, 200, 303),
    "GET /dashboard?by=owner":     (303, 403, 403, 200, 200, 303),
    "GET /dashboard?scenario=x":   (303, 400, 400, 400, 400, 303),
    "GET /dashboard/initiatives?by=business_unit&part=PRO": (303, 200, 200, 200, 200, 303),
    "GET /dashboard/initiatives?by=owner&part=Ana%20Lima": (303, 403, 403, 200, 200, 303),
    "GET /reports":                (303, 403, 403, 200, 200, 303),
    "GET /reports/summary.csv":    (303, 403, 403, 200, 200, 303),
    "GET /reports/bridge?from=2026-01-01": (303, 403, 403, 200, 200, 303),
    "GET /static/dashboard.js":    (200, 200, 200, 200, 200, 200),
    "GET /static/vendor/chart.umd.js": (200, 200, 200, 200, 200, 200),
    "GET /static/app.css":         (200, 200, 200, 200, 200, 200),
    "GET /checks":                 (303, 403, 403, 200, 200, 303),
    "GET /checks.json":            (303, 403, 403, 200, 200, 303),
    # The office marks a possible double count as reviewed (GR-0001 / GR-0003: any two
    # initiatives may be a pair); the redirect back to /checks is the 303.
    "POST /checks/review-pair":    (403, 403, 403, 403, 303, 403),
    # The P&L reconciliation (tledger/web/pnl.py): no GL actuals in this ledger.
    "GET /reconcile":              (303, 403, 403, 200, 200, 303),
    "GET /reconcile/MIN/2026-07?metric=benefit": (303, 403, 403, 200, 200, 303),
    "GET /reconcile/NOPE/2026-07": (303, 403, 403, 404, 404, 303),
    "POST /initiatives/GR-0001":   (403, 303, 404, 403, 303, 403),
    "POST /initiatives/GR-0003":   (403, 404, 303, 403, 303, 403),
    "POST /initiatives/GR-0001/description": (403, 303, 404, 403, 303, 403),
    "GET /imports":                (303, 403, 403, 403, 200, 303),
    "POST /imports":               (403, 403, 403, 403, 400, 403),
    f"GET /imports/{NO_UPLOAD}":   (303, 403, 403, 403, 404, 303),
    f"GET /imports/{NO_UPLOAD}/problems.csv": (303, 403, 403, 403, 404, 303),
    f"POST /imports/{NO_UPLOAD}/confirm": (403, 403, 403, 403, 404, 403),
    f"POST /imports/{NO_UPLOAD}/cancel": (403, 403, 403, 403, 404, 403),
    "GET /targets":                (303, 403, 403, 200, 200, 303),
    "GET /targets/scope?metric=benefit&scope=programme": (303, 403, 403, 200, 200, 303),
    "POST /targets":               (403, 403, 403, 403, 400, 403),
    # Stage approvals (tledger/web/approvals.py): owners ask, the office decides, finance
    # reads. Requests 1 (GR-0002 to L5) and 2 (GR-0003 to L3) are pending beforehand.
    "GET /approvals":              (303, 403, 403, 200, 200, 303),
    "POST /stage-requests/GR-0001": (403, 303, 404, 403, 403, 403),
    "POST /stage-requests/GR-0003": (403, 404, 303, 403, 403, 403),
    "POST /approvals/1/reject":    (403, 403, 403, 403, 303, 403),
    "POST /approvals/2/approve":   (403, 403, 403, 403, 303, 403),
    "POST /approvals/99/approve":  (403, 403, 403, 403, 404, 403),
    "POST /initiatives/GR-0001/attributes": (403, 403, 403, 403, 303, 403),
    "POST /initiatives/GR-0003/status": (403, 403, 403, 403, 303, 403),
    "POST /logout":                (403, 303, 303, 303, 303, 403),
}
VIEWERS = {"anon": None, "ana": "ana@example.com", "ben": "ben@example.com",
           "fin": "fin@example.com", "off": "off@example.com", "gone": "gone@example.com"}


@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_every_route_answers_each_role_as_the_matrix_says(programme, viewer):
    site = make_site(programme, disable_gone=False)
    request_stage(programme, "GR-0002", "L5", note="realised", user="ana@example.com",
                  owner="Ana Lima")
    request_stage(programme, "GR-0003", "L3", note="approved?", user="ben@example.com",
                  owner="Ben Okafor")
    email = VIEWERS[viewer]
    client = site.login(email) if email else site.client()
    # A form as a permitted editor's page carries it (csrf of this client's session when it
    # has one): so a refusal below is about the role, not a missing token.
    office = site.login("off@example.com")
    if viewer == "gone":
        disable_account(programme, email, now=site.clock())
    got: dict[str, int] = {}
    for route in EXPECTED:
        method, path = route.split(" ", 1)
        before = submissions(programme)
        if method == "GET":
            got[route] = client.get(path).status_code
            continue
        ext = path.split("/")[2] if path.startswith("/initiatives/") else "logout"
        source = client if viewer in ("ana", "ben", "off", "fin") else office
        view = source.get("/initiatives/GR-0001" if ext == "logout" else f"/initiatives/{ext}")
        own = client.get("/initiatives").text if viewer in ("ana", "ben", "off", "fin") else ""
        form = save_form(source, ext, CHANGE, page_html=view.text if view.status_code == 200
                         else office.get(f"/initiatives/{ext}").text)
        form["description"] = f"described by {viewer}"
        form.update({"to": "L3", "note": f"by {viewer}"})
        form.update(name=f"named by {viewer}", action="withdraw")  # the office's forms
        form.update(first="GR-0001", second="GR-0003")
        if own:  # this client's own token, so CSRF passes and only the role decides
            form["csrf"] = csrf_of(own)
        got[route] = client.post(path, data=form).status_code
        if got[route] >= 400:
            assert submissions(programme) == before, f"{route} as {viewer} wrote something"
    column = list(VIEWERS).index(viewer)
    assert got == {route: statuses[column] for route, statuses in EXPECTED.items()}


def test_an_owner_cannot_save_an_initiative_reassigned_after_opening_it(programme):
    site = make_site(programme)
    ana = site.login("ana@example.com")
    page = ana.get("/initiatives/GR-0001").text
    with programme.writing() as conn:
        sub = new_submission(conn, kind="import", user="office", note="reassign")
        cur = current_initiatives(conn)
        row = cur[cur["external_id"] == "GR-0001"][["external_id", *ATTRIBUTES]].copy()
        row["owner"] = "Ben Okafor"
        write_initiatives(conn, row, sub.id)
    before = submissions(programme)
    refused = ana.post("/initiatives/GR-0001", data=save_form(ana, "GR-0001", CHANGE,
                                                               page_html=page))
    assert refused.status_code == 404
    assert submissions(programme) == before


def test_an_owner_cannot_post_a_scenario_the_programme_does_not_let_owners_edit(programme):
    site = make_site(programme)
    ana = site.login("ana@example.com")
    before = submissions(programme)
    refused = ana.post("/initiatives/GR-0001", data=save_form(
        ana, "GR-0001", {"benefit|actual|2026-07-01": "5"}))
    assert refused.status_code == 403
    assert submissions(programme) == before

"""The P&L reconciliation in the browser (``/reconcile``, ``/reconcile/{unit}/{YYYY-MM}``)
on the worked example of docs/reconciliation.md (tests/helpers/pnl_seed.py), with the ASGI
test client on both backends: the page's figures are ``tledger reconcile --format json``'s,
each reported unit-month drills to GL lines and claims that sum to its cell, not-reported
months say so, owners are refused, and a bad unit or month is one line."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
from helpers.pnl_seed import claims, import_example, seed
from helpers.web import make_site

from ledger.pnl import set_claim_tolerance

D = Decimal
FIGURES = ["baseline", "actual", "movement", "claimed", "unexplained"]
ROW = re.compile(r'<tr class="([^"]*)" data-part="([^"]*)" data-period="([^"]*)">(.*?)</tr>',
                 re.S)
CELL = re.compile(r'<td class="num" data-f="(\w+)">(.*?)</td>', re.S)
FIGURE = re.compile(r'<tr class="figure" data-f="(\w+)">.*?<td class="num">([^<]*)</td></tr>',
                    re.S)


def _value(text: str) -> str | None:
    text = re.sub(r"<[^>]+>.*?</[^>]+>", "", text).strip().replace(",", "")
    return None if text == "" else html.unescape(text)


def rows_of(page: str) -> dict[tuple[str, str], dict[str, object]]:
    """(part, period) -> {figure: text or None, "over": bool, "link": href or None}."""
    out: dict[tuple[str, str], dict[str, object]] = {}
    for classes, part, period, body in ROW.findall(page):
        link = re.search(r'<a href="([^"]+)"', body.split('data-f="baseline"')[0])
        out[(part, period)] = {**{f: _value(v) for f, v in CELL.findall(body)},
                               "over": "over" in classes.split(),
                               "link": html.unescape(link.group(1)) if link else None}
    return out


@pytest.fixture
def site(programme, tmp_path):
    made = make_site(programme)  # Ana's GR-0001, GR-0002; Ben's GR-0003 (no actuals)
    seed(programme)  # the worked example's baselines; its claims on GR-0001 and GR-0002
    import_example(programme, tmp_path)
    return made


def test_the_page_shows_the_cli_figures_and_drills_to_lines_that_tie(site, cli) -> None:
    fin = site.login("fin@example.com")
    for view, args in (("monthly", []), ("fiscal", ["--fiscal-year"])):
        page = fin.get(f"/reconcile?metric=benefit&view={view}")
        assert page.status_code == 200, page.text
        shown = rows_of(page.text)
        out = cli("reconcile", "--metric", "benefit", *args, "--format", "json")
        expected = json.loads(out.stdout)
        assert len(shown) == len(expected) == (9 if view == "monthly" else 3)
        for rec in expected:
            row = shown[(rec["part"], rec["period"])]
            want = {f: rec[f] for f in FIGURES}
            if not rec["reported"]:
                assert row["actual"] == "not reported"
                want["actual"] = "not reported"
            assert {f: row[f] for f in FIGURES} == want, rec
    # Default view: the first metric with GL actuals, months.
    page = fin.get("/reconcile").text
    shown = rows_of(page)
    assert 'href="/reconcile">P&amp;L</a>' in page
    # September has no extract: "not reported", no movement, no link; never 0.
    sept = shown[("PRO", "2026-09")]
    assert (sept["actual"], sept["movement"], sept["unexplained"], sept["claimed"]) == (
        "not reported", None, None, "5000.00")
    assert sept["link"] is None
    assert shown[("Programme", "2026-07")]["link"] is None
    # Each reported unit-month links to its drill-down; lines and claims sum to the cell.
    linked = [(k, r) for k, r in shown.items() if r["link"]]
    assert len(linked) == 4  # MIN and PRO x July, August
    for (part, period), row in linked:
        assert row["link"] == f"/reconcile/{part}/{period}?metric=benefit"
        drill = fin.get(str(row["link"]))
        assert drill.status_code == 200, drill.text
        figures = {f: _value(v) for f, v in FIGURE.findall(drill.text)}
        assert figures == {f: row[f] for f in FIGURES}, (part, period)
        lines = re.findall(r'<tr class="gl-line">.*?<td class="num">([^<]*)</td>', drill.text)
        claimed = re.findall(r'<tr class="claim">.*?<td class="num">([^<]*)</td>', drill.text)
        assert sum(D(x.replace(",", "")) for x in lines) == D(str(row["actual"]))
        assert sum((D(x.replace(",", "")) for x in claimed), D(0)) == D(str(row["claimed"]))
    # MIN July: the extract's two lines, GR-0001's claim linking to the initiative.
    drill = fin.get("/reconcile/MIN/2026-07?metric=benefit").text
    assert "CC-MIN-02" in drill
    assert "6200 Labour" in drill
    assert "(gl.csv)" in drill
    assert '<a href="/initiatives/GR-0001">GR-0001</a>' in drill
    # A not-reported month still drills (its claims listed, no lines).
    sept_page = fin.get("/reconcile/PRO/2026-09?metric=benefit").text
    assert "not reported" in sept_page
    assert 'class="gl-line"' not in sept_page


def test_over_claims_are_marked_by_the_checks_rule(site, cli) -> None:
    off = site.login("off@example.com")
    # A second claim on PRO July: 20,000 + 15,000 = 35,000 against a 10,000 movement.
    claims(site.ledger, [("GR-0009", "PRO", "2026-07-01", 1_500_000)])
    warned = {(f["subject"], f["month"][:7]) for f in json.loads(
        cli("checks", "--format", "json").stdout) if f["check"] == "claim_over_pnl"}
    shown = rows_of(off.get("/reconcile?metric=benefit").text)
    assert warned
    assert {k for k, r in shown.items() if r["over"]} == warned
    assert shown[("PRO", "2026-07")]["over"]
    fiscal = rows_of(off.get("/reconcile?metric=benefit&view=fiscal").text)
    assert {k for k, r in fiscal.items() if r["over"]} == {(u, "FY27") for u, _ in warned}
    # A wide enough tolerance: no check finding, no mark.
    set_claim_tolerance(site.ledger, D("10"), user="office")
    assert not any(r["over"] for r in rows_of(off.get("/reconcile").text).values())


def test_owners_are_refused_and_bad_input_is_one_line(site) -> None:
    ana = site.login("ana@example.com")
    for path in ("/reconcile", "/reconcile/MIN/2026-07?metric=benefit"):
        refused = ana.get(path)
        assert refused.status_code == 403
        assert "1,312,345.67" not in refused.text
    assert 'href="/reconcile"' not in ana.get("/programme").text
    fin = site.login("fin@example.com")
    for path, status, message in (
            ("/reconcile/NOPE/2026-07", 404, "unit &#39;NOPE&#39;: no such business unit"),
            ("/reconcile/MIN/2026-13", 400, "month"),
            ("/reconcile/MIN/July", 400, "month &#39;July&#39;: expected YYYY-MM"),
            ("/reconcile/MIN/2031-01", 400, "outside the programme&#39;s horizon"),
            ("/reconcile?view=weekly", 400, "view &#39;weekly&#39;: expected one of"),
            ("/reconcile?metric=nope", 404, "nope"),
            ("/reconcile?as_of=yesterday-ish", 400, "as-of")):
        got = fin.get(path)
        assert got.status_code == status, (path, got.text)
        assert message in got.text, (path, got.text)
        assert "Traceback" not in got.text
        assert 'class="error"' in got.text

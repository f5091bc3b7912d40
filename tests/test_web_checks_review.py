"""The office marks a possible double count as reviewed on /checks (both backends): the
finding is gone from the page and /checks.json, the "Reviewed pairs" section lists it with
its author and note, the submission carries the office's email; finance is refused and a
missing note, an unknown id or a second review write nothing."""

from __future__ import annotations

import json
import re

import pytest
from helpers.book import Book, mon
from helpers.web import csrf_of, make_site, submissions
from sqlalchemy import text

PAIR = "possible_double_count"


@pytest.fixture
def site(programme):
    made = make_site(programme)
    book = Book(programme)
    book.initiatives([
        {"ext": "GR-1", "bu": "PRO", "lever": "PROC", "name": "Diesel contract renegotiation"},
        {"ext": "GR-2", "bu": "PRO", "lever": "PROC",
         "name": "Renegotiate the diesel supply contracts"},
    ])
    book.phasing({"GR-1": {mon(3): "10.00", mon(4): "10.00"},
                  "GR-2": {mon(4): "8.00", mon(5): "8.00"}})
    return made


def _pairs(client) -> list[str]:
    found = json.loads(client.get("/checks.json").text)
    return [f["subject"] for f in found if f["check"] == PAIR]


def _post(client, page: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/checks/review-pair", data={"csrf": csrf_of(page), **fields})


def _message(client, response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/checks"
    found = re.search(r'id="message">([^<]*)<', client.get("/checks").text)
    assert found, "no message on /checks"
    return found.group(1)


def test_the_office_reviews_a_pair_and_it_is_no_longer_reported(site):
    led = site.ledger
    off = site.login("off@example.com")
    page = off.get("/checks").text
    assert _pairs(off) == ["GR-1 / GR-2"]
    assert 'action="/checks/review-pair"' in page
    assert 'name="first" value="GR-1"' in page
    assert 'name="second" value="GR-2"' in page
    assert 'id="none-reviewed"' in page

    # Finance reads the page without the form, and may not post it.
    fin = site.login("fin@example.com")
    fin_page = fin.get("/checks").text
    assert 'action="/checks/review-pair"' not in fin_page
    before = submissions(led)
    refused = _post(fin, fin_page, first="GR-1", second="GR-2", note="by finance")
    assert refused.status_code == 403
    assert submissions(led) == before

    # A missing note, an unknown id: one line, nothing written, the pair still reported.
    for fields, said in [({"first": "GR-1", "second": "GR-2", "note": "  "},
                          "Nothing was saved: a note is required"),
                         ({"first": "GR-1", "second": "GR-9", "note": "x"},
                          "Nothing was saved: initiative &#39;GR-9&#39; not found"),
                         ({"first": "GR-1", "second": "", "note": "x"},
                          "Nothing was saved: a pair needs two initiative ids")]:
        assert _message(off, _post(off, page, **fields)).startswith(said)
        assert submissions(led) == before
    assert _pairs(off) == ["GR-1 / GR-2"]

    done = _post(off, page, first="GR-2", second="GR-1", note="different sites: Perth, Kwinana")
    assert re.fullmatch(r"GR-1 and GR-2 reviewed as not a double count \(submission \d+\)\.",
                        _message(off, done))
    assert submissions(led) == before + 1
    with led.reading() as conn:
        who, kind, note = conn.execute(text(
            'SELECT "user", kind, note FROM submission ORDER BY id DESC LIMIT 1')).one()
    assert (who, kind, note) == ("off@example.com", "edit", "different sites: Perth, Kwinana")

    after = off.get("/checks").text
    assert _pairs(off) == []
    assert f'id="check-{PAIR}"' not in after
    assert 'action="/checks/review-pair"' not in after
    for client in (off, fin):  # both read the reviewed list
        section = client.get("/checks").text.split('id="reviewed-pairs"', 1)[1]
        row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", section, re.S)
        assert row, "no reviewed pair listed"
        assert '>GR-1</a> / <a href="/initiatives/GR-2">GR-2</a>' in row.group(1)
        assert "<td>off@example.com</td>" in row.group(1)
        assert "<td>different sites: Perth, Kwinana</td>" in row.group(1)

    # A second review of the pair: refused, nothing written.
    again = _post(off, page, first="GR-1", second="GR-2", note="again")
    assert _message(off, again).startswith("Nothing was saved: GR-1 and GR-2 were already "
                                           "reviewed")
    assert submissions(led) == before + 1

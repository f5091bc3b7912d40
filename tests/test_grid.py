"""The core behind the web editor: reading one initiative or one owner's, and housekeeping
of accounts' tables."""

from __future__ import annotations

from datetime import timedelta

from helpers.owner_seed import INITIATIVES, seed
from helpers.web import START
from sqlalchemy import text

from ledger.accounts import add_account, authenticate, end_session, start_session
from ledger.grid import owner_initiative_ids, read_grid
from ledger.initiatives import current_initiatives


def test_current_initiatives_reads_only_the_ids_asked_for(programme):
    ids = seed(programme)
    with programme.reading() as conn:
        some = current_initiatives(conn, initiative_ids=[ids["GR-0003"], ids["GR-0001"]])
        none = current_initiatives(conn, initiative_ids=[])
    assert some["external_id"].tolist() == ["GR-0001", "GR-0003"]
    assert none.empty


def test_an_owner_is_matched_whatever_the_case_beyond_ascii(programme):
    ids = seed(programme, initiatives={**INITIATIVES,
                                       "GR-0004": ("Kiln", "Élodie Brandão", "PRO", "PROC", "L1")})
    with programme.reading() as conn:
        assert owner_initiative_ids(conn, "  élodie BRANDÃO ") == [ids["GR-0004"]]
        assert owner_initiative_ids(conn, "ana lima") == [ids["GR-0001"], ids["GR-0002"]]


def test_a_grid_is_read_with_the_version_it_was_read_at(programme):
    seed(programme)
    grid = read_grid(programme, "GR-0001", ["plan", "forecast"])
    assert grid.amount(("benefit", "plan", "2026-08-01")) is not None
    assert grid.versions[("benefit", "plan")] == grid.as_of
    assert grid.versions[("benefit", "forecast")] == 0


def test_old_failed_logins_and_ended_sessions_are_cleared_away(programme):
    acc = add_account(programme, "a@example.com", "office", None, now=START)
    authenticate(programme, "a@example.com", "wrong", "1.1.1.1", now=START)
    authenticate(programme, "a@example.com", "wrong", "1.1.1.1", now=START + timedelta(hours=2))
    old = start_session(programme, acc, now=START)
    end_session(programme, old.token, now=START)
    start_session(programme, acc, now=START + timedelta(days=2))
    with programme.reading() as conn:
        attempts = conn.execute(text("SELECT COUNT(*) FROM login_attempt")).scalar_one()
        sessions = conn.execute(text("SELECT COUNT(*) FROM web_session")).scalar_one()
    assert (attempts, sessions) == (1, 1)

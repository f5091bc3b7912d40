"""Web accounts from the command line: `tledger user add|list|disable|set-password`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ledger.accounts import authenticate, list_accounts
from ledger.api import Ledger


@pytest.fixture
def run(db_url, monkeypatch):  # type: ignore[no-untyped-def]
    from tledger.cli import app

    monkeypatch.setenv("TLEDGER_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_an_owner_account_is_added_listed_and_logs_in_with_the_prompted_password(run, ledger):
    added = run("user", "add", "Ana.Lima@Example.com", "--role", "owner",
                "--owner-name", "Ana Lima")
    assert added.exit_code == 0, added.output
    assert "ana.lima@example.com added (owner for owner Ana Lima)" in added.stdout
    pw = run("user", "set-password", "ana.lima@example.com",
             input="correct horse battery\ncorrect horse battery\n")
    assert pw.exit_code == 0, pw.output
    listed = run("user", "list", "--format", "csv")
    assert listed.stdout.splitlines()[1] == "ana.lima@example.com,owner,Ana Lima,active,set"
    acc = authenticate(ledger, "ana.lima@example.com", "correct horse battery", "1.2.3.4",
                       now=NOW)
    assert acc is not None
    assert acc.owner_name == "Ana Lima"


def test_the_password_is_stored_only_as_an_argon2_hash(run, ledger):
    run("user", "add", "fin@example.com", "--role", "finance")
    run("user", "set-password", "fin@example.com", input="s3cret-s3cret\ns3cret-s3cret\n")
    with ledger.reading() as conn:
        stored = conn.execute(text("SELECT password_hash FROM account")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "s3cret" not in stored


def test_set_password_refuses_a_mismatched_confirmation_and_a_short_password(run, ledger):
    run("user", "add", "fin@example.com", "--role", "finance")
    mismatch = run("user", "set-password", "fin@example.com",
                   input="first-password\nsecond-password\nfirst-password\nfirst-password\n")
    assert "do not match" in mismatch.output
    short = run("user", "set-password", "fin@example.com", input="short\nshort\n")
    assert short.exit_code == 1
    assert "password too short: expected at least 10 characters" in short.stderr


def test_set_password_takes_no_password_argument(run):
    run("user", "add", "fin@example.com", "--role", "finance")
    result = run("user", "set-password", "fin@example.com", "hunter2hunter2")
    assert result.exit_code == 2


@pytest.mark.parametrize(("args", "message"), [
    (["not-an-email", "--role", "office"], "expected an email address"),
    (["o@example.com", "--role", "owner"], "an owner account needs --owner-name"),
    (["f@example.com", "--role", "finance", "--owner-name", "X"], "for owner accounts only"),
])
def test_user_add_refuses_bad_input_with_one_line(run, args, message):
    result = run("user", "add", *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_user_add_refuses_a_duplicate_email_whatever_its_case(run):
    run("user", "add", "off@example.com", "--role", "office")
    again = run("user", "add", "OFF@example.com", "--role", "office")
    assert again.exit_code == 1
    assert "account off@example.com already exists" in again.stderr


def test_a_disabled_account_cannot_log_in(run, ledger: Ledger):
    run("user", "add", "off@example.com", "--role", "office")
    run("user", "set-password", "off@example.com", input="long-enough-pw\nlong-enough-pw\n")
    assert authenticate(ledger, "off@example.com", "long-enough-pw", "a", now=NOW)
    disabled = run("user", "disable", "off@example.com")
    assert disabled.exit_code == 0, disabled.output
    assert authenticate(ledger, "off@example.com", "long-enough-pw", "a", now=NOW) is None
    assert [a.disabled for a in list_accounts(ledger)] == [True]


def test_user_commands_on_an_unknown_account_say_so(run):
    result = run("user", "disable", "nobody@example.com")
    assert result.exit_code == 1
    assert "no account 'nobody@example.com'" in result.stderr

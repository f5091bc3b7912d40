"""`tledger demo` ends with the `tledger serve` command and logins that work in the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.web import log_in
from typer.testing import CliRunner

from ledger.api import Ledger
from tledger.demo import DEMO_ACCOUNTS
from tledger.web.app import create_app


def test_the_demo_prints_the_serve_command_and_logins_that_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from tledger.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("TLEDGER_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tail = result.stdout.split("in the browser:")[1]
    assert "tledger serve --db tledger-demo/demo.db" in tail
    printed = re.findall(r"^\s+(\S+@demo\.example)\s+password (\S+)", tail, re.M)
    assert printed == [(email, password) for email, _, _, password in DEMO_ACCOUNTS]
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'tledger-demo' / 'demo.db'}")
    try:
        web = create_app(ledger)
        for email, password in printed:
            client = TestClient(web, follow_redirects=False)
            assert log_in(client, email, password).status_code == 303, email
        nguyen = TestClient(web, follow_redirects=False)
        log_in(nguyen, "a.nguyen@demo.example", "nguyen-demo-2028")
        mine = nguyen.get("/initiatives").text
        assert "No active initiatives" not in mine
        assert "G. Murphy" not in mine
    finally:
        ledger.dispose()

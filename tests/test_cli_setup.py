"""The set-up commands, as a user runs them."""

from __future__ import annotations

import json

import pytest

from tledger.cli import app


def test_every_command_has_help():
    import typer.main
    from typer.testing import CliRunner

    group = typer.main.get_command(app)
    runner = CliRunner()

    def walk(cmd, path):  # type: ignore[no-untyped-def]
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path in walk(group, []):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage" in result.stdout


def test_programme_set_up_from_the_command_line(cli):
    r = cli("programme", "create", "--name", "Cost 2028", "--from", "2026-07", "--to", "2028-06")
    assert r.exit_code == 0, r.output
    assert "24 months" in r.stdout
    assert cli("unit", "add", "PRO", "Processing").exit_code == 0
    assert cli("lever", "add", "PROC", "Procurement").exit_code == 0
    assert cli("metric", "add", "volume", "--unit", "t", "--decimals", "3").exit_code == 0
    assert cli("stage", "set-weight", "L2", "60%").exit_code == 0
    units = json.loads(cli("unit", "list", "--format", "json").stdout)
    assert units == [{"code": "PRO", "name": "Processing"}]
    stages = json.loads(cli("stage", "list", "-f", "json").stdout)
    assert {s["code"]: s["weight"] for s in stages}["L2"] == "0.6000"
    metrics = cli("metric", "list", "-f", "csv").stdout.splitlines()
    assert metrics[0] == "code,name,unit,kind,decimals"
    assert "volume,volume,t,benefit,3" in metrics
    shown = json.loads(cli("programme", "show", "-f", "json").stdout)
    assert isinstance(shown, dict)
    assert (shown["currency"], shown["fy_start_month"], shown["first_month"],
            shown["months"], shown["business_units"]) == ("AUD", 7, "2026-07", 24, 1)
    assert [m["code"] for m in shown["metrics"]] == ["benefit", "cost", "volume"]
    assert "currency,AUD" in cli("programme", "show", "-f", "csv").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["unit", "add", "PRO", "dup"],
        ["stage", "set-weight", "L2", "lots"],
        ["stage", "set-weight", "L9", "0.5"],
        ["metric", "add", "x", "--kind", "revenue"],
        ["programme", "create", "--name", "x", "--from", "July", "--to", "2028-06"],
    ],
)
def test_user_mistakes_are_one_line_errors_with_nonzero_exit(cli, args):
    cli("programme", "create", "--name", "P", "--from", "2026-07", "--to", "2028-06")
    cli("unit", "add", "PRO", "Processing")
    r = cli(*args)
    assert r.exit_code != 0
    assert r.stderr.startswith("error: ")
    assert "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_commands_on_a_database_without_a_ledger_say_what_to_run(empty_db_url, monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.setenv("TLEDGER_DATABASE_URL", empty_db_url)
    r = CliRunner().invoke(app, ["programme", "show"])
    assert r.exit_code == 1
    assert "tledger init" in r.stderr


@pytest.mark.parametrize("args", [["gap"], ["checks"], ["programme", "show"],
                                  ["initiative", "list"], ["history", "GR-1"],
                                  ["db", "current"], ["verify"]])
def test_a_command_in_a_folder_without_a_ledger_creates_no_file(tmp_path, monkeypatch, args):
    from typer.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TLEDGER_DATABASE_URL", raising=False)
    r = CliRunner().invoke(app, args)
    if args != ["db", "current"]:
        assert r.exit_code == 1
        assert "run `tledger init` first" in r.stderr
    assert not (tmp_path / "tledger.db").exists()
    assert list(tmp_path.iterdir()) == []
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    assert (tmp_path / "tledger.db").exists()


def test_init_then_current(cli):
    r = cli("db", "current")
    assert r.exit_code == 0
    assert "up to date" in r.stdout
    assert cli("init").exit_code == 0  # idempotent


def test_unreachable_server_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["programme", "show", "--db",
                                 "postgresql://nobody@127.0.0.1:1/none"])
    assert r.exit_code == 1
    assert r.stderr.startswith("error: cannot connect")
    r = CliRunner().invoke(app, ["init", "--db", str(tmp_path / "missing" / "x.db")])
    assert r.exit_code == 1
    assert "does not exist" in r.stderr


def test_a_database_error_names_the_database_given_with_db(tmp_path, monkeypatch):
    import sqlite3

    from typer.testing import CliRunner

    from ledger.api import Ledger

    path = tmp_path / "broken.db"
    Ledger.init(str(path)).dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE business_unit")
    raw.close()
    monkeypatch.setenv("TLEDGER_DATABASE_URL", str(tmp_path / "other.db"))
    r = CliRunner().invoke(app, ["unit", "list", "--db", str(path)])
    assert r.exit_code == 1
    assert r.stderr.startswith("error: database error on ")
    assert "broken.db" in r.stderr
    assert "other.db" not in r.stderr
    assert "Traceback" not in r.output

"""``tledger initiative``: list, show, and the office's edits (set, reassign, withdraw,
reinstate), each one submission with who and why, seen by history, the gap and the bridge."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from helpers.clock import between
from helpers.owner_seed import seed
from sqlalchemy import text

from ledger.bridge import bridge
from ledger.engine import gap
from ledger.errors import Conflict, LedgerError, NotFound
from ledger.history import history
from ledger.initiative_admin import (
    list_initiatives,
    reassign_owner,
    set_attributes,
    set_status,
    show_initiative,
)
from ledger.phasing import attribute_versions, find_initiative


def _submission(led, sub_id):
    with led.reading() as conn:
        return conn.execute(text(
            'SELECT kind, "user", note, details FROM submission WHERE id = :i'),
            {"i": sub_id}).one()


def _count_submissions(led) -> int:
    with led.reading() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM submission")).scalar_one())


def _bottom_up(led, **kw) -> Decimal:
    rep = gap(led, **kw)
    return sum(rep.monthly["bottom_up"], Decimal(0))


# --------------------------------------------------------------------------- list


def test_list_shows_every_initiative_with_its_exact_total(programme, cli):
    seed(programme)
    r = cli("initiative", "list", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["id"] for row in rows] == ["GR-0001", "GR-0002", "GR-0003"]
    first = rows[0]
    assert first == {"id": "GR-0001", "name": "Spares pooling", "owner": "Ana Lima",
                     "unit": "PRO", "lever": "PROC", "stage": "L2", "status": "active",
                     "total": "6000.50"}
    assert r.stderr.startswith("3 initiatives, benefit plan total")
    assert "total 7,200.75 AUD" in r.stderr
    table = cli("initiative", "list")
    assert "6,000.50" in table.stdout
    assert "3 initiatives" in table.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (["--owner", "  ana LIMA "], ["GR-0001", "GR-0002"]),
    (["--unit", "pro"], ["GR-0001", "GR-0003"]),
    (["--lever", "LAB"], ["GR-0002"]),
    (["--stage", "l1"], ["GR-0003"]),
    (["--search", "ROSTER"], ["GR-0002"]),
    (["--owner", "Ana Lima", "--unit", "PRO"], ["GR-0001"]),
    (["--status", "withdrawn"], []),
])
def test_list_filters_combine(programme, cli, args, expected):
    seed(programme)
    r = cli("initiative", "list", *args, "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["id"] for row in rows] == expected
    # A header even when nothing matches; the count's noun agrees with the count.
    assert r.stdout.startswith("id,name,owner,unit,lever,stage,status,total")
    noun = "initiative," if len(expected) == 1 else "initiatives,"
    assert f"{len(expected)} {noun}" in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--unit", "PROO"], "did you mean 'PRO'?"),
    (["--lever", "PROCC"], "did you mean 'PROC'?"),
    (["--stage", "L7"], "no stage gate"),
    (["--owner", "Ana Lma"], "did you mean 'Ana Lima'?"),
    (["--status", "gone"], "expected active or withdrawn"),
    (["--metric", "benefitt"], "no metric"),
    (["--as-of", "yesterday"], "expected a submission id"),
])
def test_list_refuses_unknown_codes_on_one_line(programme, cli, args, message):
    seed(programme)
    r = cli("initiative", "list", *args)
    assert r.exit_code == 1
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.output


def test_list_as_of_shows_the_ledger_as_it_stood(programme, cli):
    seed(programme)
    before = between()
    cli("initiative", "set", "GR-0003", "--owner", "Cy Park", "--note", "hand-over")
    now = list_initiatives(programme, owner="Cy Park")
    assert list(now.frame["id"]) == ["GR-0003"]
    r = cli("initiative", "list", "--owner", "Ben Okafor", "--as-of", before.isoformat(),
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert [row["id"] for row in json.loads(r.stdout)] == ["GR-0003"]
    assert "as of submission" in r.stderr
    # Now Ben owns nothing, so his name is unknown today.
    assert cli("initiative", "list", "--owner", "Ben Okafor").exit_code == 1


# --------------------------------------------------------------------------- show


def test_show_json_is_one_object_with_totals_by_fiscal_year(programme, cli):
    seed(programme)
    set_status_sub = cli("phasing", "set", "GR-0001", "--month", "2027-08", "--amount",
                         "0.01", "--note", "a cent next year")
    assert set_status_sub.exit_code == 0, set_status_sub.output
    r = cli("initiative", "show", "GR-0001", "--format", "json")
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert isinstance(shown, dict)
    ini = shown["initiative"]
    assert (ini["id"], ini["owner"], ini["unit"], ini["stage"], ini["weight"]) == (
        "GR-0001", "Ana Lima", "PRO", "L2", "0.5000")
    totals = {(t["metric"], t["scenario"], t["period"]): t["amount"] for t in shown["totals"]}
    assert totals == {("benefit", "plan", "FY27"): "6000.50",
                      ("benefit", "plan", "FY28"): "0.01",
                      ("benefit", "plan", "total"): "6000.51"}
    assert [(p["month"], p["amount"]) for p in shown["phasing"]] == [
        ("2026-07", "1000.00"), ("2026-08", "2000.50"), ("2027-03", "3000.00"),
        ("2027-08", "0.01")]
    last = shown["last_change"]
    assert (last["who"], last["kind"], last["note"], last["what"]) == (
        "tester", "edit", "a cent next year", ["benefit plan 2027-08"])


def test_show_table_and_as_of(programme, cli):
    seed(programme)
    before = between()
    assert cli("initiative", "set", "GR-0002", "--name", "Roster redesign").exit_code == 0
    r = cli("initiative", "show", "GR-0002")
    assert r.exit_code == 0, r.output
    for text_ in ("Roster redesign", "Ana Lima", "MIN (Mining)", "LAB (Labour)",
                  "L3 Approved for execution", "FY27 total", "500.25", "last change"):
        assert text_ in r.stdout, text_
    old = cli("initiative", "show", "GR-0002", "--as-of", before.isoformat())
    assert old.exit_code == 0, old.output
    assert "Shift roster" in old.stdout
    assert "Roster redesign" not in old.stdout
    csv_rows = list(csv.DictReader(io.StringIO(cli("initiative", "show", "GR-0002", "-f",
                                                   "csv").stdout)))
    assert csv_rows == [{"metric": "benefit", "unit": "AUD", "scenario": "plan",
                         "month": "2026-09", "fiscal_year": "FY27", "amount": "500.25"}]


def test_show_unknown_or_not_yet_created(programme, cli):
    seed(programme, initiatives={"GR-0001": ("Spares pooling", "Ana Lima", "PRO", "PROC",
                                             "L2")}, plan={})
    early = between()
    seed(programme, initiatives={"GR-0009": ("Late one", "Ana Lima", "PRO", "PROC", "L0")},
         plan={})
    r = cli("initiative", "show", "GR-0010")
    assert r.exit_code == 1
    assert "no initiative 'GR-0010'" in r.stderr
    assert "did you mean" in r.stderr
    r = cli("initiative", "show", "GR-0009", "--as-of", early.isoformat())
    assert r.exit_code == 1
    assert "did not exist yet" in r.stderr
    shown = show_initiative(programme, "GR-0009")
    assert shown.totals.empty
    assert "no phasing" in cli("initiative", "show", "GR-0009").stdout


# --------------------------------------------------------------------------- set


def test_set_changes_only_what_is_given_in_one_submission(programme, cli):
    seed(programme)
    before = _count_submissions(programme)
    r = cli("initiative", "set", "GR-0001", "--name", "Spares pooling II", "--lever", "maint",
            "--unit", "MIN", "--description", "Pool spares across sites",
            "--note", "steerco 2026-11", "--user", "office")
    assert r.exit_code == 0, r.output
    assert "name 'Spares pooling' -> 'Spares pooling II'" in r.stdout
    assert "lever 'PROC' -> 'MAINT'" in r.stdout
    assert _count_submissions(programme) == before + 1
    with programme.reading() as conn:
        ini = find_initiative(conn, "GR-0001")
        sub = attribute_versions(conn, [ini.id])[ini.id]
    kind, user, note, details = _submission(programme, sub)
    assert (kind, user, note) == ("edit", "office", "steerco 2026-11")
    assert json.loads(details)["fields"] == ["name", "unit", "lever", "description"]
    row = list_initiatives(programme, search="GR-0001").frame.iloc[0]
    assert (row["name"], row["owner"], row["unit"], row["lever"], row["stage"]) == (
        "Spares pooling II", "Ana Lima", "MIN", "MAINT", "L2")
    # History shows each attribute with who and why; the old values stay on record.
    h = history(programme, "GR-0001")
    mine = h[h["submission"] == sub]
    assert set(mine["what"]) == {"name", "business unit", "lever", "description"}
    assert set(mine["who"]) == {"office"}
    assert mine.set_index("what").at["lever", "old"] == "PROC"
    # The same values again: nothing written.
    again = cli("initiative", "set", "GR-0001", "--name", "Spares pooling II")
    assert again.exit_code == 0
    assert "nothing written" in again.stdout
    assert _count_submissions(programme) == before + 1


def test_set_clears_a_unit_and_moves_the_gap_breakdown(programme, cli):
    seed(programme)
    r = cli("initiative", "set", "GR-0003", "--unit", "")
    assert r.exit_code == 0, r.output
    assert "unit 'PRO' -> (empty)" in r.stdout
    rep = gap(programme, by="business_unit")
    by_part = rep.monthly.groupby("part")["bottom_up"].sum()
    assert by_part["(unallocated)"] == Decimal("700.00")
    assert by_part["PRO"] == Decimal("6000.50")


@pytest.mark.parametrize(("args", "message"), [
    (["GR-0001"], "nothing to change"),
    (["GR-0001", "--lever", "PROCC"], "did you mean 'PROC'?"),
    (["GR-0001", "--unit", "XYZ"], "no business unit"),
    (["GR-0001", "--name", "  "], "--name is empty"),
    (["GR-0001", "--owner", ""], "--owner is empty"),
    (["GR-0001", "--name", "x" * 301], "at most 300"),
    (["GR-0x01", "--name", "y"], "no initiative 'GR-0x01'"),
])
def test_set_refuses_bad_input_on_one_line(programme, cli, args, message):
    seed(programme)
    before = _count_submissions(programme)
    r = cli("initiative", "set", *args)
    assert r.exit_code == 1
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert _count_submissions(programme) == before


def test_set_refuses_a_stale_read_version_and_a_withdrawn_initiative(programme):
    seed(programme)
    with programme.reading() as conn:
        ini = find_initiative(conn, "GR-0001")
        seen = attribute_versions(conn, [ini.id])[ini.id]
    set_attributes(programme, "GR-0001", owner="Ben Okafor", user="office")
    with pytest.raises(Conflict, match="changed after you read them"):
        set_attributes(programme, "GR-0001", name="Mine now", user="ana", read_version=seen)
    assert list_initiatives(programme, search="GR-0001").frame.iloc[0]["name"] == \
        "Spares pooling"
    set_status(programme, "GR-0001", "withdrawn", user="office")
    with pytest.raises(LedgerError, match="withdrawn"):
        set_attributes(programme, "GR-0001", name="x", user="office")


def test_an_owner_keeps_one_spelling(programme):
    seed(programme)
    edit = set_attributes(programme, "GR-0001", owner="ben okafor", user="office")
    assert [(c.field, c.old, c.new) for c in edit.changes] == [
        ("owner", "Ana Lima", "Ben Okafor")]


# --------------------------------------------------------------------------- reassign


def test_reassign_moves_all_of_an_owners_initiatives_at_once(programme, cli):
    seed(programme)
    set_status(programme, "GR-0002", "withdrawn", user="office")
    before = _count_submissions(programme)
    r = cli("initiative", "reassign", "--from", "ana lima", "--to", "BEN OKAFOR",
            "--note", "Ana left")
    assert r.exit_code == 0, r.output
    assert "moved 1 initiative from Ana Lima to Ben Okafor: GR-0001" in r.stdout
    assert "1 withdrawn initiative of Ana Lima left as they are (GR-0002)" in r.stderr
    assert _count_submissions(programme) == before + 1
    owners = dict(zip(list_initiatives(programme).frame["id"],
                      list_initiatives(programme).frame["owner"], strict=True))
    assert owners == {"GR-0001": "Ben Okafor", "GR-0002": "Ana Lima", "GR-0003": "Ben Okafor"}
    h = history(programme, "GR-0001")
    assert (h.iloc[0]["what"], h.iloc[0]["old"], h.iloc[0]["new"], h.iloc[0]["note"]) == (
        "owner", "Ana Lima", "Ben Okafor", "Ana left")
    r = cli("initiative", "reassign", "--from", "Ana Lima", "--to", "Dee New",
            "--include-withdrawn")
    assert r.exit_code == 0, r.output
    assert "moved 1 initiative" in r.stdout
    assert "owned no initiative before" in r.stderr
    # The edits are sealed into the history's hash chain like every other write.
    verified = cli("verify")
    assert verified.exit_code == 0, verified.output
    assert "history intact" in verified.stdout


def test_reassign_moves_many_in_one_submission(programme):
    many = {f"GR-{i:04d}": (f"Item {i}", "A. Ng" if i % 3 else "a. ng ", "PRO", "PROC", "L1")
            for i in range(1, 61)}
    seed(programme, initiatives=many, plan={})
    done = reassign_owner(programme, "A. NG", "B. Okafor", user="office", note="left")
    assert len(done.moved) == 60
    assert done.new_owner
    frame = list_initiatives(programme).frame
    assert set(frame["owner"]) == {"B. Okafor"}
    with programme.reading() as conn:
        subs = conn.execute(text("SELECT DISTINCT valid_from FROM initiative_version "
                                 "WHERE valid_to = 9223372036854775807")).scalars().all()
    assert subs == [done.submission_id]


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "Ana Lma", "--to", "X"], "did you mean 'Ana Lima'?"),
    (["--from", "Ana Lima", "--to", " ana lima"], "same owner"),
    (["--from", "Ana Lima", "--to", ""], "--to is empty"),
])
def test_reassign_refuses_mistakes(programme, cli, args, message):
    seed(programme)
    r = cli("initiative", "reassign", *args)
    assert r.exit_code == 1
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- withdraw


def test_withdraw_and_reinstate_move_the_bottom_up_and_the_bridge_sees_them(programme, cli):
    seed(programme)
    start = between()
    assert _bottom_up(programme) == Decimal("7200.75")
    r = cli("initiative", "withdraw", "GR-0001", "--note", "merged into GR-0002")
    assert r.exit_code == 0, r.output
    assert "GR-0001: status 'active' -> 'withdrawn'" in r.stdout
    assert _bottom_up(programme) == Decimal("1200.25")
    middle = between()
    moved = bridge(programme, start=start, end=middle)
    steps = dict(zip(moved.steps["step"], moved.steps["amount"], strict=True))
    assert steps["withdrawn initiatives"] == Decimal("-6000.50")
    again = cli("initiative", "withdraw", "GR-0001")
    assert "already withdrawn: nothing written" in again.stdout
    # Its phasing is frozen while withdrawn, and its history says who and why.
    assert cli("phasing", "set", "GR-0001", "--month", "2027-01", "--amount", "1"
               ).exit_code == 1
    h = history(programme, "GR-0001")
    assert (h.iloc[0]["what"], h.iloc[0]["new"], h.iloc[0]["note"]) == (
        "status", "withdrawn", "merged into GR-0002")
    assert list(list_initiatives(programme, status="withdrawn").frame["id"]) == ["GR-0001"]
    r = cli("initiative", "reinstate", "GR-0001", "--note", "back")
    assert r.exit_code == 0, r.output
    assert _bottom_up(programme) == Decimal("7200.75")
    back = bridge(programme, start=middle, end=between())
    steps = dict(zip(back.steps["step"], back.steps["amount"], strict=True))
    assert steps["new initiatives"] == Decimal("6000.50")
    assert "already active" in cli("initiative", "reinstate", "GR-0001").stdout


def test_unknown_initiative_for_status_edits(programme, cli):
    seed(programme)
    with pytest.raises(NotFound):
        set_status(programme, "nope", "withdrawn")
    r = cli("initiative", "withdraw", "GR-0004")
    assert r.exit_code == 1
    assert "no initiative 'GR-0004'" in r.stderr


def test_every_initiative_command_has_help_with_an_example(cli):
    for command in ("list", "show", "set", "reassign", "withdraw", "reinstate"):
        r = cli("initiative", command, "--help")
        assert r.exit_code == 0
        assert "Example: tledger initiative " + command in r.stdout

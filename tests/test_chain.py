"""The history's hash chain: plain SQL that rewrites history is named by `tledger verify`
and `tledger checks`; an untouched ledger verifies clean (both backends)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from helpers.busy_ledger import build_busy_ledger, pipeline_rows
from reliability.support import MONTHS, pipeline_workbook
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from importers import import_initiatives
from ledger import chain
from ledger.api import Ledger
from ledger.claims import review_pair
from ledger.db import make_engine, resolve_url
from ledger.phasing import set_phasing


@pytest.fixture
def busy(programme: Ledger, tmp_path: Path) -> Ledger:
    build_busy_ledger(programme, tmp_path)
    return programme


def _sql(led: Ledger, sql: str, **params: object) -> None:
    with led.engine.begin() as conn:
        conn.execute(text(sql), params)


def _one(led: Ledger, sql: str, **params: object) -> int:
    with led.reading() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def _verify_fails_at(cli, sub: int, what: str) -> None:
    result = cli("verify")
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert f"submission {sub} (" in line, line
    assert what in line, line
    checks = cli("checks", "--format", "json")
    assert checks.exit_code == 1
    found = [f for f in json.loads(checks.stdout) if f["check"] == "history_chain"]
    assert [(f["severity"], f["subject"]) for f in found] == [("error", f"submission {sub}")]


def test_an_untouched_ledger_verifies_clean_and_prints_its_head(busy, cli):
    with busy.reading() as conn:
        result = chain.verify(conn)
        unsealed = conn.execute(text(
            "SELECT COUNT(*) FROM submission WHERE chain_hash IS NULL")).scalar_one()
    assert result.ok
    assert result.submissions >= 15
    assert unsealed == 0
    out = cli("verify")
    assert out.exit_code == 0, out.output
    assert f"head {result.head_id}:{result.head_hash}" in out.stdout
    checks = json.loads(cli("checks", "--format", "json").stdout)
    assert not [f for f in checks if f["check"].startswith("history")]
    assert cli("verify", "--head", f"{result.head_id}:{result.head_hash}").exit_code == 0


def test_a_tampered_amount_names_the_submission_that_wrote_it(busy, cli):
    row = _one(busy, "SELECT MAX(id) FROM phasing WHERE valid_to <> 9223372036854775807")
    writer = _one(busy, "SELECT valid_from FROM phasing WHERE id = :i", i=row)
    _sql(busy, "UPDATE phasing SET amount_minor = amount_minor + 1 WHERE id = :i", i=row)
    _verify_fails_at(cli, writer, "a history row it wrote or closed was changed")


def test_a_deleted_phasing_row_names_its_submission(busy, cli):
    row = _one(busy, "SELECT MAX(id) FROM phasing")
    writer = _one(busy, "SELECT valid_from FROM phasing WHERE id = :i", i=row)
    _sql(busy, "DELETE FROM phasing WHERE id = :i", i=row)
    _verify_fails_at(cli, writer, "its content differs")


def test_a_reopened_version_names_the_submission_that_closed_it(busy, cli):
    row = _one(busy, "SELECT MIN(id) FROM target WHERE valid_to <> 9223372036854775807")
    closer = _one(busy, "SELECT valid_to FROM target WHERE id = :i", i=row)
    _sql(busy, "DELETE FROM target WHERE valid_from = :s", s=closer)
    _sql(busy, "UPDATE target SET valid_to = 9223372036854775807 WHERE valid_to = :s", s=closer)
    _verify_fails_at(cli, closer, "a history row it wrote or closed")


def test_an_edited_note_names_the_submission(busy, cli):
    sub = _one(busy, "SELECT MIN(id) FROM submission WHERE note = 'board'")
    _sql(busy, "UPDATE submission SET note = 'nothing to see' WHERE id = :i", i=sub)
    _verify_fails_at(cli, sub, "the submission row itself was changed")


def test_reordered_submissions_are_named_at_the_first_of_them(busy, cli):
    a = _one(busy, "SELECT MIN(id) FROM submission WHERE note = 'board'")
    b = _one(busy, "SELECT MIN(id) FROM submission WHERE note = 'revised'")
    cols = ["kind", '"user"', "created_at", "source_name", "source_sha256", "note",
            "rows_hash", "content_hash", "chain_hash"]
    with busy.engine.begin() as conn:
        rows = {i: conn.execute(text(f"SELECT {', '.join(cols)} FROM submission WHERE id = :i"),
                                {"i": i}).one() for i in (a, b)}
        for target, source in ((a, b), (b, a)):
            sets = ", ".join(f"{c} = :v{k}" for k, c in enumerate(cols))
            conn.execute(text(f"UPDATE submission SET {sets} WHERE id = :i"),
                         {"i": target, **{f"v{k}": v for k, v in enumerate(rows[source])}})
    _verify_fails_at(cli, a, "its content differs")


def test_a_deleted_submission_breaks_the_link_of_the_next(busy, cli):
    sub = _one(busy, "SELECT MIN(id) FROM submission WHERE note = 'approved'")
    with busy.engine.begin() as conn:
        conn.execute(text("DELETE FROM initiative_version WHERE valid_from = :s"), {"s": sub})
        conn.execute(text("UPDATE initiative_version SET valid_to = 9223372036854775807 "
                          "WHERE valid_to = :s"), {"s": sub})
        conn.execute(text("DELETE FROM submission WHERE id = :s"), {"s": sub})
    nxt = _one(busy, "SELECT MIN(id) FROM submission WHERE id > :s", s=sub)
    _verify_fails_at(cli, nxt, f"the link to submission {sub - 1} is broken")


def test_a_submission_inserted_by_plain_sql_is_not_sealed_by_the_next_write(busy, cli):
    _sql(busy, "INSERT INTO submission (kind, \"user\", created_at, note) "
               "VALUES ('edit', 'mallory', '2030-01-01 00:00:00', 'backdoor')")
    forged = _one(busy, "SELECT MAX(id) FROM submission")
    set_phasing(busy, "GR-0001", MONTHS[5], Decimal("1.00"), user="ana", note="later")
    _verify_fails_at(cli, forged, "has no hash")


def test_a_rewritten_chain_fails_against_the_head_kept_earlier(busy, cli):
    with busy.reading() as conn:
        head = chain.verify(conn)
    _sql(busy, "UPDATE submission SET chain_hash = :h WHERE id = :i", h="f" * 64,
         i=head.head_id)
    result = cli("verify", "--head", f"{head.head_id}:{head.head_hash}")
    assert result.exit_code == 1
    assert f"submission {head.head_id}" in result.stderr


def test_checks_on_a_large_ledger_report_the_last_full_verification(busy, cli, monkeypatch):
    monkeypatch.setattr(chain, "CHECKS_FULL_LIMIT", 0)
    found = json.loads(cli("checks", "--format", "json").stdout)
    notes = [f["detail"] for f in found if f["check"] == "history_not_reverified"]
    assert len(notes) == 1
    assert "has never run" in notes[0]
    assert cli("verify").exit_code == 0
    found = json.loads(cli("checks", "--format", "json").stdout)
    notes = [f["detail"] for f in found if f["check"] == "history_not_reverified"]
    assert len(notes) == 1
    assert "found the chain intact" in notes[0]
    sub = _one(busy, "SELECT MIN(id) FROM submission WHERE note = 'board'")
    _sql(busy, "UPDATE submission SET note = 'x' WHERE id = :i", i=sub)
    found = json.loads(cli("checks", "--format", "json").stdout)
    assert [f["subject"] for f in found if f["check"] == "history_chain"] == [f"submission {sub}"]


def test_a_few_submissions_hash_the_same_through_the_batched_and_the_per_pair_reads(
        busy, monkeypatch):
    """Sealing reads a few written facts in one batch (two phasing queries), many per
    metric and scenario: both give each submission the rows hash stored when it was
    written (read, as a seal reads, with every later submission)."""
    def each_as_sealed(conn) -> dict[int, str]:  # type: ignore[no-untyped-def]
        return {sub: chain.rows_hashes(conn, [s for s in subs if s >= sub])[0][sub]
                for sub in subs}

    with busy.reading() as conn:
        stored = {int(r[0]): r[1] for r in conn.execute(text(
            "SELECT id, rows_hash FROM submission")).all()}
        subs = sorted(stored)
        batched = each_as_sealed(conn)
        monkeypatch.setattr(chain, "_FEW_FACTS", -1)  # every seal read takes the pair path
        per_pair = each_as_sealed(conn)
    assert batched == stored
    assert per_pair == stored


def test_grant_on_sqlite_says_it_is_for_postgresql(programme, cli, backend):
    if backend != "sqlite":
        pytest.skip("SQLite's answer")
    result = cli("db", "grant", "app")
    assert result.exit_code == 1
    assert "is for PostgreSQL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_same_ledger_hashes_the_same_on_sqlite_and_postgresql(databases, tmp_path):
    source = databases.sqlite(tmp_path / "ledger.db")
    led = Ledger.open(source)
    from reliability.support import setup_programme

    setup_programme(source)
    build_busy_ledger(led, tmp_path)
    led.dispose()
    target = databases.postgres()  # skips without PostgreSQL
    try:
        src, dst = create_engine(resolve_url(source)), make_engine(resolve_url(target))
        meta = MetaData()
        meta.reflect(src)
        with src.connect() as a, dst.begin() as b:
            for table in reversed(meta.sorted_tables):
                if table.name != "alembic_version":
                    b.execute(table.delete())
            for table in meta.sorted_tables:
                if table.name == "alembic_version":
                    continue
                rows = [dict(r._mapping) for r in a.execute(table.select()).all()]
                if rows:
                    b.execute(table.insert(), rows)
            stored = {int(r[0]): (r[1], r[2]) for r in a.execute(text(
                "SELECT id, rows_hash, chain_hash FROM submission")).all()}
        src.dispose()
        with dst.connect() as conn:
            rows_pg, _ = chain.rows_hashes(conn)
            result = chain.verify(conn)
        dst.dispose()
        assert rows_pg == {k: v[0] for k, v in stored.items()}
        assert result.ok
        assert result.head_hash == stored[max(stored)][1]
    finally:
        databases.drop(target)


# --------------------------------------------------------------------------- PostgreSQL roles


@pytest.fixture
def app_role(db_url: str, backend: str):  # type: ignore[no-untyped-def]
    """A LOGIN role (trust auth) and the URL of the test's ledger as that role."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL roles")
    role = f"tl_app_{uuid.uuid4().hex[:8]}"
    owner = create_engine(resolve_url(db_url), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    url = make_url(resolve_url(db_url)).set(username=role, password=None)
    yield role, url.render_as_string(hide_password=False)
    with owner.connect() as conn:
        conn.execute(text(f'DROP OWNED BY "{role}"'))
        conn.execute(text(f'DROP ROLE "{role}"'))
    owner.dispose()


def test_an_application_role_appends_history_but_cannot_rewrite_it(programme, cli, app_role,
                                                                   tmp_path):
    role, url = app_role
    first = cli("db", "grant", role)
    assert first.exit_code == 0, first.output
    assert f"GRANT UPDATE (valid_to) ON phasing TO \"{role}\"" in first.stdout
    assert cli("db", "grant", role).exit_code == 0  # idempotent

    app = Ledger.open(url)
    try:
        import_initiatives(app, [pipeline_workbook(tmp_path / "p1.xlsx", pipeline_rows(3))],
                           user="office", note="as the app")
        import_initiatives(app, [pipeline_workbook(tmp_path / "p2.xlsx",
                                                   pipeline_rows(3, bump=1))],
                           user="office", note="again")
        set_phasing(app, "GR-0001", MONTHS[2], Decimal("12.34"), user="ana", note="edit")
        review_pair(app, "GR-0001", "GR-0002", note="different sites", user="office")
        with app.reading() as conn:
            assert chain.verify(conn).ok
        refused = [
            "UPDATE reviewed_pair SET note = 'x'",
            "DELETE FROM reviewed_pair",
            "UPDATE phasing SET amount_minor = 1 WHERE id = (SELECT MAX(id) FROM phasing)",
            "DELETE FROM phasing WHERE id = (SELECT MAX(id) FROM phasing)",
            "UPDATE submission SET note = 'x' WHERE id = (SELECT MAX(id) FROM submission)",
            "UPDATE phasing SET valid_to = 1 WHERE valid_to <> 9223372036854775807",
        ]
        for sql in refused:
            with pytest.raises(DBAPIError) as exc, app.engine.begin() as conn:
                conn.execute(text(sql))
            assert "permission denied" in str(exc.value) or "refused" in str(exc.value), sql
    finally:
        app.dispose()
    # The trigger holds for the owner too: only the app's grants are narrower.
    with pytest.raises(DBAPIError, match="append-only"), programme.engine.begin() as conn:
        conn.execute(text("UPDATE phasing SET amount_minor = 1 "
                          "WHERE id = (SELECT MAX(id) FROM phasing)"))



def test_verify_still_answers_when_it_cannot_record_the_run(programme, cli, app_role):
    role, url = app_role
    assert cli("db", "grant", role).exit_code == 0
    _sql(programme, f'REVOKE INSERT ON chain_verification FROM "{role}"')
    result = cli("verify", "--db", url)
    assert result.exit_code == 0, result.output
    assert "history intact" in result.stdout
    assert "note: this verification was not recorded" in result.stderr


def test_a_malformed_head_is_refused_in_one_line(programme, cli):
    result = cli("verify", "--head", "not-a-head")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "expected ID:HASH" in result.stderr

"""Migration safety: a ledger populated at the first migration, upgraded to head, gives
the same gap report as it did before, and keeps every row it had.

``data/ledger-0001.json`` holds a ledger built through the real API while revision 0001
was head (programme, units, levers, a volume metric, a stage weight revision, two target
revisions, two initiative imports in plan/forecast/actual and volume, the second a
snapshot that withdrew an initiative, single edits and a stage move), dumped table by table,
together with the gap reports tledger printed for it then. The test recreates that database at
revision 0001 from the dump (raw SQL against the 0001 schema, so it stays valid whatever
later revisions change), runs ``Ledger.init`` (which upgrades to head), and compares.

Regenerate the dump only while 0001 is head:
``PYTHONPATH=tests .venv/bin/python -m reliability.test_migration``. Since then, one
presentation change was applied to the dumped reports by hand: the cascade-gap details of
``checks`` carry thousands separators (no figure changed). Checks added since (issue 18's
claim checks) are left out of the comparison: the 0001 ledger had no such check to print.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, MetaData, text
from typer.testing import CliRunner

from ledger.api import Ledger
from ledger.db import make_engine, resolve_url
from reliability.support import MONTHS, current_facts, pipeline_workbook, record

FIRST_REVISION = "0001"
DUMP = Path(__file__).with_name("data") / "ledger-0001.json"
#: The reports compared before and after: (name, tledger arguments).
REPORTS = [
    ("gap", ["gap", "--format", "json"]),
    ("gap by unit", ["gap", "--by", "business_unit", "--format", "json"]),
    ("gap by lever weighted", ["gap", "--by", "lever", "--weighted", "--format", "json"]),
    ("gap fiscal", ["gap", "--view", "fiscal", "--format", "json"]),
    ("gap forecast", ["gap", "--scenario", "forecast", "--format", "json"]),
    ("checks", ["checks", "--format", "json"]),
]


def _run(url: str, args: list[str]) -> Any:
    from tledger.cli import app

    result = CliRunner().invoke(app, [*args, "--db", url], catch_exceptions=False,
                                env={"COLUMNS": "200"})
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _reports(url: str, as_of: str) -> dict[str, Any]:
    out = {name: _run(url, args) for name, args in REPORTS}
    out["gap as of"] = _run(url, ["gap", "--as-of", as_of, "--format", "json"])
    return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def build_dump() -> dict[str, Any]:  # pragma: no cover - run by hand, see the docstring
    """Build the 0001 ledger through the API and dump it with its reports."""
    from fixtures_workbooks import targets_workbook  # type: ignore[import-not-found]

    from importers import import_initiatives, import_targets
    from ledger.phasing import set_phasing, set_stage
    from migrations import head_revision
    from reliability.support import setup_programme

    assert head_revision() == FIRST_REVISION, "regenerate only while 0001 is head"
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'ledger.db'}"
    Ledger.init(url).dispose()
    setup_programme(url)
    led = Ledger.open(url)
    from decimal import Decimal

    led.add_metric(code="volume", name="Ore volume", unit="t", kind="benefit", decimals=3,
                   user="setup")
    led.set_stage_weight("L2", Decimal("0.55"), user="setup", note="steerco")
    targets_workbook(folder / "t1.xlsx", [
        ["benefit", "programme", *[100_000 + 500 * i for i in range(24)]],
        ["benefit", "unit:PRO", *[60_000] * 24],
        ["benefit", "lever:PROC", *[30_000] * 24],
        ["cost", "programme", *[20_000] * 12],
    ])
    import_targets(led, folder / "t1.xlsx", user="office", note="board")
    targets_workbook(folder / "t2.xlsx", [
        ["benefit", "programme", *[110_000 + 500 * i for i in range(24)]],
        ["benefit", "unit:PRO", *[65_000] * 24],
    ])
    import_targets(led, folder / "t2.xlsx", user="office", note="revised")
    rows = []
    units, levers, stages = ["PRO", "MIN"], ["PROC", "LAB", "MAINT", "ENERGY"], ["L1", "L2",
                                                                                "L3", "L4"]
    for i in range(12):
        base = {"id": f"GR-{i:04d}", "name": f"Initiative {i}", "owner": f"Owner {i % 3}",
                "unit": units[i % 2], "lever": levers[i % 4], "stage": stages[i % 4]}
        rows.append({**base, "amounts": [None if (i + m) % 7 == 0 else 1000 * (i + 1)
                                         + 13.57 * m for m in range(24)]})
        rows.append({**base, "metric": "cost", "amounts": [5000.05 * (i + 1)] + [None] * 23})
        rows.append({**base, "scenario": "forecast",
                     "amounts": [900 * (i + 1) + m for m in range(24)]})
        if i % 3 == 0:
            rows.append({**base, "scenario": "actual", "amounts": [800 * (i + 1)] * 4
                         + [None] * 20})
            rows.append({**base, "metric": "volume", "amounts": [12.345 * (i + 1)] * 24})
    import_initiatives(led, [pipeline_workbook(folder / "p1.xlsx", rows)], user="office",
                       note="first pipeline")
    as_of = led.submissions()["created_at"].iloc[-1]
    changed = [dict(r, amounts=[None if a is None else a + 1 for a in r["amounts"]])
               for r in rows if r["id"] != "GR-0005"]
    import_initiatives(led, [pipeline_workbook(folder / "p2.xlsx", changed)], user="office",
                       note="re-phased", mode="snapshot")
    set_phasing(led, "GR-0001", MONTHS[3], Decimal("4321.09"), user="ana", note="edit")
    set_phasing(led, "GR-0002", MONTHS[4], None, user="ana", note="cleared")
    set_stage(led, "GR-0003", "L5", user="bo", note="realised")
    led.dispose()
    engine = make_engine(resolve_url(url))
    meta = MetaData()
    meta.reflect(engine)
    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows_out = conn.execute(table.select().order_by(*table.primary_key.columns)).all()
            tables[table.name] = [{k: _plain(v) for k, v in r._mapping.items()}
                                  for r in rows_out]
    engine.dispose()
    as_of_text = as_of.isoformat() if hasattr(as_of, "isoformat") else str(as_of)
    return {"revision": FIRST_REVISION, "as_of": as_of_text, "tables": tables,
            "reports": _reports(url, as_of_text)}


def _load_at_first_revision(url: str, dump: dict[str, Any]) -> None:
    """Recreate the dumped ledger at revision 0001 with plain SQL."""
    led = Ledger(make_engine(resolve_url(url)))
    led.upgrade(FIRST_REVISION)
    meta = MetaData()
    meta.reflect(led.engine)
    with led.engine.begin() as conn:
        for table in reversed(meta.sorted_tables):  # rows the migration itself seeded
            if table.name != "alembic_version":
                conn.execute(table.delete())
        for table in meta.sorted_tables:
            rows = dump["tables"].get(table.name, [])
            if not rows:
                continue
            converted = []
            for row in rows:
                out = {}
                for key, value in row.items():
                    col = table.columns[key].type
                    if value is not None and isinstance(col, DateTime):
                        value = datetime.fromisoformat(value)
                    elif value is not None and isinstance(col, Date):
                        value = date.fromisoformat(value)
                    out[key] = value
                converted.append(out)
            conn.execute(table.insert(), converted)
        if conn.dialect.name == "postgresql":  # as if the rows had been inserted normally
            for table in meta.sorted_tables:
                if "id" in table.columns and dump["tables"].get(table.name):
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT MAX(id) FROM {table.name}))"))
    with led.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == FIRST_REVISION
    led.dispose()


#: Checks tledger gained after the dump was made (they find things in its ledger, e.g.
#: actuals in months never closed, that the reports of then could not show).
CHECKS_ADDED_SINCE = {"actual_not_closed", "actual_before_start", "possible_double_count",
                      "claim_over_pnl"}


def test_ledger_from_first_migration_upgrades_to_the_same_reports(empty_db_url: str,
                                                                  tmp_path: Path) -> None:
    dump = json.loads(DUMP.read_text())
    url = empty_db_url
    _load_at_first_revision(url, dump)

    Ledger.init(url).dispose()  # upgrade to head

    reports = _reports(url, dump["as_of"])
    reports["checks"] = [f for f in reports["checks"] if f["check"] not in CHECKS_ADDED_SINCE]
    assert reports == dump["reports"]
    # Every row of every 0001 table is still there, its 0001 columns unchanged.
    engine = make_engine(resolve_url(url))
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for name, rows in dump["tables"].items():
            table = meta.tables[name]
            cols = list(rows[0]) if rows else []
            got = [{k: _plain(v) for k, v in r._mapping.items()} for r in conn.execute(
                table.select().with_only_columns(*[table.c[c] for c in cols])
                .order_by(*table.primary_key.columns)).all()] if cols else []
            assert got[:len(rows)] == rows, f"table {name} changed in the upgrade"
    engine.dispose()
    # ... and it still takes writes (ids continue where 0001 left them).
    led = Ledger.open(url)
    from importers import import_initiatives

    import_initiatives(led, [pipeline_workbook(tmp_path / "after.xlsx", [
        {"id": "GR-9999", "name": "After upgrade", "amounts": [1] * 24}])], user="after")
    led.dispose()
    assert current_facts(url)[("GR-9999", "benefit", "plan", MONTHS[0].isoformat())] == 100
    # The upgrade sealed the old history and the write after it extended the chain.
    from ledger import chain

    led = Ledger.open(url)
    with led.reading() as conn:
        verified = chain.verify(conn)
    led.dispose()
    assert verified.ok, verified.problem
    record("migration: rows carried from 0001", sum(len(r) for r in dump["tables"].values()))


if __name__ == "__main__":  # pragma: no cover
    DUMP.parent.mkdir(exist_ok=True)
    DUMP.write_text(json.dumps(build_dump(), sort_keys=True, default=str) + "\n")
    print(f"wrote {DUMP}")

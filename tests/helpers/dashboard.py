"""The demo ledger behind a web app, and the dashboard's figures read back from its HTML
(helpers for the dashboard tests; no tests here)."""

from __future__ import annotations

import json
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

#: (table id, part, period, column) -> (exact value, text shown)
Figures = dict[tuple[str, str, str, str], tuple[str, str]]


class _Tables(HTMLParser):
    """Collects every ``td[data-col]`` of the tables with an id, with its row's part and
    period."""

    def __init__(self) -> None:
        super().__init__()
        self.table = ""
        self.row: dict[str, str] = {}
        self.cell: tuple[str, str] | None = None
        self.text = ""
        self.found: Figures = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.table = a.get("id", "")
        elif tag == "tr":
            self.row = a
        elif tag == "td" and "data-col" in a:
            self.cell = (a["data-col"], a.get("data-value", ""))
            self.text = ""

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None:
            col, value = self.cell
            key = (self.table, self.row.get("data-part", "Programme"),
                   self.row.get("data-period", ""), col)
            self.found[key] = (value, self.text.strip())
            self.cell = None


def dashboard_figures(html: str) -> Figures:
    """Every figure of the dashboard's tables (``monthly``, ``fiscal``, ``breakdown``)."""
    parser = _Tables()
    parser.feed(html)
    return parser.found


def cli_gap(db_url: str, *args: str) -> list[dict[str, Any]]:
    """``tledger gap --format json`` rows for ``args`` on the ledger at ``db_url``."""
    from tledger.cli import app

    result = CliRunner().invoke(app, ["gap", "--db", db_url, "--format", "json", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def coverage_text(value: str | None) -> str:
    """A coverage as the CLI's table prints it."""
    return "" if value is None else f"{Decimal(value) * 100:.1f}%"


def assert_matches_cli(figures: Figures, table: str, rows: list[dict[str, Any]],
                       period_key: str) -> int:
    """Every figure of every CLI row is on the page's ``table``, exactly and formatted as the
    CLI formats it; the page has no figure the CLI lacks. Returns the figures compared."""
    compared = 0
    on_page = {k for k in figures if k[0] == table}
    seen = set()
    for row in rows:
        period = str(row[period_key])
        period = period[:7] if period_key == "month" else period
        for col, value in row.items():
            if col in ("part", "month", "period", "fiscal_year"):
                continue
            key = (table, str(row["part"]), period, col)
            if key not in figures:
                continue  # a CLI column the table does not show (run-rates by month)
            shown_value, text = figures[key]
            seen.add(key)
            if col == "coverage":
                assert shown_value == ("" if value is None else value), key
                assert text == coverage_text(value), key
            else:
                assert shown_value == value, key
                assert text == f"{Decimal(value):,}", key
            compared += 1
    assert on_page == seen, f"figures on the page the CLI does not have: {on_page - seen}"
    return compared


def build_demo(directory: Path, db_url: str) -> None:
    """The demo (``tledger demo``'s ledger) in the empty ledger at ``db_url``."""
    from tledger.demo import run_demo

    run_demo(directory, say=lambda _line: None, db_url=db_url, report=False)

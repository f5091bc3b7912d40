"""The ledger's words are read one way everywhere: scopes, scenarios, suggestions, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger.errors import LedgerError
from ledger.vocabulary import (
    PROGRAMME,
    TargetScope,
    check_scenario,
    did_you_mean,
    parse_scope,
    stored_utc,
)


@pytest.mark.parametrize(("text", "expected"), [
    (None, PROGRAMME), ("", PROGRAMME), ("Programme", PROGRAMME), ("total", PROGRAMME),
    ("unit:PRO", TargetScope("business_unit", "PRO")),
    ("BU: PRO ", TargetScope("business_unit", "PRO")),
    ("business unit:PRO", TargetScope("business_unit", "PRO")),
    ("lever:PROC", TargetScope("lever", "PROC")),
])
def test_every_accepted_scope_form_reads_the_same(text: str | None, expected: TargetScope
                                                  ) -> None:
    assert parse_scope(text) == expected
    assert parse_scope(expected.label) == expected  # the label reads back


@pytest.mark.parametrize("text", ["unit", "unit:", "region:EU", "programme:X", "x" * 5000])
def test_a_bad_scope_names_the_forms_in_one_short_line(text: str) -> None:
    with pytest.raises(LedgerError, match="expected programme, unit:CODE") as info:
        parse_scope(text)
    assert len(str(info.value)) < 200


def test_suggestions_ignore_case_and_need_a_close_code() -> None:
    assert did_you_mean("pro", ["MIN", "PRO"]) == " (did you mean 'PRO'?)"
    assert did_you_mean("PROX", ["MIN", "PRO"]) == " (did you mean 'PRO'?)"
    assert did_you_mean("zzz", ["MIN", "PRO"]) == ""
    assert did_you_mean("x", []) == ""


def test_scenarios_are_plan_forecast_actual() -> None:
    assert check_scenario("forecast") == "forecast"
    with pytest.raises(LedgerError, match="compare 'budget': expected one of plan, forecast"):
        check_scenario("budget", "compare")


def test_stored_timestamps_read_as_aware_utc_on_either_backend() -> None:
    naive = datetime(2026, 11, 1, 9, 30)
    aware = datetime(2026, 11, 1, 19, 30, tzinfo=timezone(timedelta(hours=10)))
    expected = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert stored_utc(naive) == expected
    assert stored_utc("2026-11-01 09:30:00") == expected
    assert stored_utc(aware) == expected
    assert stored_utc(aware).tzinfo is UTC


@pytest.mark.parametrize("value", ["0", "-5", "abc", "nan", "inf", 0, -1.5])
def test_a_scale_is_one_rule_on_the_command_line_in_a_mapping_and_in_the_api(
        value: object, tmp_path: Path) -> None:
    from decimal import Decimal

    from importers.command import check_args
    from importers.mapping import load_mapping
    from ledger.vocabulary import parse_scale

    with pytest.raises(LedgerError, match="expected a positive number such as 1000"):
        parse_scale(value, "--scale")
    mapping = tmp_path / "m.toml"
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    mapping.write_text(f"scale = {shown}\n")
    with pytest.raises(LedgerError, match="expected a positive number such as 1000"):
        load_mapping(mapping)
    if not isinstance(value, str):
        with pytest.raises(LedgerError, match="expected a positive number such as 1000"):
            check_args("update", Decimal(value))
    assert parse_scale("1,000") == Decimal(1000)
    assert parse_scale(0.001) == Decimal("0.001")

"""Exact amounts and month arithmetic: pure functions, no database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.money import AmountError, from_minor, parse_amount, split_exact, to_minor
from ledger.months import (
    MonthError,
    add_months,
    fiscal_month_number,
    fiscal_year,
    fiscal_year_label,
    fiscal_year_months,
    month_range,
    parse_fiscal_year,
    parse_month,
)


@pytest.mark.parametrize(
    ("value", "decimals", "minor"),
    [
        (Decimal("2.345"), 2, 235),
        (Decimal("-2.345"), 2, -235),
        (Decimal("2.344"), 2, 234),
        (Decimal("0.5"), 0, 1),
        (Decimal("-0.5"), 0, -1),
        (Decimal("1.0005"), 3, 1001),
        ("120000000", 2, 12_000_000_000),
    ],
)
def test_rounding_is_half_away_from_zero_like_excel_round(value, decimals, minor):
    assert to_minor(value, decimals) == minor


def test_from_minor_gives_exact_decimal_places():
    assert from_minor(12345, 2) == Decimal("123.45")
    assert str(from_minor(-5, 3)) == "-0.005"
    assert str(from_minor(0, 2)) == "0.00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,200", Decimal("1200")),
        ("(350)", Decimal("-350")),
        ("-", None),
        ("", None),
        ("  ", None),
        (None, None),
        ("$1,234.50", Decimal("1234.50")),
        ("-1.5", Decimal("-1.5")),
        (0.1, Decimal("0.1")),
        (1200, Decimal("1200")),
        ("1e3", Decimal("1000")),
    ],
)
def test_parse_amount_reads_numbers_as_finance_writes_them(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "12%", "1.2.3", True, float("nan"), float("inf"),
                                 "#REF!", "=A1"])
def test_parse_amount_refuses_non_numbers_with_what_was_found(raw):
    with pytest.raises(AmountError, match="found"):
        parse_amount(raw)


@given(st.integers(min_value=-10**12, max_value=10**12),
       st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=60)
       .filter(lambda ws: sum(ws) > 0))
def test_split_exact_parts_sum_to_the_total(total, weights):
    parts = split_exact(total, weights)
    assert sum(parts) == total
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)


def test_split_exact_puts_the_remainder_on_the_last_months():
    assert split_exact(100, [1, 1, 1]) == [33, 33, 34]
    assert split_exact(-100, [1, 1, 1]) == [-33, -33, -34]
    assert split_exact(200, [1, 1, 1]) == [66, 67, 67]


def test_fiscal_years_are_named_by_the_year_they_end_in():
    assert fiscal_year(date(2026, 7, 1), 7) == 2027
    assert fiscal_year(date(2027, 6, 1), 7) == 2027
    assert fiscal_year(date(2027, 7, 1), 7) == 2028
    assert fiscal_year(date(2027, 3, 1), 1) == 2027
    assert fiscal_year_label(2027) == "FY27"
    assert fiscal_year_months(2027, 7)[0] == date(2026, 7, 1)
    assert fiscal_year_months(2027, 7)[-1] == date(2027, 6, 1)
    assert fiscal_month_number(date(2026, 9, 1), 7) == 3
    assert parse_fiscal_year("FY27") == 2027
    assert parse_fiscal_year("fy2028") == 2028


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (datetime(2026, 7, 15), date(2026, 7, 1)),
        (date(2026, 7, 1), date(2026, 7, 1)),
        ("Jul-26", date(2026, 7, 1)),
        ("Jul 2026", date(2026, 7, 1)),
        ("July 2026", date(2026, 7, 1)),
        ("2026-07", date(2026, 7, 1)),
        ("07/2026", date(2026, 7, 1)),
        ("2026-07-01", date(2026, 7, 1)),
        ("FY27 M01", date(2026, 7, 1)),
        ("FY27 M12", date(2027, 6, 1)),
        ("FY2028-M03", date(2027, 9, 1)),
    ],
)
def test_parse_month_reads_real_world_headers(raw, expected):
    assert parse_month(raw, fy_start_month=7) == expected


@pytest.mark.parametrize("raw", ["Total", "FY27", "13/2026", "Jux-26", 42, "FY27 M13"])
def test_parse_month_refuses_non_months(raw):
    with pytest.raises(MonthError, match="expected a month"):
        parse_month(raw, 7)


def test_month_range_and_add_months():
    months = month_range(date(2026, 11, 1), date(2027, 2, 1))
    assert months == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    assert add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)


def test_month_number_and_back() -> None:
    from ledger.months import month_iso, month_number

    assert month_number("2026-07-01") == 2026 * 12 + 6
    assert month_number("2026-12") == month_number("2027-01-01") - 1
    for iso in ("0001-01-01", "2026-07-01", "2031-06-01", "9999-12-01"):
        assert month_iso(month_number(iso)) == iso

"""Reading codes and cells out of a sheet's columns: shared by the initiative and the target
checks."""

from __future__ import annotations

from typing import Any

import pandas as pd


def value_at(series: pd.Series, pos: int) -> Any:
    """One value of ``series`` by position."""
    return series.iat[pos]


def ids_for_codes(values: pd.Series, known: dict[str, int]) -> tuple[pd.Series, pd.Series]:
    """Codes to ids: exact, else case-insensitive. Returns (ids as Int64, unknown mask)."""
    folded: dict[str, int | None] = {}
    for code, ident in known.items():
        key = code.casefold()
        folded[key] = None if key in folded and folded[key] != ident else ident
    lookup: dict[object, int | None] = {}
    for unique in values.dropna().unique():
        lookup[unique] = known.get(unique, folded.get(str(unique).casefold()))
    ids = values.map(lookup).astype("Int64")
    unknown = values.notna() & ids.isna()
    return ids, unknown

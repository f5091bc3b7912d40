"""Rows of workbook cells for the import tests."""

from __future__ import annotations

from typing import Any


def months(n: int, values: dict[int, Any]) -> list[Any]:
    """n month cells, blank except ``values`` (index -> cell)."""
    return [values.get(i) for i in range(n)]

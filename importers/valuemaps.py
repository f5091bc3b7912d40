"""Values, not only columns: a workbook's labels translated to the ledger's codes.

An office's tracker says "Net benefit" where the ledger's metric code is ``benefit``,
"Gate 3 - Approved" for ``L3`` and "A. Ng" for the owner "Anna Ng". A label is resolved,
before any code is checked, by (first that applies):

1. the mapping's ``[values.ROLE]`` table (label compared without case and extra spaces);
2. the code itself (exactly, or without case): left as it is;
3. the *name* of exactly one known metric, business unit, lever, stage gate (``Net
   benefit`` is nobody's name, ``Recurring net benefit`` is ``benefit``'s). Two codes with
   that name is an error naming both;
4. otherwise the label is left, and the code check reports it with the closest code.

A ``[values.ROLE]`` entry whose value is not a known code is an error naming the mapping
file's line and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from importers.codes import value_at
from importers.layout import SheetTable, cell_ref
from importers.mapping import Mapping
from importers.problems import ProblemLog
from ledger.models import SCENARIOS
from ledger.vocabulary import did_you_mean

#: What each role's cells are called in a message.
ROLE_WORDS = {"metric": "metric", "stage": "stage gate", "business_unit": "business unit",
              "lever": "lever", "scenario": "scenario", "owner": "owner"}


def fold(label: str) -> str:
    """A label as compared: trimmed, single spaces, no case."""
    return re.sub(r"\s+", " ", label).strip().casefold()


@dataclass
class Resolver:
    """The known codes (with their names) of each role, and the mapping's value maps."""

    names: dict[str, dict[str, str]]
    """role -> {code: name}; ``owner`` has none (any text is an owner)."""
    maps: dict[str, dict[str, str]] = field(default_factory=dict)
    """role -> {folded label: code}: the mapping's entries whose value is a known code."""

    @classmethod
    def build(cls, names: dict[str, dict[str, str]], mapping: Mapping,
              log: ProblemLog | None = None) -> Resolver:
        """The resolver for ``mapping``; each map entry whose value is not a known code is
        an error in ``log`` (naming the mapping file's line and key)."""
        names = {**names, "scenario": {s: s for s in SCENARIOS}}
        out = cls(names=names)
        for role, entries in mapping.values.items():
            known = names.get(role)
            good: dict[str, str] = {}
            for label, target in entries.items():
                if known is None:  # an owner: any name
                    good[fold(label)] = target.strip()
                    continue
                code = _code_of(target, known)
                if code is None:
                    if log is not None:
                        log.error("", "", f"{mapping.where('values.' + role, label)} = "
                                  f"{target!r}",
                                  f"a {ROLE_WORDS[role]} code the ledger knows: "
                                  f"{_listing(known)}" + did_you_mean(target, list(known)))
                    continue
                good[fold(label)] = code
            out.maps[role] = good
        return out

    def resolve(self, role: str, value: str) -> tuple[str | None, list[str]]:
        """(code, []) when ``value`` resolves; (None, [codes]) when two or more codes have
        it as their name; (None, []) when nothing matches (or the role has no codes)."""
        hit = self.maps.get(role, {}).get(fold(value))
        if hit is not None:
            return hit, []
        known = self.names.get(role)
        if known is None:
            return None, []
        code = _code_of(value, known)
        if code is not None:
            return code, []
        by_name = [c for c, n in known.items() if n and fold(n) == fold(value)]
        if len(by_name) == 1:
            return by_name[0], []
        return None, sorted(by_name)


def _code_of(value: str, known: dict[str, str]) -> str | None:
    """The known code ``value`` is, exactly or without case (None if none, or ambiguous)."""
    value = value.strip()
    if value in known:
        return value
    folded = [c for c in known if c.casefold() == value.casefold()]
    return folded[0] if len(folded) == 1 else None


def _listing(known: dict[str, str]) -> str:
    codes = sorted(known)
    return ", ".join(codes[:12]) + (", ..." if len(codes) > 12 else "")


def apply_value_maps(rows: pd.DataFrame, table: SheetTable, resolver: Resolver,
                     log: ProblemLog) -> None:
    """Translate the labels of ``rows`` (a copy of ``table.rows``) to codes, in place.

    A label that two codes have as their name is an error naming both (once); one that nothing
    resolves is left for the code check (which names the closest code).
    """
    for role in ROLE_WORDS:
        if role not in rows:
            continue
        if role == "owner" and not resolver.maps.get("owner"):
            continue
        series = rows[role]
        translate: dict[str, str] = {}
        ambiguous: dict[str, list[str]] = {}
        for value in series.dropna().unique().tolist():
            code, candidates = resolver.resolve(role, str(value))
            if code is not None and code != value:
                translate[value] = code
            elif candidates:
                ambiguous[value] = candidates
                # Reported below; read as the first so the code check does not repeat it
                # (the error stops the import anyway).
                translate[value] = candidates[0]
        if translate:
            mapped = series.map(translate)
            rows[role] = mapped.where(mapped.notna(), series).astype(object)
        if ambiguous:
            col = table.columns[role]
            names = resolver.names[role]
            for pos in np.flatnonzero(series.isin(list(ambiguous)).to_numpy()).tolist():
                value = value_at(series, pos)
                if value in ambiguous:
                    both = " and ".join(f"{c!r} ({names[c]})" for c in ambiguous[value])
                    cell = cell_ref(int(value_at(rows["row"], pos)), col)
                    log.bad_value(table.sheet, cell, value,
                                  f"one {ROLE_WORDS[role]}: {both} are both named so; say "
                                  f"which in the mapping: [values.{role}] "
                                  f"\"{value}\" = \"{ambiguous[value][0]}\"")

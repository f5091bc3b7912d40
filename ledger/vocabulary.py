"""How users write the ledger's words, read in one place.

Every face and importer reads scopes, scenarios, codes and stored timestamps through these
functions, so ``tledger target set --scope unit:PRO``, a targets workbook's Scope column
and the report's labels agree, and a typo gets the same "did you mean" everywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.errors import LedgerError
from ledger.models import SCENARIOS

#: Scope kinds as users write them (case-insensitive) -> the stored ``scope_kind``.
SCOPE_KIND_ALIASES = {
    "programme": "programme",
    "program": "programme",
    "total": "programme",
    "unit": "business_unit",
    "bu": "business_unit",
    "business_unit": "business_unit",
    "business-unit": "business_unit",
    "business unit": "business_unit",
    "lever": "lever",
}
#: The stored ``scope_kind`` -> the prefix of its label (``unit:PRO``).
SCOPE_LABEL_PREFIX = {"programme": "", "business_unit": "unit", "lever": "lever"}
SCOPE_FORMS = "programme, unit:CODE (e.g. unit:PRO) or lever:CODE (e.g. lever:PROC)"


@dataclass(frozen=True, order=True)
class TargetScope:
    """What a target covers: the whole programme, one business unit or one lever."""

    kind: str = "programme"
    """``programme``, ``business_unit`` or ``lever`` (the stored ``scope_kind``)."""
    code: str = ""
    """The unit's or lever's code; empty for the programme."""

    @property
    def label(self) -> str:
        """``programme``, ``unit:PRO`` or ``lever:PROC``: how users write the scope."""
        if self.kind == "programme":
            return "programme"
        return f"{SCOPE_LABEL_PREFIX[self.kind]}:{self.code}"


PROGRAMME = TargetScope()


def parse_scope(text: str | None) -> TargetScope:
    """Read a scope as users write it: ``programme`` (or nothing), ``unit:PRO``, ``lever:PROC``.

    Only the syntax is checked here; the code is checked against a ledger by the caller.

    Raises:
        LedgerError: the text is not a scope (the message shows the accepted forms).
    """
    if text is None or not text.strip():
        return PROGRAMME
    raw = text.strip()
    kind_text, sep, code = raw.partition(":")
    kind = SCOPE_KIND_ALIASES.get(kind_text.strip().casefold())
    if kind == "programme" and not code.strip():
        return PROGRAMME
    if kind is None or kind == "programme" or not sep or not code.strip():
        raise LedgerError(f"scope {raw[:60]!r}: expected {SCOPE_FORMS}")
    return TargetScope(kind, code.strip())


def closest(code: str, known: Sequence[str]) -> str | None:
    """The known code closest to ``code`` (case-insensitive), or None if none is close."""
    if not known:
        return None
    by_upper = {k.upper(): k for k in known}
    if code.upper() in by_upper:
        return by_upper[code.upper()]
    hits = difflib.get_close_matches(code.upper(), list(by_upper), n=1, cutoff=0.5)
    return by_upper[hits[0]] if hits else None


def did_you_mean(code: str, known: Sequence[str]) -> str:
    """`` (did you mean 'PRO'?)`` when a known code is close to ``code``, else ``""``."""
    guess = closest(code, known)
    return f" (did you mean {guess!r}?)" if guess is not None else ""


def check_scenario(scenario: str, what: str = "scenario") -> str:
    """``scenario`` when it is one of plan, forecast, actual.

    Raises:
        LedgerError: any other text, naming the accepted ones.
    """
    if scenario not in SCENARIOS:
        raise LedgerError(f"{what} {str(scenario)[:40]!r}: expected one of "
                          f"{', '.join(SCENARIOS)}")
    return scenario


def stored_utc(value: Any) -> datetime:
    """A timestamp read back from either backend (a naive UTC datetime, or ISO text on
    SQLite), as an aware UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_scale(value: object, what: str = "scale") -> Decimal:
    """A workbook's unit scale (``1000`` for "AUD 000"): a positive, finite number, from
    ``--scale``, a mapping file or the API. Thousands separators and ``_`` are allowed in
    text; a float is read by its shortest text (``0.001`` stays 0.001).

    Raises:
        LedgerError: anything else, naming ``what`` and the value (one line).
    """
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        scale = Decimal(text.strip().replace(",", "").replace("_", ""))
    except InvalidOperation:
        scale = Decimal("NaN")
    if not scale.is_finite() or scale <= 0:
        raise LedgerError(f"{what} {text[:40]!r}: expected a positive number such as 1000")
    return scale

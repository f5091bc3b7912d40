"""The owner workbook's file format, shared by its writer and its reader.

The writer (:mod:`reports.owner_workbook`) and the reader (:mod:`importers.owner`) must
agree on sheet names, header positions, column order and the stamp; they both take them
from here, so neither imports the other.

The stamp is signed: an HMAC-SHA256, keyed with the ledger's stamp key
(:meth:`ledger.api.Ledger.identity`), over a canonical serialisation of the stamp's
metadata, its per-initiative table and the values the export wrote into the data sheet
(each initiative's locked cells and month amounts). Only the ledger that exported a
workbook can produce or check its signature, so an edited stamp (another initiative, a
later ``as_of``, a raised phasing version) or a stamp from another ledger is detected
rather than trusted. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STAMP_SHEET = "_tledger"
#: Version 2 carries the ledger id and a signature and no internal initiative ids; a
#: version 1 workbook is refused (its stamp could be edited undetected).
STAMP_FORMAT = "tledger-owner-workbook/2"
DATA_SHEET = "Initiatives"
HEADER_ROW = 4  # 1-based, as in docs/workbook-format.md
FIRST_DATA_ROW = 5
FIXED_HEADERS = ["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Description",
                 "Metric", "Scenario"]
#: Metadata rows of the stamp sheet, in order; every one is signed.
META_KEYS = ["format", "ledger_id", "programme", "owner", "metric", "scenario", "decimals",
             "first_month", "last_month", "as_of", "exported_at", "exported_by"]
#: The stamp row holding the signature (after the signed metadata).
SIGNATURE_KEY = "signature"
#: Columns of the per-initiative table in the stamp sheet. No internal initiative id: the
#: import resolves each row by its external id in the importing ledger.
STAMP_COLUMNS = ["external_id", "phasing_version", "attributes_version", "row"]
#: The initiative attributes shown in the locked columns after the id, in sheet order.
ATTRIBUTE_KEYS = ["name", "owner", "business_unit", "lever", "stage", "description"]
#: Largest magnitude a month cell's validation accepts (beyond any real amount, within the
#: 15 significant digits a spreadsheet keeps exactly).
MAX_CELL = 10**12


@dataclass(frozen=True)
class ExportedRow:
    """What the export wrote for one initiative: its locked cells and month amounts."""

    external_id: str
    attributes: tuple[str, ...]
    """In :data:`ATTRIBUTE_KEYS` order, as text ("" for none)."""
    amounts: tuple[tuple[str, int], ...]
    """``(YYYY-MM-01, amount in minor units)``, months in order, non-empty months only."""


def attribute_text(value: object) -> str:
    """An attribute as the export writes it: None and NaN (a missing value) are ""."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    return "" if text in ("<NA>", "nan") and not isinstance(value, str) else text


def exported_rows(
    initiatives: Iterable[Mapping[Any, Any]],
    amounts: Iterable[tuple[str, str, int]],
    months: Iterable[str],
) -> list[ExportedRow]:
    """The signed content of the data sheet.

    ``initiatives``: records with ``external_id`` and the :data:`ATTRIBUTE_KEYS`;
    ``amounts``: ``(external_id, YYYY-MM-01, minor units)``; only ``months`` (the
    workbook's) count, as only they are written.
    """
    wanted = set(months)
    by_ext: dict[str, list[tuple[str, int]]] = {}
    for ext, month, minor in amounts:
        if month in wanted:
            by_ext.setdefault(str(ext), []).append((str(month), int(minor)))
    out = []
    for rec in initiatives:
        ext = str(rec["external_id"])
        out.append(ExportedRow(ext, tuple(attribute_text(rec.get(k)) for k in ATTRIBUTE_KEYS),
                               tuple(sorted(by_ext.get(ext, [])))))
    return out


def stamp_payload(meta: Mapping[str, str], table: Sequence[Sequence[str]],
                  rows: Iterable[ExportedRow]) -> bytes:
    """The canonical bytes the signature covers.

    ``meta`` must hold every :data:`META_KEYS` entry (others are ignored); ``table`` is the
    stamp's per-initiative table as text, in sheet order; ``rows`` in any order.
    """
    doc = {
        "meta": [[key, str(meta.get(key, ""))] for key in META_KEYS],
        "table": [[str(v) for v in row] for row in table],
        "cells": sorted([r.external_id, list(r.attributes), [list(a) for a in r.amounts]]
                        for r in rows),
    }
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def sign(key: bytes, payload: bytes) -> str:
    """The stamp's signature: HMAC-SHA256 of ``payload`` with the ledger's stamp key, hex."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def signature_matches(key: bytes, payload: bytes, signature: str) -> bool:
    """True when ``signature`` is this ledger's signature of ``payload`` (constant time)."""
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(sign(key, payload).encode("ascii"), given)

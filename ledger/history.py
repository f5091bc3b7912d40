"""The history of one initiative: every change, newest first, read from its versions.

History is append-only, so every change is visible as versions: a submission ``S`` changed
a phasing month when a version ends at ``S`` (old value) and/or one starts at ``S`` (new
value); likewise for the initiative's attributes. Nothing else needs to be recorded.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from ledger.api import Ledger
from ledger.initiatives import ATTRIBUTES
from ledger.models import OPEN
from ledger.money import from_minor
from ledger.phasing import find_initiative
from ledger.store import read_frame, read_frame_in
from ledger.vocabulary import stored_utc

HISTORY_COLUMNS = ["submission", "when", "who", "kind", "source", "note", "what", "old", "new",
                   "forced"]
#: Attribute names as people say them, in the order changes are listed.
_ATTRIBUTE_LABEL = {
    "stage_gate_id": "stage", "owner": "owner", "name": "name",
    "business_unit_id": "business unit", "lever_id": "lever", "description": "description",
    "status": "status",
}


def _value(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _row_notes(subs: pd.DataFrame, external_id: str) -> pd.DataFrame:
    """``row note`` items: the text of a workbook's comments (note) column on this
    initiative's rows, kept in the details of the import that changed it."""
    rows: list[tuple[int, str, str | None, str | None, int]] = []
    for sub_id, details in zip(subs["id"], subs["details"], strict=True):
        if not isinstance(details, str) or "row_notes" not in details:
            continue
        try:
            note = json.loads(details).get("row_notes", {}).get(external_id)
        except (ValueError, AttributeError):
            continue
        if isinstance(note, str) and note:
            rows.append((int(sub_id), "row note", None, note, 99))
    return pd.DataFrame(rows, columns=["submission", "what", "old", "new", "order"])


def history(ledger: Ledger, external_id: str) -> pd.DataFrame:
    """Every change to initiative ``external_id``, newest first.

    One row per changed item (a phasing month, an attribute), with the submission's when,
    who, kind, source (``manual``, or the file name and its SHA-256), note and whether it
    was forced over a conflict. ``what`` names the item: ``benefit plan 2027-03``,
    ``stage``, ``owner``, ``created``, ``row note`` (the comments cell of the imported
    workbook's rows, as ``new``)...; ``old`` and ``new`` are text (amounts in the
    metric's unit, codes for stage gates, units and levers), None where empty.

    Raises:
        NotFound: no such initiative.
    """
    with ledger.reading() as conn:
        ini = find_initiative(conn, external_id)
        metrics = {m.id: m for m in ledger.metrics(conn)}
        phasing = read_frame(
            conn,
            "SELECT metric_id, scenario, CAST(month AS VARCHAR(10)) AS month, amount_minor, "
            "valid_from, valid_to FROM phasing WHERE initiative_id = :i",
            {"i": ini.id},
        )
        versions = read_frame(
            conn,
            "SELECT v.name, v.owner, bu.code AS business_unit_id, lv.code AS lever_id, "
            "sg.code AS stage_gate_id, v.description, v.status, v.valid_from, v.valid_to "
            "FROM initiative_version v JOIN stage_gate sg ON sg.id = v.stage_gate_id "
            "LEFT JOIN business_unit bu ON bu.id = v.business_unit_id "
            "LEFT JOIN lever lv ON lv.id = v.lever_id WHERE v.initiative_id = :i",
            {"i": ini.id},
        )
        subs_needed = set(phasing["valid_from"].astype(int)) | set(
            int(v) for v in phasing["valid_to"] if int(v) != OPEN) | set(
            versions["valid_from"].astype(int)) | set(
            int(v) for v in versions["valid_to"] if int(v) != OPEN)
        subs = read_frame_in(
            conn,
            'SELECT id, created_at, "user", kind, source_name, source_sha256, note, details '
            "FROM submission WHERE id IN :ids", {}, "ids", subs_needed,
        )
    items: list[pd.DataFrame] = []
    if len(phasing):
        phasing = phasing.astype({"metric_id": "int64", "amount_minor": "int64",
                                  "valid_from": "int64", "valid_to": "int64"})
        key = ["metric_id", "scenario", "month"]
        new = phasing.rename(columns={"valid_from": "submission", "amount_minor": "new_minor"})
        old = phasing[phasing["valid_to"] != OPEN].rename(
            columns={"valid_to": "submission", "amount_minor": "old_minor"})
        both = new[[*key, "submission", "new_minor"]].merge(
            old[[*key, "submission", "old_minor"]], on=[*key, "submission"], how="outer")
        decimals = both["metric_id"].map(lambda m: metrics[int(m)].decimals)
        both["what"] = [f"{metrics[int(m)].code} {s} {str(mo)[:7]}"
                        for m, s, mo in zip(both["metric_id"], both["scenario"], both["month"],
                                            strict=True)]
        both["old"] = [None if pd.isna(v) else str(from_minor(int(v), int(d)))
                       for v, d in zip(both["old_minor"], decimals, strict=True)]
        both["new"] = [None if pd.isna(v) else str(from_minor(int(v), int(d)))
                       for v, d in zip(both["new_minor"], decimals, strict=True)]
        both["order"] = 100
        both = both.sort_values(["submission", "metric_id", "scenario", "month"])
        items.append(both[["submission", "what", "old", "new", "order"]])
    if len(versions):
        versions = versions.astype({"valid_from": "int64", "valid_to": "int64"})
        rows: list[tuple[int, str, str | None, str | None, int]] = []
        for ver in versions.sort_values("valid_from").to_dict("records"):
            start = int(ver["valid_from"])
            prev = versions[versions["valid_to"] == start]
            if prev.empty:
                rows.append((int(start), "created", None,
                             f"{ver['name']} ({ver['owner']}, {ver['stage_gate_id']})", 0))
                continue
            before = prev.iloc[0]
            for order, col in enumerate(_ATTRIBUTE_LABEL, start=1):
                if col not in ATTRIBUTES and col != "stage_gate_id":  # pragma: no cover
                    continue
                a, b = _value(before[col]), _value(ver[col])
                if (a or "") != (b or ""):
                    rows.append((int(start), _ATTRIBUTE_LABEL[col], a, b, order))
        # A version ended with no successor (not done by tledger today) still shows.
        ended = versions[(versions["valid_to"] != OPEN)
                         & ~versions["valid_to"].isin(versions["valid_from"])]
        for ver in ended.to_dict("records"):
            rows.append((int(ver["valid_to"]), "removed", _value(ver["name"]), None, 0))
        items.append(pd.DataFrame(rows, columns=["submission", "what", "old", "new", "order"]))
    notes = _row_notes(subs, ini.external_id)
    if len(notes):
        items.append(notes)
    if not items:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    changes = pd.concat(items, ignore_index=True)
    changes["submission"] = changes["submission"].astype("int64")
    subs = subs.astype({"id": "int64"}).set_index("id")
    changes = changes.sort_values(["submission", "order", "what"], ascending=[False, True, True],
                                  kind="stable").reset_index(drop=True)
    info = subs.loc[changes["submission"]]
    out = pd.DataFrame({
        "submission": changes["submission"].to_numpy(),
        "when": [stored_utc(v) for v in info["created_at"]],
        "who": info["user"].to_numpy(),
        "kind": info["kind"].to_numpy(),
        "source": [
            "manual" if not isinstance(name, str) or not name
            else f"{name} sha256:{sha}" if isinstance(sha, str) and sha else name
            for name, sha in zip(info["source_name"], info["source_sha256"], strict=True)
        ],
        "note": [v if isinstance(v, str) else "" for v in info["note"]],
        "what": changes["what"].to_numpy(),
        # object dtype: pandas' string dtype would turn None ("empty") into NaN.
        "old": pd.Series([v if isinstance(v, str) else None for v in changes["old"]],
                         dtype=object),
        "new": pd.Series([v if isinstance(v, str) else None for v in changes["new"]],
                         dtype=object),
        "forced": [bool(json.loads(d).get("forced")) if isinstance(d, str) and d else False
                   for d in info["details"]],
    })
    return out

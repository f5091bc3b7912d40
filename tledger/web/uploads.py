"""Uploads kept between an import's dry run and its confirmation: one temporary directory
per upload, named by a random token, removed on confirm, on cancel, after
:data:`KEEP_MINUTES` and when the app starts.

The workbook is never kept anywhere else: the ledger's submission records its name and
SHA-256 when the import is confirmed, as for ``tledger import``. Each directory holds the
workbook under the name it was uploaded with (the name the submission and the problem
report show), the mapping file if one was given, and ``upload.json``: who uploaded it, the
import's options and what its dry run found.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ledger.errors import LedgerError, NotFound

#: How long an upload waits for its confirmation.
KEEP_MINUTES = 30
#: A token as :func:`secrets.token_urlsafe` makes it; anything else is not looked up.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
META = "upload.json"
CHUNK = 1 << 20


class TooLarge(Exception):
    """An upload past the import's size limit (its rest is not read)."""


def safe_name(name: str | None, default: str) -> str:
    """The base name of an uploaded file, without directories or control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")[:120]
    return base or default


@dataclass(frozen=True)
class Upload:
    """One kept upload: its directory and what ``upload.json`` says."""

    token: str
    path: Path
    meta: dict[str, Any]

    @property
    def workbook(self) -> Path:
        return self.path / "in" / str(self.meta["file"])

    @property
    def mapping(self) -> Path | None:
        name = self.meta.get("mapping")
        return None if not name else self.path / "mapping" / str(name)

    def save(self) -> None:
        (self.path / META).write_text(json.dumps(self.meta), encoding="utf-8")

    def drop_workbook(self) -> None:
        """Remove the files, keeping what the dry run found (its problems)."""
        shutil.rmtree(self.path / "in", ignore_errors=True)
        shutil.rmtree(self.path / "mapping", ignore_errors=True)


class UploadStore:
    """The directories of the uploads a ledger's web app keeps (one root per ledger)."""

    def __init__(self, database_url: str, *, root: Path | None = None) -> None:
        digest = hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]
        self.root = root or Path(tempfile.gettempdir()) / f"tledger-uploads-{digest}"

    def clear(self) -> None:
        """Remove every kept upload (at app start: nothing waits across a restart)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def sweep(self, now: datetime) -> None:
        """Remove the uploads older than :data:`KEEP_MINUTES`."""
        if not self.root.is_dir():
            return
        oldest = (now - timedelta(minutes=KEEP_MINUTES)).timestamp()
        for entry in self.root.iterdir():
            try:
                created = float(json.loads((entry / META).read_text("utf-8"))["created"])
            except (OSError, ValueError, KeyError, TypeError):
                created = entry.stat().st_mtime if entry.exists() else 0.0
            if created < oldest:
                shutil.rmtree(entry, ignore_errors=True)

    def create(self, meta: dict[str, Any], now: datetime) -> Upload:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        path = self.root / token
        path.mkdir(mode=0o700)
        (path / "in").mkdir()
        return Upload(token, path, {**meta, "created": now.timestamp()})

    def get(self, token: str, email: str) -> Upload:
        """The upload ``token`` of account ``email``.

        Raises:
            NotFound: no such upload kept (confirmed, cancelled, expired or another
                account's).
        """
        gone = NotFound("this upload is no longer kept (confirmed, cancelled or older than "
                        f"{KEEP_MINUTES} minutes): upload the workbook again")
        if not TOKEN.match(token):
            raise gone
        path = self.root / token
        try:
            meta = json.loads((path / META).read_text("utf-8"))
        except (OSError, ValueError):
            raise gone from None
        if meta.get("account") != email:
            raise gone
        return Upload(token, path, meta)

    def remove(self, upload: Upload) -> None:
        shutil.rmtree(upload.path, ignore_errors=True)


def copy_limited(source: BinaryIO, target: Path, limit: int) -> int:
    """Copy ``source`` to ``target`` in chunks; refuse past ``limit`` bytes.

    Raises:
        LedgerError: larger than ``limit`` (``target`` removed).
    """
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        target.unlink(missing_ok=True)
        raise LedgerError(f"{target.name}: larger than {limit:,} bytes, the import's limit "
                          "(TLEDGER_IMPORT_MAX_BYTES)")
    return size

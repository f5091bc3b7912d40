"""The gap report as finance attaches it: the workbook printed to PDF by LibreOffice.

The workbook is written as usual (self-audit included) into a private temporary
directory, LibreOffice converts it headless with a private profile (so it never touches,
or waits for, a LibreOffice the user has open), and the PDF is renamed into place whole.
The pages are the workbook's print set-up: one paper size, a fiscal year a page, the
audit rows and helper columns outside the print areas.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ledger.errors import LedgerError
from reports.excel import ReportInput, write_gap_report

__all__ = ["NO_LIBREOFFICE", "soffice", "write_gap_pdf"]

NO_LIBREOFFICE = ("--format pdf needs LibreOffice (the soffice command) on the PATH; "
                  "install libreoffice-calc, or write --format xlsx and print it")
#: Seconds LibreOffice gets to print the pack.
TIMEOUT_S = 600


def soffice() -> str | None:
    """The LibreOffice executable, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def write_gap_pdf(data: ReportInput, path: str | os.PathLike[str]) -> Path:
    """Write the gap report to ``path`` as a PDF and return it.

    Raises:
        LedgerError: LibreOffice is not installed, or it failed to print.
        ReportMismatch: the workbook's formulas would not tie (nothing written).
    """
    exe = soffice()
    if exe is None:
        raise LedgerError(NO_LIBREOFFICE)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tledger-pdf-") as work:
        workdir = Path(work)
        book = write_gap_report(data, workdir / "gap-report.xlsx")
        profile = (workdir / "profile").resolve().as_uri()
        try:
            done = subprocess.run(  # noqa: S603  (a fixed argument list, no shell)
                [exe, "--headless", "--norestore", f"-env:UserInstallation={profile}",
                 "--convert-to", "pdf", "--outdir", str(workdir), str(book)],
                capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise LedgerError(f"LibreOffice did not print the report within {TIMEOUT_S} s"
                              ) from exc
        printed = workdir / "gap-report.pdf"
        if done.returncode != 0 or not printed.exists():
            why = (done.stderr or done.stdout).strip().splitlines()
            raise LedgerError("LibreOffice could not print the report"
                              + (f": {why[-1]}" if why else ""))
        staged = target.with_name(f".{target.name}.tledger-tmp")
        shutil.copyfile(printed, staged)
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(staged, 0o666 & ~mask)
    os.replace(staged, target)
    return target

"""Real LibreOffice for the report tests: recalculate a workbook from scratch (every cached
result stripped first) and read figures back to the cent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest


def soffice() -> str:
    exe = shutil.which("soffice")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("soffice (libreoffice-calc) is required in CI for the recalculation test")
        pytest.skip("soffice not installed (install libreoffice-calc)")
    return exe


_RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode"
 oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def strip_cached_results(src: Path, dst: Path) -> int:
    """Copy ``src`` dropping every formula's cached value, so only a real recalculation
    can produce the figures the test reads. Returns the number of formulas stripped."""
    count = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text, n = re.subn(r"(<f>[^<]*</f>)<v>[^<]*</v>", r"\1", data.decode("utf-8"))
                count += n
                data = text.encode("utf-8")
            zout.writestr(item, data)
    return count


def recalculate(paths: list[Path], workdir: Path) -> list[Path]:
    """Recalculate workbooks in headless LibreOffice (private profile, recalc always) and
    return the recalculated copies."""
    exe = soffice()
    profile = workdir / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_RECALC_ALWAYS)
    stripped = []
    for i, p in enumerate(paths):
        dst = workdir / f"in{i}.xlsx"
        assert strip_cached_results(p, dst) > 0
        stripped.append(dst)
    out = workdir / "out"
    subprocess.run([exe, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                    "--convert-to", "xlsx", "--outdir", str(out), *map(str, stripped)],
                   check=True, capture_output=True, timeout=300)
    results = [out / p.name for p in stripped]
    for r in results:
        assert r.exists(), f"LibreOffice did not write {r}"
    return results


def cents(value: Any, decimals: int) -> Decimal:
    assert isinstance(value, (int, float)), f"expected a number, found {value!r}"
    return Decimal(str(round(value, decimals))).quantize(Decimal(1).scaleb(-decimals))


def print_pdf(path: Path, workdir: Path) -> Path:
    """``path`` printed to PDF by headless LibreOffice (a private profile); the PDF."""
    exe = soffice()
    out = workdir / "pdf"
    profile = workdir / "lo-pdf-profile"
    subprocess.run([exe, "--headless", "--norestore",
                    f"-env:UserInstallation={profile.as_uri()}", "--convert-to", "pdf",
                    "--outdir", str(out), str(path)], check=True, capture_output=True,
                   timeout=300)
    return out / (path.stem + ".pdf")


def pdf_pages(pdf: Path, *, layout: bool = False) -> list[str]:
    """The text of each non-blank page of ``pdf`` (pdftotext; ``layout`` keeps columns)."""
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run([exe, *(["-layout"] if layout else []), str(pdf), "-"],
                          capture_output=True, text=True, check=True, timeout=120).stdout
    return [page for page in text.split("\f") if page.strip()]

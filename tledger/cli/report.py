"""Report commands: ``tledger report gap`` (the Excel gap report, or its summary as CSV)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ledger.errors import LedgerError
from ledger.wording import plural
from tledger.cli import app
from tledger.cli.common import DbOption, committed, console, err_console, open_ledger

report_app = typer.Typer(help="Reports for finance: the Excel gap report.", no_args_is_help=True)
app.add_typer(report_app, name="report")


class ReportFormat(StrEnum):
    xlsx = "xlsx"
    csv = "csv"
    pdf = "pdf"


class Paper(StrEnum):
    A4 = "A4"
    A3 = "A3"


class Scale(StrEnum):
    auto = "auto"
    units = "units"
    thousands = "thousands"
    millions = "millions"


@report_app.command("gap")
def report_gap(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="File to write (default gap-report.xlsx; for --format csv "
        "default: standard output).")] = None,
    metric: Annotated[str | None, typer.Option(
        "--metric", help="Metric code (default: the first metric, benefit).")] = None,
    scenario: Annotated[str, typer.Option(
        "--scenario", help="plan, forecast or actual: whose phasing is the bottom-up.")] = "plan",
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Report the ledger as it stood then: a date (end of that day, UTC) or "
        "an ISO datetime.")] = None,
    weighted: Annotated[bool, typer.Option(
        "--weighted", help="Risk-weight each initiative by its stage gate's weight.")] = False,
    bridge_from: Annotated[str | None, typer.Option(
        "--since", "--bridge-from", help="The movement (Bridge sheet, Dashboard) since this "
        "date (end of that day, UTC) or datetime; default: the last month-end.")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="xlsx: the workbook; pdf: the workbook printed by LibreOffice "
        "(the pack finance attaches); csv: the Summary table only.")
    ] = ReportFormat.xlsx,
    paper: Annotated[Paper, typer.Option(
        "--paper", help="Paper the pack prints on, landscape (every sheet the same).")
    ] = Paper.A4,
    scale: Annotated[Scale, typer.Option(
        "--scale", help="How money is shown on Summary and breakdown sheets (cells keep the "
        "exact amount): auto picks thousands from a million up.")] = Scale.auto,
    db: DbOption = None,
) -> None:
    """Write finance's gap report: an Excel workbook whose totals are live formulas.

    Sheets: Dashboard (one page: headline, fiscal years, charts, the month's movement),
    Summary (months, fiscal-year subtotals, horizon; bottom-up as SUMIFS over the
    Initiatives sheet), By unit, By lever (each tying to the Summary), Funnel (stage
    gates, unweighted and risk-weighted), By owner, Top initiatives, Initiatives (the
    detail), Checks, Bridge (since the last month-end, or --since), Finance (outturn,
    committed, pipeline, net value by month), Unit cost (with a ratio metric: live
    formulas, as report unit-cost) and About. The report is
    refused, with nothing written, if its formulas would not recalculate to the engine's
    figures.

    Example: tledger report gap --out gap.xlsx --metric benefit --as-of 2026-10-31
    """
    from reports.excel import write_gap_report
    from reports.gap_report import load_report
    from reports.summary_csv import write_summary_csv

    ledger = open_ledger(db)
    if fmt == ReportFormat.csv:
        from ledger.engine import gap

        report = gap(ledger, metric=metric, scenario=scenario, as_of=as_of, weighted=weighted)
        if out is None:
            write_summary_csv(report, sys.stdout)
            return
        with out.open("w", encoding="utf-8", newline="") as handle:
            rows = write_summary_csv(report, handle)
        committed(f"{out} WAS written")
        console.print(f"wrote {out}: {rows} summary lines for {report.metric.code} "
                      f"({report.scenario}), submission {report.as_of_submission}",
                      soft_wrap=True)
        return

    if fmt == ReportFormat.pdf:
        from reports.pdf import NO_LIBREOFFICE, soffice

        if soffice() is None:  # before reading the ledger: say so at once
            raise LedgerError(NO_LIBREOFFICE)
    data = load_report(ledger, metric=metric, scenario=scenario, as_of=as_of,
                       weighted=weighted, bridge_from=bridge_from, scale=scale.value,
                       paper=paper.value)
    rows = len(data.detail)
    if fmt == ReportFormat.pdf:
        from reports.pdf import write_gap_pdf

        path = out or Path("gap-report.pdf")
        write_gap_pdf(data, path)
    elif err_console.is_terminal and rows >= 2000:
        path = out or Path("gap-report.xlsx")
        from rich.progress import Progress

        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task("writing Initiatives", total=rows)
            write_gap_report(data, path, progress=lambda n: progress.update(task, completed=n))
    else:
        path = out or Path("gap-report.xlsx")
        write_gap_report(data, path)
    committed(f"{path} WAS written")
    console.print(_summary_line(data, path), highlight=False, soft_wrap=True)


def _summary_line(data: object, path: Path) -> str:
    """One line: what was written and the horizon's headline figures."""
    from reports.excel import ReportInput

    assert isinstance(data, ReportInput)  # noqa: S101  (narrows the type)
    horizon = data.summary.fiscal
    row = horizon[(horizon["part"] == horizon["part"].iloc[0]) & (horizon["period"] == "Horizon")]
    unit = data.metric.unit
    headline = ""
    if len(row):
        rec = row.iloc[0]
        cov = rec["coverage"]
        headline = (f"; horizon target {rec['target']:,} {unit}, bottom-up {rec['bottom_up']:,}, "
                    f"gap {rec['gap']:,}" + (f", coverage {cov:.1%}" if cov is not None else ""))
    weighted = ", risk-weighted" if data.weighted else ""
    return (f"wrote {path}: {data.metric.code} ({data.scenario}{weighted}) at submission "
            f"{data.as_of_submission}, {plural(len(data.detail), 'initiative row')}, "
            f"{plural(len(data.checks), 'check finding')}{headline}")


@app.command("demo")
def demo_cmd(
    directory: Annotated[Path, typer.Option(
        "--dir", help="Where to write the demo ledger, workbooks and report. A re-run "
        "recreates the demo's own files there; other files are never touched.")
    ] = Path("tledger-demo"),
) -> None:
    """Run a realistic programme end to end: ledger, targets, workbooks, import, gap, report.

    Creates a SQLite ledger in DIR with a miner's two-year programme (AUD, fiscal year
    from July): cost-out targets cascaded to two business units and four levers, a volume
    target and a unit-cost target (AUD/t); baselines per unit (ore tonnes, and a cost base
    flexed by the tonnes produced); ~200 initiatives that take cost out and a dozen that add
    tonnes, written as workbooks (the template layout, and a messy PMO layout read with a
    mapping file) and imported through the importer; July-October 2026 closed with the
    claimed savings imported, and finance's GL extract for them written. Prints the gap, the
    volume gap, the unit-cost gap per fiscal year and the checks, and writes the Excel gap
    report. Deterministic; running it again starts the demo afresh.

    Example: tledger demo --dir /tmp/tledger-demo
    """
    from tledger.demo import run_demo

    def say(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True)

    result = run_demo(directory, say=say, show=console.print)
    committed(f"the demo WAS written to {result.directory}")
    shown = directory if not directory.is_absolute() else result.directory
    db = shown / "demo.db"
    console.print("\nwrote:", highlight=False)
    for label, path in result.files.items():
        console.print(f"  {label:10} {shown / path.name}", highlight=False, soft_wrap=True)
    console.print("\nnext, try:", highlight=False)
    for cmd in (
        f"tledger gap --db {db} --by lever --fiscal-year FY28",
        f"tledger checks --db {db}",
        f"tledger report gap --db {db} --weighted --out {shown / 'gap-weighted.xlsx'}",
        f"tledger gap --db {db} --by stage --weighted",
        f"tledger phasing export --db {db} --owner \"A. Nguyen\" "
        f"--out {shown / 'a-nguyen.xlsx'}",
        f"tledger target list --db {db}",
        f"tledger gap --db {db} --metric unit_cost --by lever --fiscal-year FY28",
        f"tledger baseline show --db {db} --metric benefit --scope unit:MIN",
    ):
        console.print(f"  {cmd}", highlight=False, soft_wrap=True)
    console.print(f"\ndemo ready in {result.seconds:.1f} s: "
                  f"{plural(result.initiatives, 'initiative')} "
                  f"imported, report {shown / 'gap-report.xlsx'}", highlight=False,
                  soft_wrap=True)
    console.print(f"\nin the browser:\n  tledger serve --db {db}\n  then open "
                  "http://127.0.0.1:8000/ and log in as", highlight=False, soft_wrap=True)
    for email, role, owner, password in result.accounts:
        who = f"{role} {owner}" if owner else role
        console.print(f"    {email:24} password {password:20} ({who})", highlight=False,
                      soft_wrap=True)

"""``tledger demo``: a realistic programme, end to end, in a few seconds.

It plays the transformation office of a resources company running a two-year cost
programme (fiscal year from July, AUD): it creates a SQLite ledger, sets top-down targets
(programme, two business units, four levers), writes ~200 initiatives as the workbooks the
office actually receives (Processing's in the canonical template layout; Mining's in a
messy real-world layout: title rows, an "AUD 000" note, text month headers, numbers stored
as text, a total row) with a mapping file for the messy one, imports both through the real
importer, prints the gap and the checks and writes finance's Excel report.

Everything is generated from a fixed seed, so two runs produce the same figures. A second
run **recreates** the demo: it deletes the files an earlier demo wrote in the directory (and
only those: the directory carries a ``.tledger-demo`` marker) and starts again. A directory
that is not empty and has no marker is refused, so the demo never touches other files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import xlsxwriter

from ledger.api import Ledger
from ledger.errors import LedgerError
from ledger.months import add_months, month_range
from ledger.wording import plural
from tledger import demo_case as case

__all__ = ["DEMO_FILES", "DemoResult", "Initiative", "generate_case", "generate_initiatives",
           "run_demo"]

SEED = 2028
FIRST, LAST = date(2026, 7, 1), date(2028, 6, 1)
MARKER = ".tledger-demo"
DB_FILE = "demo.db"
CANONICAL = "initiatives-processing.xlsx"
MESSY = "mining-pipeline.xlsx"
MAPPING = "mining-pipeline.toml"
REPORT = "gap-report.xlsx"
#: Every file the demo may write (and a re-run may delete).
DEMO_FILES = [MARKER, DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal",
              CANONICAL, MESSY, MAPPING, REPORT, case.THROUGHPUT, case.CLAIMS,
              case.GL_EXTRACT, case.GL_MAPPING]

UNITS = [("PRO", "Processing"), ("MIN", "Mining")]
LEVERS = [("PROC", "Procurement"), ("LAB", "Labour"), ("MAINT", "Maintenance"),
          ("ENERGY", "Energy")]
# Targets in AUD: the parts leave 6 M of the programme target unallocated (a check says so).
PROGRAMME_TARGET = Decimal("120000000")
UNIT_TARGETS = {"PRO": Decimal("62000000"), "MIN": Decimal("52000000")}
LEVER_TARGETS = {"PROC": Decimal("38000000"), "LAB": Decimal("28000000"),
                 "MAINT": Decimal("30000000"), "ENERGY": Decimal("18000000")}
COST_BUDGET = Decimal("15000000")
# Ramp through FY27, plateau through FY28: how cost programmes are usually phased.
PROFILE = "weights:" + ",".join(str(w) for w in [*range(1, 13), *[12] * 12])

_NAMES = {
    "PROC": ["Renegotiate explosives supply", "Consolidate tyre suppliers",
             "Grinding media tender", "Camp catering re-tender", "Spare parts vendor "
             "consolidation", "Reagent pricing review", "Freight rate renegotiation",
             "Diesel supply contract reset"],
    "LAB": ["Roster optimisation", "Contractor-to-employee conversion", "Overtime reduction",
            "Shift handover standardisation", "Maintenance planner centralisation",
            "Fly-in fly-out travel redesign"],
    "MAINT": ["Haul truck component life extension", "Predictive maintenance on mills",
              "Shutdown duration reduction", "Conveyor belt wear monitoring",
              "Crusher liner redesign", "Reliability-centred maintenance rollout"],
    "ENERGY": ["Mill variable speed drives", "Solar PPA for the plant",
               "Compressed air leak programme", "Pump efficiency upgrades",
               "Waste heat recovery", "-5% diesel burn via payload management"],
}
_SITES = {"PRO": ["Mill 1", "Mill 2", "Concentrator", "Port", "Filter plant"],
          "MIN": ["Pit A", "Pit B", "North pit", "Haul fleet", "Drill & blast"]}
_OWNERS = {"PRO": ["A. Nguyen", "B. Okafor", "C. Walsh", "D. Singh", "E. Rossi", "F. Tanaka"],
           "MIN": ["G. Murphy", "H. Kowalski", "I. Haddad", "J. Fernando", "K. Brown"]}
_STAGES = ["L0", "L1", "L2", "L3", "L4", "L5"]
_STAGE_P = [0.10, 0.15, 0.25, 0.25, 0.15, 0.10]
# Earliest and latest first month of benefit (months after the horizon starts) per gate:
# realised initiatives landed early, ideas land late.
_START = {"L0": (12, 20), "L1": (9, 18), "L2": (5, 14), "L3": (2, 9), "L4": (0, 5),
          "L5": (0, 3)}


@dataclass
class Initiative:
    """One generated initiative and its in-month plan phasing (whole AUD)."""

    external_id: str
    name: str
    owner: str
    business_unit: str
    lever: str
    stage: str
    description: str
    benefit: dict[date, int] = field(default_factory=dict)
    cost: dict[date, int] = field(default_factory=dict)
    volume: dict[date, int] = field(default_factory=dict)
    """Tonnes added (``volume`` plan, whole tonnes)."""
    actual: dict[date, int] = field(default_factory=dict)
    """Claimed savings in the closed months (``benefit`` actual)."""

    def plan_rows(self) -> list[tuple[str, str, dict[date, int]]]:
        """(metric, scenario, phasing) of the initiative's plan, for a workbook."""
        return [("benefit", "plan", self.benefit), ("cost", "plan", self.cost),
                ("volume", "plan", self.volume)]

    def claim_rows(self) -> list[tuple[str, str, dict[date, int]]]:
        """(metric, scenario, phasing) of its claimed actual savings."""
        return [("benefit", "actual", self.actual)]


#: Web logins the demo creates: email, role, owner name (owners own demo initiatives) and
#: a password printed by ``tledger demo``: a demo ledger is a throwaway on one machine.
DEMO_ACCOUNTS: list[tuple[str, str, str | None, str]] = [
    ("office@demo.example", "office", None, "office-demo-2028"),
    ("finance@demo.example", "finance", None, "finance-demo-2028"),
    ("a.nguyen@demo.example", "owner", "A. Nguyen", "nguyen-demo-2028"),
    ("g.murphy@demo.example", "owner", "G. Murphy", "murphy-demo-2028"),
]


@dataclass
class DemoResult:
    directory: Path
    db_url: str
    files: dict[str, Path]
    initiatives: int
    seconds: float
    accounts: list[tuple[str, str, str | None, str]] = field(default_factory=list)


def _unused_name(lever: str, unit: str, base_at: int, site_at: int,
                 used: set[tuple[str, str, str]]) -> tuple[str, str]:
    """The drawn (name, site), or the next pair not yet used in the unit: one unit never
    has two initiatives of the same name (a real double count, which the claim checks
    would rightly report). Marks the pair used."""
    bases, sites = _NAMES[lever], _SITES[unit]
    for k in range(len(bases) * len(sites)):
        base = bases[(base_at + k // len(sites)) % len(bases)]
        site = sites[(site_at + k) % len(sites)]
        if (unit, base, site) not in used:
            break
    used.add((unit, base, site))
    return base, site


def generate_initiatives(seed: int = SEED, count: int = 200) -> list[Initiative]:
    """~``count`` initiatives over both units, all levers and all stage gates, with a
    ramp-up to a run-rate and one-off costs before the benefit starts. Deterministic."""
    rng = np.random.default_rng(seed)
    months = month_range(FIRST, LAST)
    out: list[Initiative] = []
    counters = {"PRO": 0, "MIN": 0}
    used: set[tuple[str, str, str]] = set()
    for i in range(count):
        unit = "PRO" if i % 9 < 5 else "MIN"
        lever = LEVERS[int(rng.integers(0, len(LEVERS)))][0]
        stage = _STAGES[int(rng.choice(len(_STAGES), p=_STAGE_P))]
        counters[unit] += 1
        ext = f"{unit}-{counters[unit]:03d}"
        base, site = _unused_name(lever, unit, int(rng.integers(0, len(_NAMES[lever]))),
                                  int(rng.integers(0, len(_SITES[unit]))), used)
        name = f"{base} ({site})"
        owner = _OWNERS[unit][int(rng.integers(0, len(_OWNERS[unit])))]
        # Run-rate: lognormal around 30k AUD a month, in whole hundreds of dollars.
        run_rate = float(np.exp(rng.normal(np.log(30_000), 0.6)))
        lo, hi = _START[stage]
        start = int(rng.integers(lo, hi + 1))
        ramp = int(rng.integers(2, 7))
        benefit: dict[date, int] = {}
        for k, m in enumerate(months):
            if k < start:
                continue
            share = min(1.0, (k - start + 1) / ramp)
            noise = 1.0 + float(rng.normal(0, 0.04))
            benefit[m] = round(run_rate * share * noise / 100.0) * 100
        cost: dict[date, int] = {}
        if stage in ("L2", "L3", "L4", "L5") and rng.random() < 0.7:
            one_off = round(run_rate * float(rng.uniform(2, 6)) / 1000.0) * 1000
            spend = [add_months(FIRST, max(0, start - 2)), add_months(FIRST, max(0, start - 1))]
            for m in dict.fromkeys(spend):
                cost[m] = cost.get(m, 0) + one_off // len(dict.fromkeys(spend))
        description = (f"{base} at {site}: {_STAGE_WORDS[stage]}; run-rate about "
                       f"{run_rate / 1000:,.0f}k AUD a month after a {ramp}-month ramp-up.")
        out.append(Initiative(ext, name, owner, unit, lever, stage, description, benefit, cost))
    return out


def generate_case(seed: int = SEED) -> tuple[list[Initiative], list[Initiative]]:
    """The demo's initiatives: the ~200 that take cost out (those approved with claimed
    actual savings in the closed months) and a dozen that add tonnes. Deterministic."""
    cost_out = generate_initiatives(seed)
    counters = {u: sum(i.business_unit == u for i in cost_out) for u, _ in UNITS}
    case.add_claims(cost_out, seed)
    return cost_out, case.generate_throughput(counters, seed, _OWNERS, _SITES, Initiative)


_STAGE_WORDS = {"L0": "idea", "L1": "validated", "L2": "business case in progress",
                "L3": "approved for execution", "L4": "implemented", "L5": "realised"}


# --------------------------------------------------------------------------- workbooks


def write_canonical_workbook(
        path: Path, initiatives: list[Initiative], programme: str, *,
        title: str = "Processing initiatives", note: str = "Amounts in AUD",
        rows: Callable[[Initiative], list[tuple[str, str, dict[date, int]]]]
        = Initiative.plan_rows) -> None:
    """The canonical initiatives layout (docs/workbook-format.md): title, unit note and a
    blank row, the header in row 4, month headers as real dates, a Total formula column.
    One row per initiative, metric and scenario that ``rows`` gives with phasing."""
    months = month_range(FIRST, LAST)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                         "strings_to_numbers": False})
    ws = wb.add_worksheet("Initiatives")
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    month_head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                "num_format": "mmm-yy"})
    money = wb.add_format({"num_format": "#,##0.00"})
    ws.write_string(0, 0, f"{programme}: {title}", bold)
    ws.write_string(1, 0, note)
    headers = ["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Description",
               "Metric", "Scenario"]
    for c, h in enumerate(headers):
        ws.write_string(3, c, h, head)
    first_month_col = len(headers)
    for j, m in enumerate(months):
        ws.write_datetime(3, first_month_col + j, _dt(m), month_head)
    total_col = first_month_col + len(months)
    ws.write_string(3, total_col, "Total", head)
    row = 4
    for ini in initiatives:
        for metric, scenario, phasing in rows(ini):
            if not phasing:
                continue
            values = [ini.external_id, ini.name, ini.owner, ini.business_unit, ini.lever,
                      ini.stage, ini.description, metric, scenario]
            for c, v in enumerate(values):
                ws.write_string(row, c, v)
            for j, m in enumerate(months):
                if m in phasing:
                    ws.write_number(row, first_month_col + j, phasing[m], money)
            first = xlsxwriter.utility.xl_rowcol_to_cell(row, first_month_col)
            last = xlsxwriter.utility.xl_rowcol_to_cell(row, total_col - 1)
            ws.write_formula(row, total_col, f"=SUM({first}:{last})", money,
                             sum(phasing.values()))
            row += 1
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 8, 12)
    ws.freeze_panes(4, 2)
    wb.close()


def write_messy_workbook(path: Path, initiatives: list[Initiative], programme: str) -> None:
    """Mining's pipeline as PMOs really keep it: title rows, an "AUD 000" note, text month
    headers (Jul-26), some amounts stored as text with thousands separators, dashes for
    zero, a blank row and a total row; no business-unit column (the mapping supplies it)."""
    months = month_range(FIRST, LAST)
    rng = np.random.default_rng(SEED + 1)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                         "strings_to_numbers": False})
    ws = wb.add_worksheet("Pipeline")
    title = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({"bold": True, "bottom": 2, "text_wrap": True})
    k = wb.add_format({"num_format": "#,##0.0"})
    ws.write_string(0, 0, "MINING — COST-OUT PIPELINE FY27-FY28", title)
    ws.write_string(1, 0, "AUD 000")
    ws.write_string(2, 0, f"{programme}. Status as at 14-Nov-2026, DRAFT for steerco")
    headers = ["Ref", "Initiative", "Accountable", "Value lever", "Gate", "Comments"]
    for c, h in enumerate(headers):
        ws.write_string(4, c, h, head)
    first_month_col = len(headers)
    for j, m in enumerate(months):
        ws.write_string(4, first_month_col + j, m.strftime("%b-%y"), head)
    total_col = first_month_col + len(months)
    ws.write_string(4, total_col, "FY27-28 total", head)
    row = 5
    totals = [0] * len(months)
    for ini in initiatives:
        values = [ini.external_id, ini.name, ini.owner, ini.lever, ini.stage, ini.description]
        for c, v in enumerate(values):
            ws.write_string(row, c, v)
        for j, m in enumerate(months):
            amount = ini.benefit.get(m)
            if amount is None:
                if rng.random() < 0.3:
                    ws.write_string(row, first_month_col + j, "-")
                continue
            totals[j] += amount
            thousands = Decimal(amount) / 1000
            if rng.random() < 0.25:  # typed or pasted as text, finance style
                ws.write_string(row, first_month_col + j, f"{thousands:,.3f}".rstrip("0")
                                .rstrip("."))
            else:
                ws.write_number(row, first_month_col + j, float(thousands), k)
        ws.write_number(row, total_col, float(Decimal(sum(ini.benefit.values())) / 1000), k)
        row += 1
    row += 1  # a blank row, then the total row
    ws.write_string(row, 0, "Total", title)
    for j, t in enumerate(totals):
        ws.write_number(row, first_month_col + j, float(Decimal(t) / 1000), k)
    ws.write_number(row, total_col, float(Decimal(sum(totals)) / 1000), k)
    ws.set_column(0, 0, 9)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 5, 14)
    wb.close()


MAPPING_TEXT = """\
# How to read Mining's pipeline workbook (see docs/importing.md).
sheet = "Pipeline"
header_row = 5
layout = "wide"
scale = 1000                     # the sheet says "AUD 000"

[columns]
id = "Ref"
name = "Initiative"
owner = "Accountable"
lever = "Value lever"
stage = "Gate"
description = "Comments"

[skip]
id_matches = ["^Total$"]        # the total row at the bottom

[defaults]                       # what the sheet does not say
business_unit = "MIN"
metric = "benefit"
scenario = "plan"
"""


def _dt(m: date) -> Any:
    from datetime import datetime

    return datetime(m.year, m.month, 1)


# --------------------------------------------------------------------------- running


def prepare_directory(directory: Path) -> None:
    """Make ``directory`` ready: create it, or clear a previous demo's files.

    Raises:
        LedgerError: the directory holds other files and no demo marker.
    """
    if directory.exists() and not directory.is_dir():
        raise LedgerError(f"{directory} exists and is not a directory: choose another --dir")
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise LedgerError(f"{directory} is not empty and is not a tledger demo directory "
                              f"(no {MARKER} file): choose another --dir")
        for name in DEMO_FILES:
            (directory / name).unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("Written by `tledger demo`; a re-run recreates the files "
                                    "listed in tledger/demo.py DEMO_FILES.\n")


def run_demo(directory: Path, *, say: Callable[[str], None] = print,
             show: Callable[[Any], None] | None = None,
             db_url: str | None = None, report: bool = True) -> DemoResult:
    """Run the whole demo in ``directory``; ``say`` prints a line, ``show`` a Rich table.
    ``db_url``: build the demo in that ledger (an empty one, e.g. on PostgreSQL) instead
    of ``directory``'s SQLite file; ``report=False`` leaves out the Excel report (tests
    that need only the ledger)."""
    from reports.excel import write_gap_report
    from reports.gap_report import load_report

    started = time.perf_counter()
    directory = directory.resolve()
    prepare_directory(directory)
    db_path = directory / DB_FILE
    db_url = db_url or f"sqlite:///{db_path}"
    user = "demo"

    ledger = Ledger.init(db_url)
    try:
        programme = "Cost 2028"
        _set_up(ledger, programme, user, say, db_path)
        cost_out, throughput = generate_case()
        initiatives = [*cost_out, *throughput]
        files = {"ledger": db_path, "canonical": directory / CANONICAL,
                 "messy": directory / MESSY, "mapping": directory / MAPPING,
                 "throughput": directory / case.THROUGHPUT, "claims": directory / case.CLAIMS,
                 "gl extract": directory / case.GL_EXTRACT,
                 "gl mapping": directory / case.GL_MAPPING, "report": directory / REPORT}
        _import_workbooks(ledger, files, cost_out, throughput, programme, user, say)
        gl = case.gl_case(initiatives)
        case.write_gl_files(directory, gl)
        say(f"import actuals {case.GL_EXTRACT} --mapping {case.GL_MAPPING} (finance's GL, "
            "Jul-Oct 2026); P&L reconciliation (tledger reconcile), Jul-Oct 2026:")
        case.import_and_reconcile(ledger, files["gl extract"], files["gl mapping"],
                                  user=user, say=say)
        if show is not None:
            _show_gaps(ledger, show, say)

        if report:
            data = load_report(ledger, metric="benefit")
            write_gap_report(data, files["report"])
            say(f"report {files['report']}: Summary, By unit/lever/stage, Initiatives "
                f"({plural(len(data.detail), 'row')}), Checks, About; formulas tie to the "
                "engine")

        from ledger.accounts import add_account, set_password

        for email, role, owner, password in DEMO_ACCOUNTS:
            add_account(ledger, email, role, owner, now=datetime.now(UTC))
            set_password(ledger, email, password)
        say(f"web accounts: {len(DEMO_ACCOUNTS)} (office, finance, two initiative owners)")
    finally:
        ledger.dispose()
    return DemoResult(directory, db_url, files, len(initiatives),
                      time.perf_counter() - started, list(DEMO_ACCOUNTS))


def _set_up(ledger: Ledger, programme: str, user: str, say: Callable[[str], None],
            db_path: Path) -> None:
    """The programme, its units and levers, the seed case's metrics and baselines, and the
    steerco's targets: cost-out (cascaded), one-off cost budget, volume and unit cost."""
    from ledger.targets import set_target

    ledger.create_programme(name=programme, currency="AUD", fy_start_month=7,
                            first_month=FIRST, last_month=LAST, user=user,
                            note="demo programme")
    for code, name in UNITS:
        ledger.add_business_unit(code, name, user=user)
    for code, name in LEVERS:
        ledger.add_lever(code, name, user=user)
    say(f"ledger {db_path}: programme {programme!r}, AUD, FY from July, "
        f"{FIRST:%Y-%m} to {LAST:%Y-%m}; units {', '.join(c for c, _ in UNITS)}; "
        f"levers {', '.join(c for c, _ in LEVERS)}")
    note = "demo: steerco targets"
    set_target(ledger, metric="benefit", amount=PROGRAMME_TARGET, first=FIRST, last=LAST,
               scope="programme", profile=PROFILE, user=user, note=note)
    for code, amount in UNIT_TARGETS.items():
        set_target(ledger, metric="benefit", amount=amount, first=FIRST, last=LAST,
                   scope=f"unit:{code}", profile=PROFILE, user=user, note=note)
    for code, amount in LEVER_TARGETS.items():
        set_target(ledger, metric="benefit", amount=amount, first=FIRST, last=LAST,
                   scope=f"lever:{code}", profile=PROFILE, user=user, note=note)
    set_target(ledger, metric="cost", amount=COST_BUDGET, fiscal_year="FY27",
               scope="programme", profile="even", user=user, note="demo: cost budget")
    case.set_up_case(ledger, user=user, profile=PROFILE)
    say(f"targets: benefit {PROGRAMME_TARGET:,} AUD over the horizon (ramp in FY27, "
        f"plateau in FY28), cascaded to 2 units and 4 levers; one-off cost budget "
        f"{COST_BUDGET:,} AUD in FY27; volume +{case.VOLUME_TARGET:,} t; unit cost down to "
        f"{case.UNIT_COST_TARGET} AUD/t by {LAST:%b %Y}")
    say(f"baselines per unit: {case.VOLUME_PER_MONTH:,} t of ore a month; cost base "
        + ", ".join(f"{u} {f:,} AUD + {r} AUD/t" for u, (f, r) in case.COST_BASE.items())
        + " a month, flexed by the tonnes produced Jul-Oct 2026 ("
        + ", ".join(f"{t:,}" for t in case.ACTUAL_TONNES.values()) + " t)")


def _import_workbooks(ledger: Ledger, files: dict[str, Path], cost_out: list[Initiative],
                      throughput: list[Initiative], programme: str, user: str,
                      say: Callable[[str], None]) -> None:
    """Write the office's workbooks and import them through the real importer: the plans,
    then (after finance's October close) the claimed actual savings."""
    from importers.api import import_initiatives
    from tledger.cli.imports import describe_import

    pro = [i for i in cost_out if i.business_unit == "PRO"]
    mining = [i for i in cost_out if i.business_unit == "MIN"]
    write_canonical_workbook(files["canonical"], pro, programme)
    write_messy_workbook(files["messy"], mining, programme)
    files["mapping"].write_text(MAPPING_TEXT, encoding="utf-8")
    write_canonical_workbook(files["throughput"], throughput, programme,
                             title="throughput initiatives (both units)",
                             note="Amounts in AUD; volume in tonnes")
    claimed = [i for i in cost_out if i.actual]
    write_canonical_workbook(files["claims"], claimed, programme,
                             title="claimed savings to October 2026",
                             rows=Initiative.claim_rows)
    say(f"workbooks: {CANONICAL} ({len(pro)} Processing initiatives, template layout), "
        f"{MESSY} ({len(mining)} Mining initiatives, a PMO's own layout) + {MAPPING}, "
        f"{case.THROUGHPUT} ({len(throughput)} initiatives that add tonnes), "
        f"{case.CLAIMS} ({len(claimed)} initiatives' claimed savings, Jul-Oct 2026)")
    for key, label, mapping, note in (
            ("canonical", CANONICAL, None, "demo: Processing workbook"),
            ("messy", f"{MESSY} --mapping {MAPPING}", files["mapping"],
             "demo: Mining pipeline"),
            ("throughput", case.THROUGHPUT, None, "demo: throughput initiatives")):
        result = import_initiatives(ledger, [files[key]], mapping=mapping, user=user,
                                    note=note)
        say(f"import {label}: {describe_import(result)}")
    case.close_months(ledger, user=user)
    result = import_initiatives(ledger, [files["claims"]], user=user,
                                note="demo: claimed savings, October close")
    say(f"programme close 2026-10; import {case.CLAIMS}: {describe_import(result)}")


def _show_gaps(ledger: Ledger, show: Callable[[Any], None], say: Callable[[str], None]) -> None:
    """The cost-out gap by unit, the volume and unit-cost headlines, and the checks."""
    from ledger.engine import checks, gap
    from tledger.cli.gap import _gap_tables, _summary

    rep = gap(ledger, metric="benefit", by="business_unit")
    show(_gap_tables(rep)[-1])
    say(_summary(rep))
    say(_summary(gap(ledger, metric="volume")))
    show(unit_cost_table(ledger))
    found = checks(ledger)
    if len(found):
        from rich.table import Table
        from rich.text import Text

        # One line per kind of finding: the office reads the detail in the report.
        # Cells are Text: a detail naming an initiative is never markup, whatever
        # console ``show`` prints on.
        table = Table(title=f"Checks: {plural(len(found), 'finding')} "
                            "(all in the Checks sheet)")
        for col in ("check", "severity", "findings", "for example"):
            table.add_column(col, justify="right" if col == "findings" else "left")
        for (check, severity), group in found.groupby(["check", "severity"], sort=False):
            table.add_row(Text(str(check)), Text(str(severity)), Text(str(len(group))),
                          Text(str(group.iloc[0]["detail"])))
        show(table)


def unit_cost_table(ledger: Ledger) -> Any:
    """The programme's unit cost per fiscal year and over the horizon: the do-nothing
    level, the target, what the bottom-up implies, the gap and its money equivalent."""
    from rich.table import Table

    from ledger.ratio import ratio_gap

    rep = ratio_gap(ledger, metric="unit_cost")
    fy = rep.fiscal[rep.fiscal["part"] == "Programme"]
    table = Table(title="Unit cost (AUD/t, plan): ratio of each year's sums; gap = target - "
                        "implied, money at the year's volume")
    for col in ("period", "cost base", "savings", "tonnes", "uplift", "baseline",
                "target", "implied", "gap", "money gap"):
        table.add_column(col, justify="left" if col == "period" else "right")
    for row in fy.to_dict("records"):
        table.add_row(str(row["period"]), *(_fmt(row[c]) for c in (
            "numerator_baseline", "savings", "denominator_baseline", "uplift",
            "baseline_level", "target", "implied", "gap", "money_gap")))
    return table


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:,}"

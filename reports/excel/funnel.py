"""The Funnel sheet: per stage gate, how many initiatives and how much horizon value,
unweighted and risk-weighted; the value the Initiatives sheet holds is a live SUMIFS over
it and its total ties to the Summary (the tie rows are outside the print area)."""

from __future__ import annotations

from xlsxwriter.worksheet import Worksheet

from reports.excel.formulas import DetailRefs, criterion
from reports.excel.inputs import ReportInput
from reports.excel.layout import (
    FIRST_DATA_ROW,
    HEADER_ROW,
    Formats,
    note,
    print_setup,
    title,
    unit_label,
)
from reports.safe import safe_text

#: (header, width) per column: A stage, B name, C count, D unweighted, E weight,
#: F risk-weighted, G share of the unweighted value.
FUNNEL_COLUMNS = [("Stage gate", 11), ("Name", 26), ("Initiatives", 11), ("Unweighted", 16),
                  ("Weight", 9), ("Risk-weighted", 16), ("Share", 9)]


def write_funnel(sheet: Worksheet, data: ReportInput, fmt: Formats, scale: str,
                 refs: DetailRefs, summary_horizon: tuple[int, int]) -> None:
    """Write the funnel; ``summary_horizon`` is the Summary's horizon bottom-up cell
    (row, col), which the funnel's live total ties to."""
    funnel = data.funnel
    assert funnel is not None  # noqa: S101  (narrows the type)
    unit = unit_label(data, scale)
    live = "Risk-weighted" if data.weighted else "Unweighted"
    title(sheet, fmt, f"{safe_text(data.programme.name)}: stage-gate funnel ({unit})",
          note(data, unit) + f" Horizon value per gate; the {live.lower()} column sums the "
          "Initiatives sheet, the other is the engine's figure.")
    for pos, (header, width) in enumerate(FUNNEL_COLUMNS):
        sheet.write_string(HEADER_ROW, pos, header if pos not in (3, 5)
                           else f"{header} ({unit})", fmt.header)
        sheet.set_column(pos, pos, width)
    metric = criterion(data.metric.code)
    stage_range, metric_range = refs.attr("stage"), refs.attr("metric")
    total_range = refs.column(refs.first_month_col + len(data.detail.months))
    first = FIRST_DATA_ROW
    last = first + len(funnel) - 1
    total_row = last + 1
    unweighted_total = sum((s.unweighted for s in funnel), start=0)
    for offset, stage in enumerate(funnel):
        row = first + offset
        code = criterion(stage.code)
        sheet.write_string(row, 0, safe_text(stage.code), fmt.text_in(stage.code, fmt.label_bold))
        name = safe_text(stage.name)
        sheet.write_string(row, 1, name, fmt.text_in(name))
        sheet.write_formula(row, 2, f"=COUNTIFS({stage_range},{code},{metric_range},{metric})",
                            fmt.count, stage.count)
        sumifs = f"=SUMIFS({total_range},{stage_range},{code},{metric_range},{metric})"
        for col, value, is_live in ((3, stage.unweighted, not data.weighted),
                                    (5, stage.weighted, data.weighted)):
            if is_live:
                sheet.write_formula(row, col, sumifs, fmt.amount, float(value))
            else:
                sheet.write_number(row, col, float(value), fmt.amount)
        if stage.weight is not None:
            sheet.write_number(row, 4, float(stage.weight), fmt.weight)
        share = float(stage.unweighted / unweighted_total) if unweighted_total else ""
        sheet.write_formula(row, 6, f'=IF($D${total_row + 1}=0,"",D{row + 1}/$D${total_row + 1})',
                            fmt.pct, share)
    sheet.write_string(total_row, 0, "Total", fmt.label_bold)
    for col, total in ((2, sum(s.count for s in funnel)), (3, unweighted_total),
                       (5, sum((s.weighted for s in funnel), start=0))):
        letter = "CDF"[(2, 3, 5).index(col)]
        sheet.write_formula(total_row, col, f"=SUM({letter}{first + 1}:{letter}{last + 1})",
                            fmt.amount_bold if col != 2 else fmt.count_bold, float(total))
    # The tie to the Summary, outside the print area.
    tie = total_row + 3
    live_col, live_letter = (5, "F") if data.weighted else (3, "D")
    live_total = float(sum(((s.weighted if data.weighted else s.unweighted) for s in funnel),
                           start=0))
    summary_cell = f"Summary!{_cell(*summary_horizon)}"
    sheet.write_string(tie, 0, "Summary", fmt.label)
    sheet.write_string(tie, 1, "horizon bottom-up", fmt.note)
    sheet.write_formula(tie, live_col, f"={summary_cell}", fmt.amount, live_total)
    sheet.write_string(tie + 1, 0, "Difference", fmt.label_bold)
    sheet.write_string(tie + 1, 1, "total minus Summary: 0 when it ties", fmt.note)
    sheet.write_formula(tie + 1, live_col,
                        f"={live_letter}{total_row + 1}-{live_letter}{tie + 1}", fmt.amount, 0.0)
    sheet.conditional_format(tie + 1, live_col, tie + 1, live_col, {
        "type": "formula", "criteria": f"=ROUND({live_letter}{tie + 2},6)<>0",
        "format": fmt.mismatch})
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    print_setup(sheet, data, header_row=HEADER_ROW)
    sheet.print_area(0, 0, total_row, len(FUNNEL_COLUMNS) - 1)


def _cell(row: int, col: int) -> str:
    from reports.excel.formulas import cell

    return cell(row, col, absolute=True)

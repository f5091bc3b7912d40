"""Sum up the figures the reliability tests record (see ``support.record``).

Run the suite with ``TLEDGER_RELIABILITY_FIGURES=FILE`` set, then
``PYTHONPATH=tests python -m reliability.figures FILE``: one line per figure, as quoted in
docs/reliability.md.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def summarise(path: Path) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        totals[entry["figure"]] += int(entry["count"])
        for key in ("imported", "refused", "bad_cells", "busy"):
            if key in entry:
                totals[f"{entry['figure']}: {key}"] += int(entry[key])
    return dict(sorted(totals.items()))


if __name__ == "__main__":  # pragma: no cover
    for figure, total in summarise(Path(sys.argv[1])).items():
        print(f"{figure}: {total:,}")

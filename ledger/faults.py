"""Test-only fault points: where the reliability tests stop a process to kill it.

Set ``TLEDGER_TEST_PAUSE_AT`` to a point's name and a process that reaches that point
prints ``tledger-paused-at <point>`` on stderr, then sleeps ``TLEDGER_TEST_PAUSE_SECONDS``
(default 600) before going on, or less if the file ``TLEDGER_TEST_RELEASE_FILE`` appears.
``tests/reliability`` uses it to SIGKILL an import at an exact moment, or to hold the write
lock while a second writer tries its luck.

Points: ``reading`` (workbook read, before any transaction), ``grid_planned`` (a web
save checked and diffed, the write lock not yet taken), ``mid_write`` (superseded versions
closed, new versions not yet inserted) and ``before_commit`` (everything written,
transaction not yet committed). Never set these variables in production: unset, a point
costs one environment lookup.
"""

from __future__ import annotations

import os
import sys
import time

POINTS = ("reading", "grid_planned", "mid_write", "before_commit")
#: The points a workbook import passes, in order (``grid_planned`` is the web save's).
IMPORT_POINTS = ("reading", "mid_write", "before_commit")


def pause_point(point: str) -> None:
    """Pause here if ``TLEDGER_TEST_PAUSE_AT`` names ``point`` (test-only)."""
    if os.environ.get("TLEDGER_TEST_PAUSE_AT") != point:
        return
    sys.stderr.write(f"tledger-paused-at {point}\n")
    sys.stderr.flush()
    release = os.environ.get("TLEDGER_TEST_RELEASE_FILE")
    deadline = time.monotonic() + float(os.environ.get("TLEDGER_TEST_PAUSE_SECONDS", "600"))
    while time.monotonic() < deadline and not (release and os.path.exists(release)):
        time.sleep(0.02)

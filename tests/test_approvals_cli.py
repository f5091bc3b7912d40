"""``tledger stage request|approve|reject|pending|committed`` and ``programme set
--approval-gates``: one line per mistake, the CLI user as author."""

from __future__ import annotations

import json

from helpers.owner_seed import seed

from ledger.history import history


def test_the_cli_request_approval_cycle(programme, cli):
    seed(programme)
    out = cli("stage", "request", "GR-0001", "--to", "L3", "--owner", "Ana Lima")
    assert out.exit_code == 2  # --note is required by the command line
    out = cli("stage", "request", "GR-0003", "--to", "L2", "--owner", "Ana Lima", "--note",
              "x")
    assert out.exit_code != 0
    assert "no initiative 'GR-0003'" in out.stderr
    assert "Traceback" not in out.output
    out = cli("stage", "request", "GR-0001", "--to", "L3", "--note", "case signed")
    assert out.exit_code == 0, out.output
    assert "request 1: GR-0001 L2 -> L3, pending" in out.stdout
    out = cli("stage", "request", "GR-0002", "--to", "L5", "--note", "realised")
    assert out.exit_code == 0, out.output

    listed = json.loads(cli("stage", "pending", "--format", "json").stdout)
    assert [(r["request"], r["initiative"], r["from"], r["to"], r["requested_by"], r["stale"])
            for r in listed] == [(1, "GR-0001", "L2", "L3", "tester", False),
                                 (2, "GR-0002", "L3", "L5", "tester", False)]

    out = cli("stage", "reject", "2")
    assert out.exit_code == 2  # a rejection needs --note
    out = cli("stage", "reject", "2", "--note", "   ")
    assert out.exit_code == 1
    assert "a note is required" in out.stderr
    assert cli("stage", "reject", "2", "--note", "not yet in the P&L").exit_code == 0
    out = cli("stage", "approve", "1", "--note", "steerco")
    assert out.exit_code == 0, out.output
    assert "GR-0001 L2 -> L3; the plan is committed" in out.stdout
    out = cli("stage", "approve", "1")
    assert out.exit_code == 1
    assert "already approved by tester" in out.stderr
    assert json.loads(cli("stage", "pending", "--format", "json").stdout) == []
    changes = history(programme, "GR-0001")
    assert {"stage request #1", "stage request #1 approved", "stage"} <= set(changes["what"])

    rows = json.loads(cli("stage", "committed", "--format", "json").stdout)
    fy27 = next(r for r in rows if r["external_id"] == "GR-0001" and r["fiscal_year"] == "FY27")
    assert (fy27["committed_plan"], fy27["plan"], fy27["forecast"], fy27["variance"]) == (
        "6000.50", "6000.50", "0.00", "-6000.50")

    out = cli("programme", "set", "--approval-gates", "L4,L9")
    assert out.exit_code == 1
    assert "no stage gate 'L9'" in out.stderr
    out = cli("programme", "set", "--approval-gates", "none")
    assert out.exit_code == 0
    assert "needing approval: none" in out.stdout
    out = cli("stage", "request", "GR-0003", "--to", "L3", "--note", "no gate now")
    assert "GR-0003: L1 -> L3 (no approval needed" in out.stdout

"""Stage-gate approvals in the browser (issue 17; docs/web.md).

* An owner's initiative page shows a "Request move to Lx" form (the gates
  :func:`ledger.approvals.requestable` allows) with a note, and the state of the last
  request; ``POST /stage-requests/{id}`` files it (owners only, their own initiatives).
* ``/approvals`` lists the pending requests (and the last decisions): the office approves
  or rejects each with a note (required to reject); finance sees the list read-only.
* Once the plan is committed, the page says when and by whom (the include
  ``_stage_request.html``); the owners' grid shows the plan cells as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.api import Ledger
from ledger.approvals import (
    Commitment,
    StageRequestInfo,
    approve,
    commitment,
    commitment_line,
    decided,
    initiative_requests,
    pending,
    reject,
    request_options,
    request_stage,
)
from ledger.errors import LedgerError, NotFound
from tledger.web.context import OFFICE, OFFICE_FINANCE, Web, owner_of

#: The key the /approvals page's flash message is carried under.
FLASH_KEY = "/approvals"
#: How many decided requests /approvals shows under the pending ones.
RECENT = 20


@dataclass(frozen=True)
class StagePanel:
    """What ``_stage_request.html`` shows on an initiative's page."""

    committed: Commitment | None
    line: str
    last: StageRequestInfo | None
    """The newest request for the initiative (pending or decided), if any."""
    options: list[tuple[str, bool]] = field(default_factory=list)
    """(gate, needs approval) the viewer may ask for; empty when they may not ask."""


def stage_panel(ledger: Ledger, conn: Connection, ini: dict[str, Any],
                session: Session) -> StagePanel:
    """The panel for initiative ``ini`` (a ``current_initiatives`` row) as ``session``
    sees it, read in the page's snapshot ``conn``."""
    iid = int(ini["initiative_id"])
    committed = commitment(conn, iid)
    if committed is None:
        line = ""
    elif session.account.role == "owner":
        line = commitment_line(committed)
    else:
        line = (f"plan committed at {committed.stage} on {committed.when:%Y-%m-%d} by "
                f"{committed.who} (submission {committed.submission}): a plan change needs "
                "a note")
    requests = initiative_requests(conn, iid)
    last = requests[-1] if requests else None
    options: list[tuple[str, bool]] = []
    if (session.account.role == "owner" and ini["status"] == "active"
            and (last is None or last.state != "pending")):
        options = request_options(ledger, conn, str(ini["stage"]))
    return StagePanel(committed, line, last, options)


def routes(web: Web) -> list[BaseRoute]:
    ledger = web.ledger

    def to_page(ext: str) -> Response:
        return RedirectResponse(f"/initiatives/{quote(ext, safe='')}", status_code=303)

    def request_post(request: Request, session: Session, form: FormData | None) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        ext = str(request.path_params["external_id"])
        try:
            done = request_stage(ledger, ext, str(form.get("to") or ""),
                                 note=str(form.get("note") or "")[:2000],
                                 user=session.account.email, owner=owner_of(session))
        except NotFound:
            raise
        except LedgerError as exc:
            return web.flash(to_page(ext), request, ext, f"Nothing was saved: {exc}")
        if done.request_id is None:
            message = (f"Moved to {done.to_stage} (no approval needed) as submission "
                       f"{done.submission_id}.")
        else:
            message = (f"Requested the move to {done.to_stage} (request {done.request_id}); "
                       "the office will approve or reject it.")
        return web.flash(to_page(ext), request, ext, message)

    def approvals_get(request: Request, session: Session, form: FormData | None) -> Response:
        with ledger.reading() as conn:
            waiting = pending(ledger, conn)
            recent = decided(conn, RECENT)
        shown = web.flashed(request, FLASH_KEY)
        response = web.render("approvals.html", session=session, waiting=waiting,
                              recent=recent, message=shown[0] if shown else "",
                              title="Approvals")
        if shown is not None:
            response.delete_cookie("tledger_flash", path="/")
        return response

    def decide(request: Request, session: Session, form: FormData | None,
               decision: str) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        rid = int(request.path_params["request_id"])
        note = str(form.get("note") or "")[:2000]
        back = RedirectResponse("/approvals", status_code=303)
        try:
            act = approve if decision == "approve" else reject
            done = act(ledger, rid, note=note, user=session.account.email)
        except NotFound:
            raise
        except LedgerError as exc:
            return web.flash(back, request, FLASH_KEY, f"Nothing was saved: {exc}")
        extra = "; the plan is committed" if done.committed else ""
        return web.flash(back, request, FLASH_KEY,
                         f"Request {rid} {done.decision}: {done.external_id} "
                         f"{done.from_stage} -> {done.to_stage}{extra} (submission "
                         f"{done.submission_id}).")

    def approve_post(request: Request, session: Session, form: FormData | None) -> Response:
        return decide(request, session, form, "approve")

    def reject_post(request: Request, session: Session, form: FormData | None) -> Response:
        return decide(request, session, form, "reject")

    return [
        Route("/stage-requests/{external_id:path}", web.page(request_post, roles=("owner",)),
              methods=["POST"]),
        Route("/approvals", web.page(approvals_get, roles=OFFICE_FINANCE), methods=["GET"]),
        Route("/approvals/{request_id:int}/approve", web.page(approve_post, roles=OFFICE),
              methods=["POST"]),
        Route("/approvals/{request_id:int}/reject", web.page(reject_post, roles=OFFICE),
              methods=["POST"]),
    ]


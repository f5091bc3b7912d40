"""The initiative list (every role; an owner sees only their own) and the office's edits of
an initiative's attributes on its page (name, owner, unit, lever, stage; withdraw and
reinstate), through :mod:`ledger.initiative_admin` and :func:`ledger.phasing.set_stage`.

``/initiatives`` takes the query parameters ``unit``, ``lever``, ``stage``, ``owner``,
``status`` (active, the default; withdrawn; all), ``q`` (text in the id, name, owner or
description), ``sort`` (a column, ``:desc`` for descending), ``page`` and ``per``; other
pages (the dashboard's drill-down) link to it with the same names.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.api import Ledger
from ledger.errors import Conflict, LedgerError
from ledger.initiative_search import (
    AMOUNTS,
    DEFAULT_PER,
    MAX_PER,
    SORTS,
    ListPage,
    ListQuery,
    current_owners,
    list_page,
)
from ledger.months import fiscal_year_label
from tledger.web.context import ALL_ROLES, OFFICE, Web, owner_of
from tledger.web.views import fy_months

#: The list's query parameters, in the order links write them.
PARAMS = ("unit", "lever", "stage", "owner", "status", "q", "sort", "page", "per")
#: The longest filter text read from a query string.
MAX_PARAM = 200
#: The attributes the office's form edits.
EDITABLE = ("name", "owner", "unit", "lever", "stage")


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def parse_query(params: dict[str, str]) -> ListQuery:
    """The list's query parameters as a :class:`ListQuery` (a bad sort, status or code is
    refused by :func:`list_page`; a bad page or per falls back to the first page and the
    default size)."""
    def given(name: str) -> str | None:
        value = (params.get(name) or "").strip()[:MAX_PARAM]
        return value or None

    status = (given("status") or "active").lower()
    sort, _, direction = (given("sort") or "id").partition(":")
    if direction not in ("", "asc", "desc"):
        raise LedgerError(f"sort direction {direction[:20]!r}: expected asc or desc")
    per = _int(params.get("per"), DEFAULT_PER)
    return ListQuery(unit=given("unit"), lever=given("lever"), stage=given("stage"),
                     owner=given("owner"), status=None if status == "all" else status,
                     search=given("q"), sort=sort, descending=direction == "desc",
                     page=_int(params.get("page"), 1),
                     per=per if 1 <= per <= MAX_PER else min(max(per, 1), MAX_PER))


def _link(params: dict[str, str], **changes: str | int | None) -> str:
    merged = {k: params.get(k, "") for k in PARAMS}
    merged.update({k: "" if v is None else str(v) for k, v in changes.items()})
    return "/initiatives?" + urlencode({k: v for k, v in merged.items() if v})


def _links(params: dict[str, str], query: ListQuery, page: ListPage) -> dict[str, Any]:
    """Sort links per column (a second click reverses) and the pager's links."""
    sort_links = {}
    for col in SORTS:
        desc = col == query.sort and not query.descending
        sort_links[col] = _link(params, sort=f"{col}:desc" if desc else col, page=None)
    pager = {"first": _link(params, page=1), "prev": _link(params, page=page.page - 1),
             "next": _link(params, page=page.page + 1), "last": _link(params, page=page.pages)}
    return {"sort": sort_links, "pager": pager}


def routes(web: Web) -> list[BaseRoute]:
    ledger = web.ledger

    def initiatives(request: Request, session: Session, form: FormData | None) -> Response:
        params = {k: v for k, v in request.query_params.items() if k in PARAMS}
        owner = owner_of(session)
        message, status = "", 200
        with ledger.reading() as conn:
            prog = ledger.programme(conn)
            fy = web.this_fy(prog)
            first, last = fy_months(prog, fy)
            try:
                query = parse_query(params)
                page = list_page(ledger, query, fy_first=first, fy_last=last,
                                 only_owner=owner, conn=conn)
            except LedgerError as exc:  # a bad filter: the form again, with what was wrong
                message, status = str(exc), 400
                query = ListQuery()
                page = ListPage([], 0, 1, DEFAULT_PER, {}, ledger.metric(None, conn))
            choices = _choices(ledger, conn, owners=owner is None)
        filtered = any(params.get(k) for k in ("unit", "lever", "stage", "owner", "q")) \
            or query.status != "active"
        return web.render("initiatives.html", status, session=session, prog=prog,
                          fy=fiscal_year_label(fy), page=page, query=query, params=params,
                          links=_links(params, query, page), choices=choices,
                          amounts=AMOUNTS, message=message, filtered=filtered,
                          per_choices=sorted({20, 50, 100, 200, MAX_PER, page.per}),
                          title="My initiatives" if owner is not None else "Initiatives")

    def read_version(form: FormData) -> int:
        try:
            return int(str(form.get("attributes_version") or ""))
        except ValueError:
            raise LedgerError("the page's version fields are damaged: reload the page and "
                              "make the change again") from None

    def done(request: Request, ext: str, message: str) -> Response:
        page = RedirectResponse(f"/initiatives/{quote(ext, safe='')}", status_code=303)
        return web.flash(page, request, ext, message)

    def refused(session: Session, ext: str, exc: Conflict) -> Response:
        return web.render("message.html", 409, title="Nothing was saved", session=session,
                          message=f"{exc}", back=f"/initiatives/{quote(ext, safe='')}")

    def attributes_post(request: Request, session: Session, form: FormData | None
                        ) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        ext = str(request.path_params["external_id"])
        given = {k: str(form.get(k) or "").strip() for k in EDITABLE if k in form}
        try:
            said = save_attributes(ledger, ext, given, read_version=read_version(form),
                                   user=session.account.email,
                                   note=str(form.get("note") or "")[:2000])
        except Conflict as exc:
            return refused(session, ext, exc)
        text = "; ".join(said)
        return done(request, ext, f"{text[:1].upper()}{text[1:]}." if said
                    else "Nothing changed.")

    def status_post(request: Request, session: Session, form: FormData | None) -> Response:
        from ledger.initiative_admin import set_status

        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        ext = str(request.path_params["external_id"])
        action = str(form.get("action") or "")
        if action not in ("withdraw", "reinstate"):
            raise LedgerError(f"action {action[:20]!r}: expected withdraw or reinstate")
        try:
            edit = set_status(ledger, ext, "withdrawn" if action == "withdraw" else "active",
                              user=session.account.email, note=str(form.get("note") or "")
                              [:2000], read_version=read_version(form))
        except Conflict as exc:
            return refused(session, ext, exc)
        if edit.submission_id is None:
            return done(request, ext, "Nothing changed.")
        word = "Withdrawn" if action == "withdraw" else "Reinstated"
        return done(request, ext, f"{word} as submission {edit.submission_id}.")

    return [
        Route("/initiatives", web.page(initiatives, roles=ALL_ROLES), methods=["GET"]),
        Route("/initiatives/{external_id:path}/attributes",
              web.page(attributes_post, roles=OFFICE), methods=["POST"]),
        Route("/initiatives/{external_id:path}/status",
              web.page(status_post, roles=OFFICE), methods=["POST"]),
    ]


def save_attributes(ledger: Ledger, ext: str, given: dict[str, str], *, read_version: int,
                    user: str, note: str) -> list[str]:
    """Save the attributes in ``given`` that differ from the initiative's current ones:
    name, owner, unit and lever as one submission (:func:`set_attributes`), a new stage as
    a second (:func:`set_stage`, kind ``stage``), both refused when the attributes changed
    after ``read_version``. Returns what was saved, one phrase per submission.

    Raises:
        Conflict: the page was stale; nothing written (or, when only the stage move met a
            change made between the two writes, a LedgerError saying what was saved).
    """
    from ledger.initiative_admin import set_attributes
    from ledger.phasing import set_stage

    with ledger.reading() as conn:
        current = _current(ledger, conn, ext)
    changed = {k: v for k, v in given.items() if v != current[k]}
    stage = changed.pop("stage", None)
    said: list[str] = []
    version = read_version
    if changed:
        edit = set_attributes(ledger, ext, **changed, user=user, note=note,
                              read_version=version)
        if edit.submission_id is not None:
            version = edit.submission_id
            said.append(", ".join(c.field for c in edit.changes)
                        + f" saved as submission {edit.submission_id}")
    if stage is not None:
        try:
            move = set_stage(ledger, ext, stage, user=user, note=note, read_version=version)
        except Conflict as exc:
            if said:
                raise LedgerError(f"{'; '.join(said)}; the stage was not: {exc}") from exc
            raise
        if move.submission_id is not None:
            said.append(f"stage {move.old} → {move.new} saved as submission "
                        f"{move.submission_id}")
    return said


def _current(ledger: Ledger, conn: Connection, ext: str) -> dict[str, str]:
    """The initiative's current editable attributes as the office form shows them."""
    from ledger.initiative_admin import find_external_id
    from ledger.initiatives import current_initiatives

    row = current_initiatives(conn, initiative_ids=[find_external_id(conn, ext)]).iloc[0]
    return {"name": str(row["name"]), "owner": str(row["owner"]),
            "unit": row["business_unit"] if isinstance(row["business_unit"], str) else "",
            "lever": row["lever"] if isinstance(row["lever"], str) else "",
            "stage": str(row["stage"])}


def _choices(ledger: Ledger, conn: Connection, *, owners: bool) -> dict[str, Any]:
    """The codes (and names) a filter or the office form offers."""
    def coded(frame: Any) -> list[tuple[str, str]]:
        return [(str(c), str(n)) for c, n in zip(frame["code"], frame["name"], strict=True)]

    return {"units": coded(ledger.business_units(conn)), "levers": coded(ledger.levers(conn)),
            "stages": coded(ledger.stage_gates(conn)),
            "owners": current_owners(conn) if owners else []}


def office_form(ledger: Ledger, conn: Connection, session: Session) -> dict[str, Any] | None:
    """What the office's attribute form on an initiative page offers (None: not office)."""
    if session.account.role != "office":
        return None
    return _choices(ledger, conn, owners=True)

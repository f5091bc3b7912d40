"""The targets pages: current targets by scope and metric, one scope's months and
revisions, and (office) a form that sets a revision as ``tledger target set`` does.

Reads go through :func:`ledger.targets.target_summary`, :func:`~ledger.targets.target_by_month`
and :func:`~ledger.targets.target_revisions`; the form calls :func:`ledger.targets.set_target`
as the logged-in account, so the page and the CLI cannot disagree.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.errors import LedgerError
from ledger.money import from_minor
from ledger.targets import (
    TargetSetResult,
    set_target,
    target_by_month,
    target_revisions,
    target_summary,
)
from tledger.web.context import FLASH_COOKIE, OFFICE, OFFICE_FINANCE, Web

FLASH_KEY = "/targets"
PROFILES = ("even", "ramp")
#: The set form's fields, carried back to it when a revision is refused.
FIELDS = ("metric", "scope", "amount", "fiscal_year", "first", "last", "profile", "note")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)[:16]


def scopes(web: Web, conn: Connection) -> list[str]:
    """Every scope a target can have: the programme, each unit, each lever."""
    units = web.ledger.business_units(conn)["code"].tolist()
    levers = web.ledger.levers(conn)["code"].tolist()
    return ["programme", *(f"unit:{c}" for c in units), *(f"lever:{c}" for c in levers)]


def scope_link(metric: str, scope: str) -> str:
    return "/targets/scope?" + urlencode({"metric": metric, "scope": scope})


def describe_revision(result: TargetSetResult) -> str:
    """One line: what the revision recorded (or that nothing changed)."""
    span = f"{result.months[0]:%Y-%m}..{result.months[-1]:%Y-%m}"
    what = f"{result.metric} {result.scope.label} {span}"
    if result.submission_id is None:
        return f"No change: {what} already has these amounts; nothing written."
    if result.level:
        return (f"Target {what}: levels recorded as revision {result.submission_id} (a ratio "
                "metric: a level per month, not a total).")
    total = from_minor(result.total_minor, result.decimals)
    before = from_minor(result.total_before_minor, result.decimals)
    after = from_minor(result.total_after_minor, result.decimals)
    return (f"Target {what}: {total:,} recorded as revision {result.submission_id}; scope "
            f"total {before:,} -> {after:,}.")


def routes(web: Web) -> list[BaseRoute]:
    def overview(request: Request, session: Session, *, status: int = 200, message: str = "",
                 typed: dict[str, str] | None = None) -> Response:
        with web.ledger.reading() as conn:
            summary = target_summary(web.ledger, conn=conn)
            metrics = [m.code for m in web.ledger.metrics(conn)]
            every_scope = scopes(web, conn)
        rows = [{**rec, "when": _when(rec["when"]), "link": scope_link(rec["metric"],
                                                                       rec["scope"])}
                for rec in summary.to_dict("records")]
        return web.render("targets.html", status, session=session, title="Targets", rows=rows,
                          metrics=metrics, scopes=every_scope, profiles=PROFILES,
                          message=message, typed=typed or {},
                          may_set=session.account.role == "office")

    def targets_get(request: Request, session: Session, form: FormData | None) -> Response:
        shown = web.flashed(request, FLASH_KEY)
        response = overview(request, session, message=shown[0] if shown else "")
        if shown:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def scope_get(request: Request, session: Session, form: FormData | None) -> Response:
        metric = request.query_params.get("metric", "")[:60]
        scope = request.query_params.get("scope", "programme")[:80]
        with web.ledger.reading() as conn:
            months = target_by_month(web.ledger, metric=metric, scope=scope, conn=conn)
            revisions = target_revisions(web.ledger, metric=metric, scope=scope, conn=conn)
        key = f"{FLASH_KEY}|{metric}|{scope}"
        shown = web.flashed(request, key)
        total = sum(months["amount"].tolist(), start=0)
        response = web.render(
            "target_scope.html", session=session, title=f"{metric} target, {scope}",
            metric=metric, scope=scope, months=months.to_dict("records"), total=total,
            revisions=[{**r, "when": _when(r["when"])} for r in revisions.to_dict("records")],
            message=shown[0] if shown else "")
        if shown:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def targets_post(request: Request, session: Session, form: FormData | None) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        typed = {name: str(form.get(name) or "").strip()[:2000] for name in FIELDS}
        weights = str(form.get("weights") or "").strip()[:2000]
        profile = typed["profile"] or "even"
        if profile == "weights":
            profile = f"weights:{weights}"
        typed["weights"] = weights
        try:
            result = set_target(
                web.ledger, metric=typed["metric"], amount=typed["amount"],
                fiscal_year=typed["fiscal_year"] or None, first=typed["first"] or None,
                last=typed["last"] or None, scope=typed["scope"] or "programme",
                profile=profile, user=session.account.email, note=typed["note"])
        except LedgerError as exc:
            return overview(request, session, status=400, typed=typed,
                            message=f"Nothing was saved: {exc}")
        scope = result.scope.label
        target = RedirectResponse(scope_link(result.metric, scope), status_code=303)
        return web.flash(target, request, f"{FLASH_KEY}|{result.metric}|{scope}",
                         describe_revision(result))

    return [
        Route("/targets", web.page(targets_get, roles=OFFICE_FINANCE), methods=["GET"]),
        Route("/targets", web.page(targets_post, roles=OFFICE), methods=["POST"]),
        Route("/targets/scope", web.page(scope_get, roles=OFFICE_FINANCE), methods=["GET"]),
    ]

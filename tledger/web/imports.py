"""The office's imports page: upload an initiatives or targets workbook (and a mapping),
see its dry run, download its problem report, then confirm or cancel.

Every step calls what ``tledger import`` calls (:func:`importers.import_initiatives`,
:func:`importers.import_targets`, :func:`importers.problems.write_problem_report`), so the
page and the CLI find the same problems and the confirmed import is the same submission
(same SHA-256: a second confirm or a CLI import of the same file adds nothing). Between
the dry run and the confirmation the upload is kept only in a temporary directory
(:mod:`tledger.web.uploads`). If the ledger changed in between, the confirmation shows a
new dry run instead of importing changes nobody saw.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from importers import ImportProblems, ImportResult, Problem, import_initiatives, import_targets
from importers.problems import ERROR, write_problem_report
from ledger import settings
from ledger.accounts import Session
from ledger.errors import LedgerError
from ledger.store import last_submission_id
from ledger.vocabulary import parse_scale
from tledger.cli.imports import describe_import, describe_owner_import
from tledger.web.context import FLASH_COOKIE, OFFICE, Web
from tledger.web.uploads import KEEP_MINUTES, TooLarge, Upload, UploadStore, copy_limited, safe_name

FLASH_KEY = "/imports"
KINDS = ("initiatives", "targets")
#: Room in a request beyond the workbook's limit: the mapping file and the form's fields.
FORM_ROOM = 256 << 10
#: Initiative ids listed per kind of change on the dry-run page (all are counted).
SHOWN_IDS = 200
REPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def body_limit() -> int:
    """The largest request the upload reads: the importer's limit plus the form's room."""
    return settings.import_max_bytes() + FORM_ROOM


def _options(form: FormData) -> dict[str, Any]:
    kind = str(form.get("kind") or "")
    if kind not in KINDS:
        raise LedgerError(f"kind {kind[:20]!r}: expected initiatives or targets")
    mode = str(form.get("mode") or "update")
    scale_text = str(form.get("scale") or "").strip()
    if scale_text:
        parse_scale(scale_text, "scale")  # refused now, before anything is kept
    return {"kind": kind, "mode": mode if kind == "initiatives" else "update",
            "scale": scale_text, "note": str(form.get("note") or "")[:2000]}


def run_import(web: Web, upload: Upload, *, dry_run: bool, user: str | None
               ) -> ImportResult:
    """The import ``tledger import <kind>`` would run on the kept files."""
    meta = upload.meta
    scale = parse_scale(meta["scale"], "scale") if meta["scale"] else None
    if meta["kind"] == "targets":
        return import_targets(web.ledger, upload.workbook, mapping=upload.mapping,
                              scale=scale, dry_run=dry_run, user=user, note=meta["note"])
    return import_initiatives(web.ledger, [upload.workbook], mapping=upload.mapping,
                              mode=meta["mode"], scale=scale, dry_run=dry_run, user=user,
                              note=meta["note"])


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,}"
    return "" if value is None else str(value)


def dry_run_found(result: ImportResult) -> dict[str, Any]:
    """What the page shows of a dry run (plain JSON values, kept with the upload)."""
    owner = result.owner_result
    totals = result.total_change
    found: dict[str, Any] = {
        "summary": (describe_owner_import(owner) if owner is not None
                    else describe_import(result)),
        "what": result.what,
        "rows_read": result.rows_read,
        "facts": [result.facts_added, result.facts_changed, result.facts_removed],
        "ids": {title: [len(ids), ids[:SHOWN_IDS]] for title, ids in (
            ("added", result.initiatives_added), ("changed", result.initiatives_changed),
            ("withdrawn", result.initiatives_withdrawn))},
        "columns": [str(c) for c in totals.columns],
        "totals": [[_text(v) for v in row] for row in totals.itertuples(index=False)],
        "problems": [asdict(p) for p in result.warnings],
        "committed": [c.line for c in result.committed_plan_changes],
        "errors": 0,
        "already": result.already_imported,
        "can_confirm": not result.already_imported and (
            result.changed or (owner is not None and owner.count > 0)),
    }
    return found


def problems_found(exc: ImportProblems) -> dict[str, Any]:
    return {"summary": str(exc), "problems": [asdict(p) for p in exc.problems],
            "errors": sum(1 for p in exc.problems if p.severity == ERROR),
            "can_confirm": False, "already": False, "columns": [], "totals": [], "ids": {}}


def routes(web: Web) -> list[BaseRoute]:  # noqa: C901  (the page's handlers are closures)
    store = UploadStore(web.ledger.engine.url.render_as_string(hide_password=False))
    store.clear()

    def imports_get(request: Request, session: Session, form: FormData | None) -> Response:
        store.sweep(web.clock())
        shown = web.flashed(request, FLASH_KEY)
        response = web.render("imports.html", session=session, title="Imports",
                              message=shown[0] if shown else "", limit=body_limit() - FORM_ROOM)
        if shown:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def keep(upload: Upload, form: FormData) -> None:
        workbook = form.get("workbook")
        if not isinstance(workbook, UploadFile) or not workbook.filename:
            raise LedgerError("choose a workbook to upload (.xlsx, .xlsm, .xls, .xlsb, .ods "
                              "or .csv)")
        limit = settings.import_max_bytes()
        copy_limited(workbook.file, upload.workbook, limit)
        mapping = form.get("mapping")
        if isinstance(mapping, UploadFile) and mapping.filename:
            upload.meta["mapping"] = safe_name(mapping.filename, "mapping.toml")
            assert upload.mapping is not None  # noqa: S101  (just set)
            upload.mapping.parent.mkdir()
            copy_limited(mapping.file, upload.mapping, FORM_ROOM // 2)

    def dry_run(upload: Upload) -> None:
        """Run the dry run and keep what it found (the workbook only if it can land)."""
        with web.ledger.reading() as conn:
            upload.meta["stamp"] = last_submission_id(conn)
        try:
            result = run_import(web, upload, dry_run=True, user=None)
        except ImportProblems as exc:
            upload.meta["found"] = problems_found(exc)
        else:
            upload.meta["found"] = dry_run_found(result)
        if not upload.meta["found"]["can_confirm"]:
            upload.drop_workbook()
        upload.save()

    def imports_post(request: Request, session: Session, form: FormData | None) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        store.sweep(web.clock())
        try:
            options = _options(form)
            workbook = form.get("workbook")
            name = safe_name(workbook.filename if isinstance(workbook, UploadFile) else "",
                             "upload.xlsx")
            upload = store.create({**options, "account": session.account.email,
                                   "file": name, "mapping": None}, web.clock())
            try:
                keep(upload, form)
                dry_run(upload)
            except BaseException:
                store.remove(upload)
                raise
        finally:
            for _, value in form.multi_items():
                if isinstance(value, UploadFile):
                    value.file.close()
        return RedirectResponse(f"/imports/{upload.token}", status_code=303)

    def upload_get(request: Request, session: Session, form: FormData | None) -> Response:
        upload = store.get(request.path_params["token"], session.account.email)
        shown = web.flashed(request, upload.token)
        response = web.render("import_dry_run.html", session=session, title="Import: dry run",
                              upload=upload, found=upload.meta["found"],
                              message=shown[0] if shown else "",
                              keep_minutes=KEEP_MINUTES)
        if shown:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def report(request: Request, session: Session, form: FormData | None) -> Response:
        upload = store.get(request.path_params["token"], session.account.email)
        suffix = request.path_params["suffix"]
        if suffix not in REPORT_TYPES:
            raise LedgerError(f"problems.{suffix[:10]}: expected problems.csv or problems.xlsx")
        problems = [Problem(**p) for p in upload.meta["found"]["problems"]]
        with tempfile.TemporaryDirectory() as tmp:
            body = write_problem_report_to(problems, Path(tmp) / f"problems.{suffix}")
        stem = Path(str(upload.meta["file"])).stem
        name = safe_name(f"{stem}-problems.{suffix}", f"problems.{suffix}").replace('"', "")
        return Response(body, media_type=REPORT_TYPES[suffix],
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    def confirm(request: Request, session: Session, form: FormData | None) -> Response:
        upload = store.get(request.path_params["token"], session.account.email)
        if not upload.meta["found"]["can_confirm"]:
            raise LedgerError("this dry run cannot be confirmed (it found errors, or nothing "
                              "to change): upload the workbook again")
        if form is not None and str(form.get("note") or "").strip():
            # The note asked for by a change to a committed plan (or any note) wins.
            upload.meta["note"] = str(form.get("note"))[:2000]
            upload.save()
        with web.ledger.reading() as conn:
            now_at = last_submission_id(conn)
        if now_at != upload.meta["stamp"]:
            was = upload.meta["stamp"]
            dry_run(upload)
            message = (f"The ledger changed since this dry run (submission {was}; now "
                       f"{now_at}): nothing was imported. Below is the dry run against the "
                       "ledger as it is now; confirm again if it is still right.")
            target = RedirectResponse(f"/imports/{upload.token}", status_code=303)
            return web.flash(target, request, upload.token, message)
        committed = upload.meta["found"].get("committed") or []
        if committed and not str(upload.meta.get("note") or "").strip():
            message = (f"The import changes {len(committed)} committed plan figure(s): a note "
                       "is required to change a committed plan. Say why in the note field "
                       "and confirm again; nothing was imported.")
            target = RedirectResponse(f"/imports/{upload.token}", status_code=303)
            return web.flash(target, request, upload.token, message)
        try:
            result = run_import(web, upload, dry_run=False, user=session.account.email)
        finally:
            store.remove(upload)
        owner = result.owner_result
        message = (describe_owner_import(owner) if owner is not None
                   else describe_import(result))
        return web.flash(RedirectResponse("/imports", status_code=303), request, FLASH_KEY,
                         f"Imported {upload.meta['file']}: {message}")

    def cancel(request: Request, session: Session, form: FormData | None) -> Response:
        upload = store.get(request.path_params["token"], session.account.email)
        store.remove(upload)
        return web.flash(RedirectResponse("/imports", status_code=303), request, FLASH_KEY,
                         f"Cancelled: {upload.meta['file']} was not imported and is no "
                         "longer kept.")

    guarded_post = web.page(imports_post, roles=OFFICE)

    async def upload_endpoint(request: Request) -> Response:
        """The upload, read at most up to :func:`body_limit` bytes: a larger declared
        length is refused before reading, a longer stream as soon as it passes the limit."""
        limit = body_limit()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return too_large(limit)
        seen = 0

        async def receive() -> Any:
            nonlocal seen
            message = await request.receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge
            return message

        try:
            return await guarded_post(Request(request.scope, receive))
        except TooLarge:
            return too_large(limit)

    def too_large(limit: int) -> Response:
        return web.render("message.html", 413, title="Upload too large", session=None,
                          message=f"the upload is larger than {limit:,} bytes, the import's "
                          "limit (TLEDGER_IMPORT_MAX_BYTES) with room for a mapping file: "
                          "nothing was read past it and nothing was kept")

    return [
        Route("/imports", web.page(imports_get, roles=OFFICE), methods=["GET"]),
        Route("/imports", upload_endpoint, methods=["POST"]),
        Route("/imports/{token}", web.page(upload_get, roles=OFFICE), methods=["GET"]),
        Route("/imports/{token}/problems.{suffix}", web.page(report, roles=OFFICE),
              methods=["GET"]),
        Route("/imports/{token}/confirm", web.page(confirm, roles=OFFICE), methods=["POST"]),
        Route("/imports/{token}/cancel", web.page(cancel, roles=OFFICE), methods=["POST"]),
    ]


def write_problem_report_to(problems: list[Problem], path: Path) -> bytes:
    """The problem report ``tledger import --report`` writes, as bytes."""
    write_problem_report(problems, path)
    return path.read_bytes()

"""Audit log, subscribers (masked search, CSV import) and the agency's users."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from alerts.access import users
from alerts.access.user_models import CAN_ADMIN
from alerts.audit import service as audit
from alerts.console.web import CurrentOperator, check_csrf, render
from alerts.deps import SessionDep
from alerts.subscribers import importer
from alerts.subscribers import service as subscribers
from alerts.subscribers.phones import mask

router = APIRouter(prefix="/console", include_in_schema=False)
MAX_CSV_BYTES = 50 * 1_048_576
PAGE = 50  # subscribers per page


@router.get("/audit", name="console_audit")
def audit_log(
    request: Request, op: CurrentOperator, session: SessionDep, target: str = ""
) -> Response:
    """Who did what, when, with the exact CAP payload where there was one."""
    events = audit.recent(session=session, limit=200, target_id=target or None)
    return render(request, "audit.html", op, events=events, target=target)


@router.get("/subscribers", name="console_subscribers")
def subscriber_list(
    request: Request,
    op: CurrentOperator,
    session: SessionDep,
    ends_with: str = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Search subscribers by the last digits of their number, a page at a time; numbers masked."""
    users.require_role(op.user, CAN_ADMIN, "manage subscribers")
    digits = "".join(ch for ch in ends_with if ch.isdigit())[:8]
    rows, total = subscribers.list_subscribers(
        session=session, ends_with=digits or None, limit=PAGE, offset=(page - 1) * PAGE
    )
    return render(
        request,
        "subscribers.html",
        op,
        rows=rows,
        total=total,
        ends_with=digits,
        page=page,
        pages=max(1, -(-total // PAGE)),
        first=(page - 1) * PAGE + 1,
        mask=mask,
        report=None,
    )


def _import(engine: Engine, data: bytes) -> importer.ImportReport:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(data)
        return importer.import_file(engine, path)


@router.post("/subscribers/import")
async def subscriber_import(request: Request, op: CurrentOperator, session: SessionDep) -> Response:
    """Import a CSV of subscribers: all rows or none, with a per-row error report."""
    users.require_role(op.user, CAN_ADMIN, "import subscribers")
    async with request.form(max_part_size=MAX_CSV_BYTES) as form:
        check_csrf(op.csrf, str(form.get("csrf_token") or ""))
        upload = form.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    report = await run_in_threadpool(_import, request.app.state.engine, data)
    audit.record(
        session=session,
        actor=op.actor,
        action="subscribers.import",
        detail={
            "rows": report.rows,
            "subscribers": report.subscribers,
            "errors": len(report.errors),
        },
    )
    rows, total = subscribers.list_subscribers(session=session, limit=PAGE)
    return render(
        request,
        "subscribers.html",
        op,
        rows=rows,
        total=total,
        ends_with="",
        page=1,
        pages=max(1, -(-total // PAGE)),
        first=1,
        mask=mask,
        report=report,
        status_code=200 if report.ok else 400,
    )


@router.get("/users", name="console_users")
def user_list(request: Request, op: CurrentOperator, session: SessionDep) -> Response:
    """The agency's console users and their roles."""
    users.require_role(op.user, CAN_ADMIN, "see users")
    assert op.agency.id is not None
    return render(
        request, "users.html", op, users=users.list_users(session=session, agency_id=op.agency.id)
    )

"""HTTP endpoints for posting, validating and reading CAP alerts."""

from __future__ import annotations

import json
import threading
from contextlib import nullcontext
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from alerts.db import session_scope
from alerts.deps import CurrentAgency, EngineDep, OptionalPrincipal, SessionDep, SettingsDep
from alerts.dispatch.service import expect_recipients
from alerts.errors import BadInput, PayloadTooLarge, UnsupportedMediaType, Violation
from alerts.intake import service
from alerts.intake.models import Alert, AlertDetail, AlertPage, AlertSummary

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

# SQLite allows one writer at a time and makes the others sleep and retry (1, 2, 5 ... 100 ms):
# this process's ingests queue here instead, which keeps the tail latency of a burst short.
_SQLITE_WRITER = threading.Lock()
CAP_MEDIA_TYPES = ("application/cap+xml", "application/xml", "text/xml")
_CAP_BODY = {
    "required": True,
    "content": {
        "application/cap+xml": {"schema": {"type": "string", "format": "binary"}},
        "application/xml": {"schema": {"type": "string", "format": "binary"}},
    },
}
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The CAP document breaks listed rules", **_PROBLEM},
    401: {"description": "Missing or unknown API key", **_PROBLEM},
    403: {"description": "The agency may not post as this sender", **_PROBLEM},
    413: {"description": "Body over the configured size limit", **_PROBLEM},
    415: {"description": "Body is not CAP XML", **_PROBLEM},
}


async def read_cap_body(request: Request, max_bytes: int) -> bytes:
    """Read the request body as CAP XML, refusing other media types and oversized bodies."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CAP_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"send CAP as one of {', '.join(CAP_MEDIA_TYPES)}, not {media or '(none)'}"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"body is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _expected(request: Request) -> int | None:
    """``X-Expected-Recipients``: the sender's preview count; dispatch blocks far above it."""
    value = request.headers.get("x-expected-recipients")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise BadInput(
            "X-Expected-Recipients must be a whole number",
            violations=[Violation(rule="HEADER-EXPECTED-RECIPIENTS", message=value[:40])],
        )
    return int(value)


def links(alert: Alert, base: str = "") -> dict[str, str]:
    """Hypermedia links for an alert."""
    return {
        "self": f"{base}/api/v1/alerts/{alert.id}",
        "xml": f"{base}/api/v1/alerts/{alert.id}.xml",
        "page": f"{base}/a/{alert.short_id}",
    }


def summary(alert: Alert) -> AlertSummary:
    """The API's summary of a stored alert."""
    assert alert.id is not None
    return AlertSummary(
        id=alert.id,
        short_id=alert.short_id,
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent,
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        state=service.effective_state(alert),
        cap_version=alert.cap_version,
        event=alert.event,
        severity=alert.severity,
        urgency=alert.urgency,
        headline=alert.headline,
        languages=alert.languages,
        expires=alert.expires_utc,
        received_at=alert.received_at,
        references=alert.references,
        replaced_by_id=alert.replaced_by_id,
        signature=alert.signature,
        warnings=alert.warnings,
        links=links(alert),
    )


def detail(alert: Alert) -> AlertDetail:
    """The API's full view of a stored alert."""
    area = json.loads(alert.area_geojson) if alert.area_geojson else None
    return AlertDetail(
        **summary(alert).model_dump(), infos=alert.infos, area=area, area_errors=alert.area_errors
    )


@router.post(
    "",
    status_code=201,
    response_model=AlertSummary,
    openapi_extra={"requestBody": _CAP_BODY},
    responses={
        200: {"description": "Already stored: the existing alert", "model": AlertSummary},
        **_ERRORS,
    },
    summary="Post a CAP alert",
)
async def post_alert(
    request: Request, agency: CurrentAgency, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Validate and store a CAP 1.2 (or 1.1/1.0) alert; repeats return the stored alert."""
    expected = _expected(request)
    data = await read_cap_body(request, settings.max_cap_bytes)
    resolver = getattr(request.app.state, "area_resolver", None)

    def store() -> service.IngestOutcome:
        # The session lives inside this one thread-pool call (not SessionDep, whose entry and
        # exit are two more hops): parsing and the database stay off the event loop.
        writer = _SQLITE_WRITER if engine.dialect.name == "sqlite" else nullcontext()
        with writer, session_scope(engine) as session:
            outcome = service.ingest(
                session=session,
                data=data,
                agency=agency,
                max_bytes=settings.max_cap_bytes,
                actor=f"agency:{agency.id}",
                area_resolver=resolver,
            )
            if outcome.created and outcome.alert.id is not None:
                # Durable with the alert: the planner's preview guard, whichever process plans.
                expect_recipients(session=session, alert_id=outcome.alert.id, expected_max=expected)
            return outcome

    outcome = await run_in_threadpool(store)
    outcome.expected_recipients = expected
    hooks = getattr(request.app.state, "on_alert_stored", [])
    for hook in hooks:
        await hook(outcome)
    body = summary(outcome.alert).model_dump(mode="json")
    status = 201 if outcome.created else 200
    return JSONResponse(body, status_code=status, headers={"Location": body["links"]["self"]})


@router.post(
    "/validate",
    openapi_extra={"requestBody": _CAP_BODY},
    responses={413: _ERRORS[413], 415: _ERRORS[415]},
    summary="Validate a CAP document without storing it",
)
async def validate_alert(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Dry run: the full rule report (errors and warnings); nothing is stored."""
    data = await read_cap_body(request, settings.max_cap_bytes)
    result = await run_in_threadpool(
        service.validate_document, data, agency=None, max_bytes=settings.max_cap_bytes
    )
    return {
        "valid": result.ok,
        "cap_version": result.cap_version,
        "identifier": result.alert.identifier if result.alert else None,
        "violations": _as_dicts(result),
    }


def _as_dicts(result: Any) -> list[dict[str, Any]]:
    return [
        {
            "rule": v.rule,
            "message": v.message,
            "path": v.path,
            "line": v.line,
            "severity": v.severity,
        }
        for v in service.violations_of(result.issues)
    ]


@router.get("", response_model=AlertPage, summary="List alerts")
def list_alerts(
    session: SessionDep,
    principal: OptionalPrincipal,
    status: Annotated[str | None, Query(description="CAP status, e.g. Actual, Exercise")] = None,
    active: Annotated[
        bool | None, Query(description="Only active (or only inactive) alerts")
    ] = None,
    since: Annotated[datetime | None, Query(description="Sent at or after (ISO 8601)")] = None,
    sender: Annotated[str | None, Query(description="CAP sender")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AlertPage:
    """A page of alerts, newest first: without a key the Public ones, with one also your own."""
    rows, total = service.list_alerts(
        session=session,
        principal=principal,
        status=status,
        active=active,
        since=since,
        sender=sender,
        limit=limit,
        offset=offset,
    )
    return AlertPage(items=[summary(a) for a in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/{alert_id}.xml",
    response_class=Response,
    responses={
        200: {"content": {"application/cap+xml": {}}},
        404: {"description": "No such alert", **_PROBLEM},
    },
    summary="The original CAP bytes",
)
def get_alert_xml(alert_id: int, session: SessionDep, principal: OptionalPrincipal) -> Response:
    """The CAP document exactly as it was received (Restricted/Private: the sender's key)."""
    alert = service.get_readable_alert(session=session, alert_id=alert_id, principal=principal)
    return Response(alert.raw_xml, media_type="application/cap+xml")


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    responses={404: {"description": "No such alert", **_PROBLEM}},
    summary="One alert",
)
def get_alert(alert_id: int, session: SessionDep, principal: OptionalPrincipal) -> AlertDetail:
    """One alert with its parsed infos and resolved area (Restricted/Private: the sender's key)."""
    return detail(
        service.get_readable_alert(session=session, alert_id=alert_id, principal=principal)
    )

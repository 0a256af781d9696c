"""Alert list and detail: approval (two-person rule), actions, map, live delivery dashboard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import shapely
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from alerts.access.user_models import CAN_APPROVE, CAN_COMPOSE
from alerts.access.users import require_role
from alerts.audit import service as audit
from alerts.console import flows, proxy
from alerts.console.routes_compose import read_post
from alerts.console.web import ApiOperator, CurrentOperator, Operator, redirect, render
from alerts.db import session_scope
from alerts.deps import EngineDep, SessionDep
from alerts.dispatch import service as dispatch_service
from alerts.dispatch.models import DispatchPlan, PlanState
from alerts.errors import AlertcastError, NotFound
from alerts.intake import service as intake
from alerts.intake.models import Alert

router = APIRouter(prefix="/console/alerts", include_in_schema=False)
POLL_S = 1.0
STREAM_MAX_S = 900.0
TABS = {"active": True, "past": False, "all": None}
PENDING_STATES = ("queued", "claimed", "submitting", "submitted")


def _own(op: Operator, alert: Alert) -> Alert:
    """Operators see only their agency's alerts."""
    if alert.agency_id != op.agency.id and alert.sender not in op.agency.senders:
        raise NotFound(f"alert {alert.id} does not exist")
    return alert


@router.get("", name="console_alerts")
def alert_list(
    request: Request, op: CurrentOperator, session: SessionDep, tab: str = "active"
) -> Response:
    """Alerts of the agency: waiting for approval, active, past."""
    pending, _ = intake.list_alerts(session=session, limit=100)
    waiting = [a for a in pending if a.state == "pending_approval" and _mine(op, a)]
    rows, total = intake.list_alerts(session=session, active=TABS.get(tab), limit=100)
    rows = [a for a in rows if _mine(op, a)]
    return render(
        request,
        "alerts.html",
        op,
        rows=rows,
        waiting=waiting,
        tab=tab,
        total=total,
        state_of=intake.effective_state,
    )


def _mine(op: Operator, alert: Alert) -> bool:
    return alert.agency_id == op.agency.id or alert.sender in op.agency.senders


@router.get("/{alert_id}", name="console_alert")
def alert_detail(
    request: Request, alert_id: int, op: CurrentOperator, session: SessionDep, error: str = ""
) -> Response:
    """One alert: what it says, where, its state, approval, actions and deliveries."""
    alert = _own(op, intake.get_alert(session=session, alert_id=alert_id))
    return _detail(request, op, session, alert, error)


def _detail(
    request: Request,
    op: Operator,
    session: SessionDep,
    alert: Alert,
    error: str = "",
    status_code: int = 200,
) -> Response:
    facts = flows.sent_facts(session, alert)
    plan = session.get(DispatchPlan, alert.id)
    return render(
        request,
        "alert.html",
        op,
        status_code=status_code,
        mode=alert.status,
        alert=alert,
        author=facts.author,
        recipients=facts.recipients,
        area_desc=facts.area_desc,
        state=intake.effective_state(alert),
        sending=plan is None or plan.state == PlanState.DISPATCHING,
        error=error,
        own=facts.author == op.actor,
        cap_xml=alert.raw_xml.decode("utf-8", "replace"),
    )


@router.post("/{alert_id}/approve")
async def approve(
    request: Request, alert_id: int, op: CurrentOperator, session: SessionDep
) -> Response:
    """Second-person approval; the author, viewers and authors-only are refused."""
    await read_post(request, op)
    try:
        require_role(op.user, CAN_APPROVE, "approve alerts")
        _own(op, intake.get_alert(session=session, alert_id=alert_id))
        await flows.approve(request, session, op, alert_id)
    except AlertcastError as exc:
        session.rollback()
        audit.record(
            session=session,
            actor=op.actor,
            action="alert.approve.refused",
            target_type="alert",
            target_id=alert_id,
            detail={"reason": exc.detail},
        )
        session.commit()
        alert = intake.get_alert(session=session, alert_id=alert_id)
        return _detail(request, op, session, alert, exc.detail, exc.status)
    return redirect(f"/console/alerts/{alert_id}")


@router.post("/{alert_id}/stop")
async def stop(
    request: Request, alert_id: int, op: CurrentOperator, session: SessionDep, engine: EngineDep
) -> Response:
    """Stop sending now: one person, no approval (stopping never sends anything).

    Every message not yet handed to the MMSC is cancelled and the answer comes once none is in
    flight; people already reached are not told (that is what a Cancel or a correction is for).
    """
    await read_post(request, op)
    try:
        require_role(op.user, CAN_COMPOSE, "stop sending")
        _own(op, intake.get_alert(session=session, alert_id=alert_id))
    except AlertcastError as exc:
        alert = intake.get_alert(session=session, alert_id=alert_id)
        return _detail(request, op, session, _own(op, alert), exc.detail, exc.status)
    result = await dispatch_service.cancel_async(
        engine, alert_id, reason=f"sending stopped in the console by {op.user.username}"
    )
    audit.record(
        session=session,
        actor=op.actor,
        action="alert.dispatch.stop",
        target_type="alert",
        target_id=alert_id,
        detail=result,
    )
    return redirect(f"/console/alerts/{alert_id}")


def _render_map(alert: Alert) -> tuple[bytes, str]:
    from renderers.maps import render_alert_map

    geometry = shapely.geometry.shape(json.loads(alert.area_geojson or "{}"))
    return render_alert_map(
        geometry,
        event=alert.event or "Alert",
        severity=alert.severity or "Unknown",
        status=alert.status,
        headline=alert.headline or "",
    )


@router.get("/{alert_id}/map.png")
async def alert_map(
    request: Request, alert_id: int, op: ApiOperator, session: SessionDep
) -> Response:
    """The alert's map image: the service's own when installed, else rendered here."""
    alert = _own(op, intake.get_alert(session=session, alert_id=alert_id))
    path = f"/api/v1/alerts/{alert_id}/map.png"
    if proxy.has_route(request, path):
        up = await proxy.call(request, session, op.agency, "GET", path, params={"size": "640x480"})
        if up.ok:
            return Response(up.body, media_type=up.media_type)
    if not alert.area_geojson:
        raise NotFound("this alert's area could not be resolved to a map")
    data, media = await run_in_threadpool(_render_map, alert)
    return Response(data, media_type=media)


async def _summary(request: Request, op: Operator, alert_id: int) -> dict[str, Any] | None:
    """The delivery summary from the dispatch API, or None while that API is not installed."""
    path = f"/api/v1/alerts/{alert_id}/deliveries"
    if not proxy.has_route(request, path):
        return None
    # The request's session is gone once streaming starts: one short session per poll.
    with session_scope(request.app.state.engine) as session:
        up = await proxy.call(request, session, op.agency, "GET", path, params={"limit": 1})
    if not up.ok:
        return {"error": up.status}
    summary: dict[str, Any] = up.json().get("summary", {})
    return summary


def _settled(summary: dict[str, Any]) -> bool:
    """Dispatch has finished and nothing is still on its way."""
    pending = sum(int(summary.get("by_state", {}).get(s, 0)) for s in PENDING_STATES)
    return summary.get("plan_state") in ("done", "blocked", "cancelled", "expired") and not pending


async def _stream(request: Request, op: Operator, alert_id: int) -> AsyncIterator[str]:
    waited, last = 0.0, ""
    while waited < STREAM_MAX_S and not await request.is_disconnected():
        summary = await _summary(request, op, alert_id)
        if summary is None:
            yield "event: unavailable\ndata: {}\n\n"
            return
        body = json.dumps(summary)
        if body != last:
            yield f"event: summary\ndata: {body}\n\n"
            last = body
        if _settled(summary):
            yield "event: end\ndata: {}\n\n"
            return
        await asyncio.sleep(POLL_S)
        waited += POLL_S


@router.get("/{alert_id}/events")
def events(request: Request, alert_id: int, op: ApiOperator, session: SessionDep) -> Response:
    """Server-sent delivery summaries for the dashboard (polls the deliveries endpoint)."""
    _own(op, intake.get_alert(session=session, alert_id=alert_id))
    return StreamingResponse(
        _stream(request, op, alert_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

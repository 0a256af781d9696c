"""Dispatch endpoints: delivery funnel and rows, live events (SSE), operator cancel, metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from alerts.access.models import Principal
from alerts.audit import service as audit
from alerts.deps import CurrentPrincipal, EngineDep, SessionDep
from alerts.dispatch import service
from alerts.dispatch.metrics import exposition
from alerts.dispatch.models import DeliveryPage, DeliverySummary
from alerts.errors import Forbidden, Violation
from alerts.intake import service as intake
from alerts.intake.models import Alert

router = APIRouter(tags=["dispatch"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
SSE_MAX_S = 3600.0


@router.get(
    "/api/v1/alerts/{alert_id}/deliveries",
    response_model=DeliveryPage,
    responses={401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM},
    summary="Delivery funnel and rows",
)
def deliveries(
    alert_id: int,
    principal: CurrentPrincipal,
    session: SessionDep,
    state: Annotated[
        str | None,
        Query(pattern="^(queued|claimed|submitting|submitted|delivered|failed|expired|cancelled)$"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeliveryPage:
    """Summary (funnel, failures by reason, latency percentiles) and a page of deliveries, numbers masked."""
    _readable(principal, intake.get_alert(session=session, alert_id=alert_id))
    return DeliveryPage(
        summary=service.summary(session=session, alert_id=alert_id),
        items=service.deliveries(
            session=session, alert_id=alert_id, state=state, limit=limit, offset=offset
        ),
        limit=limit,
        offset=offset,
    )


def _readable(principal: Principal, alert: Alert) -> None:
    """Delivery figures of an alert are for its agency (a key for its sender) and admin keys."""
    if principal.admin or alert.sender in principal.agency.senders:
        return
    raise Forbidden(
        f"agency {principal.agency.name!r} may not read deliveries of alerts by {alert.sender!r}",
        violations=[
            Violation(
                rule="AUTH-ALERT-NOT-OWNED",
                message="delivery figures are shown to the sending agency and admin keys",
            )
        ],
    )


async def _events(
    request: Request, engine: EngineDep, alert_id: int, interval_s: float
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    last = ""
    while loop.time() - started < SSE_MAX_S and not await request.is_disconnected():
        summary = await asyncio.to_thread(_summary, engine, alert_id)
        body = summary.model_dump_json()
        if body != last:
            yield f"event: summary\ndata: {body}\n\n"
            last = body
        if summary.plan_state in ("done", "blocked", "cancelled", "expired") and _settled(summary):
            yield f"event: end\ndata: {json.dumps({'plan_state': summary.plan_state})}\n\n"
            return
        await asyncio.sleep(interval_s)


def _summary(engine: EngineDep, alert_id: int) -> DeliverySummary:
    with Session(engine) as session:
        return service.summary(session=session, alert_id=alert_id)


def _settled(summary: DeliverySummary) -> bool:
    return not any(
        summary.by_state.get(s) for s in ("queued", "claimed", "submitting", "submitted")
    )


@router.get(
    "/api/v1/alerts/{alert_id}/events",
    responses={
        200: {"content": {"text/event-stream": {}}},
        401: _PROBLEM,
        403: _PROBLEM,
        404: _PROBLEM,
    },
    summary="Live delivery summary (Server-Sent Events)",
)
def events(
    alert_id: int,
    principal: CurrentPrincipal,
    request: Request,
    engine: EngineDep,
    session: SessionDep,
    interval_s: Annotated[float, Query(ge=0.2, le=10)] = 1.0,
) -> StreamingResponse:
    """A `summary` event whenever the funnel changes; `end` once nothing is pending."""
    _readable(principal, intake.get_alert(session=session, alert_id=alert_id))
    return StreamingResponse(
        _events(request, engine, alert_id, interval_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/api/v1/alerts/{alert_id}/cancel",
    responses={403: _PROBLEM, 404: _PROBLEM},
    summary="Stop dispatching an alert now",
)
async def cancel(
    alert_id: int, principal: CurrentPrincipal, session: SessionDep, engine: EngineDep
) -> dict[str, int]:
    """Cancel every delivery not yet handed to the MMSC; answers once none is in flight."""
    alert = intake.get_alert(session=session, alert_id=alert_id)
    if alert.sender not in principal.agency.senders:
        raise Forbidden(
            f"agency {principal.agency.name!r} may not cancel alerts of {alert.sender!r}"
        )
    result = await service.cancel_async(engine, alert_id, reason="cancelled by operator")
    audit.record(
        session=session,
        actor=f"key:{principal.key_id}",
        action="alert.dispatch.cancel",
        target_type="alert",
        target_id=alert_id,
        detail=result,
    )
    return result


@router.get(
    "/metrics",
    response_class=Response,
    include_in_schema=True,
    tags=["ops"],
    summary="Prometheus metrics",
)
def metrics(request: Request) -> Response:
    """Prometheus text exposition: deliveries by state, queue depth, submit latency, MMSC answers."""
    return Response(
        exposition(getattr(request.app.state, "metrics_registry", None)),
        media_type="text/plain; version=0.0.4",
    )

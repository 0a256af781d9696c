"""Dispatch read side and operator actions: funnel summaries, delivery pages, cancel."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.db import db_time, utcnow
from alerts.dispatch import queue
from alerts.dispatch.models import (
    Delivery,
    DeliveryRow,
    DeliverySummary,
    DispatchPlan,
    PlanRequest,
    PlanState,
)
from alerts.subscribers.phones import mask

CANCEL_WAIT_S = 10.0


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))], 1)


def summary(*, session: Session, alert_id: int) -> DeliverySummary:
    """Funnel counts, failures by reason, language mix and latency percentiles of one alert."""
    plan = session.get(DispatchPlan, alert_id)
    rows = session.execute(
        sa.text("SELECT state, count(*) FROM delivery WHERE alert_id = :a GROUP BY state"),
        {"a": alert_id},
    ).all()
    by_state = {str(s): int(n) for s, n in rows}
    failures = session.execute(
        sa.text(
            "SELECT COALESCE(reason, 'unknown'), count(*) FROM delivery WHERE alert_id = :a AND state = 'failed' "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
        ),
        {"a": alert_id},
    ).all()
    return DeliverySummary(
        alert_id=alert_id,
        plan_state=plan.state if plan else None,
        targeted=plan.targeted if plan else 0,
        by_state=by_state,
        by_language=plan.by_language if plan else {},
        failures_by_reason={str(r): int(n) for r, n in failures},
        latency_ms=_latencies(session, alert_id, plan),
        blocked_rule=plan.blocked_rule if plan else None,
        blocked_reason=plan.blocked_reason if plan and plan.state == PlanState.BLOCKED else None,
    )


def _latencies(
    session: Session, alert_id: int, plan: DispatchPlan | None
) -> dict[str, float | None]:
    if plan is None:
        return {}
    q = (
        select(Delivery.submitted_at, Delivery.final_at, Delivery.state)
        .where(Delivery.alert_id == alert_id, col(Delivery.submitted_at).is_not(None))
        .order_by(col(Delivery.id))
        .limit(20_000)
    )
    rows = session.exec(q).all()
    accepted = plan.accepted_at
    to_submit = [(s - accepted).total_seconds() * 1000 for s, _, _ in rows if s is not None]
    to_deliver = [
        (f - s).total_seconds() * 1000
        for s, f, st in rows
        if s is not None and f is not None and st == "delivered"
    ]
    return {
        "accepted_to_submitted_p50": _percentile(to_submit, 0.5),
        "accepted_to_submitted_p95": _percentile(to_submit, 0.95),
        "submitted_to_delivered_p50": _percentile(to_deliver, 0.5),
        "submitted_to_delivered_p95": _percentile(to_deliver, 0.95),
    }


def deliveries(
    *, session: Session, alert_id: int, state: str | None, limit: int, offset: int
) -> list[DeliveryRow]:
    """A page of deliveries of one alert with numbers masked."""
    q = select(Delivery).where(Delivery.alert_id == alert_id)
    if state:
        q = q.where(Delivery.state == state)
    rows = session.exec(q.order_by(col(Delivery.id)).offset(offset).limit(limit))
    return [
        DeliveryRow(
            id=r.id or 0,
            recipient=mask(r.recipient),
            kind=r.kind,
            state=r.state,
            attempts=r.attempts,
            message_id=r.message_id,
            status_code=r.status_code,
            reason=r.reason,
            submitted_at=r.submitted_at,
            final_at=r.final_at,
        )
        for r in rows
    ]


def expect_recipients(*, session: Session, alert_id: int, expected_max: int | None) -> None:
    """Store the operator's preview count with a just-stored alert (in the caller's transaction).

    Whichever process plans the alert then blocks a count far above it
    (TARGET-COUNT-ABOVE-PREVIEW), even after a crash between storing and planning.
    """
    if expected_max is not None and session.get(PlanRequest, alert_id) is None:
        session.add(PlanRequest(alert_id=alert_id, expected_max=expected_max))


_TOMBSTONE = sa.text(
    "INSERT INTO dispatch_plan (alert_id, state, priority, targeted, by_language, accepted_at,"
    " planned_at, cancelled_at, materialized_at, blocked_reason, segments, resume_segment,"
    " resume_after) VALUES (:a, 'cancelled', 0, 0, '{}', :t, :t, :t, :t, :r, '[]', 0, 0)"
    " ON CONFLICT (alert_id) DO NOTHING"
)


def cancel(engine: Engine, alert_id: int, *, reason: str) -> dict[str, int]:
    """Stop an alert: queued and claimed deliveries cancelled at once; returns when none is in flight.

    Acknowledging only after every in-flight submit has finished is what guarantees that the MMSC
    sees no submit for this alert after the acknowledgement. An alert not planned yet gets a
    cancelled plan, so no planner (in any process) plans it afterwards.
    """
    with engine.begin() as conn:
        conn.execute(
            _TOMBSTONE,
            {"a": alert_id, "t": db_time(conn, utcnow()), "r": f"{reason} before planning"},
        )
        stopped = queue.stop_alert(conn, alert_id, PlanState.CANCELLED, reason=reason)
    deadline = time.monotonic() + CANCEL_WAIT_S
    while queue.in_flight(engine, alert_id) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"cancelled": stopped, "in_flight": queue.in_flight(engine, alert_id)}


async def cancel_async(engine: Engine, alert_id: int, *, reason: str) -> dict[str, int]:
    """``cancel`` off the event loop."""
    return await asyncio.to_thread(cancel, engine, alert_id, reason=reason)

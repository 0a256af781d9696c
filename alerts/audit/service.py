"""Recording audit events (append-only: the database refuses UPDATE and DELETE)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from alerts.audit.models import AuditEvent
from alerts.db import utcnow

_INSERT_AUDIT = sa.insert(SQLModel.metadata.tables["audit_event"])


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: str | int = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event in the caller's transaction."""
    event = AuditEvent(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or {},
    )
    session.add(event)
    return event


def append(
    *,
    session: Session,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: str | int = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit event in the caller's transaction now (one INSERT, no ORM object)."""
    session.connection().execute(
        _INSERT_AUDIT,
        {
            "at": utcnow(),
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
            "detail": detail or {},
        },
    )


def recent(*, session: Session, limit: int = 100, target_id: str | None = None) -> list[AuditEvent]:
    """The newest audit events first."""
    q = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if target_id is not None:
        q = q.where(AuditEvent.target_id == target_id)
    return list(session.exec(q))

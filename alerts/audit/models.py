"""The audit_event table: who did what, when, with what payload. Never updated or deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from alerts.db import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One action taken by a person, an agency key or the system."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100, index=True)
    target_type: str = Field(default="", max_length=50)
    target_id: str = Field(default="", max_length=100)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)

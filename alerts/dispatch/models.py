"""Dispatch tables: per-alert plan, rendered content, the delivery queue, attempts, reports.

The ``delivery`` table *is* the durable queue: one row per (alert, subscriber, kind), claimed by
workers with leases, moved ``queued -> claimed -> submitted -> delivered | failed | expired |
cancelled``. There is no second system of record.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from alerts.db import UTCDateTime, utcnow

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class DeliveryState(StrEnum):
    """Where one message to one subscriber stands."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


FINAL_STATES = (
    DeliveryState.DELIVERED,
    DeliveryState.FAILED,
    DeliveryState.EXPIRED,
    DeliveryState.CANCELLED,
)


class MessageKind(StrEnum):
    """Why a subscriber gets a message."""

    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"
    NOT_AFFECTED = "not_affected"


class PlanState(StrEnum):
    """Where an alert's dispatch stands."""

    BLOCKED = "blocked"
    DISPATCHING = "dispatching"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class DispatchPlan(SQLModel, table=True):
    """One alert's dispatch: guards passed (or the reason they did not), counts, timings."""

    __tablename__ = "dispatch_plan"

    alert_id: int = Field(primary_key=True, foreign_key="alert.id")
    state: str = Field(max_length=20, index=True)
    priority: int = 0
    targeted: int = 0
    by_language: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    expected_max: int | None = None
    blocked_rule: str | None = Field(default=None, max_length=60)
    blocked_reason: str | None = Field(default=None, sa_type=sa.Text)
    accepted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    planned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_submit_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_claim_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Materialisation: deliveries are written in chunks, each committed with the resume key
    # (segment index into ``segments``, last subscriber id written in it). ``materialized_at``
    # stays NULL until the last chunk is in: the sweep never closes such a plan, and any
    # planner process resumes it from the key.
    segments: list[list[str]] = Field(
        default_factory=list, sa_type=sa.JSON, description="[kind, language] in writing order"
    )
    resume_segment: int = 0
    resume_after: int = 0
    materialized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set by the sweep once it stopped waiting for this alert's delivery reports (what was
    # still ``submitted`` then became ``expired``).
    reports_closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlanRequest(SQLModel, table=True):
    """What planning must know about an accepted alert beyond the alert itself.

    Written in the ingest transaction, so a planner in any process (or after a crash) applies
    the operator's preview count (``X-Expected-Recipients`` / console confirmation).
    """

    __tablename__ = "plan_request"

    alert_id: int = Field(primary_key=True, foreign_key="alert.id")
    expected_max: int | None = None
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Content(SQLModel, table=True):
    """The MMS rendered once per (alert, kind, language): subject, text, map image."""

    __table_args__ = (sa.UniqueConstraint("alert_id", "kind", "language", name="uq_content"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    kind: str = Field(max_length=20)
    language: str = Field(max_length=35)
    subject: str = Field(max_length=200)
    text: str = Field(sa_type=sa.Text)
    image: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    image_type: str | None = Field(default=None, max_length=40)
    mms: bytes = Field(default=b"", sa_type=sa.LargeBinary, description="MMS parts, JSON")
    priority_high: bool = False
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One message to one subscriber: the queue row and its tracking record."""

    __table_args__ = (
        sa.UniqueConstraint("alert_id", "subscriber_id", "kind", name="uq_delivery"),
        sa.Index(
            "ix_delivery_queued",
            "alert_id",
            sa.text("priority DESC"),
            "content_id",
            "id",
            postgresql_where=sa.text("state = 'queued'"),
            sqlite_where=sa.text("state = 'queued'"),
        ),
        sa.Index(
            "ix_delivery_leased",
            "lease_until",
            postgresql_where=sa.text("state IN ('claimed', 'submitting')"),
            sqlite_where=sa.text("state IN ('claimed', 'submitting')"),
        ),
        sa.Index(
            "ix_delivery_report",
            "message_id",
            "recipient",
            postgresql_where=sa.text("message_id IS NOT NULL"),
            sqlite_where=sa.text("message_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    # No foreign keys on PostgreSQL (migration 9c4d2e1f0a7b): the planner writes these from a
    # join on subscriber and ids it has just written, alerts/content/subscribers are never
    # deleted, and the per-row RI triggers were ~60 % of planning time at 500k rows.
    alert_id: int
    subscriber_id: int
    content_id: int
    recipient: str = Field(max_length=16)
    kind: str = Field(default=MessageKind.ALERT.value, max_length=20)
    state: str = Field(default=DeliveryState.QUEUED.value, max_length=12)
    priority: int = 0
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    batch_id: str | None = Field(default=None, max_length=40)
    message_id: str | None = Field(default=None, max_length=120)
    status_code: int | None = None
    reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    final_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """One submit attempt of one delivery (attempt history)."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    delivery_id: int = Field(index=True, sa_type=sa.BigInteger)
    batch_id: str = Field(max_length=40)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status_code: int | None = None
    outcome: str = Field(max_length=20)
    http_status: int | None = None


class LinkBucket(SQLModel, table=True):
    """A token bucket per MMSC link shared by every worker process (the global rate limit)."""

    __tablename__ = "link_bucket"

    link: str = Field(primary_key=True, max_length=60)
    tokens: float = 0.0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InboundMessage(SQLModel, table=True):
    """A message from a subscriber (MM7 DeliverReq), e.g. "SAFE", kept for the operator."""

    __tablename__ = "inbound_message"

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=40)
    text: str = Field(default="", sa_type=sa.Text)
    link: str = Field(default="", max_length=60)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliverySummary(BaseModel):
    """Per-alert funnel, failures by reason, latency percentiles."""

    alert_id: int
    plan_state: str | None
    targeted: int
    by_state: dict[str, int]
    by_language: dict[str, int]
    failures_by_reason: dict[str, int]
    latency_ms: dict[str, float | None]
    blocked_rule: str | None = None
    blocked_reason: str | None = None


class DeliveryRow(BaseModel):
    """One delivery as the API lists it (number masked)."""

    id: int
    recipient: str
    kind: str
    state: str
    attempts: int
    message_id: str | None
    status_code: int | None
    reason: str | None
    submitted_at: datetime | None
    final_at: datetime | None


class DeliveryPage(BaseModel):
    """Summary plus a page of delivery rows."""

    summary: DeliverySummary
    items: list[DeliveryRow]
    limit: int
    offset: int
    extra: dict[str, Any] = {}

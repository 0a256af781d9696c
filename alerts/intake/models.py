"""Stored alerts (raw CAP bytes verbatim + parsed columns), CAP feeds and their entries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from alerts.db import UTCDateTime, utcnow


class AlertState(StrEnum):
    """Where a stored alert stands in its life."""

    PENDING_APPROVAL = "pending_approval"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


class Alert(SQLModel, table=True):
    """One CAP alert message as received, with the columns we query by."""

    __table_args__ = (sa.UniqueConstraint("sender", "identifier", "sent_utc", name="uq_alert_key"),)

    id: int | None = Field(default=None, primary_key=True)
    short_id: str = Field(max_length=16, unique=True, index=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", index=True)
    identifier: str = Field(max_length=500)
    sender: str = Field(max_length=500, index=True)
    sent: str = Field(max_length=40, description="CAP sent exactly as written, offset kept")
    sent_utc: datetime = Field(sa_type=UTCDateTime, index=True)
    status: str = Field(max_length=20, index=True)
    msg_type: str = Field(max_length=20)
    scope: str = Field(max_length=20)
    source: str | None = Field(default=None, max_length=500)
    references: str | None = Field(default=None, sa_type=sa.Text)
    cap_version: str = Field(max_length=8)
    raw_xml: bytes = Field(sa_type=sa.LargeBinary)
    state: str = Field(default=AlertState.ACTIVE.value, max_length=20, index=True)
    replaced_by_id: int | None = Field(default=None, foreign_key="alert.id")
    event: str | None = Field(default=None, max_length=500)
    severity: str | None = Field(default=None, max_length=20)
    urgency: str | None = Field(default=None, max_length=20)
    certainty: str | None = Field(default=None, max_length=20)
    headline: str | None = Field(default=None, sa_type=sa.Text)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    infos: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    effective_utc: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_utc: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    area_geojson: str | None = Field(default=None, sa_type=sa.Text)
    area_errors: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    signature: str = Field(default="absent", max_length=20)
    warnings: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    via: str = Field(default="api", max_length=20)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AlertSummary(BaseModel):
    """An alert as the API lists it."""

    id: int
    short_id: str
    identifier: str
    sender: str
    sent: str
    status: str
    msg_type: str
    scope: str
    state: AlertState
    cap_version: str
    event: str | None
    severity: str | None
    urgency: str | None
    headline: str | None
    languages: list[str]
    expires: datetime | None
    received_at: datetime
    references: str | None
    replaced_by_id: int | None
    signature: str
    warnings: list[dict[str, Any]]
    links: dict[str, str]


class AlertDetail(AlertSummary):
    """An alert with its parsed info blocks and resolved area."""

    infos: list[dict[str, Any]]
    area: dict[str, Any] | None
    area_errors: list[dict[str, Any]]


class AlertPage(BaseModel):
    """One page of alerts."""

    items: list[AlertSummary]
    total: int
    limit: int
    offset: int


class Feed(SQLModel, table=True):
    """A CAP ATOM/RSS feed an agency asked us to poll."""

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    url: str = Field(max_length=2000)
    interval_s: float = Field(default=120.0)
    enabled: bool = True
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    last_polled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_poll_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FeedEntry(SQLModel, table=True):
    """One entry seen in a feed: accepted, duplicate, or dead-lettered with reasons."""

    __tablename__ = "feed_entry"
    __table_args__ = (sa.UniqueConstraint("feed_id", "entry_key", name="uq_feed_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    entry_key: str = Field(max_length=1000)
    cap_url: str | None = Field(default=None, max_length=2000)
    outcome: str = Field(max_length=20, index=True)
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    alert_id: int | None = Field(default=None, foreign_key="alert.id")
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""Subscriber tables and API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from alerts.db import UTCDateTime, utcnow


class SubscriberStatus(StrEnum):
    """Whether a subscriber receives alerts."""

    ACTIVE = "active"
    PAUSED = "paused"
    UNSUBSCRIBED = "unsubscribed"


class Subscriber(SQLModel, table=True):
    """A person who opted in to alerts; the number is E.164 and never logged."""

    id: int | None = Field(default=None, primary_key=True)
    phone_e164: str = Field(max_length=16, unique=True, index=True)
    language: str = Field(default="en", max_length=35)
    status: str = Field(default=SubscriberStatus.ACTIVE.value, max_length=16, index=True)
    test_audience: bool = Field(default=False, index=True)
    consent_source: str = Field(default="", max_length=100)
    opted_in_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class SubscriberLocation(SQLModel, table=True):
    """A labelled place of a subscriber (home, work, school) as lon/lat, or a zone's point."""

    __tablename__ = "subscriber_location"

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    label: str = Field(default="home", max_length=40)
    lon: float
    lat: float
    zone_set: str | None = Field(default=None, max_length=100)
    zone_id: str | None = Field(default=None, max_length=100)


class LocationIn(BaseModel):
    """A location given either as lon/lat or as a zone of a registered zone set."""

    label: str = PField(default="home", max_length=40)
    lon: float | None = PField(default=None, ge=-180, le=180)
    lat: float | None = PField(default=None, ge=-90, le=90)
    zone_set: str | None = None
    zone_id: str | None = None


class SubscriberCreate(BaseModel):
    """Input for one subscriber."""

    phone: str = PField(description="Any common format; normalised to E.164")
    language: str = PField(default="en", description="BCP 47 tag, e.g. en, es, zh-Hant")
    locations: list[LocationIn] = PField(min_length=1)
    consent_source: str = PField(default="api", max_length=100)
    test_audience: bool = False


class SubscriberUpdate(BaseModel):
    """Fields that may change."""

    language: str | None = None
    status: SubscriberStatus | None = None
    test_audience: bool | None = None
    locations: list[LocationIn] | None = None


class LocationPublic(BaseModel):
    """A stored location."""

    label: str
    lon: float
    lat: float
    zone_set: str | None
    zone_id: str | None


class SubscriberPublic(BaseModel):
    """A subscriber as the API shows it; the number is masked unless the caller is an admin."""

    id: int
    phone: str
    language: str
    status: SubscriberStatus
    test_audience: bool
    consent_source: str
    opted_in_at: datetime
    locations: list[LocationPublic]


class SubscriberPage(BaseModel):
    """One page of subscribers."""

    items: list[SubscriberPublic]
    total: int
    limit: int
    offset: int

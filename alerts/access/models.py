"""Agencies and their API keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from alerts.db import UTCDateTime, utcnow


class AgencyBase(SQLModel):
    """Fields an operator sets on an agency."""

    name: str = Field(min_length=1, max_length=200, sa_column_kwargs={"unique": True})
    senders: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    ipaws_profile: bool = False
    require_signature: bool = False


class AgencyCreate(AgencyBase):
    """Input for creating an agency."""


class Agency(AgencyBase, table=True):
    """An alerting authority allowed to post as some CAP ``sender`` values."""

    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_geojson: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgencyPublic(AgencyBase):
    """An agency as the API shows it."""

    id: int
    created_at: datetime


class ApiKey(SQLModel, table=True):
    """An API key; only its SHA-256 is stored, the key itself is shown once."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    prefix: str = Field(max_length=16, index=True, unique=True)
    key_hash: str = Field(max_length=64)
    label: str = Field(default="", max_length=200)
    admin: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IssuedKey(BaseModel):
    """A freshly created key: the only time the secret is visible."""

    id: int
    agency_id: int
    key: str = PField(description="Send as `Authorization: Bearer <key>` or `X-API-Key`.")


class Principal(BaseModel):
    """Who is calling: the agency, the key used, and whether that key is an admin key."""

    model_config = {"arbitrary_types_allowed": True}

    agency: Agency
    key_id: int
    admin: bool

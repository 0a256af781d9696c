"""Console users: people who sign in to the operator console, each scoped to one agency."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from alerts.db import UTCDateTime, utcnow


class Role(StrEnum):
    """What a console user may do; one role per user."""

    VIEWER = "viewer"
    AUTHOR = "author"
    APPROVER = "approver"
    ADMIN = "admin"


# Which roles may perform each console action (admin may do everything except approve own work).
CAN_COMPOSE = frozenset({Role.AUTHOR, Role.APPROVER, Role.ADMIN})
CAN_APPROVE = frozenset({Role.APPROVER, Role.ADMIN})
CAN_ADMIN = frozenset({Role.ADMIN})


class UserBase(SQLModel):
    """Fields an admin sets on a console user."""

    username: str = Field(min_length=2, max_length=80, sa_column_kwargs={"unique": True})
    display_name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.VIEWER.value, max_length=16)
    agency_id: int = Field(foreign_key="agency.id", index=True)


class UserCreate(UserBase):
    """Input for creating a user: the password is hashed, never stored."""

    password: str = Field(min_length=10, max_length=200)


class User(UserBase, table=True):
    """A console user; ``password_hash`` is an argon2id hash."""

    __tablename__ = "console_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=200)
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserPublic(BaseModel):
    """A user as pages and the CLI show it (no hash, no counters)."""

    id: int
    username: str
    display_name: str
    role: Role
    agency_id: int

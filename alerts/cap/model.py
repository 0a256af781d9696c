"""Immutable typed model of a CAP 1.2 alert.

Field names are the CAP element names in Python spelling (``msgType`` -> ``msg_type``);
repeatable elements are tuples with plural names (``info`` -> ``infos``, ``code`` -> ``codes``).
Text is kept exactly as sent (no stripping) so that serialising and re-parsing is lossless.
Datetimes are timezone-aware and keep the offset the sender wrote (``-07:00`` stays ``-07:00``).
Polygons and circles stay raw CAP strings (``lat,lon`` order); ``geo.areas`` converts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Status(StrEnum):
    """CAP ``<status>``: the appropriate handling of the alert."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class MsgType(StrEnum):
    """CAP ``<msgType>``: the nature of the alert message."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class Scope(StrEnum):
    """CAP ``<scope>``: the intended distribution."""

    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class Category(StrEnum):
    """CAP ``<category>`` of the subject event."""

    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class ResponseType(StrEnum):
    """CAP ``<responseType>``: the recommended action."""

    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"


class Urgency(StrEnum):
    """CAP ``<urgency>``."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    """CAP ``<severity>``."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    """CAP ``<certainty>`` (CAP 1.0 ``Very Likely`` is upgraded to ``Likely``)."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class NamedValue:
    """A ``valueName``/``value`` pair (eventCode, parameter, geocode)."""

    value_name: str
    value: str


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``sender,identifier,sent`` triplet from ``<references>``."""

    sender: str
    identifier: str
    sent: datetime


@dataclass(frozen=True, slots=True)
class Resource:
    """CAP ``<resource>``: a file accompanying the info (``deref_uri`` is base64 text)."""

    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class Area:
    """CAP ``<area>``; polygons/circles are raw CAP strings (``lat,lon`` order, km radius)."""

    area_desc: str
    polygons: tuple[str, ...] = ()
    circles: tuple[str, ...] = ()
    geocodes: tuple[NamedValue, ...] = ()
    altitude: Decimal | None = None
    ceiling: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Info:
    """CAP ``<info>``: one language's description of the event."""

    language: str
    categories: tuple[Category, ...]
    event: str
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    response_types: tuple[ResponseType, ...] = ()
    audience: str | None = None
    event_codes: tuple[NamedValue, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[NamedValue, ...] = ()
    resources: tuple[Resource, ...] = ()
    areas: tuple[Area, ...] = ()

    def parameter(self, value_name: str) -> str | None:
        """Return the first parameter value with this ``valueName`` (or None)."""
        return next((p.value for p in self.parameters if p.value_name == value_name), None)


@dataclass(frozen=True, slots=True)
class CapAlert:
    """A validated CAP alert, upgraded to CAP 1.2 semantics."""

    identifier: str
    sender: str
    sent: datetime
    status: Status
    msg_type: MsgType
    scope: Scope
    source: str | None = None
    restriction: str | None = None
    addresses: str | None = None
    codes: tuple[str, ...] = ()
    note: str | None = None
    references: tuple[Reference, ...] = ()
    references_text: str | None = None
    incidents: str | None = None
    infos: tuple[Info, ...] = ()

    @property
    def key(self) -> tuple[str, str, datetime]:
        """The dedupe key ``(sender, identifier, sent)`` used by ``<references>``."""
        return (self.sender, self.identifier, self.sent)

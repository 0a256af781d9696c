"""Subscriber operations: create, read, update, unsubscribe, and the arrays the index is built from."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from alerts.db import utcnow
from alerts.errors import BadInput, Conflict, NotFound, Violation
from alerts.subscribers.models import (
    LocationIn,
    LocationPublic,
    Subscriber,
    SubscriberCreate,
    SubscriberLocation,
    SubscriberPublic,
    SubscriberStatus,
    SubscriberUpdate,
)
from alerts.subscribers.phones import PhoneError, check_language, mask, normalise

ZonePoint = Callable[[str, str], tuple[float, float]]
"""Gives a representative (lon, lat) inside a registered zone; raises KeyError when unknown."""


def _bad(rule: str, message: str, path: str) -> BadInput:
    return BadInput(message, violations=[Violation(rule=rule, message=message, path=path)])


def resolve_location(
    loc: LocationIn, zone_point: ZonePoint | None, path: str
) -> SubscriberLocation:
    """Turn an input location into a stored one (zone locations take the zone's point)."""
    if loc.lon is not None and loc.lat is not None:
        return SubscriberLocation(
            subscriber_id=0,
            label=loc.label,
            lon=loc.lon,
            lat=loc.lat,
            zone_set=loc.zone_set,
            zone_id=loc.zone_id,
        )
    if loc.zone_set and loc.zone_id and zone_point is not None:
        try:
            lon, lat = zone_point(loc.zone_set, loc.zone_id)
        except KeyError:
            raise _bad(
                "SUBSCRIBER-ZONE-UNKNOWN",
                f"zone {loc.zone_set}/{loc.zone_id} is not registered",
                path,
            ) from None
        return SubscriberLocation(
            subscriber_id=0,
            label=loc.label,
            lon=lon,
            lat=lat,
            zone_set=loc.zone_set,
            zone_id=loc.zone_id,
        )
    raise _bad("SUBSCRIBER-LOCATION-INCOMPLETE", "give lon and lat, or zone_set and zone_id", path)


def _phone(raw: str, region: str) -> str:
    try:
        return normalise(raw, region)
    except PhoneError as exc:
        raise _bad("SUBSCRIBER-PHONE-INVALID", str(exc), "phone") from None


def _language(tag: str) -> str:
    try:
        return check_language(tag)
    except ValueError as exc:
        raise _bad("SUBSCRIBER-LANGUAGE-INVALID", str(exc), "language") from None


def create_subscriber(
    *,
    session: Session,
    data: SubscriberCreate,
    region: str = "US",
    zone_point: ZonePoint | None = None,
) -> Subscriber:
    """Create a subscriber with its locations; a number already subscribed is a conflict."""
    phone = _phone(data.phone, region)
    language = _language(data.language)
    locations = [
        resolve_location(loc, zone_point, f"locations/{i}") for i, loc in enumerate(data.locations)
    ]
    if (
        session.exec(select(Subscriber.id).where(Subscriber.phone_e164 == phone)).first()
        is not None
    ):
        raise Conflict("this number is already subscribed")
    sub = Subscriber(
        phone_e164=phone,
        language=language,
        consent_source=data.consent_source,
        test_audience=data.test_audience,
    )
    session.add(sub)
    session.flush()
    assert sub.id is not None
    for loc in locations:
        loc.subscriber_id = sub.id
        session.add(loc)
    session.flush()
    return sub


def get_subscriber(*, session: Session, subscriber_id: int) -> Subscriber:
    """One subscriber or NotFound."""
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        raise NotFound(f"subscriber {subscriber_id} does not exist")
    return sub


def locations_of(*, session: Session, subscriber_id: int) -> list[SubscriberLocation]:
    """A subscriber's locations."""
    q = select(SubscriberLocation).where(SubscriberLocation.subscriber_id == subscriber_id)
    return list(session.exec(q.order_by(col(SubscriberLocation.id))))


def update_subscriber(
    *,
    session: Session,
    subscriber_id: int,
    data: SubscriberUpdate,
    zone_point: ZonePoint | None = None,
) -> Subscriber:
    """Change language, status, test audience flag or locations."""
    sub = get_subscriber(session=session, subscriber_id=subscriber_id)
    if data.language is not None:
        sub.language = _language(data.language)
    if data.status is not None:
        sub.status = data.status.value
    if data.test_audience is not None:
        sub.test_audience = data.test_audience
    if data.locations is not None:
        if not data.locations:
            raise _bad(
                "SUBSCRIBER-LOCATION-REQUIRED", "at least one location is required", "locations"
            )
        new = [
            resolve_location(loc, zone_point, f"locations/{i}")
            for i, loc in enumerate(data.locations)
        ]
        session.execute(
            sa.delete(SubscriberLocation).where(col(SubscriberLocation.subscriber_id) == sub.id)
        )
        for loc in new:
            loc.subscriber_id = subscriber_id
            session.add(loc)
    sub.updated_at = utcnow()
    session.add(sub)
    session.flush()
    return sub


def unsubscribe(*, session: Session, subscriber_id: int) -> Subscriber:
    """Mark a subscriber unsubscribed (kept for the consent record, never messaged)."""
    return update_subscriber(
        session=session,
        subscriber_id=subscriber_id,
        data=SubscriberUpdate(status=SubscriberStatus.UNSUBSCRIBED),
    )


def public(
    sub: Subscriber, locations: list[SubscriberLocation], *, reveal: bool
) -> SubscriberPublic:
    """The API view: the number masked unless ``reveal`` (admins)."""
    assert sub.id is not None
    return SubscriberPublic(
        id=sub.id,
        phone=sub.phone_e164 if reveal else mask(sub.phone_e164),
        language=sub.language,
        status=SubscriberStatus(sub.status),
        test_audience=sub.test_audience,
        consent_source=sub.consent_source,
        opted_in_at=sub.opted_in_at,
        locations=[
            LocationPublic(
                label=x.label, lon=x.lon, lat=x.lat, zone_set=x.zone_set, zone_id=x.zone_id
            )
            for x in locations
        ],
    )


def list_subscribers(
    *,
    session: Session,
    ends_with: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Subscriber], int]:
    """A page of subscribers; search by the last digits of the number."""
    q = select(Subscriber)
    if ends_with:
        q = q.where(col(Subscriber.phone_e164).endswith(ends_with))
    if status:
        q = q.where(Subscriber.status == status)
    total = session.exec(select(func.count()).select_from(q.subquery())).one()
    rows = session.exec(q.order_by(col(Subscriber.id)).offset(offset).limit(limit))
    return list(rows), int(total)

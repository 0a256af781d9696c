"""Subscriber endpoints; numbers are masked in every response unless the key is an admin key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from alerts.audit import service as audit
from alerts.deps import AdminPrincipal, CurrentPrincipal, SessionDep
from alerts.subscribers import service
from alerts.subscribers.models import (
    SubscriberCreate,
    SubscriberPage,
    SubscriberPublic,
    SubscriberUpdate,
)

router = APIRouter(prefix="/api/v1/subscribers", tags=["subscribers"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _zone_point(request: Request) -> service.ZonePoint | None:
    zone_point: service.ZonePoint | None = getattr(request.app.state, "zone_point", None)
    return zone_point


@router.post(
    "",
    status_code=201,
    response_model=SubscriberPublic,
    responses={
        400: {"description": "Bad number, language or location", **_PROBLEM},
        409: {"description": "Number already subscribed", **_PROBLEM},
    },
    summary="Add a subscriber",
)
def create(
    body: SubscriberCreate, request: Request, principal: AdminPrincipal, session: SessionDep
) -> SubscriberPublic:
    """Add a subscriber (admin key): the number is validated and normalised to E.164."""
    sub = service.create_subscriber(session=session, data=body, zone_point=_zone_point(request))
    audit.record(
        session=session,
        actor=f"key:{principal.key_id}",
        action="subscriber.create",
        target_type="subscriber",
        target_id=sub.id or "",
    )
    assert sub.id is not None
    return service.public(
        sub, service.locations_of(session=session, subscriber_id=sub.id), reveal=True
    )


@router.get("", response_model=SubscriberPage, summary="List subscribers")
def list_subscribers(
    principal: CurrentPrincipal,
    session: SessionDep,
    ends_with: Annotated[
        str | None, Query(pattern=r"^\d{1,6}$", description="Last digits of the number")
    ] = None,
    status: Annotated[str | None, Query(pattern="^(active|paused|unsubscribed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SubscriberPage:
    """A page of subscribers, numbers masked unless the key is an admin key."""
    rows, total = service.list_subscribers(
        session=session, ends_with=ends_with, status=status, limit=limit, offset=offset
    )
    items = [
        service.public(
            s,
            service.locations_of(session=session, subscriber_id=s.id or 0),
            reveal=principal.admin,
        )
        for s in rows
    ]
    return SubscriberPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{subscriber_id}",
    response_model=SubscriberPublic,
    responses={404: _PROBLEM},
    summary="One subscriber",
)
def get_one(
    subscriber_id: int, principal: CurrentPrincipal, session: SessionDep
) -> SubscriberPublic:
    """One subscriber with locations."""
    sub = service.get_subscriber(session=session, subscriber_id=subscriber_id)
    locs = service.locations_of(session=session, subscriber_id=subscriber_id)
    return service.public(sub, locs, reveal=principal.admin)


@router.patch(
    "/{subscriber_id}",
    response_model=SubscriberPublic,
    responses={404: _PROBLEM},
    summary="Change a subscriber",
)
def update(
    subscriber_id: int,
    body: SubscriberUpdate,
    request: Request,
    principal: AdminPrincipal,
    session: SessionDep,
) -> SubscriberPublic:
    """Change language, status, test-audience flag or locations (admin key)."""
    sub = service.update_subscriber(
        session=session, subscriber_id=subscriber_id, data=body, zone_point=_zone_point(request)
    )
    audit.record(
        session=session,
        actor=f"key:{principal.key_id}",
        action="subscriber.update",
        target_type="subscriber",
        target_id=subscriber_id,
        detail=body.model_dump(exclude_none=True, mode="json", exclude={"locations"}),
    )
    return service.public(
        sub, service.locations_of(session=session, subscriber_id=subscriber_id), reveal=True
    )


@router.delete(
    "/{subscriber_id}", status_code=204, responses={404: _PROBLEM}, summary="Unsubscribe"
)
def delete(subscriber_id: int, principal: AdminPrincipal, session: SessionDep) -> Response:
    """Unsubscribe (the consent record is kept; the subscriber is never messaged again)."""
    service.unsubscribe(session=session, subscriber_id=subscriber_id)
    audit.record(
        session=session,
        actor=f"key:{principal.key_id}",
        action="subscriber.unsubscribe",
        target_type="subscriber",
        target_id=subscriber_id,
    )
    return Response(status_code=204)

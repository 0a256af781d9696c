"""Feed endpoints: the public ATOM feed of active alerts, and agencies' registered CAP feeds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, HttpUrl
from sqlmodel import select

from alerts.cap import atom as cap_atom
from alerts.deps import CurrentAgency, SessionDep, SettingsDep
from alerts.errors import NotFound
from alerts.intake import feeds, service
from alerts.intake.models import Feed

router = APIRouter(tags=["feeds"])


class FeedCreate(BaseModel):
    """A CAP ATOM/RSS feed to poll."""

    url: HttpUrl
    interval_s: float = Field(default=120.0, gt=0, description="Raised to the service minimum")


class FeedPublic(BaseModel):
    """A registered feed and its polling state."""

    id: int
    url: str
    interval_s: float
    enabled: bool
    last_polled_at: datetime | None
    next_poll_at: datetime
    consecutive_failures: int
    last_error: str | None


class FeedEntryPublic(BaseModel):
    """One entry seen in a feed, with the reasons when it was rejected."""

    id: int
    entry_key: str
    cap_url: str | None
    outcome: str
    reasons: list[dict[str, Any]]
    alert_id: int | None
    seen_at: datetime


def _public(feed: Feed) -> FeedPublic:
    return FeedPublic.model_validate(feed, from_attributes=True)


@router.get(
    "/feeds/alerts.atom",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
    summary="ATOM feed of active public alerts",
)
def atom_feed(request: Request, session: SessionDep) -> Response:
    """Active Public alerts, each entry linking to its CAP XML (the NWS / Google Public Alerts shape)."""
    rows, _ = service.list_alerts(session=session, active=True, limit=500)
    public = [a for a in rows if a.scope == "Public" and a.status == "Actual"]
    base = str(request.base_url).rstrip("/")
    body = cap_atom.build_feed(
        [service.atom_entry(a, base) for a in public],
        feed_url=f"{base}/feeds/alerts.atom",
        title="alertcast active alerts",
    )
    return Response(body, media_type="application/atom+xml")


@router.post(
    "/api/v1/feeds", status_code=201, response_model=FeedPublic, summary="Register a CAP feed"
)
def create_feed(
    body: FeedCreate, agency: CurrentAgency, session: SessionDep, settings: SettingsDep
) -> FeedPublic:
    """Register a feed the poller will fetch for the calling agency."""
    return _public(
        feeds.register_feed(
            session=session,
            agency=agency,
            url=str(body.url),
            interval_s=body.interval_s,
            settings=settings,
        )
    )


@router.get("/api/v1/feeds", response_model=list[FeedPublic], summary="The agency's feeds")
def list_feeds(agency: CurrentAgency, session: SessionDep) -> list[FeedPublic]:
    """Feeds registered by the calling agency."""
    return [_public(f) for f in session.exec(select(Feed).where(Feed.agency_id == agency.id))]


@router.get(
    "/api/v1/feeds/{feed_id}/entries",
    response_model=list[FeedEntryPublic],
    summary="Entries seen in a feed (outcome=rejected is the dead-letter list)",
)
def list_feed_entries(
    feed_id: int,
    agency: CurrentAgency,
    session: SessionDep,
    outcome: Annotated[str | None, Query(pattern="^(accepted|duplicate|rejected)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FeedEntryPublic]:
    """Entries of one of the agency's feeds, newest first."""
    feed = feeds.get_feed(session=session, feed_id=feed_id)
    if feed.agency_id != agency.id:
        raise NotFound(f"feed {feed_id} does not exist")
    rows = feeds.feed_entries(session=session, feed_id=feed_id, outcome=outcome, limit=limit)
    return [FeedEntryPublic.model_validate(r, from_attributes=True) for r in rows]

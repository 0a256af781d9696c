"""The CAP feed poller: conditional GETs, minimum interval, backoff, dedupe, dead letters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.access.models import Agency
from alerts.cap import feeds as cap_feeds
from alerts.db import session_scope, utcnow
from alerts.errors import AlertcastError, NotFound
from alerts.intake import service
from alerts.intake.columns import AreaResolver
from alerts.intake.models import Feed, FeedEntry
from alerts.settings import Settings

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 3600.0
OnStored = Callable[[service.IngestOutcome], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IngestHooks:
    """What the service adds to a feed entry's ingest: its area resolved, then the after-store
    hooks the API runs too (planning and sending), so a feed alert goes out like a posted one."""

    area_resolver: AreaResolver | None = None
    on_stored: Sequence[OnStored] = ()


@dataclass(slots=True)
class PollReport:
    """What one poll of one feed did."""

    feed_id: int
    http_status: int | None
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unchanged: bool = False
    error: str | None = None


def register_feed(
    *, session: Session, agency: Agency, url: str, interval_s: float, settings: Settings
) -> Feed:
    """Register a feed for an agency; the interval is raised to the configured minimum."""
    assert agency.id is not None
    feed = Feed(
        agency_id=agency.id, url=url, interval_s=max(interval_s, settings.feed_min_interval_s)
    )
    session.add(feed)
    session.flush()
    return feed


def feed_entries(
    *, session: Session, feed_id: int, outcome: str | None = None, limit: int = 100
) -> list[FeedEntry]:
    """Entries seen in a feed, newest first; ``outcome='rejected'`` is the dead-letter list."""
    q = select(FeedEntry).where(FeedEntry.feed_id == feed_id)
    if outcome:
        q = q.where(FeedEntry.outcome == outcome)
    return list(session.exec(q.order_by(col(FeedEntry.id).desc()).limit(limit)))


def get_feed(*, session: Session, feed_id: int) -> Feed:
    """One feed or NotFound."""
    feed = session.get(Feed, feed_id)
    if feed is None:
        raise NotFound(f"feed {feed_id} does not exist")
    return feed


def _conditional_headers(feed: Feed) -> dict[str, str]:
    headers = {"Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9"}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    return headers


def _schedule_failure(feed: Feed, error: str) -> None:
    feed.consecutive_failures += 1
    feed.last_error = error[:2000]
    delay = min(feed.interval_s * 2 ** min(feed.consecutive_failures, 10), MAX_BACKOFF_S)
    feed.next_poll_at = utcnow() + timedelta(seconds=max(delay, 1.0))


async def poll_feed(
    *,
    engine: Engine,
    client: httpx.AsyncClient,
    feed_id: int,
    settings: Settings,
    hooks: IngestHooks | None = None,
) -> PollReport:
    """Poll one feed now and push each new entry's CAP through the normal ingest path."""
    with session_scope(engine) as session:
        feed = get_feed(session=session, feed_id=feed_id)
        headers, url = _conditional_headers(feed), feed.url
    report = PollReport(feed_id=feed_id, http_status=None)
    try:
        resp = await client.get(url, headers=headers)
        report.http_status = resp.status_code
        if resp.status_code not in (200, 304):
            raise httpx.HTTPStatusError(
                f"HTTP {resp.status_code}", request=resp.request, response=resp
            )
    except httpx.HTTPError as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        with session_scope(engine) as session:
            feed = get_feed(session=session, feed_id=feed_id)
            _schedule_failure(feed, report.error)
            feed.last_polled_at = utcnow()
        return report
    if resp.status_code == 304:
        report.unchanged = True
    else:
        items = cap_feeds.parse_feed(resp.content)
        for item in items:
            await _take_entry(
                engine=engine,
                client=client,
                feed_id=feed_id,
                item=item,
                settings=settings,
                report=report,
                hooks=hooks or IngestHooks(),
            )
    with session_scope(engine) as session:
        feed = get_feed(session=session, feed_id=feed_id)
        feed.consecutive_failures, feed.last_error = 0, None
        feed.etag = resp.headers.get("etag", feed.etag)
        feed.last_modified = resp.headers.get("last-modified", feed.last_modified)
        feed.last_polled_at = utcnow()
        feed.next_poll_at = utcnow() + timedelta(seconds=feed.interval_s)
    return report


def _entry_key(item: cap_feeds.FeedItem) -> str:
    return f"{item.entry_id}|{item.updated or ''}"[:1000]


async def _fetch_cap(client: httpx.AsyncClient, item: cap_feeds.FeedItem, max_bytes: int) -> bytes:
    if item.cap_xml is not None:
        return item.cap_xml
    if not item.cap_url:
        raise ValueError("entry has neither embedded CAP nor a link to it")
    async with client.stream("GET", item.cap_url) as resp:
        resp.raise_for_status()
        body = b""
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise ValueError(f"CAP document over the {max_bytes}-byte limit")
        return body


async def _take_entry(
    *,
    engine: Engine,
    client: httpx.AsyncClient,
    feed_id: int,
    item: cap_feeds.FeedItem,
    settings: Settings,
    report: PollReport,
    hooks: IngestHooks,
) -> None:
    key = _entry_key(item)
    with session_scope(engine) as session:
        seen = session.exec(
            select(FeedEntry).where(FeedEntry.feed_id == feed_id, FeedEntry.entry_key == key)
        ).first()
        if seen is not None:
            report.duplicates += 1
            return
    entry = FeedEntry(feed_id=feed_id, entry_key=key, cap_url=item.cap_url, outcome="accepted")
    try:
        data = await _fetch_cap(client, item, settings.max_cap_bytes)
        outcome = await asyncio.to_thread(
            _ingest_entry, engine, feed_id, data, settings, hooks.area_resolver
        )
        entry.alert_id, created = outcome.alert.id, outcome.created
        entry.outcome = "accepted" if created else "duplicate"
        await _after_store(outcome, hooks, feed_id)
    except AlertcastError as exc:
        entry.outcome = "rejected"
        entry.reasons = [asdict(v) for v in exc.violations] or [
            {"rule": exc.type_slug, "message": exc.detail}
        ]
    except (httpx.HTTPError, ValueError) as exc:
        entry.outcome = "rejected"
        entry.reasons = [{"rule": "FEED-FETCH-FAILED", "message": f"{type(exc).__name__}: {exc}"}]
    with session_scope(engine) as session:
        session.add(entry)
    if entry.outcome == "rejected":
        report.rejected += 1
        log.warning("feed %s entry rejected: %s", feed_id, entry.reasons[:1])
    elif entry.outcome == "accepted":
        report.accepted += 1
    else:
        report.duplicates += 1


async def _after_store(outcome: service.IngestOutcome, hooks: IngestHooks, feed_id: int) -> None:
    """Run the after-store hooks; a failing hook is logged, the stored entry is kept."""
    for hook in hooks.on_stored:
        try:
            await hook(outcome)
        except Exception:
            log.exception(
                "feed %s: after-store hook failed for alert %s", feed_id, outcome.alert.id
            )


def _ingest_entry(
    engine: Engine,
    feed_id: int,
    data: bytes,
    settings: Settings,
    area_resolver: AreaResolver | None,
) -> service.IngestOutcome:
    with session_scope(engine) as session:
        feed = get_feed(session=session, feed_id=feed_id)
        agency = session.get(Agency, feed.agency_id)
        assert agency is not None
        outcome = service.ingest(
            session=session,
            data=data,
            agency=agency,
            max_bytes=settings.max_cap_bytes,
            actor=f"feed:{feed_id}",
            via="feed",
            area_resolver=area_resolver,
        )
        return outcome


def due_feeds(*, engine: Engine) -> list[int]:
    """Ids of enabled feeds whose next poll time has come."""
    with session_scope(engine) as session:
        q = select(Feed.id).where(Feed.enabled, col(Feed.next_poll_at) <= utcnow())
        return [i for i in session.exec(q) if i is not None]


async def run_poller(
    *,
    engine: Engine,
    client: httpx.AsyncClient,
    settings: Settings,
    stop: asyncio.Event,
    tick_s: float = 5.0,
    hooks: IngestHooks | None = None,
) -> None:
    """Poll due feeds until ``stop`` is set."""
    while not stop.is_set():
        for feed_id in due_feeds(engine=engine):
            try:
                await poll_feed(
                    engine=engine, client=client, feed_id=feed_id, settings=settings, hooks=hooks
                )
            except Exception:
                log.exception("feed %s poll crashed", feed_id)
        try:
            await asyncio.wait_for(stop.wait(), timeout=tick_s)
        except TimeoutError:
            continue

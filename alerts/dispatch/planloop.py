"""The planning loop: every accepted alert gets planned, by whichever process claims it first.

Runs in ``alertcast worker`` processes and, on the embedded default, in the API process. It
polls (every ``POLL_S``) for

- accepted alerts without a plan (``alert.state = 'active'``, received through the API or the
  console within ``LOOKBACK``): an API that died between storing an alert and planning it, or
  an API that does not plan at all (``in_process_worker=false``), loses nothing;
- plans left half-materialised (``materialized_at`` NULL) by a planner that died.

A claim is a PostgreSQL session advisory lock on the alert id, held on its own connection for
the whole planning: taken with ``pg_try_advisory_lock`` (so planners skip each other's alerts,
like ``SKIP LOCKED``) and released by the server the moment the holder's connection dies, so
a crashed planner's alert is picked up on the next poll. On SQLite (one process) the claim is
an in-process set. Planning itself is idempotent (``Planner.plan``): two claims of the same
alert in sequence finish, never duplicate, its plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.db import db_time, utcnow
from alerts.dispatch import service as dispatch_service

if TYPE_CHECKING:  # the planner pulls in the renderers: imported when planning starts
    from alerts.dispatch.planner import Planner, PlanOutcome
    from alerts.zones.targeting import Targeting

log = logging.getLogger(__name__)
POLL_S = 0.15
LOOKBACK = timedelta(hours=24)
PLANNED_VIA = ("api", "console", "feed", "cli")  # every way an alert comes in
_LOCK_NS = 0x7B1E  # advisory lock namespace: (namespace, alert id)
_PENDING = sa.text(
    "SELECT a.id FROM alert a WHERE a.state = 'active' AND a.via IN :via"
    " AND a.received_at >= :since"
    " AND NOT EXISTS (SELECT 1 FROM dispatch_plan p WHERE p.alert_id = a.id)"
    " AND a.id NOT IN :skip ORDER BY a.id LIMIT 16"
).bindparams(
    sa.bindparam("via", value=list(PLANNED_VIA), expanding=True),
    sa.bindparam("skip", expanding=True),
)
_UNFINISHED = sa.text(
    "SELECT alert_id FROM dispatch_plan WHERE state = 'dispatching' AND materialized_at IS NULL"
    " AND alert_id NOT IN :skip ORDER BY priority DESC, alert_id LIMIT 16"
).bindparams(sa.bindparam("skip", expanding=True))
_local_claims: set[int] = set()
_local_lock = threading.Lock()
CHANNEL = "alertcast_dispatch"  # NOTIFY: an alert was stored, or a plan's first rows committed
LISTEN_RETRY_S = 1.0
RETRY_MAX_S = 10.0  # longest wait before planning a failed alert again


def notify(engine: Engine) -> None:
    """Wake every worker process now (PostgreSQL ``NOTIFY``; nothing on SQLite).

    Only a shortcut: the plan loop and idle workers still poll, so a lost notification costs
    one poll interval, never an alert.
    """
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_notify(:c, '')"), {"c": CHANNEL})
    except sa.exc.DBAPIError:
        log.warning("dispatch notification not sent", exc_info=True)


def listen(engine: Engine, on_notify: Callable[[], None], stop: threading.Event) -> None:
    """Call ``on_notify`` for every ``NOTIFY`` on ``CHANNEL`` until ``stop`` is set (blocking).

    Listens on a connection of its own, reconnecting after a database restart.
    """
    while not stop.is_set():
        try:
            _listen_once(engine, on_notify, stop)
        except Exception:  # a database restart must not end the listener; polling covers the gap
            log.warning("dispatch listener lost its connection; reconnecting", exc_info=True)
            stop.wait(LISTEN_RETRY_S)


async def listen_async(
    engine: Engine, callbacks: list[Callable[[], None]], stop: asyncio.Event
) -> None:
    """``listen`` in a thread until ``stop`` is set, calling every callback on a notification."""
    if engine.dialect.name != "postgresql":
        return
    halt = threading.Event()

    def fire() -> None:
        for callback in callbacks:
            callback()

    task = asyncio.ensure_future(asyncio.to_thread(listen, engine, fire, halt))
    try:
        await stop.wait()
    finally:
        halt.set()
        await task


def _listen_once(engine: Engine, on_notify: Callable[[], None], stop: threading.Event) -> None:
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        raw.rollback()  # leave the pool's (pre-ping) transaction before switching to autocommit
        conn.autocommit = True
        conn.execute(f"LISTEN {CHANNEL}")
        while not stop.is_set():
            woken = False
            for _ in conn.notifies(timeout=0.25):
                woken = True
                break
            if woken:
                on_notify()
    finally:
        raw.invalidate()  # not back to the pool: it was in autocommit and listening


def warm_up(targeting: Targeting) -> None:
    """Load zone sets, basemaps and the time-zone finder before the first alert needs them."""
    from shapely.geometry import box

    from renderers import maps

    for name in targeting.registry.names():
        if not name.startswith("us_"):
            targeting.registry.zone_set(name)
    for lon, lat in ((-73.98, 40.70), (-80.10, 26.70)):
        try:
            maps.render_alert_map(
                box(lon, lat, lon + 0.01, lat + 0.01),
                event="warm-up",
                severity="Minor",
                use_cache=False,
            )
        except Exception:  # warming is best effort; the real render reports its own errors
            log.warning("map warm-up failed", exc_info=True)


def wake_from_thread(event: asyncio.Event) -> Callable[[], None]:
    """A callback that sets ``event`` from any thread (planning runs off the event loop)."""
    loop = asyncio.get_running_loop()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed while shutting down
            loop.call_soon_threadsafe(event.set)

    return wake


def pending(engine: Engine, skip: Collection[int] = ()) -> list[int]:
    """Alerts waiting for a plan, then plans waiting for the rest of their deliveries.

    ``skip``: alerts this planner retries later (after a failure); left out of the query so
    that they never fill its batch and keep newer alerts waiting.
    """
    with engine.connect() as conn:
        since = db_time(conn, utcnow() - LOOKBACK)
        fresh = [int(r[0]) for r in conn.execute(_PENDING, {"since": since, "skip": list(skip)})]
        unfinished = [int(r[0]) for r in conn.execute(_UNFINISHED, {"skip": list(skip)})]
    return fresh + [a for a in unfinished if a not in fresh]


@contextlib.contextmanager
def claim(engine: Engine, alert_id: int) -> Iterator[bool]:
    """Hold the right to plan ``alert_id`` for the block; yields False when another holds it."""
    if engine.dialect.name != "postgresql":
        with _local_lock:
            got = alert_id not in _local_claims
            _local_claims.add(alert_id)
        try:
            yield got
        finally:
            if got:
                with _local_lock:
                    _local_claims.discard(alert_id)
        return
    with engine.connect() as conn:
        got = bool(
            conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:ns, :a)"), {"ns": _LOCK_NS, "a": alert_id}
            ).scalar_one()
        )
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:ns, :a)"), {"ns": _LOCK_NS, "a": alert_id}
                )
                conn.commit()


def replaced_by(engine: Engine, alert_id: int) -> list[int]:
    """Ids of the alerts this one updates or cancels."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id FROM alert WHERE replaced_by_id = :a"), {"a": alert_id}
        ).all()
    return [int(r[0]) for r in rows]


def stop_replaced(engine: Engine, alert_id: int) -> None:
    """Cancel the dispatch of what ``alert_id`` replaces; returns when none is in flight."""
    for previous in replaced_by(engine, alert_id):
        dispatch_service.cancel(engine, previous, reason=f"replaced by alert {alert_id}")


def _msg_type(engine: Engine, alert_id: int) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT msg_type FROM alert WHERE id = :a"), {"a": alert_id}
        ).first()
    return str(row[0]) if row else None


@dataclass
class PlanLoop:
    """Plans what is waiting, in this process, until stopped."""

    engine: Engine
    targeting: Targeting
    public_base_url: str
    on_planned: Callable[[], None] = lambda: None
    poll_s: float = POLL_S
    ready: threading.Event = field(default_factory=threading.Event)
    _planner: Planner | None = None
    _failed: dict[int, tuple[int, float]] = field(default_factory=dict)  # id: (failures, retry at)

    def planner(self) -> Planner:
        """The planner (importing the renderers on first use)."""
        if self._planner is None:
            from alerts.dispatch.planner import Planner

            self._planner = Planner(self.engine, self.targeting, self.public_base_url)
        return self._planner

    def warm(self) -> None:
        """Build the subscriber index and warm the renderers before the first alert needs them."""
        started = time.monotonic()
        try:
            with Session(self.engine) as session:
                snap = self.targeting.snapshot(session)
            self.planner()
            warm_up(self.targeting)
            log.info(
                "planner warm: %d subscriber locations indexed in %.1f s",
                len(snap.subscriber_id),
                time.monotonic() - started,
            )
        except Exception:  # the first plan builds what is missing and reports real errors
            log.warning("planner warm-up failed", exc_info=True)
        finally:
            self.ready.set()

    def plan_one(self, alert_id: int, expected_max: int | None = None) -> PlanOutcome | None:
        """Plan one alert if no other planner holds it; None when another does."""
        with claim(self.engine, alert_id) as got:
            if not got:
                return None
            if _msg_type(self.engine, alert_id) in ("Update", "Cancel"):
                # "Who already received it" must be final before the notices are planned.
                stop_replaced(self.engine, alert_id)
            return self.planner().plan(
                alert_id, expected_max=expected_max, on_first_commit=self._first_commit
            )

    def _first_commit(self) -> None:
        """The plan's first deliveries are claimable: wake this process's worker, then the others."""
        self.on_planned()
        notify(self.engine)

    def poll_once(self) -> int:
        """Plan everything waiting now; returns how many alerts this process planned.

        An alert whose planning failed is retried after a backoff (0.5 s doubling to
        ``RETRY_MAX_S``), not at every poll: a persistent error must not flood the logs.
        """
        done = 0
        now = time.monotonic()
        later = {a for a, (_, not_before) in self._failed.items() if now < not_before}
        waiting = pending(self.engine, skip=later)
        # Forget alerts planned elsewhere meanwhile (neither waiting nor in backoff).
        self._failed = {a: f for a, f in self._failed.items() if a in later or a in waiting}
        for alert_id in waiting:
            failures = self._failed.get(alert_id, (0, 0.0))[0]
            try:
                done += self.plan_one(alert_id) is not None
            except Exception:
                delay = min(RETRY_MAX_S, 0.5 * 2**failures)
                self._failed[alert_id] = (failures + 1, time.monotonic() + delay)
                log.exception("planning alert %s failed; retrying in %.1f s", alert_id, delay)
            else:
                self._failed.pop(alert_id, None)
        return done

    async def run(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Warm up, then poll until ``stop`` is set (``wake`` cuts a wait short)."""
        wake = wake or asyncio.Event()
        await asyncio.to_thread(self.warm)
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.poll_once)
            except Exception:
                log.exception("plan poll failed")
            wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            await asyncio.wait(waiters, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

"""Planning: from an accepted alert to one queued delivery per targeted subscriber.

Guards run first (empty or unresolvable area, count far above the operator's preview,
jurisdiction, status), then the deliveries are written by ``materialize``: the plan row, the
first language's message and a first chunk in one transaction (claimable at once), the rest
in resumable chunks while the other languages render. A plan left half-written by a crash is
resumed by whichever planner picks it up next (``plan`` is idempotent).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import numpy as np
import sqlalchemy as sa
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.access.jurisdiction import geometry_of
from alerts.access.models import Agency
from alerts.db import db_time, utcnow
from alerts.dispatch import content as rendering
from alerts.dispatch.materialize import Materialiser, Segment, Timings, order_segments
from alerts.dispatch.models import DispatchPlan, MessageKind, PlanRequest, PlanState
from alerts.dispatch.queue import stop_alert
from alerts.intake.models import Alert
from alerts.zones.targeting import Selection, Targeting

log = logging.getLogger(__name__)
OVERSHOOT_FACTOR = 1.5  # block when the count is this far above the operator's preview
NOT_DISPATCHED_STATUS = ("Draft", "System")
NOT_DISPATCHED_TYPES = ("Ack", "Error")
STALE_WITHOUT_EXPIRY = timedelta(hours=24)  # an alert this old with no <expires> is not sent
_ALERT_STATE = sa.text("SELECT state FROM alert WHERE id = :a")
_ALERT_STATE_PG = sa.text("SELECT state FROM alert WHERE id = :a FOR SHARE")


@dataclass(slots=True)
class PlanOutcome:
    """What planning decided for one alert."""

    alert_id: int
    state: PlanState
    targeted: int = 0
    by_language: dict[str, int] = field(default_factory=dict)
    blocked_rule: str | None = None
    reason: str | None = None


def priority_of(alert: Alert, kind: MessageKind) -> int:
    """Queue priority: Extreme/Immediate and cancellations first."""
    if kind is MessageKind.CANCEL or alert.severity == "Extreme" or alert.urgency == "Immediate":
        return 100
    return 50 if alert.severity == "Severe" else 10


Batch = tuple[MessageKind, BaseGeometry, Alert, Selection]
"""One group of messages to plan: kind, area drawn on the map, alert whose text is used, recipients."""


class Blocked(Exception):
    """A guard refused the alert; the rule code and reason are recorded on the plan."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule, self.reason = rule, reason


@dataclass
class Planner:
    """Plans alerts against one targeting service; ``link`` builds the public page URL."""

    engine: Engine
    targeting: Targeting
    public_base_url: str
    last_timings: Timings | None = None

    def plan(
        self,
        alert_id: int,
        *,
        expected_max: int | None = None,
        on_first_commit: Callable[[], None] = lambda: None,
    ) -> PlanOutcome:
        """Plan one alert, or finish writing its half-materialised plan (idempotent).

        ``expected_max`` defaults to the count stored with the alert (``plan_request``);
        ``on_first_commit`` is called once the first deliveries are claimable.
        """
        self.last_timings = None
        with Session(self.engine, expire_on_commit=False) as session:
            existing = session.get(DispatchPlan, alert_id)
            alert = session.get(Alert, alert_id)
            assert alert is not None, f"alert {alert_id} vanished"
            if existing is not None:
                if existing.state == PlanState.DISPATCHING and existing.materialized_at is None:
                    self._resume(session, alert, existing, on_first_commit)
                return _outcome(self.engine, alert_id)
            if expected_max is None:
                request = session.get(PlanRequest, alert_id)
                expected_max = request.expected_max if request is not None else None
            try:
                return self._plan(session, alert, expected_max, on_first_commit)
            except Blocked as exc:
                log.warning("alert %s blocked: %s %s", alert_id, exc.rule, exc.reason)
                return self._record_blocked(alert, exc, expected_max)

    def _plan(
        self,
        session: Session,
        alert: Alert,
        expected_max: int | None,
        on_first_commit: Callable[[], None],
    ) -> PlanOutcome:
        assert alert.id is not None
        if alert.status in NOT_DISPATCHED_STATUS or alert.msg_type in NOT_DISPATCHED_TYPES:
            return self._record_done(
                alert, f"status {alert.status} / {alert.msg_type} is not broadcast"
            )
        if alert.expires_utc is not None and alert.expires_utc <= utcnow():
            return self._record(alert, PlanState.EXPIRED, [], reason="expired before dispatch")
        if alert.msg_type == "Cancel":
            return self._plan_cancel(session, alert, on_first_commit)
        if alert.expires_utc is None and alert.sent_utc < utcnow() - STALE_WITHOUT_EXPIRY:
            # An old alert with no end (a feed replaying its archive, a file ingested late)
            # would otherwise be broadcast as if it were news.
            hours = STALE_WITHOUT_EXPIRY.total_seconds() / 3600
            raise Blocked(
                "SENT-STALE",
                f"sent {alert.sent}, more than {hours:g} h ago, and has no <expires>: not broadcast",
            )
        geometry = self._geometry(alert)
        self._check_jurisdiction(session, alert, geometry)
        kind = MessageKind.UPDATE if alert.msg_type == "Update" else MessageKind.ALERT
        with ThreadPoolExecutor(1, thread_name_prefix="render") as pool:
            timings = Timings()
            early = self._render_early(pool, kind, geometry, alert, timings)
            selection = self._select(session, alert, geometry)
            timings.targeting_ms = (time.perf_counter() - timings.started) * 1000
            count = int(selection.subscriber_ids.size)
            if expected_max is not None and count > max(
                expected_max * OVERSHOOT_FACTOR, expected_max + 10
            ):
                raise Blocked(
                    "TARGET-COUNT-ABOVE-PREVIEW",
                    f"{count} recipients but the operator's preview said {expected_max}",
                )
            batches = self._area_batches(session, alert, geometry, selection)
            run = Materialiser(
                self.engine,
                alert.id,
                alert.expires_utc,
                [],
                on_first_commit,
                timings,
                pool=pool,
                early=early,
            )
            return self._record(
                alert, PlanState.DISPATCHING, batches, expected_max=expected_max, run=run
            )

    def _render_early(
        self,
        pool: ThreadPoolExecutor,
        kind: MessageKind,
        geometry: BaseGeometry,
        alert: Alert,
        timings: Timings,
    ) -> dict[tuple[str, str], Future[rendering.RenderedMessage | None]]:
        """Start rendering the likeliest first segment (the most common language) during targeting."""
        language = self.targeting.likely_language()
        if language is None:
            return {}

        def render() -> rendering.RenderedMessage | None:
            t = time.perf_counter()
            message = self._render_one(kind, geometry, alert, language)
            timings.render_ms[f"{kind.value}/{language}"] = (time.perf_counter() - t) * 1000
            return message

        return {(kind.value, language): pool.submit(render)}

    def _select(self, session: Session, alert: Alert, geometry: BaseGeometry) -> Selection:
        test_only = alert.status in ("Exercise", "Test")
        return self.targeting.select(session, geometry, test_only=test_only)

    def _area_batches(
        self, session: Session, alert: Alert, geometry: BaseGeometry, selection: Selection
    ) -> list[Batch]:
        kind = MessageKind.UPDATE if alert.msg_type == "Update" else MessageKind.ALERT
        batches: list[Batch] = [(kind, geometry, alert, selection)]
        if kind is MessageKind.UPDATE:
            batches += self._not_affected(session, alert, selection)
        return batches

    def _batches(self, session: Session, alert: Alert) -> list[Batch]:
        """The batches of an alert whose guards already passed (resuming its plan)."""
        if alert.msg_type == "Cancel":
            return self._cancel_batches(session, alert)
        geometry = self._geometry(alert)
        return self._area_batches(session, alert, geometry, self._select(session, alert, geometry))

    def _resume(
        self,
        session: Session,
        alert: Alert,
        plan: DispatchPlan,
        on_first_commit: Callable[[], None],
    ) -> None:
        assert alert.id is not None
        log.info("alert %s: resuming its plan at segment %s", alert.id, plan.resume_segment)
        segments = self._segments(alert, self._batches(session, alert))
        run = Materialiser(
            self.engine,
            alert.id,
            alert.expires_utc,
            order_segments(segments, plan.segments),
            on_first_commit,
        )
        run.run()
        self.last_timings = run.timings

    def _geometry(self, alert: Alert) -> BaseGeometry:
        if alert.area_errors:
            first = alert.area_errors[0]
            raise Blocked(
                f"AREA-{str(first.get('rule', 'invalid')).upper()}", str(first.get("message"))
            )
        if not alert.area_geojson:
            raise Blocked("AREA-EMPTY", "the alert's area resolved to no geometry: nothing is sent")
        geometry = shape(json.loads(alert.area_geojson))
        if geometry.is_empty:
            raise Blocked("AREA-EMPTY", "the alert's area resolved to no geometry: nothing is sent")
        return geometry

    def _check_jurisdiction(self, session: Session, alert: Alert, geometry: BaseGeometry) -> None:
        agency = session.get(Agency, alert.agency_id) if alert.agency_id else None
        if agency is None or not agency.jurisdiction_geojson:
            return
        jurisdiction = geometry_of(agency.jurisdiction_geojson)
        outside = geometry.difference(jurisdiction.buffer(1e-4))
        if not outside.is_empty and outside.area > 1e-9:
            raise Blocked(
                "AREA-OUTSIDE-JURISDICTION",
                f"part of the area lies outside {agency.name}'s jurisdiction",
            )

    def _previous(self, session: Session, alert: Alert) -> list[Alert]:
        return list(session.exec(select(Alert).where(Alert.replaced_by_id == alert.id)))

    def _reached(self, session: Session, alert_ids: list[int]) -> np.ndarray:
        if not alert_ids:
            return np.empty(0, np.int64)
        q = sa.text(
            "SELECT DISTINCT subscriber_id FROM delivery WHERE alert_id IN :ids AND state IN "
            "('submitting', 'submitted', 'delivered')"
        ).bindparams(sa.bindparam("ids", expanding=True))
        return np.array([r[0] for r in session.execute(q, {"ids": alert_ids})], dtype=np.int64)

    def _not_affected(self, session: Session, alert: Alert, selection: Selection) -> list[Batch]:
        previous = self._previous(session, alert)
        reached = self._reached(session, [p.id for p in previous if p.id is not None])
        gone = np.setdiff1d(reached, selection.subscriber_ids)
        if gone.size == 0 or not previous:
            return []
        old = previous[0]
        return [
            (
                MessageKind.NOT_AFFECTED,
                self._geometry(alert),
                alert,
                _plain_selection(session, gone, old),
            )
        ]

    def _cancel_batches(self, session: Session, alert: Alert) -> list[Batch]:
        previous = self._previous(session, alert)
        reached = self._reached(session, [p.id for p in previous if p.id is not None])
        if not previous or reached.size == 0:
            return []
        source = previous[0]
        text_alert = alert if alert.infos else _as_cancel(source)
        selection = _plain_selection(session, reached, source)
        return [(MessageKind.CANCEL, self._geometry(source), text_alert, selection)]

    def _plan_cancel(
        self, session: Session, alert: Alert, on_first_commit: Callable[[], None]
    ) -> PlanOutcome:
        batches = self._cancel_batches(session, alert)
        if not batches:
            return self._record_done(alert, "cancel: nobody had received the cancelled alert")
        return self._record(alert, PlanState.DISPATCHING, batches, on_first_commit=on_first_commit)

    def _record_done(self, alert: Alert, reason: str) -> PlanOutcome:
        return self._record(alert, PlanState.DONE, [], reason=reason)

    def _record_blocked(self, alert: Alert, exc: Blocked, expected_max: int | None) -> PlanOutcome:
        assert alert.id is not None
        with self.engine.begin() as conn, Session(bind=conn) as session:
            session.add(
                DispatchPlan(
                    alert_id=alert.id,
                    state=PlanState.BLOCKED.value,
                    blocked_rule=exc.rule,
                    blocked_reason=exc.reason,
                    expected_max=expected_max,
                    accepted_at=alert.received_at,
                    planned_at=utcnow(),
                    materialized_at=utcnow(),
                )
            )
            session.flush()
        return PlanOutcome(alert.id, PlanState.BLOCKED, blocked_rule=exc.rule, reason=exc.reason)

    def _record(
        self,
        alert: Alert,
        state: PlanState,
        batches: list[Batch],
        *,
        reason: str | None = None,
        expected_max: int | None = None,
        on_first_commit: Callable[[], None] = lambda: None,
        run: Materialiser | None = None,
    ) -> PlanOutcome:
        assert alert.id is not None
        batches = [b for b in batches if b[3].subscriber_ids.size]  # nobody to message: no render
        if state is PlanState.DISPATCHING and not batches:
            state, reason = PlanState.DONE, reason or "no subscriber is inside the area"
        by_language: dict[str, int] = {}
        for _, _, _, sel in batches:
            for lang, n in sel.by_language().items():
                by_language[lang] = by_language.get(lang, 0) + n
        targeted = sum(int(sel.subscriber_ids.size) for *_, sel in batches)
        segments = order_segments(self._segments(alert, batches), [])
        plan = DispatchPlan(
            alert_id=alert.id,
            state=state.value,
            targeted=targeted,
            by_language=by_language,
            expected_max=expected_max,
            blocked_reason=reason,
            accepted_at=alert.received_at,
            expires_at=alert.expires_utc,
            priority=max((priority_of(alert, b[0]) for b in batches), default=0),
            segments=[seg.key for seg in segments],
        )
        if state is not PlanState.DISPATCHING:
            plan.planned_at = plan.materialized_at = utcnow()
            with self.engine.begin() as conn, Session(bind=conn) as session:
                session.add(plan)
            return PlanOutcome(alert.id, state, targeted, by_language, reason=reason)
        if run is None:
            run = Materialiser(self.engine, alert.id, alert.expires_utc, [], on_first_commit)
        run.segments = segments
        try:
            run.run(create=plan, prepare=partial(self._first_transaction, alert))
        except sa.exc.IntegrityError:  # another planner created this plan first
            log.info("alert %s: planned elsewhere meanwhile", alert.id)
        self.last_timings = t = run.timings
        log.info(
            "alert %s planned: %d deliveries in %d chunks; targeting %.0f ms, render %s ms,"
            " first claimable %.0f ms, all written %.0f ms",
            alert.id,
            t.rows,
            t.chunks,
            t.targeting_ms or 0.0,
            {k: round(v) for k, v in t.render_ms.items()},
            t.first_commit_ms or 0.0,
            t.finished_ms or 0.0,
        )
        return _outcome(self.engine, alert.id)

    def _first_transaction(self, alert: Alert, conn: sa.Connection) -> bool:
        """With the plan row: stop what this alert replaces; go on only if it is still active.

        The alert row is locked (``FOR SHARE``) so a Cancel/Update ingested meanwhile either
        committed before (the plan is closed here, nothing is written) or waits for this
        transaction and then stops the rows it wrote.
        """
        assert alert.id is not None
        if alert.msg_type in ("Update", "Cancel"):
            with Session(bind=conn) as session:
                previous = [p.id for p in self._previous(session, alert) if p.id is not None]
            _stop_previous(conn, previous)
        pg = conn.dialect.name == "postgresql"
        current = conn.execute(
            _ALERT_STATE_PG if pg else _ALERT_STATE, {"a": alert.id}
        ).scalar_one()
        if current == "active":
            return True
        now = db_time(conn, utcnow())
        conn.execute(
            sa.text(
                "UPDATE dispatch_plan SET state = 'cancelled', cancelled_at = :t, planned_at = :t,"
                " materialized_at = :t, blocked_reason = :r WHERE alert_id = :a"
            ),
            {"t": now, "r": f"alert {current} before dispatch", "a": alert.id},
        )
        return False

    def _segments(self, alert: Alert, batches: list[Batch]) -> list[Segment]:
        """One segment per (kind, language) with subscribers, rendered on demand."""
        out = []
        for kind, geometry, text_alert, sel in batches:
            priority = priority_of(alert, kind)
            for code, language in enumerate(sel.languages):
                ids = sel.subscriber_ids[sel.language_codes == code]
                if ids.size:
                    render = partial(self._render_one, kind, geometry, text_alert, language)
                    out.append(Segment(kind, language, priority, ids, render, priority >= 100))
        return out

    def _render_one(
        self, kind: MessageKind, geometry: BaseGeometry, text_alert: Alert, language: str
    ) -> rendering.RenderedMessage:
        link = f"{self.public_base_url}/a/{text_alert.short_id}"
        (message,) = rendering.render_messages(
            text_alert, geometry, kind=kind, languages=[language], link=link
        )
        return message


def _outcome(engine: Engine, alert_id: int) -> PlanOutcome:
    """The plan as it stands in the database."""
    with Session(engine) as session:
        plan = session.get(DispatchPlan, alert_id)
        assert plan is not None
        return PlanOutcome(
            alert_id,
            PlanState(plan.state),
            plan.targeted,
            plan.by_language,
            plan.blocked_rule,
            plan.blocked_reason,
        )


def _as_cancel(source: Alert) -> Alert:
    clone = Alert.model_validate(source.model_dump())
    clone.msg_type = "Cancel"
    return clone


def _plain_selection(session: Session, ids: np.ndarray, alert: Alert) -> Selection:
    """A selection for known subscriber ids (cancel / not-affected recipients) with their languages."""
    q = sa.text(
        "SELECT id, language FROM subscriber WHERE id IN :ids AND status = 'active' ORDER BY id"
    ).bindparams(sa.bindparam("ids", expanding=True))
    rows = [
        r
        for start in range(0, len(ids), 20_000)
        for r in session.execute(q, {"ids": [int(i) for i in ids[start : start + 20_000]]})
    ]
    langs: dict[str, int] = {}
    codes = np.array([langs.setdefault(r[1], len(langs)) for r in rows], dtype=np.int32)
    return Selection(np.array([r[0] for r in rows], dtype=np.int64), codes, list(langs), len(rows))


def _stop_previous(conn: sa.Connection, alert_ids: list[int]) -> None:
    """An Update or Cancel stops what is still queued of the alerts it replaces."""
    for alert_id in alert_ids:
        stop_alert(conn, alert_id, PlanState.CANCELLED, reason="replaced by a newer message")

"""Planning: from an accepted alert to one queued delivery per targeted subscriber.

Guards run first (empty or unresolvable area, count far above the operator's preview,
jurisdiction, status), then the messages are rendered once per language, then the deliveries
are written in bulk in the same transaction as the plan's state change.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.access.models import Agency
from alerts.db import bulk_insert, db_time, utcnow
from alerts.dispatch import content as rendering
from alerts.dispatch.models import DispatchPlan, MessageKind, PlanState
from alerts.dispatch.queue import stop_alert
from alerts.intake.models import Alert
from alerts.zones.targeting import Selection, Targeting

log = logging.getLogger(__name__)
OVERSHOOT_FACTOR = 1.5  # block when the count is this far above the operator's preview
NOT_DISPATCHED_STATUS = ("Draft", "System")
NOT_DISPATCHED_TYPES = ("Ack", "Error")


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

    def plan(self, alert_id: int, *, expected_max: int | None = None) -> PlanOutcome:
        """Plan one alert (idempotent: an existing plan is returned as it stands)."""
        with Session(self.engine, expire_on_commit=False) as session:
            existing = session.get(DispatchPlan, alert_id)
            if existing is not None:
                return PlanOutcome(
                    alert_id,
                    PlanState(existing.state),
                    existing.targeted,
                    existing.by_language,
                    existing.blocked_rule,
                    existing.blocked_reason,
                )
            alert = session.get(Alert, alert_id)
            assert alert is not None, f"alert {alert_id} vanished"
            try:
                return self._plan(session, alert, expected_max)
            except Blocked as exc:
                log.warning("alert %s blocked: %s %s", alert_id, exc.rule, exc.reason)
                return self._record_blocked(alert, exc, expected_max)

    def _plan(self, session: Session, alert: Alert, expected_max: int | None) -> PlanOutcome:
        assert alert.id is not None
        if alert.status in NOT_DISPATCHED_STATUS or alert.msg_type in NOT_DISPATCHED_TYPES:
            return self._record_done(
                alert, f"status {alert.status} / {alert.msg_type} is not broadcast"
            )
        if alert.expires_utc is not None and alert.expires_utc <= utcnow():
            return self._record(alert, PlanState.EXPIRED, [], reason="expired before dispatch")
        if alert.msg_type == "Cancel":
            return self._plan_cancel(session, alert)
        geometry = self._geometry(alert)
        self._check_jurisdiction(session, alert, geometry)
        test_only = alert.status in ("Exercise", "Test")
        selection = self.targeting.select(session, geometry, test_only=test_only)
        count = int(selection.subscriber_ids.size)
        if expected_max is not None and count > max(
            expected_max * OVERSHOOT_FACTOR, expected_max + 10
        ):
            raise Blocked(
                "TARGET-COUNT-ABOVE-PREVIEW",
                f"{count} recipients but the operator's preview said {expected_max}",
            )
        kind = MessageKind.UPDATE if alert.msg_type == "Update" else MessageKind.ALERT
        batches = [(kind, geometry, alert, selection)]
        if kind is MessageKind.UPDATE:
            batches += self._not_affected(session, alert, selection)
        return self._record(alert, PlanState.DISPATCHING, batches, expected_max=expected_max)

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
        jurisdiction = shape(json.loads(agency.jurisdiction_geojson))
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

    def _plan_cancel(self, session: Session, alert: Alert) -> PlanOutcome:
        previous = self._previous(session, alert)
        reached = self._reached(session, [p.id for p in previous if p.id is not None])
        if not previous or reached.size == 0:
            return self._record_done(alert, "cancel: nobody had received the cancelled alert")
        source = previous[0]
        text_alert = alert if alert.infos else _as_cancel(source)
        geometry = self._geometry(source)
        return self._record(
            alert,
            PlanState.DISPATCHING,
            [
                (
                    MessageKind.CANCEL,
                    geometry,
                    text_alert,
                    _plain_selection(session, reached, source),
                )
            ],
        )

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
                    planned_at=utcnow(),
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
    ) -> PlanOutcome:
        assert alert.id is not None
        batches = [b for b in batches if b[3].subscriber_ids.size]  # nobody to message: no render
        if state is PlanState.DISPATCHING and not batches:
            state, reason = PlanState.DONE, reason or "no subscriber is inside the area"
        rendered = [
            self._render(kind, geometry, text_alert, sel)
            for kind, geometry, text_alert, sel in batches
        ]
        by_language: dict[str, int] = {}
        for _, _, _, sel in batches:
            for lang, n in sel.by_language().items():
                by_language[lang] = by_language.get(lang, 0) + n
        targeted = sum(int(sel.subscriber_ids.size) for *_, sel in batches)
        with self.engine.begin() as conn, Session(bind=conn) as session:
            plan = DispatchPlan(
                alert_id=alert.id,
                state=state.value,
                targeted=targeted,
                by_language=by_language,
                expected_max=expected_max,
                blocked_reason=reason,
                planned_at=utcnow(),
                expires_at=alert.expires_utc,
                priority=max((priority_of(alert, b[0]) for b in batches), default=0),
            )
            session.add(plan)
            if alert.msg_type in ("Update", "Cancel"):
                _stop_previous(
                    conn, [p.id for p in self._previous(session, alert) if p.id is not None]
                )
            for (kind, _, _, sel), messages in zip(batches, rendered, strict=True):
                self._write(session, conn, alert, kind, sel, messages)
            session.flush()
        return PlanOutcome(alert.id, state, targeted, by_language, reason=reason)

    def _render(
        self, kind: MessageKind, geometry: BaseGeometry, text_alert: Alert, sel: Selection
    ) -> list[rendering.RenderedMessage]:
        languages = list(sel.by_language())
        link = f"{self.public_base_url}/a/{text_alert.short_id}"
        return rendering.render_messages(
            text_alert, geometry, kind=kind, languages=languages, link=link
        )

    def _write(
        self,
        session: Session,
        conn: sa.Connection,
        alert: Alert,
        kind: MessageKind,
        sel: Selection,
        messages: list[rendering.RenderedMessage],
    ) -> None:
        assert alert.id is not None
        high = priority_of(alert, kind) >= 100
        ids: dict[str, int] = {}
        for msg in messages:
            row = rendering.content_row(
                alert.id, msg, priority_high=high, expires_at=alert.expires_utc
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[msg.language] = row.id
        fallback = ids[messages[0].language]
        per_code = np.array(
            [ids.get(lang, fallback) for lang in sel.languages] or [fallback], dtype=np.int64
        )
        content_ids = (
            per_code[sel.language_codes] if sel.subscriber_ids.size else np.empty(0, np.int64)
        )
        _insert_deliveries(
            conn, alert.id, kind, priority_of(alert, kind), sel.subscriber_ids, content_ids
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


def _insert_deliveries(
    conn: sa.Connection,
    alert_id: int,
    kind: MessageKind,
    priority: int,
    subscriber_ids: np.ndarray,
    content_ids: np.ndarray,
) -> None:
    """Write the deliveries in bulk: targets COPYed into a temp table, then one INSERT ... SELECT."""
    if subscriber_ids.size == 0:
        return
    pg = conn.dialect.name == "postgresql"
    conn.exec_driver_sql(
        "CREATE TEMP TABLE plan_target (sid BIGINT, cid BIGINT)" + (" ON COMMIT DROP" if pg else "")
    )
    bulk_insert(
        conn,
        "plan_target",
        ("sid", "cid"),
        list(zip(subscriber_ids.tolist(), content_ids.tolist(), strict=True)),
    )
    now = db_time(conn, utcnow())
    conn.execute(
        sa.text(
            "INSERT INTO delivery (alert_id, subscriber_id, content_id, recipient, kind, state, priority, attempts,"
            " next_attempt_at, created_at) SELECT :a, t.sid, t.cid, s.phone_e164, :k, 'queued', :p, 0, :now, :now"
            " FROM plan_target t JOIN subscriber s ON s.id = t.sid WHERE s.status = 'active'"
        ),
        {"a": alert_id, "k": kind.value, "p": priority, "now": now},
    )
    conn.exec_driver_sql("DROP TABLE plan_target")

"""The ingest flow: parse, authorize, dedupe, store, link updates and cancels."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, func, select

from alerts import cap
from alerts.access.models import Agency, Principal
from alerts.audit import service as audit
from alerts.cap import atom as cap_atom
from alerts.db import utcnow
from alerts.errors import CapInvalid, Conflict, Forbidden, NotFound, Violation
from alerts.intake import columns
from alerts.intake.models import Alert, AlertState


@dataclass(slots=True)
class IngestOutcome:
    """What ingest did: the stored alert, whether it is new, and alerts it changed."""

    alert: Alert
    created: bool
    changed: list[Alert] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    expected_recipients: int | None = None  # the operator's preview count (LA 2025 guard)


def violations_of(issues: Sequence[cap.Issue]) -> list[Violation]:
    """Turn CAP library issues into API violations."""
    return [
        Violation(rule=i.rule, message=i.message, path=i.path, line=i.line, severity=i.severity)
        for i in issues
    ]


def validate_document(data: bytes, *, agency: Agency | None, max_bytes: int) -> cap.ParseResult:
    """Parse and validate a CAP document with the agency's profile settings."""
    return cap.parse(
        data,
        max_bytes=max_bytes,
        ipaws_profile=bool(agency and agency.ipaws_profile),
        require_signature=bool(agency and agency.require_signature),
    )


def _authorize_sender(agency: Agency, parsed: cap.CapAlert) -> None:
    if parsed.sender not in agency.senders:
        raise Forbidden(
            f"agency {agency.name!r} may not post as sender {parsed.sender!r}",
            violations=[
                Violation(
                    rule="AUTH-SENDER-NOT-ALLOWED",
                    message=f"allowed senders: {', '.join(agency.senders) or '(none)'}",
                    path="/alert/sender",
                )
            ],
        )


def find_existing(
    *, session: Session, sender: str, identifier: str, sent: datetime
) -> Alert | None:
    """The stored alert with this (sender, identifier, sent) key, if any."""
    return session.exec(
        select(Alert).where(
            Alert.sender == sender, Alert.identifier == identifier, Alert.sent_utc == sent
        )
    ).first()


def ingest(
    *,
    session: Session,
    data: bytes,
    agency: Agency,
    max_bytes: int,
    actor: str,
    via: str = "api",
    area_resolver: columns.AreaResolver | None = None,
    require_approval: bool = False,
) -> IngestOutcome:
    """Validate and store one CAP document; a repeat of a stored alert returns that alert.

    With ``require_approval`` an Actual alert waits in ``pending_approval`` until a second person
    approves it (console two-person rule); its Update/Cancel links apply only on approval.
    The new alert and its audit event are written in the caller's transaction, which commits.
    """
    result = validate_document(data, agency=agency, max_bytes=max_bytes)
    if not result.ok or result.alert is None:
        raise CapInvalid(
            "the CAP document breaks the rules listed", violations=violations_of(result.issues)
        )
    parsed = result.alert
    _authorize_sender(agency, parsed)
    pending = require_approval and parsed.status == "Actual"
    values = columns.alert_values(result, agency_id=agency.id, via=via, area_resolver=area_resolver)
    values["short_id"] = secrets.token_urlsafe(6)
    if pending:
        values["state"] = AlertState.PENDING_APPROVAL.value
    row = Alert(**values)  # built before the insert: SQLite holds its write lock from there
    alert_id = _insert_unless_stored(session, values)
    if alert_id is None:
        return IngestOutcome(alert=_stored(session, parsed), created=False)
    row.id = alert_id
    changed = (
        []
        if pending
        else _apply_references(session=session, alert=row, parsed=parsed, agency=agency)
    )
    audit.append(
        session=session,
        actor=actor,
        action=f"alert.{parsed.msg_type.lower()}",
        target_type="alert",
        target_id=alert_id,
        detail={
            "identifier": parsed.identifier,
            "sender": parsed.sender,
            "status": parsed.status,
            "via": via,
            "pending_approval": pending,
            "changed": [a.id for a in changed],
        },
    )
    warnings = [v for v in violations_of(result.issues) if v.severity == "warning"]
    return IngestOutcome(alert=row, created=True, changed=changed, warnings=warnings)


_ALERT = SQLModel.metadata.tables["alert"]
_ALERT_KEY = ["sender", "identifier", "sent_utc"]
# Built once per dialect, values bound at execution: SQLAlchemy's compiled cache then hits.
_INSERT_ALERT = {
    "postgresql": pg_insert(_ALERT)
    .on_conflict_do_nothing(index_elements=_ALERT_KEY)
    .returning(_ALERT.c.id),
    "sqlite": sqlite_insert(_ALERT)
    .on_conflict_do_nothing(index_elements=_ALERT_KEY)
    .returning(_ALERT.c.id),
}


def _insert_unless_stored(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT the alert row unless its (sender, identifier, sent) key is stored: its id or None.

    One statement instead of a look-up, an ORM flush and a savepoint; a concurrent request with
    the same key waits on the unique index and then inserts nothing (PostgreSQL and SQLite).
    """
    conn = session.connection()
    alert_id = conn.execute(_INSERT_ALERT[conn.dialect.name], values).scalar_one_or_none()
    return None if alert_id is None else int(alert_id)


def _stored(session: Session, parsed: cap.CapAlert) -> Alert:
    """The stored alert a repeat refers to (its insert just did nothing on the key)."""
    existing = find_existing(
        session=session, sender=parsed.sender, identifier=parsed.identifier, sent=parsed.sent
    )
    if existing is None:  # the key conflicted but no row is visible: let the caller retry
        raise Conflict(f"alert {parsed.identifier!r} is being stored by another request")
    return existing


def _apply_references(
    *, session: Session, alert: Alert, parsed: cap.CapAlert, agency: Agency
) -> list[Alert]:
    """Mark the alerts an Update/Cancel references as superseded/cancelled."""
    if parsed.msg_type not in ("Update", "Cancel"):
        return []
    new_state = AlertState.CANCELLED if parsed.msg_type == "Cancel" else AlertState.SUPERSEDED
    changed: list[Alert] = []
    for ref in parsed.references:
        target = find_existing(
            session=session, sender=ref.sender, identifier=ref.identifier, sent=ref.sent
        )
        if target is None or target.sender not in agency.senders:
            continue
        if target.state in (AlertState.ACTIVE, AlertState.PENDING_APPROVAL):
            target.state = new_state
        target.replaced_by_id = alert.id
        target.updated_at = utcnow()
        session.add(target)
        changed.append(target)
    return changed


def approve(
    *, session: Session, alert_id: int, approver: str, author: str, agency: Agency
) -> IngestOutcome:
    """Second-person approval: the alert becomes active and its references take effect.

    ``author`` is the actor who submitted it; the same person can never approve their own alert.
    """
    alert = get_alert(session=session, alert_id=alert_id)
    if alert.state != AlertState.PENDING_APPROVAL:
        raise Conflict(f"alert {alert_id} is {alert.state}, not waiting for approval")
    if approver == author:
        raise Forbidden(
            "the author of an alert cannot approve it (two-person rule)",
            violations=[
                Violation(rule="APPROVAL-SAME-PERSON", message="a second person must approve")
            ],
        )
    if alert.sender not in agency.senders:
        raise Forbidden(f"agency {agency.name!r} may not approve alerts of sender {alert.sender!r}")
    parsed = cap.parse(alert.raw_xml, max_bytes=len(alert.raw_xml) + 1).raise_for_errors()
    alert.state = AlertState.ACTIVE.value
    alert.updated_at = utcnow()
    session.add(alert)
    changed = _apply_references(session=session, alert=alert, parsed=parsed, agency=agency)
    audit.record(
        session=session,
        actor=approver,
        action="alert.approve",
        target_type="alert",
        target_id=alert_id,
        detail={"author": author, "changed": [a.id for a in changed]},
    )
    return IngestOutcome(alert=alert, created=False, changed=changed)


# What anyone may read without a key: Public-scope alerts that were issued (not drafts, not
# waiting for or refused approval). Restricted and Private alerts, and an agency's own drafts,
# need that agency's key (or an admin key).
_UNPUBLISHED = (AlertState.PENDING_APPROVAL.value, AlertState.REJECTED.value)


def readable_by(alert: Alert, principal: Principal | None) -> bool:
    """May this caller (None: anonymous) read the alert's content?"""
    if principal is not None and (principal.admin or alert.agency_id == principal.agency.id):
        return True
    return alert.scope == "Public" and alert.status != "Draft" and alert.state not in _UNPUBLISHED


def _readable_clause(principal: Principal | None) -> sa.ColumnElement[bool] | None:
    """``readable_by`` as SQL (None: everything)."""
    if principal is not None and principal.admin:
        return None
    public = sa.and_(
        col(Alert.scope) == "Public",
        col(Alert.status) != "Draft",
        col(Alert.state).not_in(_UNPUBLISHED),
    )
    if principal is None:
        return public
    return sa.or_(col(Alert.agency_id) == principal.agency.id, public)


def get_readable_alert(*, session: Session, alert_id: int, principal: Principal | None) -> Alert:
    """One alert this caller may read, or NotFound (an unreadable alert is not disclosed)."""
    alert = session.get(Alert, alert_id)
    if alert is None or not readable_by(alert, principal):
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


def get_alert(*, session: Session, alert_id: int) -> Alert:
    """One stored alert or NotFound."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


def get_by_short_id(*, session: Session, short_id: str) -> Alert:
    """One stored alert by its public short id."""
    alert = session.exec(select(Alert).where(Alert.short_id == short_id)).first()
    if alert is None:
        raise NotFound(f"alert {short_id!r} does not exist")
    return alert


def is_active(alert: Alert, now: datetime | None = None) -> bool:
    """Active means not replaced, not cancelled, and not past its expiry."""
    now = now or utcnow()
    if alert.state != AlertState.ACTIVE:
        return False
    return alert.expires_utc is None or alert.expires_utc > now


def effective_state(alert: Alert, now: datetime | None = None) -> AlertState:
    """The state with expiry applied: an active alert past ``expires`` reads as expired."""
    state = AlertState(alert.state)
    if state is AlertState.ACTIVE and alert.expires_utc and alert.expires_utc <= (now or utcnow()):
        return AlertState.EXPIRED
    return state


def _active_clause(now: datetime) -> Any:
    return sa.and_(
        col(Alert.state) == AlertState.ACTIVE.value,
        sa.or_(col(Alert.expires_utc).is_(None), col(Alert.expires_utc) > now),
    )


def list_alerts(
    *,
    session: Session,
    status: str | None = None,
    active: bool | None = None,
    since: datetime | None = None,
    sender: str | None = None,
    limit: int = 50,
    offset: int = 0,
    principal: Principal | Literal["all"] | None = "all",
) -> tuple[list[Alert], int]:
    """A filtered page of alerts, newest first, and the total count (those ``principal`` may read)."""
    q = select(Alert)
    readable = None if principal == "all" else _readable_clause(principal)
    if readable is not None:
        q = q.where(readable)
    if status:
        q = q.where(Alert.status == status)
    if sender:
        q = q.where(Alert.sender == sender)
    if since:
        q = q.where(col(Alert.sent_utc) >= since)
    if active is not None:
        clause = _active_clause(utcnow())
        q = q.where(clause if active else sa.not_(clause))
    total = session.exec(select(func.count()).select_from(q.subquery())).one()
    rows = session.exec(
        q.order_by(col(Alert.sent_utc).desc(), col(Alert.id).desc()).offset(offset).limit(limit)
    )
    return list(rows), int(total)


def atom_entry(alert: Alert, base: str) -> cap_atom.AtomEntry:
    """The ATOM feed entry of a stored alert, linking to its original CAP bytes."""
    return cap_atom.AtomEntry(
        cap_url=f"{base}/api/v1/alerts/{alert.id}.xml",
        title=alert.headline or alert.event or alert.identifier,
        updated=alert.updated_at,
        author=alert.sender,
        published=alert.sent_utc,
        summary=alert.headline,
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent_utc,
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        event=alert.event,
        effective=alert.effective_utc,
        expires=alert.expires_utc,
        urgency=alert.urgency,
        severity=alert.severity,
        certainty=alert.certainty,
    )

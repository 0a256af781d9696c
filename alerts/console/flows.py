"""Compose -> review -> send: the checks every console alert passes, in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import shapely
from fastapi import Request
from shapely.geometry.base import BaseGeometry
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from alerts import cap
from alerts.audit import service as audit
from alerts.console import area as areas
from alerts.console import proxy
from alerts.console.capform import Composed, read_form, stamp, to_cap_xml
from alerts.console.web import Operator
from alerts.deps import get_app_settings
from alerts.dispatch.service import expect_recipients
from alerts.errors import BadInput, CapInvalid, Violation
from alerts.intake import service as intake
from alerts.intake.models import Alert, AlertState
from alerts.intake.service import violations_of

PREVIEW_PATH = "/api/v1/targeting/preview"


@dataclass(slots=True)
class Review:
    """A composed alert that passed every check, with what the confirmation must say."""

    composed: Composed
    area: areas.AreaInput
    geometry: BaseGeometry
    xml: bytes
    count: int | None = None
    by_language: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    by_zone: dict[str, dict[str, int]] = field(default_factory=dict)

    def without_text(self) -> dict[str, int]:
        """Subscriber languages the alert has no text in: they get its first language instead."""
        written = {lang.split("-")[0].lower() for lang in self.composed.texts}
        return {
            lang: n
            for lang, n in self.by_language.items()
            if n and lang.split("-")[0].lower() not in written
        }


async def targeting(
    request: Request, session: Session, op: Operator, geometry: BaseGeometry, status: str
) -> dict[str, Any] | None:
    """The targeting preview (exercises and tests reach the test audience only), or None."""
    if not proxy.has_route(request, PREVIEW_PATH):
        return None
    body = {
        "geometry": shapely.geometry.mapping(geometry),
        "test_audience_only": status != "Actual",
    }
    answer = await proxy.call(request, session, op.agency, "POST", PREVIEW_PATH, json=body)
    if not answer.ok or "json" not in answer.media_type:
        return None
    data: dict[str, Any] = answer.json()
    return data


async def checked_area(
    request: Request, op: Operator, form: dict[str, Any], zones: list[str]
) -> tuple[areas.AreaInput, BaseGeometry]:
    """Parse the area and refuse it when it is empty or leaves the agency's jurisdiction."""
    area = areas.parse_area(form, zones)
    registry = areas.zone_registry(request)
    geometry = await run_in_threadpool(areas.geometry_of, area, registry)
    areas.check_jurisdiction(op.agency, geometry)
    return area, geometry


async def review(
    request: Request, session: Session, op: Operator, form: dict[str, Any], zones: list[str]
) -> Review:
    """Check form, area and jurisdiction, build and validate the CAP, count recipients."""
    composed = read_form(form)
    area, geometry = await checked_area(request, op, form, zones)
    stamp(composed, op.agency)
    xml = to_cap_xml(composed, agency=op.agency, area=areas.cap_area(area))
    result = cap.parse(xml)
    if not result.ok:
        raise CapInvalid(
            "the composed alert is not valid CAP", violations=violations_of(list(result.issues))
        )
    rv = Review(composed=composed, area=area, geometry=geometry, xml=xml)
    preview = await targeting(request, session, op, geometry, composed.status)
    if preview is not None:
        rv.count = int(preview.get("count", 0))
        rv.by_language = {str(k): int(v) for k, v in dict(preview.get("by_language", {})).items()}
        rv.warnings = [str(w) for w in preview.get("warnings", [])]
        rv.by_zone = {str(k): dict(v) for k, v in dict(preview.get("by_zone", {})).items()}
    return rv


def confirmation_matches(rv: Review, typed: str) -> bool:
    """The operator typed the recipient count or the area's name."""
    text = typed.strip().replace(",", "").replace(" ", "").lower()
    if not text:
        return False
    if rv.count is not None and text == str(rv.count):
        return True
    names = [rv.area.desc, *(zone_id for _, zone_id in rv.area.zones)]
    return any(text == name.replace(" ", "").lower() for name in names)


def _check_confirmation(rv: Review, typed: str) -> None:
    if rv.composed.is_actual and not confirmation_matches(rv, typed):
        what = f"the number of recipients ({rv.count})" if rv.count is not None else "the area name"
        raise BadInput(
            f"to send a REAL alert, type {what} exactly as shown",
            violations=[
                Violation(rule="CONFIRM-MISMATCH", message="not confirmed", path="confirm")
            ],
        )


async def send(
    request: Request, session: Session, op: Operator, form: dict[str, Any], zones: list[str]
) -> Alert:
    """Store the alert: Actual alerts wait for a second person (Cancels go at once)."""
    rv = await review(request, session, op, form, zones)
    _check_confirmation(rv, str(form.get("confirm", "")))
    settings = get_app_settings(request)
    outcome = intake.ingest(
        session=session,
        data=rv.xml,
        agency=op.agency,
        max_bytes=settings.max_cap_bytes,
        actor=op.actor,
        via="console",
        area_resolver=getattr(request.app.state, "area_resolver", None),
        # A correction must not wait for a second person: cancelling reduces harm.
        require_approval=rv.composed.msg_type != "Cancel",
    )
    audit.record(
        session=session,
        actor=op.actor,
        action="console.send",
        target_type="alert",
        target_id=outcome.alert.id or "",
        detail={
            "cap_xml": rv.xml.decode(),
            "status": rv.composed.status,
            "msg_type": rv.composed.msg_type,
            "recipients": rv.count,
            "confirmation": str(form.get("confirm", ""))[:100],
        },
    )
    if outcome.created and outcome.alert.id is not None:
        # Durable with the alert (and its approval later): the planner's preview guard.
        expect_recipients(session=session, alert_id=outcome.alert.id, expected_max=rv.count)
    session.commit()
    outcome.expected_recipients = rv.count
    if outcome.created and outcome.alert.state != AlertState.PENDING_APPROVAL:
        for hook in getattr(request.app.state, "on_alert_stored", []):
            await hook(outcome)
    return outcome.alert


@dataclass(slots=True)
class SentFacts:
    """What the approver must see: who wrote it, how many it reaches, where."""

    author: str = ""
    recipients: int | None = None
    area_desc: str = ""


def sent_facts(session: Session, alert: Alert) -> SentFacts:
    """Author and recipient count from the audit log; area name from the stored CAP."""
    facts = SentFacts()
    for event in reversed(audit.recent(session=session, limit=50, target_id=str(alert.id))):
        authored = event.action.startswith("alert.") and event.action != "alert.approve"
        if authored and not facts.author:
            facts.author = event.actor
        if event.action == "console.send" and event.detail.get("recipients") is not None:
            facts.recipients = int(event.detail["recipients"])
    areas_of = [a.get("area_desc", "") for i in alert.infos[:1] for a in i.get("areas", [])]
    facts.area_desc = ", ".join(a for a in areas_of if a)
    return facts


def author_of(session: Session, alert: Alert) -> str:
    """Who submitted an alert, from the audit log ('' when unknown)."""
    return sent_facts(session, alert).author


async def approve(request: Request, session: Session, op: Operator, alert_id: int) -> Alert:
    """Second-person approval of an Actual alert; the author can never approve their own."""
    alert = intake.get_alert(session=session, alert_id=alert_id)
    outcome = intake.approve(
        session=session,
        alert_id=alert_id,
        approver=op.actor,
        author=author_of(session, alert),
        agency=op.agency,
    )
    session.commit()
    # Newly accepted for dispatch: the hooks plan only outcomes marked as created.
    # The count the author confirmed travels with it: planning blocks a far larger audience.
    accepted = dataclasses.replace(
        outcome, created=True, expected_recipients=sent_facts(session, alert).recipients
    )
    for hook in getattr(request.app.state, "on_alert_stored", []):
        await hook(accepted)
    return outcome.alert

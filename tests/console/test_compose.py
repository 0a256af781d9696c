"""Compose, confirm, two-person approval, jurisdiction refusal, exercises and corrections."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerts import cap
from alerts.audit.models import AuditEvent
from alerts.db import make_engine
from alerts.dispatch.models import DispatchPlan
from alerts.intake.models import Alert
from tests.console.conftest import OUTSIDE, csrf_of, login
from tests.console.helpers import alert_id_of, compose_form, review, send


def _alert(settings, alert_id: int) -> Alert:
    engine = make_engine(settings)
    with Session(engine) as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None
    engine.dispose()
    return alert


def _count_alerts(settings) -> int:
    engine = make_engine(settings)
    with Session(engine) as s:
        n = len(list(s.exec(select(Alert))))
    engine.dispose()
    return n


def _approve(client: TestClient, alert_id: int):
    page = client.get(f"/console/alerts/{alert_id}")
    return client.post(
        f"/console/alerts/{alert_id}/approve",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def test_status_is_chosen_first(client: TestClient, team) -> None:
    login(client, "alice")
    page = client.get("/console/compose")
    assert "first, is this real?" in page.text
    assert 'href="/console/compose?status=Actual"' in page.text
    actual = client.get("/console/compose?status=Actual")
    assert "<title>REAL ALERT" in actual.text
    assert "banner-actual" in actual.text
    exercise = client.get("/console/compose?status=Exercise")
    assert "<title>EXERCISE" in exercise.text
    assert "NOT A REAL EMERGENCY" in exercise.text


def test_confirmation_states_the_facts_in_words(client: TestClient, team) -> None:
    login(client, "alice")
    page = review(client, compose_form(client))
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "<strong>REAL</strong>" in text
    assert "<strong>Evacuation Order</strong>" in text
    assert "<strong>Zone A</strong>" in text
    assert "picture message (MMS)" in text
    assert "English and Spanish" in text
    assert "second person with the approver role" in text


def test_actual_alert_needs_typed_confirmation(client: TestClient, team, settings) -> None:
    login(client, "alice")
    response = send(client, compose_form(client), confirm="yes")
    assert response.status_code == 400
    assert "type" in response.text
    assert _count_alerts(settings) == 0


def test_two_person_rule(client: TestClient, team, settings) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client)))
    assert _alert(settings, alert_id).state == "pending_approval"
    own = client.get(f"/console/alerts/{alert_id}")
    assert "you cannot approve it" in own.text
    assert 'id="approve"' not in own.text
    refused = _approve(client, alert_id)  # alice is an author: refused on role and authorship
    assert refused.status_code == 403
    assert _alert(settings, alert_id).state == "pending_approval"
    login(client, "bob")
    assert _approve(client, alert_id).status_code == 303
    assert _alert(settings, alert_id).state == "active"
    engine = make_engine(settings)
    with Session(engine) as s:
        events = list(s.exec(select(AuditEvent).where(AuditEvent.target_id == str(alert_id))))
    engine.dispose()
    sent = next(e for e in events if e.action == "console.send")
    assert sent.actor == "user:alice"
    assert sent.detail["cap_xml"].startswith("<?xml")
    assert any(e.action == "alert.approve" and e.actor == "user:bob" for e in events)


def test_approver_cannot_approve_own_alert(client: TestClient, team, settings) -> None:
    login(client, "bob")
    alert_id = alert_id_of(send(client, compose_form(client)))
    response = _approve(client, alert_id)
    assert response.status_code == 403
    assert "two-person rule" in response.text
    assert _alert(settings, alert_id).state == "pending_approval"
    login(client, "carol")
    assert _approve(client, alert_id).status_code == 303


def test_viewer_cannot_approve(client: TestClient, team, settings) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client)))
    login(client, "vic")
    assert _approve(client, alert_id).status_code == 403
    assert _alert(settings, alert_id).state == "pending_approval"


def test_area_outside_jurisdiction_is_refused(client: TestClient, team, settings) -> None:
    login(client, "alice")
    form = compose_form(client, area=OUTSIDE)
    check = client.post("/console/api/area-check", data=form)
    assert check.status_code == 403
    assert check.json()["violations"][0]["rule"] == "AREA-OUTSIDE-JURISDICTION"
    assert "outside NYC Emergency Management's jurisdiction" in check.json()["detail"]
    page = review(client, form)
    assert page.status_code == 403
    assert "jurisdiction" in page.text
    forged = client.post("/console/compose/send", data={**form, "confirm": "Zone A"})
    assert forged.status_code == 403
    assert _count_alerts(settings) == 0


def test_no_area_no_send(client: TestClient, team, settings) -> None:
    login(client, "alice")
    page = review(client, compose_form(client, area_polygon=""))
    assert page.status_code == 400
    assert "no area" in page.text
    assert _count_alerts(settings) == 0


def test_text_over_90_characters_is_refused(client: TestClient, team) -> None:
    login(client, "alice")
    page = review(client, compose_form(client, **{"headline_en-US": "x" * 91}))
    assert page.status_code == 400
    assert "1-90 characters" in page.text


def test_exercise_goes_without_approval_and_says_so(client: TestClient, team, settings) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client, status="Exercise"), confirm=None))
    alert = _alert(settings, alert_id)
    assert alert.status == "Exercise"
    assert alert.state == "active"
    parsed = cap.parse(alert.raw_xml).raise_for_errors()
    marks = {i.language: (i.headline or "").split(":")[0] for i in parsed.infos}
    assert marks == {"en-US": "EXERCISE", "es-US": "SIMULACRO"}  # each in its own language
    page = client.get(f"/console/alerts/{alert_id}")
    assert "<title>EXERCISE" in page.text
    assert "NOT A REAL EMERGENCY" in page.text


def test_false_alarm_prefills_a_cancel_with_the_original_area(
    client: TestClient, team, settings
) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client)))
    login(client, "bob")
    _approve(client, alert_id)
    original = _alert(settings, alert_id)
    page = client.get(f"/console/alerts/{alert_id}")
    assert "False alarm — correct now" in page.text
    form_page = client.get(f"/console/compose?original={alert_id}&action=false_alarm")
    assert form_page.status_code == 200
    assert 'name="msg_type" value="Cancel"' in form_page.text
    assert f"{original.sender},{original.identifier}" in form_page.text
    assert "FALSE ALARM" in form_page.text
    assert "Zone A" in form_page.text
    from tests.console.helpers import form_fields

    fields = form_fields(form_page.text, "/console/compose")
    fields.update({k: v for k, v in compose_form(client).items() if k.startswith("area_")})
    fields["headline_en-US"] = "FALSE ALARM: the earlier alert for Zone A was sent in error."
    fields["headline_es-US"] = "FALSA ALARMA: Zone A."
    fields.update(event="False Alarm Correction", area_desc="Zone A")
    cancel_id = alert_id_of(send(client, fields))
    cancel = _alert(settings, cancel_id)
    assert cancel.msg_type == "Cancel"
    assert cancel.state == "active"  # corrections do not wait for a second person
    assert _alert(settings, alert_id).state == "cancelled"


def test_alert_list_shows_waiting_alerts(client: TestClient, team) -> None:
    login(client, "alice")
    send(client, compose_form(client))
    page = client.get("/console/alerts")
    assert "Waiting for a second person" in page.text


def test_map_and_audit_pages(client: TestClient, team) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client)))
    image = client.get(f"/console/alerts/{alert_id}/map.png")
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/")
    audit = client.get(f"/console/audit?target={alert_id}")
    assert "console.send" in audit.text
    assert "CAP payload" in audit.text


def test_one_operator_stops_sending_at_once_and_it_is_audited(
    client: TestClient, team, settings
) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client, status="Exercise"), confirm=None))
    page = client.get(f"/console/alerts/{alert_id}")
    assert 'id="stop-sending"' in page.text
    stopped = client.post(
        f"/console/alerts/{alert_id}/stop",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert stopped.status_code == 303, stopped.text
    engine = make_engine(settings)
    with Session(engine) as s:
        plan = s.get(DispatchPlan, alert_id)
        events = list(s.exec(select(AuditEvent).where(AuditEvent.target_id == str(alert_id))))
    engine.dispose()
    assert plan is not None and plan.state == "cancelled"  # no planner may plan it any more
    assert any(e.action == "alert.dispatch.stop" and e.actor == "user:alice" for e in events)
    assert 'id="stop-sending"' not in client.get(f"/console/alerts/{alert_id}").text


def test_a_viewer_cannot_stop_sending(client: TestClient, team, settings) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client, status="Exercise"), confirm=None))
    login(client, "vic")
    page = client.get(f"/console/alerts/{alert_id}")
    assert 'id="stop-sending"' not in page.text
    refused = client.post(
        f"/console/alerts/{alert_id}/stop",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    engine = make_engine(settings)
    with Session(engine) as s:
        assert s.get(DispatchPlan, alert_id) is None
    engine.dispose()

"""Zones picked from the registry, agency scoping, and audit of refused approvals."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerts.access import service as access
from alerts.access import users
from alerts.access.models import Agency, AgencyCreate
from alerts.access.user_models import UserCreate
from alerts.audit.models import AuditEvent
from alerts.db import make_engine, session_scope
from tests.console.conftest import PASSWORD, csrf_of, login
from tests.console.helpers import alert_id_of, compose_form, send

ALL_NYC = {
    "type": "Polygon",
    "coordinates": [
        [[-74.3, 40.45], [-73.65, 40.45], [-73.65, 40.95], [-74.3, 40.95], [-74.3, 40.45]]
    ],
}


def _widen_jurisdiction(settings, team) -> None:
    engine = make_engine(settings)
    with session_scope(engine) as s:
        agency = s.get(Agency, team.agency_id)
        assert agency is not None
        agency.jurisdiction_geojson = json.dumps(ALL_NYC)
        s.add(agency)
    engine.dispose()


def test_zone_reaching_outside_jurisdiction_is_refused(client: TestClient, team) -> None:
    login(client, "alice")
    form = compose_form(client, area_polygon="", zones="nyc_evacuation_zones:1")
    response = client.post("/console/api/area-check", data=form)
    assert response.status_code == 403
    assert response.json()["violations"][0]["rule"] == "AREA-OUTSIDE-JURISDICTION"


def test_zone_inside_jurisdiction_becomes_a_geocode(client: TestClient, team, settings) -> None:
    _widen_jurisdiction(settings, team)
    login(client, "alice")
    form = compose_form(
        client, area_polygon="", zones="nyc_evacuation_zones:1", area_desc="Evacuation Zone 1"
    )
    check = client.post("/console/api/area-check", data=form)
    assert check.status_code == 200, check.text
    assert check.json()["area"]["type"] in ("Polygon", "MultiPolygon")
    page = client.post("/console/compose", data=form)
    assert page.status_code == 200
    assert "&lt;valueName&gt;nyc_evacuation_zones&lt;/valueName&gt;" in page.text
    alert_id = alert_id_of(send(client, form, confirm="1"))  # typing the zone id confirms
    assert client.get(f"/console/alerts/{alert_id}").status_code == 200


def test_zone_list_is_served_offline_from_shipped_data(client: TestClient, team) -> None:
    login(client, "alice")
    sets = client.get("/console/api/zones").json()["sets"]
    assert "nyc_evacuation_zones" in {s["name"] for s in sets}
    zones = client.get("/console/api/zones/nyc_evacuation_zones").json()
    assert zones["type"] == "FeatureCollection"
    assert {f["properties"]["id"] for f in zones["features"]} >= {"1", "2"}


def test_other_agencies_alerts_are_hidden(client: TestClient, team, settings) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client)))
    engine = make_engine(settings)
    with session_scope(engine) as s:
        other = access.create_agency(
            session=s, data=AgencyCreate(name="Elsewhere", senders=["ops@elsewhere.example"])
        )
        assert other.id is not None
        users.create_user(
            session=s,
            data=UserCreate(username="eve", role="approver", agency_id=other.id, password=PASSWORD),
        )
    engine.dispose()
    login(client, "eve")
    assert client.get(f"/console/alerts/{alert_id}").status_code == 404
    page = client.get("/console/alerts")
    response = client.post(
        f"/console/alerts/{alert_id}/approve", data={"csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 404


def test_refused_approval_is_audited(client: TestClient, team, settings) -> None:
    login(client, "bob")
    alert_id = alert_id_of(send(client, compose_form(client)))
    page = client.get(f"/console/alerts/{alert_id}")
    client.post(f"/console/alerts/{alert_id}/approve", data={"csrf_token": csrf_of(page.text)})
    engine = make_engine(settings)
    with Session(engine) as s:
        refused = s.exec(
            select(AuditEvent).where(AuditEvent.action == "alert.approve.refused")
        ).all()
    engine.dispose()
    assert [e.actor for e in refused] == ["user:bob"]
    assert "two-person" in refused[0].detail["reason"]

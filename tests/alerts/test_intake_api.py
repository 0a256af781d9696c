"""POST/GET alerts over HTTP against SQLite and PostgreSQL with real CAP samples."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
import sqlalchemy as sa

from alerts import cap
from alerts.db import make_engine
from tests.alerts.conftest import make_agency

CAP = {"Content-Type": "application/cap+xml"}
A2 = "oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml"
A3 = "oasis_cap12_appendixA3_earthquake_update_references_circle.xml"


def _count(settings, table: str) -> int:
    engine = make_engine(settings)
    with engine.connect() as conn:
        n = int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return n


@pytest.fixture
def nws(settings):
    return make_agency(settings, "NWS Sacramento", ["KSTO@NWS.NOAA.GOV"])


def test_post_stores_and_acknowledges(client, nws, shared_data):
    body = (shared_data / "cap/samples" / A2).read_bytes()
    r = client.post("/api/v1/alerts", content=body, headers={**CAP, **nws.headers})
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == f"/api/v1/alerts/{made['id']}"
    assert made["sender"] == "KSTO@NWS.NOAA.GOV"
    assert made["msg_type"] == "Alert"
    assert made["event"] == "SEVERE THUNDERSTORM"
    assert made["severity"] == "Severe"
    assert client.get(f"/api/v1/alerts/{made['id']}.xml").content == body
    detail = client.get(f"/api/v1/alerts/{made['id']}").json()
    assert detail["infos"][0]["areas"][0]["polygons"]


def test_repeat_returns_stored_alert_never_a_second(client, nws, shared_data, settings):
    body = (shared_data / "cap/samples" / A2).read_bytes()
    first = client.post("/api/v1/alerts", content=body, headers={**CAP, **nws.headers})
    again = client.post("/api/v1/alerts", content=body, headers={**CAP, **nws.headers})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert _count(settings, "alert") == 1


def test_wrong_sender_is_403_and_nothing_stored(client, settings, shared_data):
    other = make_agency(settings, "Elsewhere", ["someone@example.gov"])
    body = (shared_data / "cap/samples" / A2).read_bytes()
    r = client.post("/api/v1/alerts", content=body, headers={**CAP, **other.headers})
    assert r.status_code == 403
    assert r.json()["violations"][0]["rule"] == "AUTH-SENDER-NOT-ALLOWED"
    assert _count(settings, "alert") == 0


def test_auth_media_type_and_size_errors(client, nws, shared_data, settings):
    body = (shared_data / "cap/samples" / A2).read_bytes()
    assert client.post("/api/v1/alerts", content=body, headers=CAP).status_code == 401
    bad_key = {"Authorization": "Bearer ak_nope"}
    assert (
        client.post("/api/v1/alerts", content=body, headers={**CAP, **bad_key}).status_code == 401
    )
    r = client.post(
        "/api/v1/alerts", content=body, headers={"Content-Type": "application/json", **nws.headers}
    )
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    huge = body + b" " * (settings.max_cap_bytes + 1)
    assert (
        client.post("/api/v1/alerts", content=huge, headers={**CAP, **nws.headers}).status_code
        == 413
    )
    assert _count(settings, "alert") == 0


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("invalid_missing_scope.xml", "XSD-INVALID"),
        ("invalid_xinclude_external_entity_attack.xml", "XML-DTD-FORBIDDEN"),
        ("invalid_ca_empty_references_element.xml", "CAP-REFERENCES-FORMAT"),
        ("invalid_wrong_namespace_taiwan.xml", "CAP-NAMESPACE"),
    ],
)
def test_invalid_documents_get_problem_with_rule(client, nws, shared_data, settings, name, rule):
    body = (shared_data / "cap/samples" / name).read_bytes()
    r = client.post("/api/v1/alerts", content=body, headers={**CAP, **nws.headers})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert rule in {v["rule"] for v in r.json()["violations"]}
    assert _count(settings, "alert") == 0


def test_validate_is_a_dry_run(client, shared_data, settings):
    good = client.post(
        "/api/v1/alerts/validate",
        content=(shared_data / "cap/samples" / A2).read_bytes(),
        headers=CAP,
    )
    assert good.status_code == 200
    assert good.json()["valid"] is True
    bad = client.post(
        "/api/v1/alerts/validate",
        content=(shared_data / "cap/samples/invalid_missing_scope.xml").read_bytes(),
        headers=CAP,
    )
    assert bad.json()["valid"] is False
    assert bad.json()["violations"]
    assert _count(settings, "alert") == 0


def _original_of(update: cap.CapAlert) -> bytes:
    ref = update.references[0]
    original = dataclasses.replace(
        update,
        identifier=ref.identifier,
        sent=ref.sent,
        msg_type=cap.MsgType.ALERT,
        references=(),
        references_text=None,
    )
    return cap.serialize(original)


def test_update_supersedes_and_cancel_cancels(client, settings, shared_data):
    caltech = make_agency(settings, "Caltech", ["trinet@caltech.edu"])
    update_xml = (shared_data / "cap/samples" / A3).read_bytes()
    update = cap.parse(update_xml).raise_for_errors()
    first = client.post(
        "/api/v1/alerts", content=_original_of(update), headers={**CAP, **caltech.headers}
    )
    assert first.status_code == 201, first.text
    second = client.post("/api/v1/alerts", content=update_xml, headers={**CAP, **caltech.headers})
    assert second.status_code == 201
    old = client.get(f"/api/v1/alerts/{first.json()['id']}").json()
    assert old["state"] == "superseded"
    assert old["replaced_by_id"] == second.json()["id"]
    cancel = dataclasses.replace(
        update,
        identifier="TRI13970876.3",
        msg_type=cap.MsgType.CANCEL,
        sent=datetime.fromisoformat("2003-06-11T20:59:00-07:00"),
        references=(cap.Reference(update.sender, update.identifier, update.sent),),
        references_text=f"{update.sender},{update.identifier},{update.sent.isoformat()}",
    )
    third = client.post(
        "/api/v1/alerts", content=cap.serialize(cancel), headers={**CAP, **caltech.headers}
    )
    assert third.status_code == 201, third.text
    assert client.get(f"/api/v1/alerts/{second.json()['id']}").json()["state"] == "cancelled"


def test_list_filters_and_pagination(client, nws, shared_data):
    body = (shared_data / "cap/samples" / A2).read_bytes()
    client.post("/api/v1/alerts", content=body, headers={**CAP, **nws.headers})
    page = client.get("/api/v1/alerts", params={"sender": "KSTO@NWS.NOAA.GOV", "limit": 1}).json()
    assert page["total"] == 1
    assert page["items"][0]["identifier"] == "KSTO1055887203"
    assert client.get("/api/v1/alerts", params={"status": "Exercise"}).json()["total"] == 0
    assert client.get("/api/v1/alerts/999999").status_code == 404


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["database"] == "ok"


def test_restricted_and_private_alerts_are_read_only_with_the_senders_key(client, settings):
    from tests.cap.factories import cap_xml

    owner = make_agency(settings, "Police", ["police@example.org"])
    other = make_agency(settings, "Other", ["other@example.org"])
    bodies = {
        "public": cap_xml(identifier="P-1", sender="police@example.org"),
        "restricted": cap_xml(
            identifier="R-1",
            sender="police@example.org",
            scope="Restricted",
            alert_extra="<restriction>law enforcement only</restriction>",
        ),
        "private": cap_xml(
            identifier="V-1",
            sender="police@example.org",
            scope="Private",
            alert_extra="<addresses>unit7@example.org</addresses>",
        ),
    }
    ids = {}
    for name, body in bodies.items():
        r = client.post("/api/v1/alerts", content=body, headers={**CAP, **owner.headers})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]

    def listed(headers: dict[str, str]) -> set[int]:
        page = client.get("/api/v1/alerts", headers=headers).json()
        assert page["total"] == len(page["items"])
        return {a["id"] for a in page["items"]}

    assert listed({}) == {ids["public"]}
    assert listed(other.headers) == {ids["public"]}
    assert listed(owner.headers) == set(ids.values())
    for name in ("restricted", "private"):
        for suffix in ("", ".xml"):
            url = f"/api/v1/alerts/{ids[name]}{suffix}"
            assert client.get(url).status_code == 404  # not disclosed, not even its existence
            assert client.get(url, headers=other.headers).status_code == 404
            assert client.get(url, headers=owner.headers).status_code == 200
    assert (
        client.get(f"/api/v1/alerts/{ids['private']}.xml", headers=owner.headers).content
        == (bodies["private"])
    )
    assert client.get(f"/api/v1/alerts/{ids['public']}").status_code == 200
    bad_key = client.get("/api/v1/alerts", headers={"X-API-Key": "not-a-key"})
    assert bad_key.status_code == 401

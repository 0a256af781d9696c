"""Delivery figures and live events are for the sending agency and admin keys only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from alerts.access import service as access
from alerts.db import make_engine, session_scope
from alerts.settings import Settings
from tests.alerts.conftest import make_agency
from tests.capdocs import evacuation

CAP = {"Content-Type": "application/cap+xml"}


def test_deliveries_need_the_sending_agency_or_admin(client: TestClient, settings: Settings):
    owner = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    other = make_agency(settings, "Elsewhere", ["other@example.gov"])
    posted = client.post("/api/v1/alerts", content=evacuation(), headers={**CAP, **owner.headers})
    assert posted.status_code == 201, posted.text
    alert_id = posted.json()["id"]
    for path in (f"/api/v1/alerts/{alert_id}/deliveries", f"/api/v1/alerts/{alert_id}/events"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        refused = client.get(path, headers=other.headers)
        assert refused.status_code == 403
        assert refused.json()["violations"][0]["rule"] == "AUTH-ALERT-NOT-OWNED"
    page = client.get(f"/api/v1/alerts/{alert_id}/deliveries", headers=owner.headers)
    assert page.status_code == 200
    assert "summary" in page.json()
    engine = make_engine(settings)
    with session_scope(engine) as session:
        admin_key = access.issue_key(session=session, agency_id=other.agency_id, admin=True).key
    engine.dispose()
    admin = client.get(
        f"/api/v1/alerts/{alert_id}/deliveries", headers={"Authorization": f"Bearer {admin_key}"}
    )
    assert admin.status_code == 200

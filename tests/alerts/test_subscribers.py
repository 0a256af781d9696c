"""Subscribers: E.164 normalisation, masking, admin-only changes, bulk CSV import."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from alerts.db import make_engine
from alerts.subscribers import importer
from alerts.subscribers.phones import mask
from tests.alerts.conftest import make_agency

BODY = {
    "phone": "(212) 736-3100",
    "language": "es",
    "locations": [
        {"label": "home", "lon": -73.99, "lat": 40.75},
        {"label": "work", "lon": -74.0, "lat": 40.7},
    ],
}


def test_create_normalises_number_and_masks_for_non_admins(client, settings):
    admin = make_agency(settings, "city-admin", ["city@example.gov"])
    from alerts.access import service as access
    from alerts.db import session_scope

    engine = make_engine(settings)
    with session_scope(engine) as s:
        admin_key = access.issue_key(session=s, agency_id=admin.agency_id, admin=True).key
    engine.dispose()
    r = client.post("/api/v1/subscribers", json=BODY, headers={"X-API-Key": admin_key})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["phone"] == "+12127363100"
    assert len(created["locations"]) == 2
    plain = client.get(f"/api/v1/subscribers/{created['id']}", headers=admin.headers).json()
    assert plain["phone"] == "+1********00"
    assert "736" not in plain["phone"]
    listing = client.get(
        "/api/v1/subscribers?ends_with=3100", headers={"X-API-Key": admin_key}
    ).json()
    assert listing["total"] == 1
    assert listing["items"][0]["phone"] == "+12127363100"


def test_non_admin_key_cannot_add(client, settings):
    agency = make_agency(settings, "county", ["county@example.gov"])
    r = client.post("/api/v1/subscribers", json=BODY, headers=agency.headers)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


def test_bad_number_is_rejected_with_reason_and_nothing_stored(client, settings):
    agency = make_agency(settings, "county", ["county@example.gov"])
    engine = make_engine(settings)
    from alerts.access import service as access
    from alerts.db import session_scope

    with session_scope(engine) as s:
        key = access.issue_key(session=s, agency_id=agency.agency_id, admin=True).key
    engine.dispose()
    r = client.post(
        "/api/v1/subscribers", json={**BODY, "phone": "+1 555 12"}, headers={"X-API-Key": key}
    )
    assert r.status_code == 400
    problem = r.json()
    assert problem["violations"][0]["rule"] == "SUBSCRIBER-PHONE-INVALID"
    assert _count(settings, "subscriber") == 0


def test_mask_keeps_country_code_and_last_two():
    assert mask("+447911123456") == "+44********56"


def _count(settings, table: str) -> int:
    engine = make_engine(settings)
    with engine.connect() as conn:
        n = int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return n


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text(importer.csv_text(rows))
    return path


def test_import_is_all_or_nothing(settings, tmp_path):
    good = {"phone": "+12127363100", "language": "en", "lon": "-73.99", "lat": "40.75"}
    bad = {"phone": "not a phone", "language": "en", "lon": "-73.99", "lat": "40.75"}
    engine = make_engine(settings)
    report = importer.import_file(engine, _write_csv(tmp_path / "a.csv", [good, bad]))
    assert not report.ok
    assert report.errors[0].line == 3
    assert report.errors[0].column == "phone"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM subscriber")).scalar_one() == 0
    report = importer.import_file(
        engine, _write_csv(tmp_path / "b.csv", [good, {**good, "lon": "-74.0"}])
    )
    assert report.ok
    assert report.subscribers == 1
    assert report.locations == 2
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM subscriber_location")).scalar_one() == 2
        assert (
            conn.execute(sa.text("SELECT phone_e164 FROM subscriber")).scalar_one()
            == "+12127363100"
        )
    engine.dispose()


def test_import_rejects_out_of_range_coordinates(settings, tmp_path):
    rows = [{"phone": "+12127363100", "language": "en", "lon": "-273.99", "lat": "40.75"}]
    engine = make_engine(settings)
    report = importer.import_file(engine, _write_csv(tmp_path / "c.csv", rows))
    engine.dispose()
    assert report.errors
    assert "lon" in report.errors[0].reason


def test_import_refreshes_planner_statistics(settings, tmp_path):
    """A bulk import leaves fresh statistics (targeting plans must not see an empty table)."""
    good = {"phone": "+12127363100", "language": "en", "lon": "-73.99", "lat": "40.75"}
    engine = make_engine(settings)
    report = importer.import_file(engine, _write_csv(tmp_path / "a.csv", [good]))
    assert report.ok
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            analysed = conn.execute(
                sa.text(
                    "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL "
                    "AND relname IN ('subscriber', 'subscriber_location')"
                )
            ).scalars()
            assert sorted(analysed) == ["subscriber", "subscriber_location"]
    engine.dispose()

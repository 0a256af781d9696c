"""Console fixtures: an agency with a jurisdiction, users of every role, signed-in clients."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from alerts.access import service as access
from alerts.access import users
from alerts.access.models import AgencyCreate
from alerts.access.user_models import UserCreate
from alerts.db import make_engine, session_scope
from alerts.settings import Settings
from tests.alerts.conftest import client, settings  # noqa: F401
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401

PASSWORD = "correct horse battery"
# Lower Manhattan and Brooklyn waterfront: inside the shipped NYC evacuation zones.
JURISDICTION = {
    "type": "Polygon",
    "coordinates": [
        [[-74.05, 40.68], [-73.93, 40.68], [-73.93, 40.78], [-74.05, 40.78], [-74.05, 40.68]]
    ],
}
INSIDE = {
    "type": "Polygon",
    "coordinates": [[[-74.02, 40.70], [-73.98, 40.70], [-73.98, 40.73], [-74.02, 40.70]]],
}
OUTSIDE = {
    "type": "Polygon",
    "coordinates": [[[-73.80, 40.60], [-73.70, 40.60], [-73.70, 40.65], [-73.80, 40.60]]],
}


@dataclass
class Team:
    """The agency and its users' names."""

    agency_id: int
    sender: str = "ops@nyc.example"


def make_team(cfg: Settings) -> Team:
    """Create the agency with a jurisdiction and one user per role."""
    engine = make_engine(cfg)
    with session_scope(engine) as session:
        agency = access.create_agency(
            session=session,
            data=AgencyCreate(name="NYC Emergency Management", senders=["ops@nyc.example"]),
        )
        agency.jurisdiction_geojson = json.dumps(JURISDICTION)
        session.add(agency)
        session.flush()
        assert agency.id is not None
        for name, role in [
            ("alice", "author"),
            ("bob", "approver"),
            ("carol", "approver"),
            ("vic", "viewer"),
            ("ada", "admin"),
        ]:
            users.create_user(
                session=session,
                data=UserCreate(
                    username=name,
                    display_name=name.capitalize(),
                    role=role,
                    agency_id=agency.id,
                    password=PASSWORD,
                ),
            )
        team = Team(agency_id=agency.id)
    engine.dispose()
    return team


def csrf_of(html: str) -> str:
    """The CSRF token in a page's first form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf token in page"
    return found.group(1)


def login(web: TestClient, username: str, password: str = PASSWORD):
    """Sign in through the form; returns the response of the POST."""
    page = web.get("/console/login")
    return web.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with test parameters: the default costs half a second per hash on CI machines."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    users._dummy_hash.cache_clear()


@pytest.fixture
def team(settings: Settings) -> Team:  # noqa: F811
    """The agency and its users."""
    return make_team(settings)

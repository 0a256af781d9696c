"""Fixtures for service tests: settings, app, client, an agency with a key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from alerts.access import service as access
from alerts.access.models import AgencyCreate
from alerts.app import create_app
from alerts.db import make_engine, session_scope
from alerts.settings import Settings
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401


@dataclass
class AgencyKey:
    """An agency id and its plain API key."""

    agency_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        """Auth headers for requests."""
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def settings(database_url: str, tmp_path) -> Settings:  # noqa: F811
    """Test settings on the parametrised database."""
    return Settings(
        env="test",
        database_url=database_url,
        feed_min_interval_s=0,
        in_process_worker=False,
        embedded_mmsc=False,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A TestClient running the app's lifespan."""
    with TestClient(create_app(settings)) as c:
        yield c


def make_agency(settings: Settings, name: str, senders: list[str], **kw: bool) -> AgencyKey:
    """Create an agency and a key directly through the service layer."""
    engine = make_engine(settings)
    with session_scope(engine) as session:
        agency = access.create_agency(
            session=session, data=AgencyCreate(name=name, senders=senders, **kw)
        )
        assert agency.id is not None
        issued = access.issue_key(session=session, agency_id=agency.id)
    engine.dispose()
    return AgencyKey(agency_id=issued.agency_id, key=issued.key)

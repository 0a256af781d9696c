"""The public page behind an alert's short link, for an alert composed in the console.

(Here because this trial may only add tests under tests/console.)
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from alerts.db import make_engine
from alerts.intake.models import Alert
from alerts.settings import Settings
from tests.console.conftest import login
from tests.console.helpers import alert_id_of, compose_form, form_fields, send


def _short_id(settings: Settings, alert_id: int) -> str:
    engine = make_engine(settings)
    with Session(engine) as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None
        short = alert.short_id
    engine.dispose()
    return short


def test_test_alert_page_says_test_and_keeps_lines(
    client: TestClient, team, settings: Settings
) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client, status="Test"), confirm=None))
    page = client.get(f"/a/{_short_id(settings, alert_id)}")
    assert page.status_code == 200
    assert "TEST — NOT A REAL ALERT" in page.text
    assert "<title>TEST — " in page.text  # a Test is not called an Exercise in the page's own words
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.search(rf"sent <time datetime=\"[^\"]+\">{stamp}</time>", page.text)
    assert 'class="text"' in page.text and "white-space: pre-line" in page.text


def test_cancelled_alert_page_says_so_before_the_old_instructions(
    client: TestClient, team, settings: Settings
) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client, status="Exercise"), confirm=None))
    page = client.get(f"/console/compose?original={alert_id}&action=cancel")
    fields = form_fields(page.text, "/console/compose")
    fields.update({k: v for k, v in compose_form(client).items() if k.startswith("area_")})
    fields.update(status="Exercise", area_desc="Zone A", event="Alert Cancelled")
    fields["headline_en-US"] = "CANCELLED: the alert for Zone A is cancelled."
    alert_id_of(send(client, fields, confirm=None))
    text = client.get(f"/a/{_short_id(settings, alert_id)}").text
    assert 'id="cancelled"' in text
    assert text.index("the instructions below no longer apply") < text.index("<main>")

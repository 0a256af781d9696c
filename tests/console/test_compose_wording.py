"""What the compose and confirm pages say: people without text in their language, cancellations."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.console.conftest import csrf_of, login
from tests.console.helpers import alert_id_of, compose_form, review, send

# Inside the INSIDE triangle of tests.console.conftest (Lower Manhattan).
PEOPLE = (
    "phone,language,lon,lat,test_audience\n"
    "(212) 736-3100,en,-73.99,40.705,0\n"
    "(212) 736-3101,es,-73.985,40.71,0\n"
    "(212) 736-3102,zh,-73.99,40.71,0\n"
    "(212) 736-3103,zh,-73.985,40.705,0\n"
)


def _import_people(client: TestClient) -> None:
    login(client, "ada")
    page = client.get("/console/subscribers")
    response = client.post(
        "/console/subscribers/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("people.csv", PEOPLE, "text/csv")},
    )
    assert response.status_code == 200, response.text


def _say(html: str) -> str:
    return " ".join(html.split())


def test_confirm_warns_who_gets_another_language(client: TestClient, team) -> None:
    _import_people(client)
    login(client, "alice")
    form = compose_form(client, **{"headline_es-US": "", "instruction_es-US": ""})
    page = review(client, form)
    assert page.status_code == 200, page.text
    text = _say(page.text)
    assert "Per language:" in text
    warning = text.split('id="fallback-language">', 1)[1].split("</p>", 1)[0]
    assert "3 people have no text in their language" in warning
    assert "es 1" in warning and "zh 2" in warning and "en 1" not in warning
    assert "they will get the English text" in warning
    assert "add the Spanish text" in warning


def test_confirm_is_quiet_when_every_language_has_text(client: TestClient, team) -> None:
    login(client, "alice")
    page = review(client, compose_form(client))
    assert page.status_code == 200, page.text
    assert 'id="fallback-language"' not in page.text


def test_cancel_page_says_cancellation_and_keeps_the_status(client: TestClient, team) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client, status="Exercise"), confirm=None))
    page = client.get(f"/console/compose?original={alert_id}&action=cancel")
    assert page.status_code == 200
    text = _say(page.text)
    assert "EXERCISE: new cancellation" in text
    assert "new cancel " not in text
    # Switching real/exercise from here would drop the reference to the original alert.
    assert "change real/exercise" not in text
    fresh = _say(client.get("/console/compose?status=Exercise").text)
    assert "EXERCISE: new alert" in fresh
    assert "change real/exercise" in fresh


def test_alert_page_gives_sent_and_expires_alike(client: TestClient, team) -> None:
    login(client, "alice")
    alert_id = alert_id_of(send(client, compose_form(client, status="Exercise"), confirm=None))
    text = _say(client.get(f"/console/alerts/{alert_id}").text)
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.search(rf"Sent <time datetime=\"[^\"]+\">{stamp}</time>", text), text
    assert re.search(rf"expires {stamp}", text)

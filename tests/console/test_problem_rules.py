"""Every 4xx names the rule it broke, in the API's problem documents and on console pages.

(Here because this trial may only add tests under tests/console; the API part belongs with
the API tests in tests/alerts.)
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from alerts.settings import Settings
from tests.alerts.conftest import make_agency
from tests.console.conftest import login
from tests.console.helpers import compose_form, review

CAP = b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'/>"


def _rules(response) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [v["rule"] for v in response.json().get("violations", [])]


def test_wrong_media_type_names_its_rule(client: TestClient, settings: Settings) -> None:
    key = make_agency(settings, "Agency", ["a@example.org"]).key
    response = client.post(
        "/api/v1/alerts",
        content=CAP,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 415
    assert _rules(response) == ["MEDIA-TYPE-UNSUPPORTED"]
    assert "application/cap+xml" in response.json()["violations"][0]["message"]


def test_oversized_body_names_its_rule(client: TestClient, settings: Settings) -> None:
    key = make_agency(settings, "Agency", ["a@example.org"]).key
    response = client.post(
        "/api/v1/alerts",
        content=b"<alert>" + b"x" * (settings.max_cap_bytes + 1) + b"</alert>",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/cap+xml"},
    )
    assert response.status_code == 413
    assert _rules(response) == ["BODY-TOO-LARGE"]


def test_missing_or_wrong_key_names_its_rule(client: TestClient) -> None:
    headers = {"Content-Type": "application/cap+xml"}
    missing = client.post("/api/v1/alerts", content=CAP, headers=headers)
    wrong = client.post(
        "/api/v1/alerts", content=CAP, headers={**headers, "Authorization": "Bearer ak_nope"}
    )
    for response in (missing, wrong):
        assert response.status_code == 401
        assert _rules(response) == ["AUTH-REQUIRED"]
    assert "unknown or revoked" in wrong.json()["detail"]


def test_compose_error_says_it_once(client: TestClient, team) -> None:
    login(client, "alice")
    page = review(client, compose_form(client, event=""))
    assert page.status_code == 400
    assert "COMPOSE-INVALID" in page.text
    assert page.text.count("name the event") == 1

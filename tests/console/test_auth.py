"""Sign-in, lockout, session cookie, CSRF and roles."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerts.access.user_models import User
from alerts.audit.models import AuditEvent
from alerts.console.web import COOKIE
from alerts.db import make_engine
from tests.console.conftest import PASSWORD, csrf_of, login


def _audit_actions(settings) -> list[str]:
    engine = make_engine(settings)
    with Session(engine) as s:
        rows = [e.action for e in s.exec(select(AuditEvent))]
    engine.dispose()
    return rows


def test_login_sets_a_strict_httponly_cookie(client: TestClient, team) -> None:
    response = login(client, "alice")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/alerts"
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http in tests; see the https test below
    page = client.get("/console/alerts")
    assert page.status_code == 200
    assert "Alice" in page.text


def test_cookie_is_secure_behind_https(settings, team) -> None:
    from alerts.app import create_app

    settings.public_base_url = "https://alerts.example"
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        response = login(c, "alice")
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_is_refused_and_audited(client: TestClient, team, settings) -> None:
    response = login(client, "alice", "wrong password!")
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert client.get("/console/alerts", follow_redirects=False).status_code == 303
    assert "login.failed" in _audit_actions(settings)


def test_five_failures_lock_the_account_for_15_minutes(client: TestClient, team, settings) -> None:
    for _ in range(5):
        assert login(client, "bob", "not the password").status_code == 401
    response = login(client, "bob", PASSWORD)  # right password, but locked
    assert response.status_code == 401
    assert "locked" in response.text
    engine = make_engine(settings)
    with Session(engine) as s:
        bob = s.exec(select(User).where(User.username == "bob")).one()
        assert bob.locked_until is not None
    engine.dispose()
    actions = _audit_actions(settings)
    assert "user.locked" in actions
    assert "login.refused" in actions


def test_login_needs_the_csrf_token(client: TestClient, team) -> None:
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/console/alerts", follow_redirects=False).status_code == 303


def test_forms_need_the_session_csrf_token(client: TestClient, team) -> None:
    login(client, "alice")
    response = client.post("/console/compose", data={"csrf_token": "forged", "status": "Actual"})
    assert response.status_code == 400
    assert "security token" in response.text


def test_anonymous_pages_redirect_and_api_answers_401(client: TestClient, team) -> None:
    response = client.get("/console/compose", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert client.get("/console/api/jurisdiction").status_code == 401


def test_forged_cookie_is_ignored(client: TestClient, team) -> None:
    login(client, "alice")
    raw = client.cookies.get(COOKIE)
    client.cookies.set(COOKIE, raw[:-3] + "AAA", path="/console")
    assert client.get("/console/alerts", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(client: TestClient, team) -> None:
    login(client, "alice")
    page = client.get("/console/alerts")
    client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert client.get("/console/alerts", follow_redirects=False).status_code == 303


def test_viewer_cannot_compose(client: TestClient, team) -> None:
    login(client, "vic")
    response = client.get("/console/compose?status=Actual", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "may not compose" in response.text
    assert "New alert" not in client.get("/console/alerts").text


def test_only_admins_manage_subscribers(client: TestClient, team) -> None:
    login(client, "alice")
    assert client.get("/console/subscribers").status_code == 403
    login(client, "ada")
    page = client.get("/console/subscribers")
    assert page.status_code == 200
    assert re.search(r"\d+ match", page.text)

"""Subscribers admin (masked search, CSV import), users and audit pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.console.conftest import csrf_of, login

CSV = (
    "phone,language,lon,lat,test_audience\n"
    "(212) 736-3100,en,-74.0,40.71,1\n"
    "(212) 736-3101,es,-74.01,40.72,0\n"
)


def _import(client: TestClient, body: str):
    page = client.get("/console/subscribers")
    return client.post(
        "/console/subscribers/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("subs.csv", body, "text/csv")},
    )


def test_csv_import_then_search_by_last_digits_masked(client: TestClient, team) -> None:
    login(client, "ada")
    response = _import(client, CSV)
    assert response.status_code == 200, response.text
    assert "Imported 2 rows" in response.text
    page = client.get("/console/subscribers?ends_with=3101")
    assert "1 match" in page.text
    assert "7363101" not in page.text  # masked
    assert "+1********01" in page.text


def test_bad_csv_imports_nothing_and_says_why(client: TestClient, team) -> None:
    login(client, "ada")
    response = _import(client, CSV + "not-a-number,en,-74.0,40.7,0\n")
    assert response.status_code == 400
    assert "Nothing imported" in response.text
    assert "line 4" in response.text
    assert "0 matches" in client.get("/console/subscribers").text


def test_import_needs_csrf(client: TestClient, team) -> None:
    login(client, "ada")
    response = client.post(
        "/console/subscribers/import",
        data={"csrf_token": "x"},
        files={"file": ("subs.csv", CSV, "text/csv")},
    )
    assert response.status_code == 400


def test_users_page_lists_roles(client: TestClient, team) -> None:
    login(client, "ada")
    page = client.get("/console/users")
    assert page.status_code == 200
    for name, role in [("alice", "author"), ("bob", "approver"), ("vic", "viewer")]:
        assert f"<td>{name}</td>" in page.text
        assert f"<td>{role}</td>" in page.text
    login(client, "bob")
    assert client.get("/console/users").status_code == 403


def test_audit_page_shows_logins(client: TestClient, team) -> None:
    login(client, "vic")
    page = client.get("/console/audit")
    assert page.status_code == 200
    assert "<td>login</td>" in page.text


def test_subscribers_are_listed_a_page_at_a_time(client: TestClient, team) -> None:
    login(client, "ada")
    rows = "".join(f"+1212555{i:04d},en,-74.0,40.71,0\n" for i in range(120))
    assert _import(client, "phone,language,lon,lat,test_audience\n" + rows).status_code == 200
    first = client.get("/console/subscribers")
    assert "120 matches; showing 1–50" in first.text
    assert "Page 1 of 3" in first.text and 'rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    last = client.get("/console/subscribers?page=3")
    assert "showing 101–120" in last.text and "Page 3 of 3" in last.text
    assert 'rel="next"' not in last.text
    ids = [int(x) for x in re.findall(r"<tr><td>(\d+)</td>", last.text)]
    assert len(ids) == 20
    beyond = client.get("/console/subscribers?page=4")
    assert "No subscriber matches on page 4" in beyond.text
    assert client.get("/console/subscribers?page=0").status_code == 422

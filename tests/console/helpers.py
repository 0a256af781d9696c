"""Driving the console's forms from tests."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from lxml import html

from tests.console.conftest import INSIDE, csrf_of


def compose_form(
    client: TestClient, status: str = "Actual", area: dict | None = None, **extra: str
) -> dict[str, Any]:
    """A filled compose form, as the page would post it."""
    page = client.get(f"/console/compose?status={status}&template=evacuation_order")
    assert page.status_code == 200, page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "status": status,
        "msg_type": "Alert",
        "template": "evacuation_order",
        "event": "Evacuation Order",
        "severity": "Extreme",
        "urgency": "Immediate",
        "certainty": "Observed",
        "category": "Safety",
        "response_type": "Evacuate",
        "expires_hours": "6",
        "area_desc": "Zone A",
        "area_polygon": json.dumps(INSIDE if area is None else area),
        "headline_en-US": "EVACUATE NOW: Zone A. Leave immediately.",
        "instruction_en-US": "Leave now by the nearest safe route.",
        "headline_es-US": "EVACÚE AHORA: Zone A.",
        "instruction_es-US": "Salga ahora.",
    }
    form.update(extra)
    return form


def form_fields(page: str, action: str) -> dict[str, Any]:
    """The inputs of the form posting to ``action`` (repeated names become lists)."""
    tree = html.fromstring(page)
    (node,) = tree.xpath(f'//form[@action="{action}"]')
    out: dict[str, Any] = {}
    for inp in node.xpath(".//input[@name]"):
        name, value = inp.get("name"), inp.get("value", "")
        if name in out:
            out[name] = [*([out[name]] if isinstance(out[name], str) else out[name]), value]
        else:
            out[name] = value
    return out


def review(client: TestClient, form: dict[str, Any]):
    """Post the compose form to the review step."""
    return client.post("/console/compose", data=form)


def send(client: TestClient, form: dict[str, Any], confirm: str | None = "Zone A"):
    """Review, then confirm and send; returns the send response (not followed)."""
    page = review(client, form)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text, "/console/compose/send")
    if confirm is not None:
        fields["confirm"] = confirm
    return client.post("/console/compose/send", data=fields, follow_redirects=False)


def alert_id_of(response) -> int:
    """The alert id from a redirect to its page."""
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[-1])

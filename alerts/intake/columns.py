"""From a parsed CAP alert to the columns of its ``alert`` row."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts import cap
from alerts.cap.model import CapAlert, Info
from alerts.db import utcnow
from alerts.intake.models import Alert, AlertState


@dataclass(slots=True)
class AreaOutcome:
    """An alert's area resolved to GeoJSON, or the reasons it could not be."""

    geojson: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)


AreaResolver = Callable[[CapAlert], AreaOutcome]

_SEVERITY_RANK = {"Extreme": 4, "Severe": 3, "Moderate": 2, "Minor": 1, "Unknown": 0}


def info_dict(info: Info) -> dict[str, Any]:
    """One info block as JSON-ready data (per-info columns of the alert)."""
    return {
        "language": info.language,
        "categories": [str(c) for c in info.categories],
        "event": info.event,
        "response_types": [str(r) for r in info.response_types],
        "urgency": str(info.urgency),
        "severity": str(info.severity),
        "certainty": str(info.certainty),
        "audience": info.audience,
        "event_codes": [[c.value_name, c.value] for c in info.event_codes],
        "effective": _iso(info.effective),
        "onset": _iso(info.onset),
        "expires": _iso(info.expires),
        "sender_name": info.sender_name,
        "headline": info.headline,
        "description": info.description,
        "instruction": info.instruction,
        "web": info.web,
        "contact": info.contact,
        "parameters": [[p.value_name, p.value] for p in info.parameters],
        "resources": [
            {
                "resource_desc": r.resource_desc,
                "mime_type": r.mime_type,
                "size": r.size,
                "uri": r.uri,
                "has_deref_uri": r.deref_uri is not None,
            }
            for r in info.resources
        ],
        "areas": [
            {
                "area_desc": a.area_desc,
                "polygons": list(a.polygons),
                "circles": list(a.circles),
                "geocodes": [[g.value_name, g.value] for g in a.geocodes],
                "altitude": str(a.altitude) if a.altitude is not None else None,
                "ceiling": str(a.ceiling) if a.ceiling is not None else None,
            }
            for a in info.areas
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _lead_info(alert: CapAlert) -> Info | None:
    if not alert.infos:
        return None
    return max(alert.infos, key=lambda i: _SEVERITY_RANK.get(str(i.severity), 0))


def _latest(values: list[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def alert_values(
    result: cap.ParseResult, *, agency_id: int | None, via: str, area_resolver: AreaResolver | None
) -> dict[str, Any]:
    """The column values of a new alert row (no ``id``/``short_id``): raw bytes plus parsed columns."""
    parsed = result.alert
    assert parsed is not None
    lead = _lead_info(parsed)
    area = area_resolver(parsed) if area_resolver and parsed.infos else AreaOutcome(None)
    now = utcnow()
    return {
        "agency_id": agency_id,
        "identifier": parsed.identifier,
        "sender": parsed.sender,
        "sent": parsed.sent.isoformat(),
        "sent_utc": parsed.sent,
        "status": str(parsed.status),
        "msg_type": str(parsed.msg_type),
        "scope": str(parsed.scope),
        "source": parsed.source,
        "references": parsed.references_text,
        "cap_version": result.cap_version or "1.2",
        "raw_xml": result.raw,
        "state": AlertState.ACTIVE.value,
        "replaced_by_id": None,
        "event": lead.event if lead else None,
        "severity": str(lead.severity) if lead else None,
        "urgency": str(lead.urgency) if lead else None,
        "certainty": str(lead.certainty) if lead else None,
        "headline": lead.headline if lead else None,
        "languages": list(dict.fromkeys(i.language for i in parsed.infos)),
        "infos": [info_dict(i) for i in parsed.infos],
        "effective_utc": min((i.effective for i in parsed.infos if i.effective), default=None),
        "expires_utc": _latest([i.expires for i in parsed.infos]),
        "area_geojson": json.dumps(area.geojson) if area.geojson else None,
        "area_errors": area.errors,
        "signature": result.signature.status,
        "warnings": [i.as_dict() for i in result.warnings],
        "via": via,
        "received_at": now,
        "updated_at": now,
    }


def alert_row(
    result: cap.ParseResult, *, agency_id: int | None, via: str, area_resolver: AreaResolver | None
) -> Alert:
    """Build the (unsaved) alert row: raw bytes verbatim plus the parsed columns."""
    values = alert_values(result, agency_id=agency_id, via=via, area_resolver=area_resolver)
    return Alert(short_id="", **values)

"""Real-looking CAP 1.2 documents built for tests (times relative to now)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def _t(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def evacuation(
    *,
    sender: str = "nycem@nyc.gov",
    zones: tuple[str, ...] = ("1",),
    zone_set: str = "nyc_evacuation_zones",
    status: str = "Actual",
    msg_type: str = "Alert",
    references: str | None = None,
    expires_in: timedelta = timedelta(hours=6),
    identifier: str | None = None,
    languages: tuple[str, ...] = ("en-US", "es-US"),
    polygon: str | None = None,
) -> bytes:
    """A hurricane evacuation order for NYC evacuation zones (geocodes), in English and Spanish."""
    now = datetime.now(UTC).replace(microsecond=0)
    ident = identifier or f"NYCEM-{uuid.uuid4().hex[:12]}"
    refs = f"<references>{references}</references>" if references else ""
    geocodes = "".join(
        f"<geocode><valueName>{zone_set}</valueName><value>{z}</value></geocode>" for z in zones
    )
    shape = f"<polygon>{polygon}</polygon>" if polygon else ""
    text = {
        "en-US": (
            "Hurricane Evacuation Order",
            "Evacuate hurricane evacuation zones now",
            "Leave now. Go to a shelter or stay with friends outside the zone.",
        ),
        "es-US": (
            "Orden de evacuación por huracán",
            "Evacúe las zonas de evacuación ahora",
            "Salga ahora. Vaya a un refugio o quédese con amigos fuera de la zona.",
        ),
    }
    infos = "".join(
        f"<info><language>{lang}</language><category>Met</category><event>{text[lang][0]}</event>"
        "<responseType>Evacuate</responseType><urgency>Immediate</urgency><severity>Extreme</severity>"
        f"<certainty>Observed</certainty><expires>{_t(now + expires_in)}</expires>"
        f"<senderName>NYC Emergency Management</senderName><headline>{text[lang][1]}</headline>"
        f"<description>Hurricane conditions expected.</description><instruction>{text[lang][2]}</instruction>"
        f"<area><areaDesc>NYC hurricane evacuation zones {', '.join(zones)}</areaDesc>{shape}{geocodes}</area></info>"
        for lang in languages
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{ident}</identifier><sender>{sender}</sender><sent>{_t(now)}</sent>"
        f"<status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}{infos}</alert>"
    ).encode()


def cancel_of(original: bytes, *, sender: str = "nycem@nyc.gov") -> bytes:
    """A Cancel (no info block) referencing an alert built by ``evacuation``."""
    import re

    ident = re.search(rb"<identifier>([^<]+)", original).group(1).decode()  # type: ignore[union-attr]
    sent = re.search(rb"<sent>([^<]+)", original).group(1).decode()  # type: ignore[union-attr]
    now = _t(datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{ident}-C</identifier><sender>{sender}</sender><sent>{now}</sent><status>Actual</status>"
        f"<msgType>Cancel</msgType><scope>Public</scope><references>{sender},{ident},{sent}</references></alert>"
    ).encode()

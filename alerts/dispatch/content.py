"""Rendering an alert's messages once per (kind, language): text forms, map image, MMS body."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from shapely.geometry.base import BaseGeometry

from alerts import cap
from alerts.dispatch.mmsbody import pack
from alerts.dispatch.models import Content, MessageKind
from alerts.intake.models import Alert
from renderers import maps, mms, text
from renderers.images import UnsafeImageError, check_image
from renderers.localtime import base_language, zone_for
from renderers.mms import MmsContent, PhotoSlide

log = logging.getLogger(__name__)
SUBJECT_MAX = 60
MAX_PHOTOS = 2
_KIND_PREFIX = {
    MessageKind.CANCEL: {"en": "CANCELLED: ", "es": "CANCELADA: "},
    MessageKind.NOT_AFFECTED: {"en": "No longer affected: ", "es": "Ya no afectado: "},
    MessageKind.UPDATE: {"en": "UPDATE: ", "es": "ACTUALIZACIÓN: "},
}
_NOT_AFFECTED_BODY = {
    "en": "Your location is no longer in the alert area for {event}. Stay alert for further instructions.",
    "es": "Su ubicación ya no está en el área de alerta por {event}. Esté atento a nuevas instrucciones.",
}


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def info_texts(alert: Alert, time_zone: str) -> list[text.InfoText]:
    """The alert's stored info blocks as renderer input."""
    return [
        text.InfoText(
            language=i["language"],
            event=i["event"],
            headline=i.get("headline") or "",
            description=i.get("description") or "",
            instruction=i.get("instruction") or "",
            area_desc="; ".join(a["area_desc"] for a in i.get("areas", [])),
            sender_name=i.get("sender_name") or alert.sender,
            sent=alert.sent_utc,
            expires=_dt(i.get("expires")),
            parameters={k: v for k, v in i.get("parameters", [])},
            status=alert.status,
            msg_type=alert.msg_type,
            response_type=(i.get("response_types") or [""])[0],
            time_zone=time_zone,
        )
        for i in alert.infos
    ]


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One (kind, language) message before it is stored."""

    kind: MessageKind
    language: str
    subject: str
    body: str
    image: bytes
    image_type: str
    mms: MmsContent


def _subject(kind: MessageKind, language: str, info: text.InfoText) -> str:
    prefix = _KIND_PREFIX.get(kind, {}).get(base_language(language), "")
    return (prefix + (info.event or info.headline))[:SUBJECT_MAX]


def resource_photos(alert: Alert, language: str) -> list[PhotoSlide]:
    """Safe images carried inline (``derefUri``) by the info of this language, as MMS slides.

    A resource that is not a safe image (wrong magic bytes, does not decode, absurd size) is
    refused with its reason in the log and never forwarded. Images only linked by ``uri`` are
    not fetched at dispatch time (no outbound fetches from workers).
    """
    parsed = cap.parse(alert.raw_xml, max_bytes=len(alert.raw_xml) + 1, check_signature=False).alert
    if parsed is None or not parsed.infos:
        return []
    wanted = base_language(language)
    info = next((i for i in parsed.infos if base_language(i.language) == wanted), parsed.infos[0])
    photos = []
    for res in info.resources:
        if not res.mime_type.startswith("image/") or not res.deref_uri:
            continue
        try:
            data = base64.b64decode(res.deref_uri, validate=False)
            check_image(data)
        except (ValueError, UnsafeImageError) as exc:
            log.warning("alert %s: resource %r refused: %s", alert.id, res.resource_desc, exc)
            continue
        photos.append(PhotoSlide(data, res.resource_desc[:120]))
    return photos[:MAX_PHOTOS]


def render_messages(
    alert: Alert, geometry: BaseGeometry, *, kind: MessageKind, languages: Sequence[str], link: str
) -> list[RenderedMessage]:
    """Render the MMS of ``kind`` for each language (falling back to the alert's first language)."""
    centre = geometry.representative_point() if not geometry.is_empty else None
    tz = str(zone_for(centre.x, centre.y)) if centre is not None else "UTC"
    infos = info_texts(alert, tz)
    out = []
    for language in languages:
        info = text.choose_info(infos, language)
        body = _body(kind, info, language, link)
        draw = partial(map_for, geometry, info, alert)
        photos = resource_photos(alert, language) if kind is not MessageKind.NOT_AFFECTED else []
        content = mms.build_mms(text=body, render_map=draw, photos=photos)
        image = content.parts[1]
        out.append(
            RenderedMessage(
                kind,
                language,
                _subject(kind, language, info),
                body,
                image.data,
                image.content_type,
                content,
            )
        )
    return out


def _body(kind: MessageKind, info: text.InfoText, language: str, link: str) -> str:
    if kind is MessageKind.NOT_AFFECTED:
        lang = base_language(language) if base_language(language) in _NOT_AFFECTED_BODY else "en"
        return _NOT_AFFECTED_BODY[lang].format(event=info.event) + (f" {link}" if link else "")
    return text.message_text(info, link=link).full


def map_for(
    geometry: BaseGeometry, info: text.InfoText, alert: Alert, size: tuple[int, int], budget: int
) -> tuple[bytes, str]:
    """The alert's map for one info (its language and text) at a size within a byte budget."""
    return maps.render_alert_map(
        geometry,
        event=info.event,
        severity=alert.severity or "Unknown",
        status=alert.status,
        headline=info.headline,
        size=size,
        max_bytes=budget,
        sent=alert.sent_utc,
        expires=info.expires,
        sender_name=info.sender_name,
        area_label=info.area_desc[:80],
        language=info.language,
    )


def content_row(
    alert_id: int, msg: RenderedMessage, *, priority_high: bool, expires_at: datetime | None
) -> Content:
    """The content table row for one rendered message."""
    return Content(
        alert_id=alert_id,
        kind=msg.kind.value,
        language=msg.language,
        subject=msg.subject,
        text=msg.body,
        image=msg.image,
        image_type=msg.image_type,
        mms=pack(msg.mms),
        priority_high=priority_high,
        expires_at=expires_at,
    )

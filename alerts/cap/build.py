"""Build the immutable ``CapAlert`` from a validated CAP 1.2 element tree.

Only called once the XSD and the semantic rules found no error, so conversions here may
assume well-formed values (enums are in range, dateTimes have offsets, numbers parse).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from lxml import etree

from alerts.cap.model import (
    Area,
    CapAlert,
    Category,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    Reference,
    Resource,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
)
from alerts.cap.schema import CAP12_NS
from alerts.cap.values import parse_datetime, parse_reference

Q = f"{{{CAP12_NS}}}"
DEFAULT_LANGUAGE = "en-US"


def _text(el: etree._Element, name: str) -> str | None:
    """Text of the first child ``name`` ('' for an empty element), None when absent."""
    child = el.find(Q + name)
    return None if child is None else (child.text or "")


def _texts(el: etree._Element, name: str) -> tuple[str, ...]:
    """Texts of every child ``name``."""
    return tuple(child.text or "" for child in el.iterfind(Q + name))


def _time(el: etree._Element, name: str) -> datetime | None:
    """An optional dateTime child."""
    return parse_datetime(el.findtext(Q + name))


def _pairs(el: etree._Element, name: str) -> tuple[NamedValue, ...]:
    """``valueName``/``value`` children (eventCode, parameter, geocode)."""
    return tuple(
        NamedValue(c.findtext(f"{Q}valueName") or "", c.findtext(f"{Q}value") or "")
        for c in el.iterfind(Q + name)
    )


def _decimal(el: etree._Element, name: str) -> Decimal | None:
    """An optional decimal child (altitude, ceiling)."""
    text = el.findtext(Q + name)
    return None if text is None else Decimal(text.strip())


def build_alert(root: etree._Element) -> CapAlert:
    """Convert a CAP 1.2 ``<alert>`` tree into a ``CapAlert``."""
    sent = parse_datetime(root.findtext(f"{Q}sent"))
    assert sent is not None, "rules guarantee a valid <sent>"
    references_text = _text(root, "references")
    return CapAlert(
        identifier=root.findtext(f"{Q}identifier") or "",
        sender=root.findtext(f"{Q}sender") or "",
        sent=sent,
        status=Status((root.findtext(f"{Q}status") or "").strip()),
        msg_type=MsgType((root.findtext(f"{Q}msgType") or "").strip()),
        scope=Scope((root.findtext(f"{Q}scope") or "").strip()),
        source=_text(root, "source"),
        restriction=_text(root, "restriction"),
        addresses=_text(root, "addresses"),
        codes=_texts(root, "code"),
        note=_text(root, "note"),
        references=_references(references_text),
        references_text=references_text,
        incidents=_text(root, "incidents"),
        infos=tuple(_info(el) for el in root.iterfind(f"{Q}info")),
    )


def _references(text: str | None) -> tuple[Reference, ...]:
    """Parsed ``sender,identifier,sent`` triplets."""
    parsed = (parse_reference(token) for token in (text or "").split())
    return tuple(Reference(*triplet) for triplet in parsed if triplet is not None)


def _info(el: etree._Element) -> Info:
    """Convert one ``<info>``."""
    return Info(
        language=(el.findtext(f"{Q}language") or DEFAULT_LANGUAGE).strip(),
        categories=tuple(Category(c.strip()) for c in _texts(el, "category")),
        event=el.findtext(f"{Q}event") or "",
        urgency=Urgency((el.findtext(f"{Q}urgency") or "").strip()),
        severity=Severity((el.findtext(f"{Q}severity") or "").strip()),
        certainty=Certainty((el.findtext(f"{Q}certainty") or "").strip()),
        response_types=tuple(ResponseType(r.strip()) for r in _texts(el, "responseType")),
        audience=_text(el, "audience"),
        event_codes=_pairs(el, "eventCode"),
        effective=_time(el, "effective"),
        onset=_time(el, "onset"),
        expires=_time(el, "expires"),
        sender_name=_text(el, "senderName"),
        headline=_text(el, "headline"),
        description=_text(el, "description"),
        instruction=_text(el, "instruction"),
        web=_text(el, "web"),
        contact=_text(el, "contact"),
        parameters=_pairs(el, "parameter"),
        resources=tuple(_resource(r) for r in el.iterfind(f"{Q}resource")),
        areas=tuple(_area(a) for a in el.iterfind(f"{Q}area")),
    )


def _resource(el: etree._Element) -> Resource:
    """Convert one ``<resource>``."""
    size = el.findtext(f"{Q}size")
    return Resource(
        resource_desc=el.findtext(f"{Q}resourceDesc") or "",
        mime_type=(el.findtext(f"{Q}mimeType") or "").strip(),
        size=None if size is None else int(size.strip()),
        uri=_text(el, "uri"),
        deref_uri=_text(el, "derefUri"),
        digest=_text(el, "digest"),
    )


def _area(el: etree._Element) -> Area:
    """Convert one ``<area>``."""
    return Area(
        area_desc=el.findtext(f"{Q}areaDesc") or "",
        polygons=tuple(p for p in _texts(el, "polygon") if p.strip()),
        circles=tuple(c for c in _texts(el, "circle") if c.strip()),
        geocodes=_pairs(el, "geocode"),
        altitude=_decimal(el, "altitude"),
        ceiling=_decimal(el, "ceiling"),
    )

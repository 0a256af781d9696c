"""Build the immutable ``CapAlert`` from a validated CAP 1.2 element tree.

Only called once the XSD and the semantic rules found no error, so conversions here may
assume well-formed values (enums are in range, dateTimes have offsets, numbers parse).
Empty ``<polygon>``/``<circle>`` elements are left out (they name no area).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

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
from alerts.cap.tree import Kids, KidsCache, pair, text, texts
from alerts.cap.values import parse_datetime, parse_reference

DEFAULT_LANGUAGE = "en-US"
_E = TypeVar("_E", bound=StrEnum)


def _lookup(enum: type[_E]) -> Callable[[str], _E]:
    """A fast ``value -> member`` converter (a dict lookup instead of ``Enum.__call__``)."""
    members = {m.value: m for m in enum}

    def convert(value: str) -> _E:
        member = members.get(value.strip())
        if member is None:
            raise ValueError(f"{value!r} is not a valid {enum.__name__}")
        return member

    return convert


_status, _msg_type, _scope = _lookup(Status), _lookup(MsgType), _lookup(Scope)
_category, _response_type = _lookup(Category), _lookup(ResponseType)
_urgency, _severity, _certainty = _lookup(Urgency), _lookup(Severity), _lookup(Certainty)


def _stripped(k: Kids, name: str) -> str:
    """Stripped text of a required child."""
    return (text(k, name) or "").strip()


def _pairs(k: Kids, name: str) -> tuple[NamedValue, ...]:
    """``valueName``/``value`` children (eventCode, parameter, geocode)."""
    return tuple(NamedValue(*pair(el)) for el in k.get(name, ()))


def _decimal(k: Kids, name: str) -> Decimal | None:
    """An optional decimal child (altitude, ceiling)."""
    value = text(k, name)
    return None if value is None else Decimal(value.strip())


def build_alert(root: etree._Element, kids: KidsCache | None = None) -> CapAlert:
    """Convert a CAP 1.2 ``<alert>`` tree into a ``CapAlert``."""
    kids = kids or KidsCache()
    k = kids(root)
    sent = parse_datetime(text(k, "sent"))
    if sent is None:
        raise ValueError("<sent> is not a CAP 1.2 dateTime")
    references_text = text(k, "references")
    return CapAlert(
        identifier=text(k, "identifier") or "",
        sender=text(k, "sender") or "",
        sent=sent,
        status=_status(text(k, "status") or ""),
        msg_type=_msg_type(text(k, "msgType") or ""),
        scope=_scope(text(k, "scope") or ""),
        source=text(k, "source"),
        restriction=text(k, "restriction"),
        addresses=text(k, "addresses"),
        codes=texts(k, "code"),
        note=text(k, "note"),
        references=_references(references_text),
        references_text=references_text,
        incidents=text(k, "incidents"),
        infos=tuple(_info(kids, kids(el)) for el in k.get("info", ())),
    )


def _references(value: str | None) -> tuple[Reference, ...]:
    """Parsed ``sender,identifier,sent`` triplets."""
    parsed = (parse_reference(token) for token in (value or "").split())
    return tuple(Reference(*triplet) for triplet in parsed if triplet is not None)


def _info(kids: KidsCache, k: Kids) -> Info:
    """Convert one ``<info>``."""
    return Info(
        language=(text(k, "language") or DEFAULT_LANGUAGE).strip(),
        categories=tuple(_category(c) for c in texts(k, "category")),
        event=text(k, "event") or "",
        urgency=_urgency(text(k, "urgency") or ""),
        severity=_severity(text(k, "severity") or ""),
        certainty=_certainty(text(k, "certainty") or ""),
        response_types=tuple(_response_type(r) for r in texts(k, "responseType")),
        audience=text(k, "audience"),
        event_codes=_pairs(k, "eventCode"),
        effective=parse_datetime(text(k, "effective")),
        onset=parse_datetime(text(k, "onset")),
        expires=parse_datetime(text(k, "expires")),
        sender_name=text(k, "senderName"),
        headline=text(k, "headline"),
        description=text(k, "description"),
        instruction=text(k, "instruction"),
        web=text(k, "web"),
        contact=text(k, "contact"),
        parameters=_pairs(k, "parameter"),
        resources=tuple(_resource(kids(el)) for el in k.get("resource", ())),
        areas=tuple(_area(kids(el)) for el in k.get("area", ())),
    )


def _resource(k: Kids) -> Resource:
    """Convert one ``<resource>``."""
    size = text(k, "size")
    return Resource(
        resource_desc=text(k, "resourceDesc") or "",
        mime_type=_stripped(k, "mimeType"),
        size=None if size is None else int(size.strip()),
        uri=text(k, "uri"),
        deref_uri=text(k, "derefUri"),
        digest=text(k, "digest"),
    )


def _area(k: Kids) -> Area:
    """Convert one ``<area>``."""
    return Area(
        area_desc=text(k, "areaDesc") or "",
        polygons=tuple(p for p in texts(k, "polygon") if p.strip()),
        circles=tuple(c for c in texts(k, "circle") if c.strip()),
        geocodes=_pairs(k, "geocode"),
        altitude=_decimal(k, "altitude"),
        ceiling=_decimal(k, "ceiling"),
    )

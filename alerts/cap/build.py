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
from alerts.cap.tree import Kids, KidsCache, Texts, pair, texts
from alerts.cap.values import parse_reference

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


def _pairs(k: Kids, name: str) -> tuple[NamedValue, ...]:
    """``valueName``/``value`` children (eventCode, parameter, geocode)."""
    found = k.get(name)
    if not found:
        return ()
    out = []
    for el in found:
        if len(el) == 2:  # the XSD requires both, so two children are exactly those (in order)
            value_name, value = el
            out.append(NamedValue(value_name.text or "", value.text or ""))
        else:
            out.append(NamedValue(*pair(el)))
    return tuple(out)


def _decimal(t: Texts, name: str) -> Decimal | None:
    """An optional decimal child (altitude, ceiling)."""
    value = t.get(name)
    return None if value is None else Decimal(value.strip())


def _all_texts(k: Kids, name: str) -> tuple[str, ...]:
    """Texts of every child ``name`` (the common case, absent, costs one lookup)."""
    return texts(k, name) if name in k else ()


def build_alert(root: etree._Element, kids: KidsCache | None = None) -> CapAlert:
    """Convert a CAP 1.2 ``<alert>`` tree into a ``CapAlert``."""
    kids = kids or KidsCache()
    k, t = kids.of(root)
    sent = kids.date_of(t.get("sent"))
    if sent is None:
        raise ValueError("<sent> is not a CAP 1.2 dateTime")
    references_text = t.get("references")
    # Positional arguments in field order: keywords cost a frozen dataclass ~50% more.
    return CapAlert(
        t.get("identifier") or "",  # identifier
        t.get("sender") or "",  # sender
        sent,  # sent
        _status(t.get("status") or ""),  # status
        _msg_type(t.get("msgType") or ""),  # msg_type
        _scope(t.get("scope") or ""),  # scope
        t.get("source"),  # source
        t.get("restriction"),  # restriction
        t.get("addresses"),  # addresses
        _all_texts(k, "code"),  # codes
        t.get("note"),  # note
        _references(references_text),  # references
        references_text,  # references_text
        t.get("incidents"),  # incidents
        tuple([_info(kids, *kids.of(el)) for el in k.get("info", ())]),  # infos
    )


def _references(value: str | None) -> tuple[Reference, ...]:
    """Parsed ``sender,identifier,sent`` triplets."""
    if not value:
        return ()
    parsed = (parse_reference(token) for token in value.split())
    return tuple(Reference(*triplet) for triplet in parsed if triplet is not None)


def _info(kids: KidsCache, k: Kids, t: Texts) -> Info:
    """Convert one ``<info>`` (positional arguments in field order, see ``build_alert``)."""
    date_of = kids.date_of
    return Info(
        (t.get("language") or DEFAULT_LANGUAGE).strip(),  # language
        tuple([_category(c) for c in _all_texts(k, "category")]),  # categories
        t.get("event") or "",  # event
        _urgency(t.get("urgency") or ""),  # urgency
        _severity(t.get("severity") or ""),  # severity
        _certainty(t.get("certainty") or ""),  # certainty
        tuple([_response_type(r) for r in _all_texts(k, "responseType")]),  # response_types
        t.get("audience"),  # audience
        _pairs(k, "eventCode"),  # event_codes
        date_of(t.get("effective")),  # effective
        date_of(t.get("onset")),  # onset
        date_of(t.get("expires")),  # expires
        t.get("senderName"),  # sender_name
        t.get("headline"),  # headline
        t.get("description"),  # description
        t.get("instruction"),  # instruction
        t.get("web"),  # web
        t.get("contact"),  # contact
        _pairs(k, "parameter"),  # parameters
        tuple([_resource(kids.of(el)[1]) for el in k.get("resource", ())]),  # resources
        tuple([_area(*kids.of(el)) for el in k.get("area", ())]),  # areas
    )


def _resource(t: Texts) -> Resource:
    """Convert one ``<resource>``."""
    size = t.get("size")
    return Resource(
        t.get("resourceDesc") or "",  # resource_desc
        (t.get("mimeType") or "").strip(),  # mime_type
        None if size is None else int(size.strip()),  # size
        t.get("uri"),  # uri
        t.get("derefUri"),  # deref_uri
        t.get("digest"),  # digest
    )


def _area(k: Kids, t: Texts) -> Area:
    """Convert one ``<area>``."""
    return Area(
        t.get("areaDesc") or "",  # area_desc
        tuple([p for p in _all_texts(k, "polygon") if p.strip()]),  # polygons
        tuple([c for c in _all_texts(k, "circle") if c.strip()]),  # circles
        _pairs(k, "geocode"),  # geocodes
        _decimal(t, "altitude"),  # altitude
        _decimal(t, "ceiling"),  # ceiling
    )

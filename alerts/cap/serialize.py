"""Emit CAP 1.2 XML from a ``CapAlert`` (UTF-8, default namespace, schema element order)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from lxml import etree

from alerts.cap.model import Area, CapAlert, Info, NamedValue, Resource
from alerts.cap.schema import CAP12_NS
from alerts.cap.values import format_datetime

Q = f"{{{CAP12_NS}}}"
_Value = str | datetime | Decimal | int | None


def serialize(alert: CapAlert, *, pretty: bool = True) -> bytes:
    """Return the alert as a CAP 1.2 XML document."""
    root = etree.Element(f"{Q}alert", nsmap={None: CAP12_NS})  # type: ignore[dict-item]
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", alert.sent)
    _add(root, "status", alert.status.value)
    _add(root, "msgType", alert.msg_type.value)
    _add(root, "source", alert.source)
    _add(root, "scope", alert.scope.value)
    _add(root, "restriction", alert.restriction)
    _add(root, "addresses", alert.addresses)
    _add_all(root, "code", alert.codes)
    _add(root, "note", alert.note)
    _add(root, "references", _references(alert))
    _add(root, "incidents", alert.incidents)
    for info in alert.infos:
        _info(etree.SubElement(root, f"{Q}info"), info)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)


def _references(alert: CapAlert) -> str | None:
    """The references text: the original when kept, else rebuilt from the triplets."""
    if alert.references_text is not None:
        return alert.references_text
    if not alert.references:
        return None
    return " ".join(
        f"{r.sender},{r.identifier},{format_datetime(r.sent)}" for r in alert.references
    )


def _text(value: _Value) -> str:
    """The XML text of a model value."""
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


def _add(parent: etree._Element, name: str, value: _Value) -> None:
    """Append ``<name>value</name>`` unless the value is None."""
    if value is not None:
        etree.SubElement(parent, Q + name).text = _text(value)


def _add_all(parent: etree._Element, name: str, values: Iterable[_Value]) -> None:
    """Append one element per value."""
    for value in values:
        _add(parent, name, value)


def _pairs(parent: etree._Element, name: str, pairs: Iterable[NamedValue]) -> None:
    """Append ``valueName``/``value`` elements."""
    for pair in pairs:
        el = etree.SubElement(parent, Q + name)
        _add(el, "valueName", pair.value_name)
        _add(el, "value", pair.value)


def _info(el: etree._Element, info: Info) -> None:
    """Fill one ``<info>`` in schema order."""
    _add(el, "language", info.language)
    _add_all(el, "category", (c.value for c in info.categories))
    _add(el, "event", info.event)
    _add_all(el, "responseType", (r.value for r in info.response_types))
    _add(el, "urgency", info.urgency.value)
    _add(el, "severity", info.severity.value)
    _add(el, "certainty", info.certainty.value)
    _add(el, "audience", info.audience)
    _pairs(el, "eventCode", info.event_codes)
    for name in ("effective", "onset", "expires", "sender_name", "headline", "description"):
        _add(el, _camel(name), getattr(info, name))
    for name in ("instruction", "web", "contact"):
        _add(el, name, getattr(info, name))
    _pairs(el, "parameter", info.parameters)
    for resource in info.resources:
        _resource(etree.SubElement(el, f"{Q}resource"), resource)
    for area in info.areas:
        _area(etree.SubElement(el, f"{Q}area"), area)


def _camel(name: str) -> str:
    """``sender_name`` -> ``senderName``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _resource(el: etree._Element, resource: Resource) -> None:
    """Fill one ``<resource>``."""
    _add(el, "resourceDesc", resource.resource_desc)
    _add(el, "mimeType", resource.mime_type)
    _add(el, "size", resource.size)
    _add(el, "uri", resource.uri)
    _add(el, "derefUri", resource.deref_uri)
    _add(el, "digest", resource.digest)


def _area(el: etree._Element, area: Area) -> None:
    """Fill one ``<area>``."""
    _add(el, "areaDesc", area.area_desc)
    _add_all(el, "polygon", area.polygons)
    _add_all(el, "circle", area.circles)
    _pairs(el, "geocode", area.geocodes)
    _add(el, "altitude", area.altitude)
    _add(el, "ceiling", area.ceiling)

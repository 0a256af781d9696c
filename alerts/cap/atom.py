"""Build an ATOM 1.0 index feed of CAP alerts, in the shape NWS and Google Public Alerts use.

One ``<entry>`` per alert: ``id`` is the CAP document URL, ``updated``/``published`` the alert's
``sent``, ``title`` the headline (or event), a ``link`` with ``type="application/cap+xml"`` to
the CAP XML, a ``summary`` from the description, and the NWS index extension elements
(``cap:event``, ``cap:expires``, ``cap:severity`` ...) in the CAP 1.2 namespace so readers can
filter without fetching every alert.

``build_feed`` takes plain ``AtomEntry`` values (so stored alerts need not be re-parsed);
``build_atom_feed`` is the convenience form for ``(CapAlert, url)`` pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from alerts.cap.model import CapAlert
from alerts.cap.schema import CAP12_NS
from alerts.cap.values import format_datetime

ATOM_NS = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM_NS}}}"
C = f"{{{CAP12_NS}}}"
CAP_MEDIA_TYPE = "application/cap+xml"
_SUMMARY_CHARS = 500


@dataclass(frozen=True, slots=True)
class AtomEntry:
    """One feed entry: where the CAP XML is, and the index facts NWS-style readers filter on."""

    cap_url: str
    title: str
    updated: datetime
    author: str
    published: datetime | None = None
    summary: str | None = None
    identifier: str | None = None
    sender: str | None = None
    sent: datetime | None = None
    status: str | None = None
    msg_type: str | None = None
    scope: str | None = None
    event: str | None = None
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    categories: tuple[str, ...] = ()
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    area_desc: str | None = None


def entry_for(alert: CapAlert, cap_url: str) -> AtomEntry:
    """The ``AtomEntry`` of a parsed alert (first ``<info>`` gives headline and index facts)."""
    info = alert.infos[0] if alert.infos else None
    title = (info.headline or info.event) if info else None
    return AtomEntry(
        cap_url=cap_url,
        title=(title or f"{alert.msg_type.value} {alert.identifier}").strip(),
        updated=alert.sent,
        published=alert.sent,
        author=(info.sender_name if info and info.sender_name else alert.sender),
        summary=info.description.strip()[:_SUMMARY_CHARS] if info and info.description else None,
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent,
        status=alert.status.value,
        msg_type=alert.msg_type.value,
        scope=alert.scope.value,
        event=info.event if info else None,
        effective=info.effective if info else None,
        onset=info.onset if info else None,
        expires=info.expires if info else None,
        categories=tuple(c.value for c in info.categories) if info else (),
        urgency=info.urgency.value if info else None,
        severity=info.severity.value if info else None,
        certainty=info.certainty.value if info else None,
        area_desc="; ".join(a.area_desc for a in info.areas) or None if info else None,
    )


def build_feed(
    entries: Sequence[AtomEntry],
    *,
    feed_url: str,
    title: str,
    feed_id: str | None = None,
    author: str = "alertcast",
    updated: datetime | None = None,
) -> bytes:
    """Return ATOM XML for the entries, newest first; ``feed_id`` defaults to ``feed_url``."""
    ordered = sorted(entries, key=lambda e: e.updated, reverse=True)
    newest = ordered[0].updated if ordered else datetime.now(UTC).replace(microsecond=0)
    feed = etree.Element(f"{A}feed", nsmap={None: ATOM_NS, "cap": CAP12_NS})  # type: ignore[dict-item]
    _text(feed, f"{A}id", feed_id or feed_url)
    _text(feed, f"{A}title", title)
    _text(feed, f"{A}updated", _time(updated or newest))
    etree.SubElement(feed, f"{A}link", rel="self", href=feed_url, type="application/atom+xml")
    _text(etree.SubElement(feed, f"{A}author"), f"{A}name", author)
    _text(feed, f"{A}generator", "alertcast")
    for entry in ordered:
        _entry(etree.SubElement(feed, f"{A}entry"), entry)
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_atom_feed(
    items: Sequence[tuple[CapAlert, str]],
    *,
    feed_id: str,
    title: str,
    self_url: str,
    author: str = "alertcast",
    updated: datetime | None = None,
) -> bytes:
    """Return ATOM XML for ``(alert, cap_xml_url)`` pairs, newest first."""
    entries = [entry_for(alert, url) for alert, url in items]
    return build_feed(
        entries, feed_url=self_url, title=title, feed_id=feed_id, author=author, updated=updated
    )


def _time(value: datetime | None) -> str | None:
    """CAP/RFC 3339 time text."""
    return None if value is None else format_datetime(value)


def _text(parent: etree._Element, tag: str, value: str | None) -> None:
    """Append a text element unless the value is None."""
    if value is not None:
        etree.SubElement(parent, tag).text = value


def _entry(el: etree._Element, entry: AtomEntry) -> None:
    """Fill one ``<entry>``."""
    _text(el, f"{A}id", entry.cap_url)
    _text(el, f"{A}title", entry.title)
    _text(el, f"{A}updated", _time(entry.updated))
    _text(el, f"{A}published", _time(entry.published))
    _text(etree.SubElement(el, f"{A}author"), f"{A}name", entry.author)
    etree.SubElement(el, f"{A}link", rel="alternate", type=CAP_MEDIA_TYPE, href=entry.cap_url)
    _text(el, f"{A}summary", entry.summary)
    for name in ("identifier", "sender", "sent", "status", "msg_type", "scope", "event"):
        value = getattr(entry, name)
        _text(el, C + _camel(name), _time(value) if isinstance(value, datetime) else value)
    for name in ("effective", "onset", "expires"):
        _text(el, C + name, _time(getattr(entry, name)))
    for category in entry.categories:
        _text(el, f"{C}category", category)
    for name in ("urgency", "severity", "certainty", "area_desc"):
        _text(el, C + _camel(name), getattr(entry, name))


def _camel(name: str) -> str:
    """``msg_type`` -> ``msgType``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)

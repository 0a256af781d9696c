"""Pure parsing of CAP feed documents: ATOM and RSS indexes, EDXL-DE envelopes.

Fetching (ETag, intervals, backoff) is the poller's job in ``alerts.intake``; this module only
turns feed bytes into entries. Each entry names its CAP document by URL, or carries the CAP
alert itself (NWS "full" ATOM feeds embed it in ``<content>``; EDXL-DE embeds it in
``embeddedXMLContent``); embedded alerts are returned as standalone bytes for ``parse()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from lxml import etree

from alerts.cap.edxl import embedded_alerts, is_edxl
from alerts.cap.result import Issue
from alerts.cap.schema import NAMESPACES
from alerts.cap.xmlsafe import safe_parse

ATOM_NS = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM_NS}}}"
CAP_MEDIA_TYPES = frozenset({"application/cap+xml", "application/xml+cap"})
FEED_MAX_BYTES = 8 * 1_048_576
FeedKind = Literal["atom", "rss", "edxl"]


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One feed entry/item: its id, time, title and where its CAP alert is (URL or bytes)."""

    entry_id: str | None
    updated: datetime | None
    title: str | None
    cap_url: str | None = None
    cap_xml: bytes | None = None


@dataclass(frozen=True, slots=True)
class Feed:
    """A parsed feed document; iterating it yields its items."""

    kind: FeedKind
    feed_id: str | None
    title: str | None
    updated: datetime | None
    items: tuple[FeedItem, ...]

    def __iter__(self) -> Iterator[FeedItem]:
        """Iterate over the items."""
        return iter(self.items)

    def __len__(self) -> int:
        """Number of items."""
        return len(self.items)


class FeedError(ValueError):
    """The bytes are not a feed this module understands; carries the issues."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(f"{i.rule}: {i.message}" for i in issues))


def parse_feed(data: bytes, *, max_bytes: int = FEED_MAX_BYTES) -> Feed:
    """Parse ATOM, RSS 2.0 or EDXL-DE bytes into a ``Feed`` (hardened parser, never fetches)."""
    root, issues = safe_parse(data, max_bytes=max_bytes)
    if root is None:
        raise FeedError(issues)
    if root.tag == f"{A}feed":
        return _atom(root)
    if root.tag == "rss":
        return _rss(root)
    if is_edxl(root):
        return _edxl(root)
    msg = f"root element {root.tag!r} is not an ATOM feed, RSS 2.0 or EDXL-DE"
    raise FeedError([Issue("FEED-UNKNOWN", msg, line=None)])


def _time(value: str | None) -> datetime | None:
    """An ATOM (RFC 3339) or RSS (RFC 822) timestamp; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _strip(value: str | None) -> str | None:
    """Whitespace-stripped text, None for absent."""
    return None if value is None else value.strip()


def _atom(root: etree._Element) -> Feed:
    """An ATOM 1.0 feed."""
    entries = tuple(_atom_entry(e) for e in root.iterfind(f"{A}entry"))
    return Feed(
        "atom",
        _strip(root.findtext(f"{A}id")),
        _strip(root.findtext(f"{A}title")),
        _time(root.findtext(f"{A}updated")),
        entries,
    )


def _atom_entry(entry: etree._Element) -> FeedItem:
    """One ATOM entry: CAP link by media type, else the alternate link; embedded CAP."""
    links = entry.findall(f"{A}link")
    cap_link = next((lk for lk in links if lk.get("type") in CAP_MEDIA_TYPES), None)
    if cap_link is None:
        cap_link = next((lk for lk in links if lk.get("rel", "alternate") == "alternate"), None)
    return FeedItem(
        entry_id=_strip(entry.findtext(f"{A}id")),
        updated=_time(entry.findtext(f"{A}updated") or entry.findtext(f"{A}published")),
        title=_strip(entry.findtext(f"{A}title")),
        cap_url=None if cap_link is None else cap_link.get("href"),
        cap_xml=_embedded_cap(entry.find(f"{A}content")),
    )


def _embedded_cap(content: etree._Element | None) -> bytes | None:
    """The CAP alert carried inside an ATOM ``<content>``, as standalone bytes."""
    if content is None:
        return None
    for child in content:
        if isinstance(child.tag, str) and etree.QName(child).namespace in NAMESPACES:
            return etree.tostring(child, xml_declaration=True, encoding="UTF-8")
    return None


def _rss(root: etree._Element) -> Feed:
    """An RSS 2.0 channel."""
    channel = root.find("channel")
    items = () if channel is None else tuple(_rss_item(i) for i in channel.iterfind("item"))
    return Feed(
        "rss",
        None if channel is None else _strip(channel.findtext("link")),
        None if channel is None else _strip(channel.findtext("title")),
        None
        if channel is None
        else _time(channel.findtext("lastBuildDate") or channel.findtext("pubDate")),
        items,
    )


def _rss_item(item: etree._Element) -> FeedItem:
    """One RSS item: a CAP enclosure wins over ``<link>``."""
    enclosure = next(
        (e for e in item.iterfind("enclosure") if e.get("type") in CAP_MEDIA_TYPES), None
    )
    url = enclosure.get("url") if enclosure is not None else _strip(item.findtext("link"))
    return FeedItem(
        entry_id=_strip(item.findtext("guid")) or url,
        updated=_time(item.findtext("pubDate")),
        title=_strip(item.findtext("title")),
        cap_url=url,
    )


def _edxl(root: etree._Element) -> Feed:
    """An EDXL-DE envelope: one entry per embedded CAP alert."""
    distribution_id = _strip(root.findtext("{*}distributionID"))
    entries = []
    for alert in embedded_alerts(root):
        identifier = _strip(alert.findtext("{*}identifier"))
        entries.append(
            FeedItem(
                entry_id=identifier,
                updated=_time(alert.findtext("{*}sent")),
                title=_strip(alert.findtext("{*}info/{*}headline")),
                cap_xml=etree.tostring(alert, xml_declaration=True, encoding="UTF-8"),
            )
        )
    return Feed(
        "edxl",
        distribution_id,
        None,
        _time(root.findtext("{*}dateTimeSent")),
        tuple(entries),
    )

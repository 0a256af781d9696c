"""CAP protocol library: hardened parse, XSD + rule validation, signatures, serialise, feeds.

Entry points::

    result = parse(xml_bytes)            # never raises on bad input
    if result.ok:
        alert = result.alert             # immutable CapAlert (CAP 1.2 semantics)
    else:
        result.issues                    # Issue(rule, message, path, line, severity)
    alert = parse(xml_bytes).raise_for_errors()   # or raise CapRejected(issues)
    xml = serialize(alert)               # CAP 1.2 XML bytes
    for item in parse_feed(atom_rss_or_edxl_bytes):   # FeedItem: entry_id, updated, title,
        item.cap_url or item.cap_xml                 #   CAP URL or embedded CAP bytes
    xml = build_feed([AtomEntry(...)], feed_url=..., title=...)   # or build_atom_feed(...)

Decisions (details in each module's docstring): DOCTYPE/entities/XInclude rejected before
parsing; CAP 1.1/1.0 upgraded to 1.2 (original version in ``ParseResult.cap_version``, original
bytes in ``ParseResult.raw``); an EDXL-DE envelope with exactly one alert is unwrapped with a
warning; signatures verified against the embedded certificate (integrity) or against
``trusted_certs`` (authenticity), fail closed.
"""

from alerts.cap import atom, feeds
from alerts.cap.atom import AtomEntry, build_atom_feed, build_feed
from alerts.cap.edxl import unwrap_edxl
from alerts.cap.feeds import Feed, FeedError, FeedItem, parse_feed
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
from alerts.cap.parse import DEFAULT_MAX_BYTES, parse
from alerts.cap.result import CapRejected, Issue, ParseResult, SignatureInfo
from alerts.cap.serialize import serialize

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Area",
    "AtomEntry",
    "CapAlert",
    "CapRejected",
    "Category",
    "Certainty",
    "Feed",
    "FeedError",
    "FeedItem",
    "Info",
    "Issue",
    "MsgType",
    "NamedValue",
    "ParseResult",
    "Reference",
    "Resource",
    "ResponseType",
    "Scope",
    "Severity",
    "SignatureInfo",
    "Status",
    "Urgency",
    "atom",
    "build_atom_feed",
    "build_feed",
    "feeds",
    "parse",
    "parse_feed",
    "serialize",
    "unwrap_edxl",
]

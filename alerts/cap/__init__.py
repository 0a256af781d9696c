"""CAP protocol library: hardened parse, XSD + rule validation, signatures, serialise, feeds.

Entry points::

    result = parse(xml_bytes)            # never raises on bad input
    if result.ok:
        alert = result.alert             # immutable CapAlert (CAP 1.2 semantics)
    else:
        result.issues                    # Issue(rule, message, path, line, severity)
    alert = parse(xml_bytes).raise_for_errors()   # or raise CapRejected(issues)
    xml = serialize(alert)               # CAP 1.2 XML bytes
"""

from alerts.cap.edxl import unwrap_edxl
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
    "CapAlert",
    "CapRejected",
    "Category",
    "Certainty",
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
    "parse",
    "serialize",
    "unwrap_edxl",
]

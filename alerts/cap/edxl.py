"""EDXL-DE 1.0 distribution envelopes: find the CAP alerts they carry.

``parse()`` accepts an envelope carrying exactly one CAP alert (warning ``CAP-EDXL-UNWRAPPED``),
because agencies such as NSW RFS publish CAP that way; several alerts are split by the feed
layer with ``unwrap_edxl`` (``parse()`` rejects them with ``CAP-EDXL-MULTIPLE``).
"""

from __future__ import annotations

import copy

from lxml import etree

from alerts.cap.schema import NAMESPACES
from alerts.cap.xmlsafe import safe_parse

EDXL_DE_NS = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
_EMBEDDED = f"{{{EDXL_DE_NS}}}embeddedXMLContent"


def is_edxl(root: etree._Element) -> bool:
    """True when ``root`` is an EDXL-DE ``EDXLDistribution``."""
    return root.tag == f"{{{EDXL_DE_NS}}}EDXLDistribution"


def embedded_alerts(root: etree._Element) -> list[etree._Element]:
    """Copies of every CAP ``<alert>`` inside ``embeddedXMLContent``, each its own document."""
    alerts = []
    for content in root.iter(_EMBEDDED):
        for child in content:
            if isinstance(child.tag, str) and etree.QName(child).namespace in NAMESPACES:
                alerts.append(copy.deepcopy(child))
    return alerts


def unwrap_edxl(data: bytes, *, max_bytes: int = 4 * 1_048_576) -> list[bytes]:
    """Return each CAP alert inside an EDXL-DE document as standalone XML bytes."""
    root, _ = safe_parse(data, max_bytes=max_bytes)
    if root is None or not is_edxl(root):
        return []
    return [
        etree.tostring(alert, xml_declaration=True, encoding="UTF-8")
        for alert in embedded_alerts(root)
    ]

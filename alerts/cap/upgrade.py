"""Upgrade a CAP 1.1 or 1.0 element tree to CAP 1.2, in place (the original bytes are kept).

Differences handled (from the OASIS 1.0/1.1/1.2 schemas):

* namespace: every CAP element moves to ``urn:oasis:names:tc:emergency:cap:1.2``;
* dateTime: 1.0/1.1 allow ``Z`` and fractional seconds, 1.2 requires ``+hh:mm``/``-hh:mm`` with
  whole seconds: ``Z`` becomes ``+00:00`` and fractions are dropped (``CAP-UPGRADE-DATETIME``
  warning); a time with no offset at all is left for ``CAP-DATETIME-OFFSET`` to reject;
* resource ``mimeType`` is optional before 1.2: ``application/octet-stream`` is supplied
  (``CAP-UPGRADE-MIMETYPE`` warning);
* 1.0 only: ``<password>`` is dropped (warning), ``eventCode``/``parameter``/``geocode`` strings
  ``name=value`` become ``valueName``/``value`` pairs, certainty ``Very Likely`` becomes ``Likely``.

The upgraded tree is then validated against the CAP 1.2 XSD, so anything 1.2 requires that the
older version did not (``scope``, ``category``) is reported as ``XSD-INVALID``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from alerts.cap.paths import issue_at
from alerts.cap.result import CapVersion, Issue
from alerts.cap.schema import CAP12_NS

adopt_namespace: Callable[[etree._Element, str], None] | None
try:
    from alerts.cap._fast import adopt_namespace
except ImportError:  # pragma: no cover - the test environment always builds it
    adopt_namespace = None

Q = f"{{{CAP12_NS}}}"
_DATETIME_TAGS = frozenset({f"{Q}sent", f"{Q}effective", f"{Q}onset", f"{Q}expires"})
_CAP12_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d\Z")
_LOOSE_DATETIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[-+]\d\d:\d\d)?\Z")
_PAIR_TAGS = ("eventCode", "parameter", "geocode")


def upgrade_to_12(root: etree._Element, version: CapVersion) -> list[Issue]:
    """Rewrite a CAP 1.0/1.1 tree as CAP 1.2; return upgrade warnings."""
    if version == "1.2":
        return []
    old_ns = etree.QName(root).namespace or ""
    cut = len(old_ns) + 2  # "{" + namespace + "}"
    if adopt_namespace is None:
        for el in root.iter(f"{{{old_ns}}}*"):
            el.tag = Q + el.tag[cut:]
    else:  # the same, in C: the Python loop costs ~1 us per element
        root.tag = Q + root.tag[cut:]
        adopt_namespace(root, old_ns)
    issues: list[Issue] = []
    if version == "1.0":
        issues += _upgrade_10(root)
    issues += _upgrade_datetimes(root)
    issues += _upgrade_mimetypes(root)
    etree.cleanup_namespaces(root, top_nsmap={None: CAP12_NS})  # type: ignore[dict-item]
    return issues


def _upgrade_datetimes(root: etree._Element) -> list[Issue]:
    """Normalise 1.0/1.1 dateTimes to the 1.2 form where that is lossless in meaning."""
    issues: list[Issue] = []
    for el in root.iter(*_DATETIME_TAGS):
        text = (el.text or "").strip()
        match = _LOOSE_DATETIME.match(text)
        if _CAP12_DATETIME.match(text) or not match or not match.group(2):
            continue
        offset = "+00:00" if match.group(2) == "Z" else match.group(2)
        el.text = match.group(1) + offset
        msg = f"dateTime {text!r} rewritten as {el.text!r} for CAP 1.2"
        issues.append(issue_at("CAP-UPGRADE-DATETIME", msg, el, "warning"))
    return issues


def _upgrade_mimetypes(root: etree._Element) -> list[Issue]:
    """Supply the ``mimeType`` CAP 1.2 requires on every resource."""
    issues: list[Issue] = []
    for res in root.iter(f"{Q}resource"):
        if res.find(f"{Q}mimeType") is not None:
            continue
        mime = etree.Element(f"{Q}mimeType")
        mime.text = "application/octet-stream"
        desc = res.find(f"{Q}resourceDesc")
        res.insert(0 if desc is None else res.index(desc) + 1, mime)
        msg = "resource had no mimeType; application/octet-stream assumed"
        issues.append(issue_at("CAP-UPGRADE-MIMETYPE", msg, res, "warning"))
    return issues


def _upgrade_10(root: etree._Element) -> list[Issue]:
    """Apply the CAP 1.0 -> 1.1 structural changes."""
    issues: list[Issue] = []
    for pw in root.findall(f"{Q}password"):
        issues.append(issue_at("CAP-UPGRADE-PASSWORD", "CAP 1.0 <password> dropped", pw, "warning"))
        root.remove(pw)
    for el in root.iter(*(Q + t for t in _PAIR_TAGS)):
        name, _, value = (el.text or "").partition("=")
        el.text = None
        etree.SubElement(el, f"{Q}valueName").text = name.strip()
        etree.SubElement(el, f"{Q}value").text = value.strip()
    for el in root.iter(f"{Q}certainty"):
        if (el.text or "").strip() == "Very Likely":
            el.text = "Likely"
    return issues

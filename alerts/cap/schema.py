"""CAP namespaces, version detection and XSD validation (schemas compiled once per process).

The schemas are the official OASIS CAP 1.2 and 1.1 XSDs and Google's CAP 1.0 copy, shipped in
``data/cap`` (see ``data/cap/PROVENANCE.md``). ``ALERTCAST_DATA_DIR`` overrides the data folder.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import cast

from lxml import etree

from alerts.cap.paths import element_path, line_of
from alerts.cap.result import CapVersion, Issue

CAP12_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"
CAP10_NS = "http://www.incident.com/cap/1.0"
NAMESPACES: dict[str, CapVersion] = {CAP12_NS: "1.2", CAP11_NS: "1.1", CAP10_NS: "1.0"}
_ALERT_TAGS: dict[object, CapVersion] = {f"{{{ns}}}alert": v for ns, v in NAMESPACES.items()}
_SCHEMA_FILES: dict[CapVersion, str] = {
    "1.2": "CAP-v1.2.xsd",
    "1.1": "CAP-v1.1.xsd",
    "1.0": "cap10.xsd",
}
_MAX_XSD_ISSUES = 20
_PREFIX = re.compile(r"/[A-Za-z_][\w.-]*:")
_compile_lock = threading.Lock()
# One compiled schema per version is shared by all threads; its error_log is per-instance
# state, so validation plus reading the log happens under a lock (microseconds, uncontended).
_validate_locks: dict[CapVersion, threading.Lock] = {v: threading.Lock() for v in _SCHEMA_FILES}


def schema_dir() -> Path:
    """Return the folder holding the CAP XSDs."""
    override = os.environ.get("ALERTCAST_DATA_DIR")
    if override:
        return Path(override) / "cap"
    return Path(__file__).resolve().parents[2] / "data" / "cap"


@cache
def _compiled(version: CapVersion) -> etree.XMLSchema:
    """Compile one schema (cached: compilation costs milliseconds, validation microseconds)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    doc = etree.parse(str(schema_dir() / _SCHEMA_FILES[version]), parser)
    return etree.XMLSchema(doc)


def _validator(version: CapVersion) -> etree.XMLSchema:
    """Return the compiled schema (compiled on first use, once per process)."""
    with _compile_lock:
        return _compiled(version)


def version_of(root: etree._Element) -> tuple[CapVersion | None, list[Issue]]:
    """Detect the CAP version from the root element's namespace, or say why it is not CAP."""
    found = _ALERT_TAGS.get(root.tag)
    if found is not None:  # the common case without building a QName
        return found, []
    qname = etree.QName(root)
    version = NAMESPACES.get(qname.namespace or "")
    if version is None:
        msg = f"root element is in namespace {qname.namespace!r}, not a CAP namespace"
        return None, [Issue("CAP-NAMESPACE", msg, f"/{qname.localname}", line_of(root))]
    if qname.localname != "alert":
        msg = f"root element is <{qname.localname}>, a CAP document's root must be <alert>"
        return None, [Issue("CAP-ROOT-ELEMENT", msg, f"/{qname.localname}", line_of(root))]
    return version, []


def validate_schema(root: etree._Element, version: CapVersion) -> list[Issue]:
    """Validate against the version's OASIS XSD; return one issue per schema error."""
    schema = _validator(version)
    with _validate_locks[version]:
        if schema.validate(root):
            return []
        errors = list(cast(Iterable[etree._LogEntry], schema.error_log))[:_MAX_XSD_ISSUES]
    return [_xsd_issue(root, err) for err in errors]


def _xsd_issue(root: etree._Element, err: etree._LogEntry) -> Issue:
    """Turn an lxml schema error into an issue with our path notation."""
    path = err.path
    try:
        found = root.getroottree().xpath(path) if path else []
    except etree.XPathError:
        found = []
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        path = element_path(found[0])
    elif path:
        path = _PREFIX.sub("/", path)
    return Issue("XSD-INVALID", err.message, path or None, err.line or None)

"""Hardened XML parsing for hostile input: no DTD, no entities, no network, no XInclude.

Defence in depth, cheapest first:

1. size limit checked on the raw bytes (``SIZE-LIMIT``);
2. a scan of the prolog (XML declaration, comments, PIs before the root element) rejects any
   ``<!DOCTYPE`` before libxml2 sees the document (ASCII-compatible encodings and UTF-16), so no
   DTD, internal subset, parameter entity or external entity is ever parsed, let alone fetched
   (``XML-DTD-FORBIDDEN``). Only the prolog is scanned: ``<!DOCTYPE html>`` inside a CDATA
   description is text, not a declaration;
3. the lxml parser itself runs with ``resolve_entities=False``, ``load_dtd=False``,
   ``no_network=True``, ``huge_tree=False`` and a resolver that refuses every URL;
4. XInclude is never processed, and any element in the XInclude namespace is rejected
   (``XML-XINCLUDE-FORBIDDEN``).
"""

from __future__ import annotations

import threading

from lxml import etree

from alerts.cap.paths import line_of
from alerts.cap.result import Issue

XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
_local = threading.local()
_WINDOW = 4096  # the prolog (XML declaration, PIs, comments) almost always fits


class _ExternalAccessError(Exception):
    """Raised by the resolver: the document asked for an external resource."""


class _RefuseAllResolver(etree.Resolver):
    """Refuse every external resource (DTD, entity, XInclude, schemaLocation)."""

    def resolve(self, system_url: str, public_id: str, context: object = None) -> None:
        """Refuse resolution of ``system_url``."""
        raise _ExternalAccessError(system_url)


def _parser() -> etree.XMLParser:
    """Return this thread's hardened parser (lxml parsers must not be shared across threads)."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            remove_comments=False,
            collect_ids=False,
        )
        parser.resolvers.add(_RefuseAllResolver())
        _local.parser = parser
    return parser


def _prolog_text(data: bytes) -> str:
    """Decode the document as text for the prolog scan (UTF-16 or ASCII-compatible)."""
    head = data[:2]
    if head in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    if head in (b"<\x00", b"\x00<"):
        return data.decode("utf-16-le" if head == b"<\x00" else "utf-16-be", errors="replace")
    return data.decode("latin-1")


def _scan(text: str) -> int | bool | None:
    """Offset of a prolog DOCTYPE, None when the prolog ended without one, False if cut off."""
    pos = 3 if text.startswith("\xef\xbb\xbf") else 1 if text.startswith("\ufeff") else 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
        elif text.startswith("<!DOCTYPE", pos):
            return pos
        elif text.startswith(("<?", "<!--"), pos):
            closer = "?>" if text[pos + 1] == "?" else "-->"
            end = text.find(closer, pos)
            if end < 0:
                return False
            pos = end + len(closer)
        else:
            return None
    return False


def find_dtd(data: bytes) -> int | None:
    """Return the character offset of a DOCTYPE declaration in the prolog, or None."""
    found = _scan(_prolog_text(data[:_WINDOW]))
    if found is False and len(data) > _WINDOW:
        found = _scan(_prolog_text(data))
    return found if isinstance(found, int) and found is not False else None


def safe_parse(data: bytes, *, max_bytes: int) -> tuple[etree._Element | None, list[Issue]]:
    """Parse untrusted bytes into an element tree, or return why not."""
    if len(data) > max_bytes:
        msg = f"document is {len(data)} bytes, limit is {max_bytes}"
        return None, [Issue("SIZE-LIMIT", msg)]
    dtd_at = find_dtd(data)
    if dtd_at is not None:
        msg = "DOCTYPE declarations are forbidden (XXE, entity expansion, external DTD)"
        line = _prolog_text(data[: _WINDOW + dtd_at]).count("\n", 0, dtd_at) + 1
        return None, [Issue("XML-DTD-FORBIDDEN", msg, line=line)]
    try:
        root = etree.fromstring(data, _parser())
    except _ExternalAccessError as exc:
        return None, [Issue("XML-EXTERNAL-FORBIDDEN", f"external resource refused: {exc}")]
    except etree.XMLSyntaxError as exc:
        return None, [Issue("XML-MALFORMED", str(exc.msg), line=exc.lineno)]
    return root, _structure_issues(root)


def _structure_issues(root: etree._Element) -> list[Issue]:
    """Reject what parsed but must not be there (a DOCTYPE, XInclude elements)."""
    docinfo = root.getroottree().docinfo  # each ``.docinfo`` read builds a new DocInfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        return [Issue("XML-DTD-FORBIDDEN", "DOCTYPE declarations are forbidden")]
    for el in root.iter(f"{{{XINCLUDE_NS}}}*"):
        msg = "XInclude elements are forbidden and never processed"
        return [Issue("XML-XINCLUDE-FORBIDDEN", msg, line=line_of(el))]
    return []

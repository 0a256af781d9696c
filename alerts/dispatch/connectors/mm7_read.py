"""Reading MM7 SOAP envelopes leniently: by local name, any namespace, sloppy XML recovered.

Untrusted input: no DTD, no entities, no network; a DOCTYPE is refused outright.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from alerts.dispatch.connectors.base import Address, AddressKind


class Mm7ParseError(ValueError):
    """An MM7 message that is not well-formed enough to read."""


@dataclass(frozen=True, slots=True)
class SoapMessage:
    """A parsed SOAP envelope: TransactionID and the first element of the Body."""

    transaction_id: str | None
    name: str
    namespace: str | None
    element: etree._Element


@dataclass(frozen=True, slots=True)
class Mm7Status:
    """Status of an MM7 response or fault."""

    code: int
    text: str
    details: str | None = None
    message_id: str | None = None
    is_fault: bool = False


_local = threading.local()


def _parser(recover: bool) -> etree.XMLParser:
    key = "recover" if recover else "strict"
    parser: etree.XMLParser | None = getattr(_local, key, None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            recover=recover,
        )
        setattr(_local, key, parser)
    return parser


def parse_xml(data: bytes, *, recover: bool = False) -> etree._Element:
    """Parse untrusted XML: no DTD, no entities, no network; DOCTYPE refused."""
    if b"<!DOCTYPE" in data[:2048].upper():
        raise Mm7ParseError("DOCTYPE not allowed")
    try:
        root = etree.fromstring(data, parser=_parser(recover))
    except etree.XMLSyntaxError as exc:
        raise Mm7ParseError(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise Mm7ParseError("empty document")
    return root


def local(el: etree._Element) -> str:
    """An element's local name, whatever its namespace or (broken) prefix."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    name = tag.rsplit("}", 1)[-1]
    return name.rsplit(":", 1)[-1]


def children(el: etree._Element) -> Iterator[etree._Element]:
    """Element children only (no comments or PIs)."""
    return (c for c in el if isinstance(c.tag, str))


def child(el: etree._Element, name: str) -> etree._Element | None:
    """The first child with this local name (exact in any namespace first, then any case)."""
    # One pass over the (few) children: ``el.find("{*}name")`` cost ~6 us a call, most of the
    # time of parsing a delivery report.
    loose: etree._Element | None = None
    wanted = name.lower()
    for c in el:
        tag = c.tag
        if not isinstance(tag, str):
            continue
        bare = tag.rsplit("}", 1)[-1]
        if bare == name:
            return c
        if loose is None and bare.rsplit(":", 1)[-1].lower() == wanted:
            loose = c
    return loose


def find_text(el: etree._Element, *path: str) -> str | None:
    """Stripped text at a local-name path below `el`, or None."""
    node: etree._Element | None = el
    for name in path:
        node = child(node, name) if node is not None else None
    if node is None:
        return None
    return (node.text or "").strip()


def descendant(el: etree._Element, name: str) -> etree._Element | None:
    """The first descendant with this local name (case-insensitive)."""
    wanted = name.lower()
    return next((d for d in el.iterdescendants() if local(d).lower() == wanted), None)


def parse_soap(data: bytes, *, recover: bool = True) -> SoapMessage:
    """Read an envelope by local names; with `recover`, sloppy XML gets libxml2's recovery."""
    try:
        root = parse_xml(data)
    except Mm7ParseError:
        if not recover:
            raise
        root = parse_xml(data, recover=True)
    if local(root).lower() != "envelope":
        raise Mm7ParseError(f"root element is {local(root)!r}, not Envelope")
    body = child(root, "Body")
    first = next(children(body), None) if body is not None else None
    if first is None:
        raise Mm7ParseError("SOAP Body is empty")
    header = child(root, "Header")
    tid = find_text(header, "TransactionID") if header is not None else None
    qname = etree.QName(first) if "}" in str(first.tag) else None
    return SoapMessage(
        transaction_id=tid,
        name=local(first),
        namespace=qname.namespace if qname else None,
        element=first,
    )


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def parse_status(message: SoapMessage) -> Mm7Status | None:
    """The Status of a response or the RSErrorRsp inside a Fault; None if there is none."""
    is_fault = message.name.lower() == "fault"
    status = descendant(message.element, "Status")
    code = _int(find_text(status, "StatusCode")) if status is not None else None
    if code is None or status is None:
        return None
    return Mm7Status(
        code=code,
        text=find_text(status, "StatusText") or "",
        details=find_text(status, "Details"),
        message_id=find_text(message.element, "MessageID"),
        is_fault=is_fault,
    )


_ADDRESS_KINDS = {k.value.lower(): k for k in AddressKind}


def address_leaf(el: etree._Element) -> Address | None:
    """A bare Number / RFC2822Address / ShortCode element as an Address (None otherwise)."""
    kind = _ADDRESS_KINDS.get(local(el).lower())
    if kind is None:
        return None
    value = (el.text or "").strip()
    if kind is AddressKind.NUMBER:
        value = value.split("/TYPE=", 1)[0]
    return Address(value=value, kind=kind)


def parse_address(el: etree._Element | None) -> Address | None:
    """An address element's first Number / RFC2822Address / ShortCode child."""
    if el is None:
        return None
    return next((a for a in map(address_leaf, children(el)) if a is not None), None)


def parse_datetime(text: str | None) -> datetime | None:
    """An xs:dateTime as an aware UTC datetime; None if absent or unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

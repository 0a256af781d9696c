"""MM7 SOAP 1.1 envelopes: strict building with lxml, lenient reading by local name.

Everything we emit follows the element order of 3GPP TS 23.140 (REL-6-MM7-1-4, and the
REL-5 releases, which share the elements we use) and validates against
`data/mm7/alertcast-mm7-subset.xsd`. Everything we read is matched by local name only, so
MMSCs that put elements in another MM7 namespace, in none, or under odd prefixes still parse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from alerts.dispatch.connectors.base import Address, AddressKind, RecipientField, SubmitRequest

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MM7_SCHEMA_BASE = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/"
REL6_NS = MM7_SCHEMA_BASE + "REL-6-MM7-1-4"
REL6_VERSION = "6.8.0"
REL5_NS = MM7_SCHEMA_BASE + "REL-5-MM7-1-0"
REL5_VERSION = "5.3.0"


class Mm7ParseError(ValueError):
    """An MM7 message that is not well-formed enough to read."""


@dataclass(frozen=True, slots=True)
class Mm7Identity:
    """Who we are on an MM7 link and which MM7 dialect we speak there."""

    namespace: str = REL6_NS
    version: str = REL6_VERSION
    vaspid: str | None = None
    vasid: str | None = None
    sender: Address | None = None
    service_code: str | None = None


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


# -- building ---------------------------------------------------------------------------------


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        el.text = text
    return el


def _envelope(ns: str, transaction_id: str) -> tuple[etree._Element, etree._Element]:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"env": SOAP_NS, "mm7": ns})
    header = _sub(env, SOAP_NS, "Header")
    tid = _sub(header, ns, "TransactionID", transaction_id)
    tid.set(f"{{{SOAP_NS}}}mustUnderstand", "1")
    return env, _sub(env, SOAP_NS, "Body")


def _serialise(env: etree._Element) -> bytes:
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def format_datetime(value: datetime) -> str:
    """xs:dateTime in UTC with a Z, seconds precision."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(parent: etree._Element, ns: str, address: Address) -> None:
    _sub(parent, ns, address.kind.value, address.value)


def _sender_identification(parent: etree._Element, me: Mm7Identity) -> None:
    ident = _sub(parent, me.namespace, "SenderIdentification")
    if me.vaspid:
        _sub(ident, me.namespace, "VASPID", me.vaspid)
    if me.vasid:
        _sub(ident, me.namespace, "VASID", me.vasid)
    if me.sender:
        _address(_sub(ident, me.namespace, "SenderAddress"), me.namespace, me.sender)


def _recipients(parent: etree._Element, ns: str, recipients: tuple[Address, ...]) -> None:
    block = _sub(parent, ns, "Recipients")
    for kind in RecipientField:
        members = [r for r in recipients if r.field is kind]
        if members:
            group = _sub(block, ns, kind.value)
            for member in members:
                _address(group, ns, member)


def _content(parent: etree._Element, ns: str, href: str, allow_adaptations: bool) -> None:
    content = _sub(parent, ns, "Content")
    content.set("href", href)
    content.set("allowAdaptations", "true" if allow_adaptations else "false")


def submit_req_xml(
    me: Mm7Identity, request: SubmitRequest, content_href: str, allow_adaptations: bool = True
) -> bytes:
    """A SubmitReq envelope with DeliveryReport requested, elements in schema order."""
    ns = me.namespace
    env, body = _envelope(ns, request.transaction_id)
    req = _sub(body, ns, "SubmitReq")
    _sub(req, ns, "MM7Version", me.version)
    _sender_identification(req, me)
    _recipients(req, ns, request.recipients)
    if me.service_code:
        _sub(req, ns, "ServiceCode", me.service_code)
    _sub(req, ns, "TimeStamp", format_datetime(request.timestamp or datetime.now(UTC)))
    if request.expiry is not None:
        _sub(req, ns, "ExpiryDate", format_datetime(request.expiry))
    _sub(req, ns, "DeliveryReport", "true")
    _sub(req, ns, "Priority", request.priority.value)
    if request.subject:
        _sub(req, ns, "Subject", request.subject)
    _content(req, ns, content_href, allow_adaptations)
    return _serialise(env)


def cancel_req_xml(me: Mm7Identity, transaction_id: str, message_id: str) -> bytes:
    """A CancelReq envelope for a previously submitted MessageID."""
    env, body = _envelope(me.namespace, transaction_id)
    req = _sub(body, me.namespace, "CancelReq")
    _sub(req, me.namespace, "MM7Version", me.version)
    _sender_identification(req, me)
    _sub(req, me.namespace, "MessageID", message_id)
    return _serialise(env)


def replace_req_xml(
    me: Mm7Identity, transaction_id: str, message_id: str, content_href: str
) -> bytes:
    """A ReplaceReq envelope carrying new content for a previously submitted MessageID."""
    ns = me.namespace
    env, body = _envelope(ns, transaction_id)
    req = _sub(body, ns, "ReplaceReq")
    _sub(req, ns, "MM7Version", me.version)
    _sender_identification(req, me)
    _sub(req, ns, "MessageID", message_id)
    if me.service_code:
        _sub(req, ns, "ServiceCode", me.service_code)
    _sub(req, ns, "TimeStamp", format_datetime(datetime.now(UTC)))
    _content(req, ns, content_href, True)
    return _serialise(env)


def rsp_xml(
    ns: str,
    version: str,
    transaction_id: str,
    name: str,
    status: Mm7Status,
) -> bytes:
    """A response envelope (SubmitRsp, DeliveryReportRsp, DeliverRsp, ...) echoing the id."""
    env, body = _envelope(ns, transaction_id)
    rsp = _sub(body, ns, name)
    _sub(rsp, ns, "MM7Version", version)
    _status(rsp, ns, status)
    if status.message_id is not None:
        _sub(rsp, ns, "MessageID", status.message_id)
    return _serialise(env)


def _status(parent: etree._Element, ns: str, status: Mm7Status) -> None:
    block = _sub(parent, ns, "Status")
    _sub(block, ns, "StatusCode", str(status.code))
    _sub(block, ns, "StatusText", status.text)
    if status.details:
        _sub(block, ns, "Details", status.details)


def fault_xml(
    ns: str,
    version: str,
    transaction_id: str | None,
    status: Mm7Status,
    error_name: str = "RSErrorRsp",
) -> bytes:
    """A SOAP Fault whose detail carries an RSErrorRsp / VASPErrorRsp with the status."""
    env, body = _envelope(ns, transaction_id or "")
    fault = _sub(body, SOAP_NS, "Fault")
    client = 2000 <= status.code < 3000
    etree.SubElement(fault, "faultcode").text = "env:Client" if client else "env:Server"
    etree.SubElement(fault, "faultstring").text = "Client error" if client else "Server error"
    detail = etree.SubElement(fault, "detail")
    err = _sub(detail, ns, error_name)
    _sub(err, ns, "MM7Version", version)
    _status(err, ns, status)
    return _serialise(env)


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """The facts an MMSC puts in one DeliveryReportReq."""

    message_id: str
    recipient: Address
    sender: Address | None
    date: datetime
    mm_status: str
    status_text: str | None = None


def delivery_report_req_xml(
    ns: str, version: str, transaction_id: str, facts: ReportFacts
) -> bytes:
    """A DeliveryReportReq envelope (what an MMSC sends back to the VASP)."""
    env, body = _envelope(ns, transaction_id)
    req = _sub(body, ns, "DeliveryReportReq")
    _sub(req, ns, "MM7Version", version)
    _sub(req, ns, "MessageID", facts.message_id)
    _address(_sub(req, ns, "Recipient"), ns, facts.recipient)
    if facts.sender is not None:
        _address(_sub(req, ns, "Sender"), ns, facts.sender)
    _sub(req, ns, "Date", format_datetime(facts.date))
    _sub(req, ns, "MMStatus", facts.mm_status)
    if facts.status_text:
        _sub(req, ns, "StatusText", facts.status_text)
    return _serialise(env)


# -- reading ----------------------------------------------------------------------------------

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
    """The first child with this local name (case-insensitive)."""
    wanted = name.lower()
    return next((c for c in children(el) if local(c).lower() == wanted), None)


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

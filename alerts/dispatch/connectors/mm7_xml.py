"""MM7 SOAP 1.1 envelopes built strictly with lxml (reading lives in `mm7_read`).

Everything we emit follows the element order of 3GPP TS 23.140 (REL-6-MM7-1-4, and the
REL-5 releases, which share the elements we use) and validates against
`data/mm7/alertcast-mm7-subset.xsd`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from alerts.dispatch.connectors.base import Address, RecipientField, SubmitRequest
from alerts.dispatch.connectors.mm7_read import Mm7Status

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MM7_SCHEMA_BASE = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/"
REL6_NS = MM7_SCHEMA_BASE + "REL-6-MM7-1-4"
REL6_VERSION = "6.8.0"
REL5_NS = MM7_SCHEMA_BASE + "REL-5-MM7-1-0"
REL5_VERSION = "5.3.0"


@dataclass(frozen=True, slots=True)
class Mm7Identity:
    """Who we are on an MM7 link and which MM7 dialect we speak there."""

    namespace: str = REL6_NS
    version: str = REL6_VERSION
    vaspid: str | None = None
    vasid: str | None = None
    sender: Address | None = None
    service_code: str | None = None


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

"""Messages an MMSC sends to us (DeliveryReportReq, ReadReplyReq, DeliverReq) and our answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

from lxml import etree

from alerts.dispatch.connectors.base import Address
from alerts.dispatch.connectors.mm7_mime import MimePart, flatten, split_mm7_http
from alerts.dispatch.connectors.mm7_read import (
    Mm7ParseError,
    Mm7Status,
    SoapMessage,
    address_leaf,
    child,
    children,
    find_text,
    local,
    parse_address,
    parse_datetime,
    parse_soap,
)
from alerts.dispatch.connectors.mm7_status import DeliveryState, delivery_state
from alerts.dispatch.connectors.mm7_xml import (
    REL6_NS,
    REL6_VERSION,
    fault_xml,
    rsp_xml,
)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One DeliveryReportReq: the fate of MessageID at Recipient."""

    transaction_id: str
    message_id: str
    recipient: Address
    mm_status: str
    state: DeliveryState
    sender: Address | None = None
    date: datetime | None = None
    status_text: str | None = None
    mm7_version: str | None = None
    namespace: str | None = None
    link: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The idempotency key: (MessageID, Recipient, MMStatus lower-cased)."""
        return (self.message_id, self.recipient.value, self.mm_status.strip().lower())


@dataclass(frozen=True, slots=True)
class ReadReply:
    """One ReadReplyReq: the recipient read (or deleted) the message."""

    transaction_id: str
    message_id: str
    recipient: Address
    mm_status: str
    sender: Address | None = None
    timestamp: datetime | None = None
    status_text: str | None = None
    mm7_version: str | None = None
    namespace: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveredMessage:
    """One DeliverReq: a message from a subscriber (e.g. a reply "SAFE")."""

    transaction_id: str
    sender: Address | None
    recipients: tuple[Address, ...]
    linked_id: str | None = None
    subject: str | None = None
    timestamp: datetime | None = None
    text: str = ""
    parts: tuple[MimePart, ...] = field(default_factory=tuple)
    mm7_version: str | None = None
    namespace: str | None = None
    link: str | None = None


InboundMessage = DeliveryReport | ReadReply | DeliveredMessage


def _required(el: SoapMessage, name: str) -> str:
    value = find_text(el.element, name)
    if not value:
        raise Mm7ParseError(f"{el.name} without {name}")
    return value


def _recipient(message: SoapMessage) -> Address:
    recipient = parse_address(child(message.element, "Recipient"))
    if recipient is None:
        raise Mm7ParseError(f"{message.name} without Recipient")
    return recipient


class _Children:
    """An element's children by local name, read in one pass (exact name first, then any case).

    Each ``child()`` lookup walks the children again and lxml builds a proxy per child on every
    walk; a delivery report reads eight fields, so one pass halves the cost of its parse.
    """

    __slots__ = ("exact", "loose")

    def __init__(self, el: etree._Element) -> None:
        self.exact: dict[str, etree._Element] = {}
        self.loose: dict[str, etree._Element] = {}
        for c in el:
            tag = c.tag
            if isinstance(tag, str):
                bare = tag.rsplit("}", 1)[-1]
                self.exact.setdefault(bare, c)
                self.loose.setdefault(bare.rsplit(":", 1)[-1].lower(), c)

    def get(self, name: str) -> etree._Element | None:
        """The child with this local name, or None."""
        found = self.exact.get(name)
        return found if found is not None else self.loose.get(name.lower())

    def text(self, name: str) -> str | None:
        """Its stripped text, or None."""
        el = self.get(name)
        return None if el is None else (el.text or "").strip()


def parse_delivery_report(message: SoapMessage) -> DeliveryReport:
    """A DeliveryReport from a parsed DeliveryReportReq envelope."""
    fields = _Children(message.element)
    mm_status = fields.text("MMStatus")
    if not mm_status:
        raise Mm7ParseError(f"{message.name} without MMStatus")
    message_id = fields.text("MessageID")
    if not message_id:
        raise Mm7ParseError(f"{message.name} without MessageID")
    recipient = parse_address(fields.get("Recipient"))
    if recipient is None:
        raise Mm7ParseError(f"{message.name} without Recipient")
    return DeliveryReport(
        transaction_id=message.transaction_id or "",
        message_id=message_id,
        recipient=recipient,
        mm_status=mm_status,
        state=delivery_state(mm_status),
        sender=parse_address(fields.get("Sender")),
        date=parse_datetime(fields.text("Date")),
        status_text=fields.text("StatusText"),
        mm7_version=fields.text("MM7Version"),
        namespace=message.namespace,
    )


def parse_read_reply(message: SoapMessage) -> ReadReply:
    """A ReadReply from a parsed ReadReplyReq envelope."""
    return ReadReply(
        transaction_id=message.transaction_id or "",
        message_id=_required(message, "MessageID"),
        recipient=_recipient(message),
        mm_status=_required(message, "MMStatus"),
        sender=parse_address(child(message.element, "Sender")),
        timestamp=parse_datetime(find_text(message.element, "TimeStamp")),
        status_text=find_text(message.element, "StatusText"),
        mm7_version=find_text(message.element, "MM7Version"),
        namespace=message.namespace,
    )


def _deliver_recipients(message: SoapMessage) -> tuple[Address, ...]:
    block = child(message.element, "Recipients")
    if block is None:
        return ()
    leaves = (address_leaf(item) for group in children(block) for item in children(group))
    return tuple(a for a in leaves if a is not None)


def parse_deliver(message: SoapMessage, leaves: list[MimePart]) -> DeliveredMessage:
    """A DeliveredMessage from a parsed DeliverReq and its content's leaf parts."""
    text = "\n".join(p.text().strip() for p in leaves if p.media_type == "text/plain")
    return DeliveredMessage(
        transaction_id=message.transaction_id or "",
        sender=parse_address(child(message.element, "Sender")),
        recipients=_deliver_recipients(message),
        linked_id=find_text(message.element, "LinkedID"),
        subject=find_text(message.element, "Subject"),
        timestamp=parse_datetime(find_text(message.element, "TimeStamp")),
        text=text,
        parts=tuple(leaves),
        mm7_version=find_text(message.element, "MM7Version"),
        namespace=message.namespace,
    )


def parse_inbound(body: bytes, content_type: str | None) -> InboundMessage:
    """Parse any MMSC->VASP request body; raises Mm7ParseError on what we cannot read."""
    http = split_mm7_http(body, content_type)
    message = parse_soap(http.soap)
    name = message.name.lower()
    if name == "deliveryreportreq":
        return parse_delivery_report(message)
    if name == "readreplyreq":
        return parse_read_reply(message)
    if name == "deliverreq":
        content = child(message.element, "Content")
        part = http.find(content.get("href") if content is not None else None)
        return parse_deliver(message, flatten(part) if part is not None else [])
    raise UnsupportedOperationError(message)


class UnsupportedOperationError(Mm7ParseError):
    """A well-formed MM7 request we do not serve on the VASP side."""

    def __init__(self, message: SoapMessage) -> None:
        super().__init__(f"unsupported MM7 operation {message.name}")
        self.message = message


_RSP_NAME = {
    DeliveryReport: "DeliveryReportRsp",
    ReadReply: "ReadReplyRsp",
    DeliveredMessage: "DeliverRsp",
}


_TID_MARK = "@@TRANSACTION-ID@@"
_RSP_TEMPLATES: dict[tuple[str, str, str], tuple[bytes, bytes]] = {}


def response_for(message: InboundMessage, version: str | None = None) -> bytes:
    """The 1000 Success response to an inbound request, echoing its TransactionID."""
    ns = message.namespace or REL6_NS
    key = (ns, version or message.mm7_version or REL6_VERSION, _RSP_NAME[type(message)])
    template = _RSP_TEMPLATES.get(key)
    if template is None:
        # Built once per dialect; only the TransactionID changes between responses.
        status = Mm7Status(code=1000, text="Success")
        head, _, tail = rsp_xml(*key[:2], _TID_MARK, key[2], status).partition(_TID_MARK.encode())
        template = _RSP_TEMPLATES.setdefault(key, (head, tail))
    return template[0] + escape(message.transaction_id).encode() + template[1]


def vasp_error(transaction_id: str | None, code: int, text: str, ns: str | None = None) -> bytes:
    """A SOAP Fault carrying a VASPErrorRsp (our refusal of an inbound request)."""
    status = Mm7Status(code=code, text=text)
    return fault_xml(ns or REL6_NS, REL6_VERSION, transaction_id, status, "VASPErrorRsp")


__all__ = [
    "DeliveredMessage",
    "DeliveryReport",
    "InboundMessage",
    "ReadReply",
    "local",
    "parse_inbound",
    "response_for",
    "vasp_error",
]
